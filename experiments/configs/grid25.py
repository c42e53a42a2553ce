r"""Fully connected GAN on the 5x5 grid of 25 Gaussians (spacing 2, std 0.05).

Command:

  python experiments/train.py --config experiments/configs/grid25.py \
      --workdir runs/grid25 --config.num_seeds=10

Expected result (10 seeds): mean modes covered >= 24 of 25, high-quality
fraction >= 0.85. PacGAN (Lin et al. 2018) reports 17.3 modes / 94.8% / KL
0.70 for a plain GAN here.
"""

from configs import ring8


def get_config():
    config = ring8.get_config()
    config.dataset = "grid25"
    # 25 modes leave more boundaries for bridge points than 8: a longer decay.
    config.num_steps = 50_000
    config.eval_every = 10_000
    config.checkpoint_every = 10_000
    return config
