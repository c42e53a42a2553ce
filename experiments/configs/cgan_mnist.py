r"""Conditional DCGAN on MNIST at 28x28 (tensorflow-datasets; needs the prepared dataset).

Prepare once, on a machine with network:

  python experiments/prepare_data.py --dataset mnist --data_dir ~/tensorflow_datasets

Command:

  python experiments/train.py --config experiments/configs/cgan_mnist.py --workdir runs/cgan_mnist

Expected result: not yet measured here (no network to fetch MNIST on the
development machines). On the 1,797 digits the same model draws the asked-for
class for well over 90% of samples; with 33 times more data we expect
label_accuracy near the classifier's own held-out accuracy.
"""

from configs import mnist


def get_config():
    config = mnist.get_config()
    config.conditioning = "projection"  # none | concat | projection
    return config
