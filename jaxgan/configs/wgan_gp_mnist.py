r"""WGAN-GP on MNIST at 28x28 (tensorflow-datasets; needs the prepared dataset).

Prepare once, on a machine with network:

  python experiments/prepare_data.py --dataset mnist --data_dir ~/tensorflow_datasets

Command:

  python experiments/train.py --config experiments/configs/wgan_gp_mnist.py \
      --workdir runs/wgan_gp_mnist

Expected result: not measured here (no network on the development machines).
The WGAN-GP paper's MNIST runs give clean digits of every class within 20k
generator steps: classes_covered 10/10, with d_wasserstein falling steadily
and d_grad_norm settling near 1.
"""

from jaxgan.configs import mnist, wgan_gp_digits


def get_config():
    config = wgan_gp_digits.wgan_gp(mnist.get_config())
    config.batch_size = 64
    config.num_steps = 20_000
    config.eval_every = 5_000
    config.checkpoint_every = 5_000
    return config
