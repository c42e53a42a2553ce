r"""DCGAN on CelebA faces at 64x64: the reference PyTorch DCGAN's own setting.

The networks are the PyTorch example's (nz=100, ngf=ndf=64: G 3,576,704 and
D 2,765,568 parameters). Images are the centered 140x140 square of each
218x178 photo, resized to 64x64 (162,770 training images, 2 GB as uint8:
on the device when it has room, streamed from host memory otherwise).

Prepare once, on a machine with network (CelebA is about 1.4 GB):

  python experiments/prepare_data.py --dataset celeb_a --data_dir ~/tensorflow_datasets

Command (a GPU is needed in practice):

  python experiments/train.py --config experiments/configs/celeb_a64.py --workdir runs/celeb_a64

Expected result: not yet measured here (no network on the development
machines). Recognisable faces after 5 epochs (about 6k steps at batch 128),
as in the PyTorch example. CelebA has no class labels, so eval.json has no
classifier scores; look at samples/.
"""

from jaxgan.configs import dcgan_digits


def get_config():
    config = dcgan_digits.get_config()
    config.dataset = "celeb_a"
    config.image_size = 64
    config.batch_size = 128
    config.num_steps = 6_500            # about 5 epochs
    config.g_width = 64
    config.d_width = 64
    config.latent_dim = 100
    config.log_every = 500
    config.eval_every = 1_000
    config.checkpoint_every = 1_000
    config.steps_per_dispatch = 100
    config.num_eval_samples = 256
    config.num_final_samples = 256
    config.classifier_steps = 0         # no labels
    return config
