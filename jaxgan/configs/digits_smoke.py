r"""A seconds-long DCGAN run on the digits, for tests and quick checks.

  python experiments/train.py --config experiments/configs/digits_smoke.py --workdir /tmp/ds

Expected: finishes in about a minute on 2 CPU cores and writes every file of
the training contract; the numbers mean nothing.
"""

from jaxgan.configs import dcgan_digits


def get_config():
    config = dcgan_digits.get_config()
    config.image_size = 28
    config.batch_size = 16
    config.num_steps = 8
    config.g_width = 4
    config.d_width = 4
    config.latent_dim = 8
    config.log_every = 4
    config.eval_every = 4
    config.checkpoint_every = 4
    config.steps_per_dispatch = 4
    config.num_eval_samples = 64
    config.num_final_samples = 64
    config.classifier_steps = 20
    # A moving average from step 2, so that the smoke runs exercise it (and it
    # differs from the generator by the end).
    config.ema_decay = 0.9
    config.ema_start = 2
    return config
