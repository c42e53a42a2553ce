r"""Conditional DCGAN on MNIST at 28x28 (tensorflow-datasets; needs the prepared dataset).

Prepare once, on a machine with network:

  python experiments/prepare_data.py --dataset mnist --data_dir ~/tensorflow_datasets

Command:

  python experiments/train.py --config experiments/configs/cgan_mnist.py --workdir runs/cgan_mnist

The discriminator takes the class as ten extra input channels (concat): on
the bundled real MNIST digits at 28x28 (configs/cgan_mnist5k.py with
--config.image_size=28, the same model and 5,000 steps) concat reaches
label_accuracy 0.939 and the projection discriminator
(--config.conditioning=projection) 0.684; at 32x32 concat reaches 0.976.

Expected result here: not yet measured (no network to fetch MNIST on the
development machines); with twelve times the digits of mnist5k we expect
label_accuracy at least as high.
"""

from jaxgan.configs import mnist


def get_config():
    config = mnist.get_config()
    config.conditioning = "concat"      # none | concat | projection
    return config
