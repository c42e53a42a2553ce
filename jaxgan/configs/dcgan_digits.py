r"""The DCGAN as the course teaches it, on scikit-learn's digits at 32x32.

BatchNorm in both networks, the non-saturating BCE loss with one-sided label
smoothing (0.9), Adam 2e-4 with beta1 0.5 (the DCGAN paper). Most configs
build on this one (the smoke configs the tests use, the conditional GAN,
WGAN-GP, SNGAN, R3GAN, the tfds datasets), so it stays what it is; the
default experiment (configs/digits.py) is what measures best.

Command (no network needed; the digits ship inside scikit-learn):

  python experiments/train.py --config experiments/configs/dcgan_digits.py --workdir runs/dcgan

Expected result, measured on 2 CPU cores in 9 to 10 minutes
(experiments/results/digits/): samples/final.png shows digits of every class,
about two thirds readable at a glance; a classifier trained on the real digits
(held-out accuracy 0.989) gives confident_fraction 0.619 (p >= 0.9; 0.922 on
held-out real digits), classes_covered 10/10, class_kl 0.036. On the
classifier's features (experiments/results/digits_eval/, seeds 0-2, 1,000
samples): frechet_distance 18.8 +- 1.9, kid 36 +- 5, precision 0.63, recall
0.72; held-out real digits give real_frechet_distance 17.8 from only 179
images (generated: 29.9 at that size).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    # --- shared by every experiment ---
    # ring8 | grid25 | digits | mnist5k (bundled) | mnist | fashion_mnist | cifar10 | celeb_a
    # (tensorflow-datasets) | npz:PATH | folder:PATH
    config.dataset = "digits"
    config.data_dir = ml_collections.config_dict.placeholder(str)  # tfds data_dir (None: default)
    config.image_size = 32              # images are resized to image_size^2 (DCGAN: 28, 32, 64)
    config.batch_size = 64              # real examples per discriminator update (global)
    config.num_steps = 5_000            # generator updates (about 180 epochs of the 1,797 digits)
    config.seed = 0                     # seeds seed..seed+num_seeds-1; seed s uses PRNGKey(s)
    config.num_seeds = 1                # seeds trained together in one program
    config.log_every = 250              # steps between lines of metrics.jsonl
    config.eval_every = 1_000           # steps between evaluations and sample grids
    config.checkpoint_every = 1_000     # steps between checkpoints
    config.keep_checkpoints = 3         # checkpoints kept on disk
    config.num_final_samples = 1_000    # images in samples/final.npz (same as evaluated)
    config.parallel = "none"            # none | jit | pmap (data-parallel over every device)
    config.g_learning_rate = 2e-4       # generator Adam learning rate (DCGAN paper)
    config.d_learning_rate = 2e-4       # discriminator Adam learning rate
    config.n_disc = 1                   # discriminator updates per generator update
    # --- this family ---
    config.model = "dcgan"              # DCGAN generator and discriminator
    config.latent_dim = 64              # size of z ~ N(0, I)
    config.g_width = 32                 # generator's last hidden width (PyTorch's ngf)
    config.d_width = 32                 # discriminator's first width (PyTorch's ndf)
    # 0, or the side the data were resized up from (the digits: 8): the generator's output is
    # averaged to that side and resized back, as the data were (jaxgan.models.dcgan.native_detail)
    config.g_native_size = 0
    # 0, or a larger side (28 -> 32) whose layers both networks use: the generator draws at that
    # side and keeps the centre, the discriminator pads its input with zeros to it
    config.body_size = 0
    config.d_normalization = "batch"    # batch | layer | instance | none (no BatchNorm: penalties)
    # 1, or m >= 2: PacGAN, the discriminator scores each example packed with the m - 1 after
    # it (all real or all fake), so a generator of few modes shows (models.dcgan.pack_examples)
    config.d_pack = 1
    # DiffAugment of every image the discriminator sees (real and fake): none, or a
    # comma-separated list of color, translation, cutout
    config.augment = "none"
    # ADA (> 0): each operation applies with a probability p, kept in the state and moved
    # by augment_p_step per discriminator update towards holding E[sign(D(real))] at
    # this target (ADA: 0.6); 0: always applied (DiffAugment)
    config.augment_target = 0.0
    config.augment_p_step = 5e-4        # 0 to 1 in 2,000 updates
    config.conditioning = "none"        # none | concat | projection (class-conditional GAN)
    # 0, or > 0 for a conditional GAN: AC-GAN's auxiliary class loss, this times the
    # cross-entropy of a class head on the discriminator (real images' labels for it,
    # the asked-for classes of the fakes for the generator; jaxgan.step)
    config.class_loss_weight = 0.0
    # 0, or k >= 2: a self-conditioned GAN, unconditional to its users: conditioned (as
    # `conditioning` says) on k k-means clusters of the images, never on their labels, and
    # drawing each cluster in its share of the data (jaxgan.data.clusters)
    config.clusters = 0
    # what k-means clusters: pixels | spectral (a spectral embedding of the images'
    # nearest-neighbour graph: purer clusters, see jaxgan.data.clusters)
    config.cluster_features = "pixels"
    # stacked data only (stacked_mnist5k): the networks take each channel's class (or cluster)
    # as a one-hot of its own, side by side, instead of one one-hot over every triple
    # (jaxgan.models.conditioning.PerChannelConditions)
    config.per_channel_conditions = False
    # non-finite losses or parameters: stop, or go back to the last checkpoint and halve the rates
    config.on_nan = "stop"              # stop | rollback (at most 3 times)
    # a symptom of a dying GAN (jaxgan.health: one image for every z, a discriminator that
    # wins outright, coverage collapsing): warn (a console line) | stop (exit 1)
    config.on_collapse = "warn"
    # moving average of the generator, used for evaluation and samples (0.0: none)
    # 0.999 from step 1,000 measured no better at step 5,000 (the cosine schedule has
    # already stilled the generator) and worse in mid-run: see experiments/results/digits_eval
    config.ema_decay = 0.0             # per-step decay (0.999: a window of about 1,000 steps)
    config.ema_start = 1_000           # steps before which the average copies the generator
    # > 0: evaluations and final samples draw each latent component from a normal
    # truncated to [-t, t] (BigGAN's truncation trick: more typical samples, less
    # variety); training always draws from the full normal. 0: none
    config.truncation = 0.0
    # non_saturating | minimax | wasserstein | hinge | least_squares | relativistic
    config.loss = "non_saturating"
    config.d_penalty = "none"           # none | r1 | gradient_penalty (on D's input gradient)
    config.d_penalty_weight = 0.0       # weight of that penalty
    config.real_label = 0.9             # one-sided label smoothing (1.0: none); BCE losses only
    config.lr_schedule = "cosine"       # constant | cosine (decays both rates to 0 at num_steps)
    config.adam_b1 = 0.5                # Adam beta1 for both networks (DCGAN paper)
    config.adam_b2 = 0.999              # Adam beta2 for both networks
    config.steps_per_dispatch = 250     # steps per jitted call (lax.scan); divides every *_every
    # how the num_seeds seeds share the program: vmap (batched) | map (one after another;
    # XLA:CPU runs vmapped convolutions ~3x slower) | auto (map for the DCGAN on CPU)
    config.seed_batching = "auto"
    # float32 | bfloat16: what the networks compute in (parameters, optimizer and losses
    # stay float32; see GANRecipe.compute_dtype)
    config.compute_dtype = "float32"
    # auto | conv | subpixel | xla: how the convolutions and their gradients are computed
    # (same function and parameters; auto: the backend's entry in a recorded table,
    # jaxgan/models/layers.py)
    config.conv_impl = "auto"
    config.num_eval_samples = 1_000     # generated images per seed scored at each evaluation
    config.data_placement = "auto"      # auto | device | host (stream batches from host memory)
    # each epoch's data order: feistel (a step computes only its own batch's positions) |
    # permutation (the whole epoch's order every step: what runs made before feistel read)
    config.data_order = "feistel"
    config.download = True              # tfds datasets: prepare a missing dataset (network)
    config.classifier_steps = 1_000     # train steps of the scoring classifier (0: no scores)
    # where that classifier is cached (None: <workdir>/classifier; a shared path reuses it)
    config.classifier_dir = ml_collections.config_dict.placeholder(str)
    return config
