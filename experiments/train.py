r"""Trains a GAN experiment, in a checkout: the same command as the installed
``jaxgan-train`` (``jaxgan/cli/train.py``; ``--help`` lists every option and
config field).

  python experiments/train.py --config NAME|experiments/configs/NAME.py --workdir DIR \
      [--config.FIELD=VALUE ...]
"""

from jaxgan.cli import train

if __name__ == "__main__":
    train.main()
