r"""SNGAN on scikit-learn's digits at 32x32: a spectrally normalised
discriminator and the hinge loss (Miyato et al. 2018), on the DCGAN bodies.

Every convolution of the discriminator is divided by its largest singular
value (flax's nn.SpectralNorm, one power iteration per call, its vectors kept
with the state and checkpointed like BatchNorm's statistics), in place of
BatchNorm. Everything else is the default experiment's (configs/digits.py).

Command (no network needed):

  python experiments/train.py --config experiments/configs/sngan_digits.py --workdir runs/sngan

Expected result: see experiments/results/README.md (the spectral norm's ablation row).
"""

from configs import digits


def get_config():
    config = digits.get_config()
    config.d_normalization = "spectral"  # nn.SpectralNorm on every discriminator weight
    config.loss = "hinge"               # relu(1 - D(x)) + relu(1 + D(G(z))); G: -D(G(z))
    config.real_label = 1.0             # no label smoothing outside BCE
    return config
