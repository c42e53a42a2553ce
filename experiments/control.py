r"""Controllable generation with a trained generator, in a checkout: the same
command as the installed ``jaxgan-control`` (``jaxgan/cli/control.py``;
``--help`` lists its options).

  python experiments/control.py --workdir runs/digits [--num_latents 100] [--targets 0,3,8]
"""

from jaxgan.cli import control

if __name__ == "__main__":
    control.main()
