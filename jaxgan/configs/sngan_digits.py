r"""SNGAN on scikit-learn's digits at 32x32: a spectrally normalised
discriminator and the hinge loss (Miyato et al. 2018), on the DCGAN bodies.

Every convolution of the discriminator is divided by its largest singular
value (flax's nn.SpectralNorm, one power iteration per call, its vectors kept
with the state and checkpointed like BatchNorm's statistics), in place of
BatchNorm. Everything else is the course's DCGAN's (configs/dcgan_digits.py).

Command (no network needed):

  python experiments/train.py --config experiments/configs/sngan_digits.py --workdir runs/sngan

Expected result, measured on 2 CPU cores in 6 min 30 s (seed 0;
experiments/results/sngan_digits/; no BatchNorm makes a step about a third
faster than the DCGAN's): samples/final.png shows digits of every class,
about two thirds readable. Beside the course's DCGAN (configs/dcgan_digits.py, same seed
and steps): the project's classifier gives confident_fraction 0.676 (DCGAN
0.600; held-out real digits 0.922), frechet_distance 13.4 at 1,000 samples
(DCGAN 16.9), precision 0.673 (0.645), recall 0.813, class_kl 0.018; the
independent judge (experiments/judge.py) confident 0.637 (DCGAN 0.588; real
0.881), plausible 0.817 (0.783; real 0.950).
"""

from jaxgan.configs import dcgan_digits


def get_config():
    config = dcgan_digits.get_config()
    config.d_normalization = "spectral"  # nn.SpectralNorm on every discriminator weight
    config.loss = "hinge"               # relu(1 - D(x)) + relu(1 + D(G(z))); G: -D(G(z))
    config.real_label = 1.0             # no label smoothing outside BCE
    return config
