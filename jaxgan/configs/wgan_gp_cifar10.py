r"""WGAN-GP on CIFAR-10 at 32x32 (tensorflow-datasets; needs the prepared dataset).

Prepare once, on a machine with network:

  python experiments/prepare_data.py --dataset cifar10 --data_dir ~/tensorflow_datasets

Command (a GPU is needed in practice):

  python experiments/train.py --config experiments/configs/wgan_gp_cifar10.py \
      --workdir runs/wgan_gp_cifar10

Expected result: not measured here (no network on the development machines).
The WGAN-GP paper reaches an Inception score near 6.5 with these DCGAN-sized
networks after 100k-200k generator steps; expect varied, blurry objects and a
steadily falling d_wasserstein with no divergence.
"""

from jaxgan.configs import cifar10, wgan_gp_digits


def get_config():
    config = wgan_gp_digits.wgan_gp(cifar10.get_config())
    config.batch_size = 64
    config.num_steps = 100_000
    return config
