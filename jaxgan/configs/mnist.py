r"""DCGAN on MNIST at 28x28 (tensorflow-datasets; needs the prepared dataset).

Prepare once, on a machine with network (TensorFlow is needed to build it):

  python experiments/prepare_data.py --dataset mnist --data_dir ~/tensorflow_datasets

Command:

  python experiments/train.py --config experiments/configs/mnist.py --workdir runs/mnist

Expected result: not yet measured here (no network to fetch MNIST on the
development machines). From DCGAN's record on MNIST we expect sharp digits of
every class by 10k steps: confident_fraction above 0.9 and classes_covered
10/10 in eval.json, class_kl below 0.05.
"""

from jaxgan.configs import dcgan_digits


def get_config():
    config = dcgan_digits.get_config()
    config.dataset = "mnist"            # 60,000 training digits, kept on the device (47 MB)
    config.image_size = 28              # native size
    config.batch_size = 128
    config.num_steps = 10_000           # about 21 epochs
    config.g_width = 64
    config.d_width = 64
    config.latent_dim = 100
    config.eval_every = 2_000
    config.checkpoint_every = 2_000
    config.log_every = 500
    config.classifier_steps = 2_000
    return config
