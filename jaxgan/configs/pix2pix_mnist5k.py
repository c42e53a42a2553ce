r"""Pix2Pix digit completion on the bundled real MNIST digits: the lower half of
each digit is blanked, and the generator draws it back.

A U-Net generator (no latent, and here no dropout: see g_dropout below) and a
PatchGAN that sees the blanked input beside the completed digit
(jaxgan.models.translation); the generator minimises the non-saturating loss
plus 100 times the L1 distance to the true digit (Isola et al. 2017), and the
held-out outputs come from its moving average. Every tenth pair is held out,
never trained on, and evaluated: L1 and PSNR against the true digits, the
share of completions that the project's classifier (trained on the real
digits) reads as the input's class, and the Frechet distance to real digits.
The L1-only baseline is the same command with --config.adversarial_weight=0.

Command (no network needed; the digits ship in the mnist5k extra's wheel):

  python experiments/train.py --config experiments/configs/pix2pix_mnist5k.py \
      --workdir runs/pix2pix_mnist5k

Expected result, seeds 0-2 on 2 CPU cores (7 to 11 min a run, each with
another run beside it; experiments/results/README.md, "Image-to-image
translation"): on the 500 held-out pairs, 0.903 +- 0.002 of completions
show the input's class by the project's classifier (its accuracy on the real
targets: 0.960) and 0.915 +- 0.004 by the SVM judge; Frechet distance 11.8
+- 1.1 (real floor 9.87; the L1-only baseline 16.2 +- 0.7, its live
generator 13.5 +- 0.5); L1 0.082, PSNR 18.7 dB; the drawn-in halves nearly
as sharp as real ones (mean pixel gradient 0.213, real 0.230, baseline 0.184).
Against the targets of the same held-out inputs (target_frechet_distance,
floor 0; a rerun of seeds 0-2, "Which real digits to compare with"): 4.44 +-
0.20, the baseline 17.3 +- 1.4.
"""

from jaxgan.configs import dcgan_digits


def get_config():
    config = dcgan_digits.get_config()
    # mnist5k_completion | mnist5k_edges (bundled) | pairs:PATH (.npz of inputs and targets,
    # or a folder with A/ and B/)
    config.dataset = "mnist5k_completion"
    config.image_size = 32              # 28 -> 32, so that a 4-level U-Net sees the whole digit
    config.model = "pix2pix"            # U-Net generator, PatchGAN discriminator
    config.latent_dim = 0               # unused: a translation generator takes no z
    config.g_width = 32                 # U-Net's first width; level i has g_width * 2^min(i, 3)
    config.d_width = 32                 # PatchGAN's first width, doubled by each layer
    config.unet_depth = 4               # halvings of the side (32 -> 2x2 at the bottleneck)
    config.patch_layers = 2             # PatchGAN stride-2 layers (32x32 -> 6x6 patch logits)
    # Pix2Pix's noise is dropout in the first 3 decoder blocks (0.5). On this task
    # the U-Net draws better without it: sampled with its dropout (as the paper
    # does at test time) its completions stray from the input's class more
    # often, and with the dropout off they are blends of completions.
    config.g_dropout = 0.0
    config.ema_decay = 0.999            # the held-out outputs come from the generator's average
    config.ema_start = 500
    config.reconstruction_weight = 100.0  # Pix2Pix's lambda: weight of L1 to the target
    # the generator's adversarial loss weight (0: the L1-only baseline)
    config.adversarial_weight = 1.0
    config.real_label = 1.0             # no label smoothing (Pix2Pix)
    config.batch_size = 32              # pairs per update (Pix2Pix trained one at a time)
    config.num_steps = 2_000            # about 14 epochs of the 4,500 training pairs
    config.eval_every = 500
    config.checkpoint_every = 500
    config.num_eval_samples = 500       # every held-out pair (a tenth of 5,000)
    config.num_final_samples = 500
    return config
