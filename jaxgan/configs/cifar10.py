r"""DCGAN on CIFAR-10 at 32x32 (tensorflow-datasets; needs the prepared dataset).

Prepare once, on a machine with network:

  python experiments/prepare_data.py --dataset cifar10 --data_dir ~/tensorflow_datasets

Command (a GPU is advised: about 100k steps):

  python experiments/train.py --config experiments/configs/cifar10.py --workdir runs/cifar10

Expected result: not yet measured here (no network on the development
machines). Blurry but varied object-like scenes, the DCGAN paper's quality;
the classifier scores are weak on CIFAR-10 (its own held-out accuracy is about
0.7 after 5k steps), so compare runs by class_kl rather than by confidence.
"""

from jaxgan.configs import dcgan_digits


def get_config():
    config = dcgan_digits.get_config()
    config.dataset = "cifar10"          # 50,000 colour images, 10 classes (150 MB as uint8)
    config.image_size = 32
    config.batch_size = 128
    config.num_steps = 100_000
    config.g_width = 64
    config.d_width = 64
    config.latent_dim = 100
    config.log_every = 1_000
    config.eval_every = 10_000
    config.checkpoint_every = 10_000
    config.num_eval_samples = 2_000
    config.num_final_samples = 2_000
    config.classifier_steps = 5_000
    return config
