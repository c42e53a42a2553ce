r"""A seconds-long CycleGAN run between the bundled digit datasets, for tests.

  python experiments/train.py --config experiments/configs/cyclegan_smoke.py --workdir /tmp/cg

Expected: finishes in about a minute on 2 CPU cores and writes every file of
the translation contract, both ways; the numbers mean nothing.
"""

from jaxgan.configs import cyclegan_digits_mnist5k


def get_config():
    config = cyclegan_digits_mnist5k.get_config()
    config.image_size = 8
    config.g_width = 4
    config.d_width = 4
    config.unet_depth = 2
    config.patch_layers = 1
    config.history_size = 8
    config.batch_size = 8
    config.num_steps = 4
    config.log_every = 2
    config.eval_every = 2
    config.checkpoint_every = 2
    config.steps_per_dispatch = 2
    config.num_eval_samples = 64
    config.num_final_samples = 16
    config.classifier_steps = 20
    config.lr_schedule = "constant"     # tests stop runs early and extend them
    return config
