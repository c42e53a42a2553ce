r"""The best measured recipe (configs/digits.py: SNGAN on the DCGAN bodies)
on Stacked MNIST, beside the course's DCGAN (configs/dcgan_stacked_mnist5k.py,
which describes the benchmark and its scores).

Command (no network needed; pip install -e '.[mnist5k]'):

  python experiments/train.py --config experiments/configs/stacked_mnist5k.py \
      --workdir runs/stacked

Expected result: not yet measured (issue 19's goal runs are still to do).
"""

from jaxgan.configs import dcgan_stacked_mnist5k, digits


def get_config():
    config = digits.get_config()
    stacked = dcgan_stacked_mnist5k.get_config()
    for name in ("dataset", "image_size", "num_eval_samples", "num_final_samples",
                 "eval_every"):
        config[name] = stacked[name]
    return config
