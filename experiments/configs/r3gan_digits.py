r"""R3GAN's objective on scikit-learn's digits at 32x32: the DCGAN bodies with
the relativistic pairing loss and R1 + R2 (Huang et al. 2024).

The discriminator scores each real digit against a fake partner
(softplus(D(fake) - D(real))), and its input gradient is penalised on both
real and generated digits with one weight (jaxgan.penalties.r1_r2_penalty).
The penalties score examples one by one, so the discriminator has no
BatchNorm. Everything else is the course's DCGAN's (configs/dcgan_digits.py).

Command (no network needed):

  python experiments/train.py --config experiments/configs/r3gan_digits.py --workdir runs/r3gan

Expected result: see experiments/results/README.md (the objective's ablation row).
"""

from configs import dcgan_digits


def get_config():
    config = dcgan_digits.get_config()
    config.loss = "relativistic"        # softplus(D(fake) - D(real)) per pair, and the reverse
    config.real_label = 1.0             # no label smoothing outside BCE
    config.d_penalty = "r1_r2"          # R1 on real plus R2 on generated digits
    config.d_penalty_weight = 0.1       # gamma: weight of (|grad D(x)|^2 + |grad D(G(z))|^2) / 2
    config.d_normalization = "none"     # the penalty needs each example scored on its own
    return config
