r"""A seconds-long Pix2Pix run on the bundled completion task, for tests.

  python experiments/train.py --config experiments/configs/pix2pix_smoke.py --workdir /tmp/p2p

Expected: finishes in about a minute on 2 CPU cores and writes every file of
the translation contract; the numbers mean nothing.
"""

from jaxgan.configs import pix2pix_mnist5k


def get_config():
    config = pix2pix_mnist5k.get_config()
    config.image_size = 8
    config.g_width = 4
    config.d_width = 4
    config.unet_depth = 2
    config.patch_layers = 1
    config.batch_size = 16
    config.num_steps = 20
    config.log_every = 10
    config.eval_every = 10
    config.checkpoint_every = 10
    config.steps_per_dispatch = 10
    config.num_eval_samples = 100
    config.num_final_samples = 24
    config.classifier_steps = 50
    config.lr_schedule = "constant"     # tests stop runs early and extend them
    config.g_dropout = 0.5              # the U-Net's noise, which the tests sample
    config.ema_decay = 0.0
    return config
