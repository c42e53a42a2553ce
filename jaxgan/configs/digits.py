r"""The default experiment: the best measured recipe on scikit-learn's digits at 32x32.

SNGAN on the DCGAN bodies (configs/sngan_digits.py: a spectrally normalised
discriminator, no BatchNorm in it, and the hinge loss), given the steps that
the course's DCGAN (configs/dcgan_digits.py) spends in the same wall time:
without BatchNorm a step is about a third cheaper. The generator ends in the
digits' native detail (g_native_size=8): the data are 8x8 images resized
bilinearly to 32x32, so its output is averaged to 8x8 and resized back the
same way, and it cannot draw the fine texture that tells a discriminator an
image is fake. It is self-conditioned (clusters=30): unconditional, reading
no labels, it trains as a conditional GAN on 30 k-means clusters of the
digits' pixels and draws each cluster in its share of the data
(jaxgan.data.clusters). Every option, and what each component buys, is in
experiments/results/README.md.

Command (no network needed; the digits ship inside scikit-learn):

  python experiments/train.py --config experiments/configs/digits.py --workdir runs/digits

Expected result, seeds 0, 1 and 2 (mean +- standard error;
experiments/results/self_conditioned/digits_seed_N/; measured with three to
five other runs beside them on 2 CPU cores; alone, a run costs about 10
minutes): samples/final.png shows digits of every class, most of them
nameable. The project's classifier (held-out accuracy 0.989):
confident_fraction 0.865 +- 0.003 (held-out real digits 0.922), classes
10/10, class_kl 0.001, frechet_distance 20.8 at 179 samples against the real
floor's 17.8 at 179 (6.5 at 1,000), precision 0.848 (real 0.905), recall
0.812. The independent judge (python experiments/judge.py --workdir
runs/digits, an SVM on the 8x8 pixels): confident 0.876 +- 0.005 (real
0.881), plausible 0.960 (real 0.950). Without the clusters (the default
until then, seeds 0, 1, 2; experiments/results/digits_native/): confident
0.751 +- 0.004, precision 0.750, recall 0.866, the judge 0.741 +- 0.010 and
0.888; without the native detail as well: 0.698 +- 0.006; the course's
DCGAN (seed 0) 0.600, the judge 0.588.
"""

from jaxgan.configs import sngan_digits


def get_config():
    config = sngan_digits.get_config()
    config.num_steps = 7_000            # the DCGAN's 5,000 steps' wall time (about 9 minutes)
    config.g_native_size = 8            # the digits are 8x8 resized up: draw no finer detail
    config.clusters = 30                # self-conditioned on 30 k-means clusters of the pixels
    config.conditioning = "concat"      # how the networks take the cluster
    return config
