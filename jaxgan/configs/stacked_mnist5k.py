r"""The best measured recipe on Stacked MNIST (configs/dcgan_stacked_mnist5k.py
describes the benchmark and its scores): the course's DCGAN at 32x32,
self-conditioned on 10 k-means clusters of the base digits (each example's
condition is its three channels' clusters, 1,000 triples; projection), with
the discriminator's learning rate halved, a wider generator and 20,000
steps.

Command (no network needed; pip install -e '.[mnist5k]'):

  python experiments/train.py --config experiments/configs/stacked_mnist5k.py \
      --workdir runs/stacked

Expected result, seed 0, measured on 2 CPU cores in 1 h 16 min with another
run (and for 35 min a CI run) beside it (experiments/results/
stacked_experiments/self_conditioned_20k_dlr_g48/): modes_covered 999,
reverse_kl 0.135, confident_modes_covered 290, confident_fraction 0.017
(real triples 0.505), Frechet distance 37.9 (real 21.6 at 32x32), recall
0.565 (real 0.821); the SVM judge finds all three channels plausible in
0.767 of samples (real 0.860). The grid shows three overlaid strokes, some
of them readable triples, most smeared. Issue 19's goal (reverse KL <= 0.1,
three seeds) is not yet met. The SNGAN recipe that this config named
before measured 950 modes, reverse KL 0.407, FD 128 in 7,000 steps at
28x28 (experiments/results/stacked_mnist5k/; `sngan_digits.py` with the
dataset fields of dcgan_stacked_mnist5k.py).
"""

from jaxgan.configs import dcgan_stacked_mnist5k


def get_config():
    config = dcgan_stacked_mnist5k.get_config()
    config.image_size = 32              # the 28x28 body draws worse (results README)
    config.clusters = 10                # self-conditioned on 10 clusters per channel: 1,000 triples
    config.conditioning = "projection"  # how the networks take the triple of clusters
    config.d_learning_rate = 1e-4       # half the generator's: the discriminator wins outright
    config.g_width = 48                 # wider than the discriminator's 32
    config.num_steps = 20_000           # still improving at 15,000 (FD 39.5, then 37.9)
    return config
