r"""The best measured unconditional recipe on the bundled real MNIST digits
(mnist5k): a self-conditioned DCGAN at 32x32.

Unconditional: it reads no labels. Before training, k-means splits the 5,000
digits' pixels into 30 clusters (jaxgan.data.clusters; a cluster is mostly one
kind of digit), and the DCGAN trains as a conditional GAN on the cluster
indices (concat: the one-hot cluster appended to z and given to the
discriminator as input channels). To sample, it draws a cluster in its share
of the data, then z. The networks, losses and schedule are the course's
DCGAN's (configs/dcgan_mnist5k.py) at 32x32, one more doubling than the
digits' own 28x28 (as configs/cgan_mnist5k.py found for the conditional
GAN). What each part buys is in experiments/results/README.md.

Command (no network needed; pip install -e '.[mnist5k]'):

  python experiments/train.py --config experiments/configs/mnist5k.py --workdir runs/mnist5k

Expected result, seeds 0, 1 and 2 (mean +- standard error;
experiments/results/self_conditioned/mnist5k_seed_N/; measured with three to
five other runs beside them on 2 CPU cores, so their wall time says
nothing; alone, a run costs cgan_mnist5k.py's 10 minutes): samples/final.png
shows digits of every class, nearly all readable. The project's classifier
(held-out accuracy 0.960): confident_fraction 0.751 +- 0.009 (held-out real
digits 0.824), class_kl 0.009, frechet_distance 7.4 at 500 samples against
the real floor's 8.25 at 500 (4.7 at 1,000), precision 0.877 (real 0.920),
recall 0.830. The independent judge (python experiments/judge.py --workdir
runs/mnist5k, an SVM on the 28x28 pixels): confident 0.687 +- 0.008 (real
0.650), plausible 0.988 (real 0.950). The same DCGAN unconditional at 32x32
(seed 0): confident 0.41, FD 13.1 at 500, the judge 0.550; at 28x28
(configs/dcgan_mnist5k.py): 0.313.

Those scores came from the 1,000-step scoring classifier. The config now
trains it 6,000 steps (through dcgan_mnist5k.py), and it reads held-out real
digits right 0.978 of the time, sure of 0.956. Scored by it (seeds 0-2 in
one program, --config.num_seeds=3;
experiments/results/judge_6000/mnist5k_seeds_0_2/): confident_fraction
0.872 +- 0.009 (real 0.956), class_kl 0.008, frechet_distance 16.7 at 1,000
and 24.5 at 500 (real floor 23.2 at 500), precision 0.881 (real 0.874); the
SVM: confident 0.702, plausible 0.988. A moving average
(--config.ema_decay=0.999) gives 0.873 and FD 27.4 at 500: no gain.
"""

from jaxgan.configs import dcgan_mnist5k


def get_config():
    config = dcgan_mnist5k.get_config()
    config.image_size = 32              # resized from 28: one more doubling in each network
    config.clusters = 30                # self-conditioned on 30 k-means clusters of the pixels
    config.conditioning = "concat"      # how the networks take the cluster
    return config
