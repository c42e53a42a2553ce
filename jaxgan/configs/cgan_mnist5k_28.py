r"""Conditional DCGAN on the bundled real MNIST digits (mnist5k) at their own
28x28, through the 32x32 networks.

configs/cgan_mnist5k.py resizes the digits to 32x32, which gives each network
a third resolution doubling. This config keeps the digits at 28x28 and gives
the networks the same third doubling: both use the 32x32 layers
(body_size=32); the generator draws 32x32 and keeps the centre 28x28, and
the discriminator pads its 28x28 input with two pixels of zeros (grey in
[-1, 1]) on each side.
No pixel is resampled. The 28x28 networks' own plan (7x7 -> 14 -> 28, two
layers in the discriminator) is what the course's DCGAN uses, and it
measured far worse here (below). ``--config.conditioning=projection`` gives
the projection discriminator.

Command (no network needed; pip install -e '.[mnist5k]'):

  python experiments/train.py --config experiments/configs/cgan_mnist5k_28.py --workdir runs/cgan28

Expected result, seeds 0, 1 and 2 (mean +- standard error;
experiments/results/cgan_mnist5k_28/; 7 to 10 minutes a run with another
run beside it on 2 CPU cores): samples/final.png shows one row per class,
nearly every digit clean and of its class. The project's classifier at 28x28
(held-out accuracy 0.954; it reads 0.90 to 1.00 of held-out real digits of
each class as their class):
label_accuracy 0.967 +- 0.003, the worst class 0.90 to 0.92 per seed;
confident_fraction 0.826 (real 0.838); frechet_distance 3.2 +- 0.3 at 1,000
samples (held-out real digits: 5.59 at 500); precision 0.884 (real 0.896).
The independent judge (python experiments/judge.py --workdir runs/cgan28, an
SVM on the pixels): label accuracy 0.977 +- 0.004, plausible 0.925 (real
0.950). With projection: label_accuracy 0.959 +- 0.003 (the SVM 0.976 +-
0.002), frechet_distance 3.7 +- 0.2. Through the 28x28 networks' own layers
(body_size=0; seed 0, measured on earlier code whose data order differed):
concat 0.939 (the eights 0.83), FD 6.0; projection 0.684 (the sixes 0.41),
FD 9.5.

Those numbers came from the 1,000-step scoring classifier. The config now
trains it 6,000 steps, through dcgan_mnist5k.py. That classifier reads real
digits right 0.984 of the time, and real twos 0.96. Scored by it (seeds 0-2
in one program, --config.num_seeds=3;
experiments/results/judge_6000/cgan_mnist5k_28_seeds_0_2/):
label_accuracy 0.964 +- 0.005, the worst class per seed 0.87 to 0.94 (fives
or twos); confident_fraction 0.931 (real 0.962); frechet_distance 16.6 at
500 (its real floor 21.8 at 500); the SVM's label accuracy 0.973 +- 0.002
(every seed; seed 0 alone 0.977). With projection
(experiments/results/judge_6000/cgan_mnist5k_28_projection_seeds_0_2/):
label_accuracy 0.963 +- 0.004, the worst class per seed 0.86 to 0.91
(twos, fives, threes), frechet_distance 20.7 at 500, the SVM 0.979 +-
0.002. Neither conditioning has every class at 0.98 at any truncation
threshold (experiments/results/truncation/).
"""

from jaxgan.configs import cgan_mnist5k


def get_config():
    config = cgan_mnist5k.get_config()
    config.image_size = 28              # the digits' own size: no resizing
    config.body_size = 32               # the 32x32 networks: G keeps the centre, D pads
    return config
