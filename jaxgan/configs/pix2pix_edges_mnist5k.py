r"""Pix2Pix from outline to digit on the bundled real MNIST digits: the input
is the digit's one-pixel outline (the ink that touches background), and the
generator fills the stroke back in.

The same U-Net, PatchGAN, losses and schedule as pix2pix_mnist5k (digit
completion), on the second bundled task, mnist5k_edges. Every tenth pair is
held out and evaluated as there. The L1-only baseline is the same command with
--config.adversarial_weight=0.

Command (no network needed; the digits ship in the mnist5k extra's wheel):

  python experiments/train.py --config experiments/configs/pix2pix_edges_mnist5k.py \
      --workdir runs/pix2pix_edges_mnist5k

Expected result: see experiments/results/README.md, "Image-to-image
translation", where it is measured beside the L1-only baseline on 2 CPU cores.
"""

from jaxgan.configs import pix2pix_mnist5k


def get_config():
    config = pix2pix_mnist5k.get_config()
    config.dataset = "mnist5k_edges"    # outline -> digit (mnist5k_completion: lower half)
    return config
