r"""The best measured unconditional recipe on the bundled real MNIST digits
(mnist5k): a self-conditioned DCGAN at 32x32.

Unconditional: it reads no labels. Before training, 30 clusters are found
in the 5,000 digits without their labels (jaxgan.data.clusters): k-means on
a spectral embedding of the images' nearest-neighbour graph, so that a
cluster is mostly one kind of digit (0.89 of each cluster is its commonest
class, against 0.76 for k-means on the pixels). The DCGAN trains as a
conditional GAN on the cluster indices (concat: the one-hot cluster
appended to z and given to the discriminator as input channels). To sample,
it draws a cluster in its share of the data, then z. The networks, losses
and schedule are the course's DCGAN's (configs/dcgan_mnist5k.py) at 32x32,
one more doubling than the digits' own 28x28 (as configs/cgan_mnist5k.py
found for the conditional GAN). What each part buys is in
experiments/results/README.md.

Command (no network needed; pip install -e '.[mnist5k]'):

  python experiments/train.py --config experiments/configs/mnist5k.py --workdir runs/mnist5k

Expected result, seeds 0, 1 and 2 in one program (--config.num_seeds=3;
mean +- standard error; experiments/results/spectral_clusters/mnist5k_seeds_0_2/;
alone, one seed takes about 10 minutes on 2 CPU cores, plus 2.5 minutes
training the scoring classifier): samples/final.png shows digits of every
class, nearly all readable. The project's classifier (held-out accuracy
0.978, sure of 0.956 of held-out real digits): confident_fraction 0.930 +-
0.004, class_kl 0.005, frechet_distance 26.9 +- 1.3 at 500 samples against
the real floor's 23.2 at 500 (1.16 times; 15.6 at 1,000), precision 0.882
(real 0.874), recall 0.814. The independent judge (python
experiments/judge.py --workdir runs/mnist5k, an SVM on the 28x28 pixels,
every seed): confident 0.689 +- 0.002 (real 0.650), plausible 0.990 (real
0.950).

Clustered on the pixels (--config.cluster_features=pixels, the recipe until
December 2026; experiments/results/judge_6000/mnist5k_seeds_0_2/):
confident_fraction 0.872 +- 0.009, class_kl 0.008, frechet_distance 24.5 at
500, recall 0.807; the SVM 0.703 +- 0.012. The same DCGAN unconditional at
32x32 (seed 0, the older 1,000-step classifier, which was sure of only 0.82
of real digits): confident 0.41 against the pixel clusters' 0.75 by that
classifier.
"""

from jaxgan.configs import dcgan_mnist5k


def get_config():
    config = dcgan_mnist5k.get_config()
    config.image_size = 32              # resized from 28: one more doubling in each network
    config.clusters = 30                # self-conditioned on 30 clusters of the digits
    config.cluster_features = "spectral"  # clustered on a spectral embedding, not the pixels
    config.conditioning = "concat"      # how the networks take the cluster
    return config
