r"""Pix2Pix from outline to digit on the bundled real MNIST digits: the input
is the digit's one-pixel outline (the ink that touches background), and the
generator fills the stroke back in.

The same U-Net (no dropout), PatchGAN, losses, schedule and moving average as
pix2pix_mnist5k (digit completion), on the second bundled task,
mnist5k_edges. Every tenth pair is held out and evaluated as there. The
L1-only baseline is the same command with --config.adversarial_weight=0.

Command (no network needed; the digits ship in the mnist5k extra's wheel):

  python experiments/train.py --config experiments/configs/pix2pix_edges_mnist5k.py \
      --workdir runs/pix2pix_edges_mnist5k

Expected result, measured on 2 CPU cores beside the L1-only baseline (9 min
each; experiments/results/README.md, "The second task: outline to digit"):
on the 500 held-out pairs, 0.950 of outputs show the input's class by the
project's classifier (ceiling 0.960) and 0.984 by the SVM judge (its accuracy
on real digits: 0.953); L1 0.043, PSNR 25.3 dB; Frechet distance 7.3 (real
floor 9.87; the baseline 6.9): the outline leaves little to guess, and the
adversarial term changes little.
"""

from jaxgan.configs import pix2pix_mnist5k


def get_config():
    config = pix2pix_mnist5k.get_config()
    config.dataset = "mnist5k_edges"    # outline -> digit (mnist5k_completion: lower half)
    return config
