r"""A seconds-long run of the default experiment, for tests and quick checks.

  python experiments/train.py --config experiments/configs/smoke.py --workdir /tmp/smoke

Expected: finishes in well under a minute on 2 CPU cores and writes every file
of the training contract; the numbers mean nothing.
"""

from jaxgan.configs import ring8


def get_config():
    config = ring8.get_config()
    config.num_steps = 40
    config.batch_size = 32
    config.g_features = (16, 16)
    config.d_features = (16, 16)
    config.latent_dim = 8
    config.log_every = 10
    config.eval_every = 20
    config.checkpoint_every = 20
    config.steps_per_dispatch = 10
    config.num_eval_samples = 200
    config.num_final_samples = 100
    # Constant rates, so that tests can stop a run early and extend it (a
    # cosine schedule pins num_steps on resume).
    config.lr_schedule = "constant"
    return config
