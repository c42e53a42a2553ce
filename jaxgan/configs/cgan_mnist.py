r"""Conditional DCGAN on MNIST at 28x28 (tensorflow-datasets; needs the prepared dataset).

Prepare once, on a machine with network:

  python experiments/prepare_data.py --dataset mnist --data_dir ~/tensorflow_datasets

Command:

  python experiments/train.py --config experiments/configs/cgan_mnist.py --workdir runs/cgan_mnist

The discriminator takes the class as ten extra input channels (concat), and
both networks use the 32x32 layers on the 28x28 digits (body_size=32: the
generator keeps the centre of its 32x32 output, the discriminator pads its
input): a choice carried over from the bundled real MNIST digits, not
measured on the full MNIST. There (configs/cgan_mnist5k_28.py, three seeds)
it gave label_accuracy 0.967 with concat and 0.959 with projection, where
28x28's own layers had given 0.939 and 0.684 (one seed each).

Expected result here: not yet measured (no network to fetch MNIST on the
development machines); with twelve times the digits of mnist5k we expect
label_accuracy at least as high.
"""

from jaxgan.configs import mnist


def get_config():
    config = mnist.get_config()
    config.conditioning = "concat"      # none | concat | projection
    config.body_size = 32               # the 32x32 networks on the 28x28 digits
    return config
