r"""R3GAN's objective on scikit-learn's digits at 32x32: the DCGAN bodies with
the relativistic pairing loss and R1 + R2 (Huang et al. 2024).

The discriminator scores each real digit against a fake partner
(softplus(D(fake) - D(real))), and its input gradient is penalised on both
real and generated digits with one weight (jaxgan.penalties.r1_r2_penalty).
The penalties score examples one by one, so the discriminator has no
BatchNorm. Everything else is the course's DCGAN's (configs/dcgan_digits.py).

Command (no network needed):

  python experiments/train.py --config experiments/configs/r3gan_digits.py --workdir runs/r3gan

Expected result: two input-gradient penalties per discriminator update make a
step about three times the DCGAN's on the CPU, so in the DCGAN's wall time it
gets about 1,500 steps. Measured so (--config.num_steps=1500, 10 min 15 s on
2 CPU cores, seed 0; experiments/results/r3gan_digits/): samples/final.png
shows blurred digit shapes, few readable. The project's classifier:
confident_fraction 0.546 (held-out real digits 0.922), frechet_distance
34.9, precision 0.470, class_kl 0.085; the SVM judge (experiments/judge.py)
confident 0.413 (real 0.881), plausible 0.559 (real 0.950). The course's
DCGAN in the same time: 0.600, 16.9, 0.645, and 0.588 from the judge. The
full 5,000 steps (this file as it is) take about 30 minutes and are not yet
measured to the end; at step 1,000 of that run the numbers were 0.512 and
65.9.
"""

from jaxgan.configs import dcgan_digits


def get_config():
    config = dcgan_digits.get_config()
    config.loss = "relativistic"        # softplus(D(fake) - D(real)) per pair, and the reverse
    config.real_label = 1.0             # no label smoothing outside BCE
    config.d_penalty = "r1_r2"          # R1 on real plus R2 on generated digits
    config.d_penalty_weight = 0.1       # gamma: weight of (|grad D(x)|^2 + |grad D(G(z))|^2) / 2
    config.d_normalization = "none"     # the penalty needs each example scored on its own
    return config
