r"""The default experiment: the best measured recipe on scikit-learn's digits at 32x32.

The course's DCGAN (configs/dcgan_digits.py: BatchNorm in both networks, BCE
with one-sided label smoothing 0.9, Adam 2e-4 with beta1 0.5, a cosine
decay) with two changes to the generator and 7,000 steps. The generator
ends in the digits' native detail (g_native_size=8): the data are 8x8 images
resized bilinearly to 32x32, so its output is averaged to 8x8 and resized
back the same way, and it cannot draw the fine texture that tells a
discriminator an image is fake. It is self-conditioned (clusters=30):
unconditional, reading no labels, it trains as a conditional GAN on 30
clusters of the digits (k-means on a spectral embedding of their
nearest-neighbour graph, cluster_features="spectral") and draws each
cluster in its share of the data (jaxgan.data.clusters). With those two parts the course's
BatchNorm discriminator measures better than SNGAN's spectral norm and hinge
(configs/sngan_digits.py), the default until December 2026. Every option,
and what each component buys, is in experiments/results/README.md
("What each part of the default buys").

Command (no network needed; the digits ship inside scikit-learn):

  python experiments/train.py --config experiments/configs/digits.py --workdir runs/digits

Expected result, seeds 0, 1 and 2 (mean +- standard error; trained in one
program with --config.num_seeds=3, which computes what three runs of one
seed each compute; experiments/results/spectral_clusters/digits_seeds_0_2;
alone, 1,000 steps take 74 s, so a run of one seed costs about 10 minutes
with its classifier and evaluations): samples/final.png shows digits of
every class, most of them nameable. The project's classifier (held-out
accuracy 0.989): confident_fraction 0.944 +- 0.003 (held-out real digits
0.922), classes 10/10, class_kl 0.0004, frechet_distance 19.1 +- 1.6 at 179
samples against the real floor's 17.8 at 179 (0.91x, 1.21x, 1.09x; 3.4 at
1,000), precision 0.907 (real 0.905), recall 0.874. The independent judge
(python experiments/judge.py --workdir runs/digits, an SVM on the 8x8
pixels, every seed): confident 0.905 +- 0.003 (real 0.881), plausible 0.988
(real 0.950). On clusters of the pixels (cluster_features="pixels", the
default until 2026-12-06; experiments/results/default_ablations/batchnorm_bce*):
confident_fraction 0.914 +- 0.004, FD 20.0 +- 1.1 at 179, recall 0.877, the
judge 0.891 +- 0.007. With SNGAN's discriminator and loss
instead (the previous default): confident 0.865 +- 0.003, the judge 0.876;
without the clusters as well: 0.751 +- 0.004; the course's DCGAN (seed 0)
0.600, the judge 0.588.
"""

from jaxgan.configs import dcgan_digits


def get_config():
    config = dcgan_digits.get_config()  # BatchNorm, BCE with label smoothing
    config.num_steps = 7_000            # about 10 minutes on 2 CPU cores
    config.g_native_size = 8            # the digits are 8x8 resized up: draw no finer detail
    config.clusters = 30                # self-conditioned on 30 clusters of the digits
    config.cluster_features = "spectral"  # clustered on a spectral embedding, not the pixels
    config.conditioning = "concat"      # how the networks take the cluster
    return config
