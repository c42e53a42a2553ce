r"""CycleGAN between two bundled digit datasets that nothing pairs: scikit-learn's
8x8 digits (domain A, upscaled: thick and blurry) and the real MNIST digits
of the mnist5k extra (domain B, thin and sharp), both at 32x32. Domain A's
digits are upscaled into MNIST's frame (digits_framed: the central 20/28 of
the side), so that the translation changes the strokes, not the digit's
size and place.

Two U-Nets translate A to B and B to A, a PatchGAN judges each domain, and
the generators learn from the least-squares loss, the cycle's L1 (lambda 10)
and the identity L1 (half of that), with a history of 50 fakes per domain
(Zhu et al. 2017; jaxgan.cyclegan). A tenth of each domain is held out and
evaluated both ways: the share of translations that keep their class (by the
classifier of the output's domain), the Frechet distance to the output
domain's real images, and the round trip back to the input (cycle_l1).

Command (no network needed; the MNIST digits ship in the mnist5k extra's wheel):

  python experiments/train.py --config experiments/configs/cyclegan_digits_mnist5k.py \
      --workdir runs/cyclegan_digits_mnist5k

Expected result, measured on 2 CPU cores in 21 min (experiments/results/README.md,
"Unpaired translation"): on 179 held-out digits each way, 0.72 of the A to B
translations keep their class by the MNIST classifier (0.70 by the SVM
judge; ceiling 0.96) and 0.51 of the B to A ones by the digits classifier
(0.54 by the judge); round trips within L1 0.03 and 0.07 of their inputs.
With domain A unframed (--config.dataset=unpaired:digits,mnist5k) B to A
fails: 0.24.
"""

from jaxgan.configs import pix2pix_mnist5k


def get_config():
    config = pix2pix_mnist5k.get_config()
    config.dataset = "unpaired:digits_framed,mnist5k"  # unpaired:A,B - any two image datasets
    config.model = "cyclegan"           # two U-Nets (A->B, B->A), a PatchGAN per domain
    config.loss = "least_squares"       # CycleGAN's objective
    config.cycle_weight = 10.0          # lambda of the round trip's L1 (both directions)
    config.identity_weight = 0.5        # identity L1's weight, as a fraction of cycle_weight
    config.history_size = 50            # earlier fakes per domain the discriminators see
    config.semantic_weight = 0.0        # CyCADA's class-keeping term (0: the paper's CycleGAN)
    config.semantic_reader = "input"    # whose guide reads a translation: input's or output's
    config.g_dropout = 0.0              # CycleGAN's generators have no noise
    config.d_normalization = "instance"  # CycleGAN's PatchGAN normalises per image
    config.batch_size = 32
    config.num_steps = 1_500
    config.lr_schedule = "cosine"       # to zero over the run (CycleGAN decays linearly)
    config.num_eval_samples = 179       # every held-out digit of domain A (a tenth of 1,797)
    config.num_final_samples = 179
    return config
