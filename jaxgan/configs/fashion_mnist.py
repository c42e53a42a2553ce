r"""DCGAN on Fashion-MNIST at 28x28 (tensorflow-datasets; needs the prepared dataset).

Prepare once, on a machine with network:

  python experiments/prepare_data.py --dataset fashion_mnist --data_dir ~/tensorflow_datasets

Command:

  python experiments/train.py --config experiments/configs/fashion_mnist.py \
      --workdir runs/fashion_mnist

Expected result: not yet measured here (no network on the development
machines). Clothes of every class by 20k steps: classes_covered 10/10 and
class_kl below 0.1; confident_fraction is lower than on digits (around 0.7)
because shirts, pullovers and coats look alike even when real.
"""

from jaxgan.configs import mnist


def get_config():
    config = mnist.get_config()
    config.dataset = "fashion_mnist"    # 60,000 training images, 10 classes of clothes
    config.num_steps = 20_000
    config.eval_every = 5_000
    config.checkpoint_every = 5_000
    return config
