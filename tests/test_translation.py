"""Image-to-image translation (Pix2Pix): the U-Net and PatchGAN modules, the
paired train step's objective against a hand computation, and a short run
that learns a paired task."""

import re

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxgan
from jaxgan import losses
from jaxgan.models.translation import PatchDiscriminator, UNetGenerator


def count(tree):
    return sum(leaf.size for leaf in jax.tree.leaves(tree))


def pix2pix(width=8, depth=2, dropout=0.5, weight=100.0, layers=2, **changes):
    return jaxgan.GANRecipe(
        generator=UNetGenerator(channels=1, width=width, depth=depth, dropout=dropout),
        discriminator=PatchDiscriminator(width=width, layers=layers), latent_dim=0,
        translation=True, reconstruction_weight=weight, **changes)


def test_unet_and_patchgan_shapes_and_parameter_counts():
    """Counted by hand for width 8 on 28x28x1 (depth 2; three stride-1 PatchGAN layers).

    U-Net: down_0 4*4*1*8 + 8 bias; down_1 4*4*8*16 + BatchNorm 2*16 (7x7, so
    normalised); up_1 4*4*16*8 + BatchNorm 2*8; up_0 4*4*(8+8)*1 + 1 bias.
    PatchGAN on 2 channels (input beside image): conv_0 4*4*2*8 + 8 bias;
    conv_1 4*4*8*16 + 2*16; conv_2 (stride 1) 4*4*16*32 + 2*32; logits
    4*4*32*1 + 1. Sides: 28 -> 14 -> 7 -> 6 -> 5 patches.
    """
    state = jaxgan.create_state(pix2pix(), jax.random.PRNGKey(0), (28, 28, 1))
    assert count(state.g_params) == 128 + 8 + 2048 + 32 + 2048 + 16 + 256 + 1 == 4537
    assert count(state.d_params) == 256 + 8 + 2048 + 32 + 8192 + 64 + 512 + 1 == 11113
    inputs = jnp.zeros((3, 28, 28, 1))
    outputs = pix2pix().translate(state, inputs)
    assert outputs.shape == (3, 28, 28, 1)
    logits = PatchDiscriminator(width=8, layers=2).apply({"params": state.d_params, "batch_stats":
                                                          state.d_batch_stats},
                                                         outputs, inputs, train=False)
    assert logits.shape == (3, 5, 5)
    # At full depth on 32x32 the bottleneck is 1x1 and goes without BatchNorm
    # (one statistic per channel): 4 normalised levels of 5, 4 decoder blocks.
    deep = UNetGenerator(channels=3, width=4, depth=5)
    variables, outputs = jax.eval_shape(
        lambda x: deep.init_with_output(jax.random.PRNGKey(0), x, train=False)[::-1],
        jnp.zeros((2, 32, 32, 2)))
    assert outputs.shape == (2, 32, 32, 3)
    assert len(variables["batch_stats"]) == 3 + 4
    with pytest.raises(ValueError, match="divisible by 8.*lower depth"):
        UNetGenerator(depth=3).init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1)),
                                    train=False)


def test_translation_samples_the_generator_s_noise_with_batch_norm_in_inference():
    """With a key, translate draws the U-Net's dropout (Pix2Pix's test-time
    sampling) and BatchNorm still reads its running statistics; without one
    the output is deterministic. Evaluation gives each input its own key, so
    an output does not depend on what else shares the call."""
    from jaxgan.evaluation import noise_keys, sample_translations

    recipe = pix2pix()
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (28, 28, 1))
    # Running statistics unlike a batch's own (mean -0.5, variance 4): inference must read them.
    state = state.replace(g_batch_stats={layer: {"mean": stats["mean"] - 0.5,
                                                 "var": stats["var"] * 4.0}
                                         for layer, stats in state.g_batch_stats.items()})
    inputs = jax.random.uniform(jax.random.PRNGKey(1), (6, 28, 28, 1), minval=-1, maxval=1)
    plain = recipe.translate(state, inputs)
    scale = float(jnp.abs(plain).max())  # the untrained outputs are small
    drawn = recipe.translate(state, inputs, key=jax.random.key(5))
    np.testing.assert_array_equal(drawn, recipe.translate(state, inputs, key=jax.random.key(5)))
    assert float(jnp.abs(drawn - plain).max()) > 0.05 * scale
    other = recipe.translate(state, inputs, key=jax.random.key(6))
    assert float(jnp.abs(drawn - other).max()) > 0.05 * scale
    # By hand: the module in inference with its dropout drawn from the key.
    variables = {"params": state.g_params, "batch_stats": state.g_batch_stats}
    by_hand = recipe.generator.apply(variables, inputs, train=False, noise=True,
                                     rngs={"dropout": jax.random.key(5)})
    np.testing.assert_allclose(drawn, by_hand, atol=1e-6)
    batch_stats_mode = recipe.generator.apply(variables, inputs, train=True,
                                              rngs={"dropout": jax.random.key(5)},
                                              mutable=["batch_stats"])[0]
    assert float(jnp.abs(drawn - batch_stats_mode).max()) > 0.05 * scale
    # Without dropout there is no noise to draw.
    quiet = pix2pix(dropout=0.0)
    np.testing.assert_allclose(quiet.translate(state, inputs, key=jax.random.key(5)),
                               quiet.translate(state, inputs), atol=1e-6)
    # One key per input: the first outputs of a call on all six are those of
    # a call on the first two, and each is that input translated alone.
    keys = noise_keys(jax.random.key(0), 6)
    np.testing.assert_array_equal(jax.random.key_data(keys[:2]),
                                  jax.random.key_data(noise_keys(jax.random.key(0), 2)))
    every = sample_translations(recipe, state, inputs, keys)
    np.testing.assert_allclose(every[:2], sample_translations(recipe, state, inputs[:2],
                                                              keys[:2]), atol=1e-6)
    np.testing.assert_allclose(every[3], recipe.translate(state, inputs[3:4], key=keys[3])[0],
                               atol=1e-6)

    # A generator of the user's that declares no dropout is called as the
    # module contract says (no noise= keyword), and is deterministic.
    class Plain(nn.Module):
        @nn.compact
        def __call__(self, x, *, train):
            return jnp.tanh(nn.Conv(1, (3, 3))(x))

    own = jaxgan.GANRecipe(generator=Plain(), discriminator=PatchDiscriminator(width=8, layers=2),
                           latent_dim=0, translation=True)
    own_state = jaxgan.create_state(own, jax.random.PRNGKey(0), (28, 28, 1))
    np.testing.assert_allclose(sample_translations(own, own_state, inputs, keys),
                               own.translate(own_state, inputs), atol=1e-6)


def test_translation_outputs_are_also_compared_with_their_own_targets():
    """target_frechet_distance: the Frechet distance of the held-out outputs
    to the targets of the same held-out inputs, by hand; beside, not instead
    of, frechet_distance against the training targets (the reference)."""
    from jaxgan.data.pairs import PairedSource
    from jaxgan.evaluation import make_evaluate, noise_keys, sample_translations
    from jaxgan.metrics.frechet import frechet_distance_from_features

    rng = np.random.default_rng(0)
    inputs = rng.integers(0, 256, (300, 8, 8, 1), dtype=np.uint8)  # 30 held out
    source = PairedSource("toy", inputs, 255 - inputs)
    recipe = pix2pix(width=4, depth=2, layers=1)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (8, 8, 1))

    def features(x):  # 3 features: the mean of each third of the rows
        return jnp.stack([x[:, :3].mean((1, 2, 3)), x[:, 3:6].mean((1, 2, 3)),
                          x[:, 6:].mean((1, 2, 3))], 1)

    reference, _ = source.real_examples(20)
    key = jax.random.key(3)
    evaluate = make_evaluate(recipe, source, 20, key, features=features,
                             real_features=features(reference))
    metrics, samples = evaluate(jax.tree.map(lambda x: x[None], state))
    held_out = source.held_out_pairs(20)
    outputs = sample_translations(recipe, state, held_out["inputs"], noise_keys(key, 20))
    np.testing.assert_allclose(samples[0], outputs, atol=1e-6)
    np.testing.assert_allclose(
        metrics["target_frechet_distance"][0],
        frechet_distance_from_features(features(held_out["targets"]), features(outputs)),
        rtol=1e-4)
    np.testing.assert_allclose(
        metrics["frechet_distance"][0],
        frechet_distance_from_features(features(reference), features(outputs)), rtol=1e-4)
    assert abs(metrics["target_frechet_distance"][0] - metrics["frechet_distance"][0]) > 1e-3


def test_l1_reconstruction_loss_by_hand():
    outputs = jnp.array([[[1.0, -1.0], [0.5, 0.5]], [[0.0, 0.0], [0.0, 0.25]]])
    targets = jnp.array([[[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, -0.25]]])
    np.testing.assert_allclose(losses.l1_reconstruction_loss(outputs, targets),
                               [(1 + 1 + 0.5 + 0.5) / 4, (1 + 0.5) / 4])


def test_a_scaled_adversarial_loss_and_the_l1_only_baseline():
    logits = jnp.array([-2.0, 0.5, 3.0])
    assert losses.scaled(losses.non_saturating_generator_loss, 1) is (
        losses.non_saturating_generator_loss)
    np.testing.assert_allclose(losses.scaled(losses.non_saturating_generator_loss, 2.5)(logits),
                               2.5 * losses.non_saturating_generator_loss(logits))
    assert not losses.scaled(losses.non_saturating_generator_loss, 0)(logits).any()
    assert losses.scaled(losses.relativistic_generator_loss, 0.5).uses_real_logits
    with pytest.raises(ValueError, match=">= 0"):
        losses.scaled(losses.non_saturating_generator_loss, -1.0)


def test_the_paired_step_minimises_the_adversarial_loss_plus_lambda_l1():
    """The step's generator objective, recomputed outside it.

    In train mode BatchNorm normalises by the batch's own statistics, so the
    generator's outputs depend only on its parameters and the inputs, and the
    discriminator's patch logits only on its parameters (the generator update
    uses the discriminator as just updated: the new state's) and the pair.
    Adam's first update is -lr * g / (|g| + eps): its signs are the
    gradient's, so they tell whether lambda weighted the L1 term.
    """
    recipe = pix2pix(dropout=0.0, weight=100.0)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (28, 28, 1))
    inputs = jax.random.uniform(jax.random.PRNGKey(1), (1, 8, 28, 28, 1), minval=-1, maxval=1)
    targets = -inputs
    new_state, metrics = jax.jit(recipe.make_train_step())(state, (inputs, targets))

    def train_apply(module, params, stats, *args):
        variables = {"params": params, "batch_stats": stats}
        return module.apply(variables, *args, train=True, mutable=["batch_stats"])[0]

    def objectives(g_params):
        outputs = train_apply(recipe.generator, g_params, state.g_batch_stats, inputs[0])
        logits = train_apply(recipe.discriminator, new_state.d_params, state.d_batch_stats,
                             outputs, inputs[0])
        adversarial = jnp.mean(jax.nn.softplus(-logits))  # non-saturating, per patch
        reconstruction = jnp.mean(jnp.abs(outputs - targets[0]))
        return adversarial, reconstruction

    adversarial, reconstruction = jax.jit(objectives)(state.g_params)
    np.testing.assert_allclose(metrics["g_loss"], adversarial, rtol=1e-5)
    np.testing.assert_allclose(metrics["g_reconstruction"], reconstruction, rtol=1e-5)

    # One compiled gradient for both weights: traced op by op, it took minutes.
    @jax.jit
    def gradient(weight):
        return jax.grad(lambda p: objectives(p)[0] + weight * objectives(p)[1])(state.g_params)

    def agreement(weight):
        grads = gradient(weight)
        moved = jax.tree.map(lambda new, old: new - old, new_state.g_params, state.g_params)
        same = jax.tree.map(lambda m, g: jnp.sum(jnp.sign(m) == -jnp.sign(g)), moved, grads)
        return sum(jax.tree.leaves(same)) / count(grads)

    assert agreement(100.0) > 0.999
    assert agreement(0.0) < 0.9  # the adversarial gradient alone points elsewhere


def test_two_seeds_vmapped_take_the_steps_each_takes_alone():
    """With dropout on: each seed's noise comes from its own state's key."""
    recipe = pix2pix(width=4, layers=1)
    states = recipe.create_states([0, 1], (8, 8, 1))
    inputs = jax.random.uniform(jax.random.PRNGKey(1), (1, 8, 8, 8, 1), minval=-1, maxval=1)
    batch = (inputs, -inputs)
    step = recipe.make_train_step()
    together, _ = jax.jit(jax.vmap(step, in_axes=(0, None)))(states, batch)
    for seed in range(2):
        alone, _ = jax.jit(step)(jax.tree.map(lambda x, i=seed: x[i], states), batch)
        chex.assert_trees_all_close(jax.tree.map(lambda x, i=seed: x[i], together), alone,
                                    rtol=1e-5, atol=1e-6)


def test_translation_recipes_refuse_what_they_cannot_do():
    with pytest.raises(ValueError, match="num_classes=0"):
        pix2pix(num_classes=10)
    with pytest.raises(ValueError, match="translation=True"):
        jaxgan.GANRecipe(generator=UNetGenerator(), discriminator=PatchDiscriminator(),
                         latent_dim=8, reconstruction_weight=1.0)
    recipe = pix2pix()
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (28, 28, 1))
    with pytest.raises(ValueError, match="call translate"):
        jaxgan.generate_from(recipe, state, jnp.zeros((2, 1)))
    with pytest.raises(ValueError, match="batch=\\(inputs"):
        recipe.make_train_step()(state, jnp.zeros((1, 4, 28, 28, 1)))

    class Unpaired(nn.Module):  # a discriminator that cannot see the input
        @nn.compact
        def __call__(self, x, *, train):
            return nn.Dense(1)(x.reshape(x.shape[0], -1))[:, 0]

    with pytest.raises(jaxgan.ModuleContractError,
                       match=r"discriminator\(x, inputs, \*, train\)"):
        jaxgan.create_state(jaxgan.GANRecipe(generator=UNetGenerator(width=4),
                                             discriminator=Unpaired(), latent_dim=0,
                                             translation=True),
                            jax.random.PRNGKey(0), (28, 28, 1))
    with pytest.raises(ValueError, match="layers=4. needs images of at least 48x48"):
        PatchDiscriminator(layers=4).init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1)),
                                          jnp.zeros((1, 28, 28, 1)), train=False)


def test_pix2pix_learns_a_paired_task_on_held_out_digits():
    """Inputs: scikit-learn's 8x8 digits; targets: each digit upside down and
    in negative, which moves every pixel across the image (through the
    bottleneck) and changes its value. 300 steps of batch 32 on 1,500
    digits; scored on the 297 held out. Measured: held-out L1 0.129 (0.115
    after 600 steps), against 0.800 for the untrained generator and 0.390
    for the targets' mean image, the best constant answer."""
    digits = jaxgan.digits(image_size=8).images  # [-1, 1]

    def task(x):
        return -x[:, ::-1]
    train, held_out = digits[:1500], digits[1500:]
    recipe = pix2pix(width=16, depth=2, dropout=0.5, weight=100.0, layers=1,
                     g_optimizer=optax.adam(2e-3, b1=0.5), d_optimizer=optax.adam(2e-4, b1=0.5))
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (8, 8, 1))

    def sample(key, step, data, num):
        del step
        rows = jax.random.randint(key, (num,), 0, data.shape[0])
        return data[rows], task(data[rows])

    step = jaxgan.make_multi_step(jaxgan.make_sampling_step(recipe.make_train_step(), sample,
                                                            32, 1), 100)
    step = jax.jit(step)

    def held_out_l1(state):
        return float(jnp.mean(jnp.abs(recipe.translate(state, held_out) - task(held_out))))

    before = held_out_l1(state)
    for _ in range(3):
        state, metrics = step(state, jnp.asarray(train))
    after = held_out_l1(state)
    baseline = float(jnp.mean(jnp.abs(task(held_out) - task(train).mean(0))))
    assert np.isfinite(metrics["d_loss"]).all()
    assert before > 0.6 and baseline > 0.35
    print(f"held-out L1: untrained {before:.3f}, trained {after:.3f}, best constant "
          f"{baseline:.3f}")
    assert after < 0.5 * baseline, (before, after, baseline)


# --- paired data -----------------------------------------------------------


def test_pairs_from_an_npz_and_from_two_folders(tmp_path):
    from PIL import Image

    from jaxgan.data import registry
    from jaxgan.data.images import DataError

    rng = np.random.default_rng(0)
    inputs = rng.integers(0, 256, (20, 8, 8, 1), dtype=np.uint8)
    targets = (255 - inputs).astype(np.float32) / 127.5 - 1.0  # float targets in [-1, 1]
    labels = np.arange(20) % 4
    np.savez(tmp_path / "pairs.npz", inputs=inputs, targets=targets, labels=labels)
    source = registry.load_dataset(f"pairs:{tmp_path / 'pairs.npz'}", image_size=8)
    assert (source.example_shape, source.num_classes, source.num_examples) == ((8, 8, 1), 4, 18)
    held_out = source.held_out_pairs()
    assert held_out["inputs"].shape == (2, 8, 8, 1)  # a tenth, never trained on
    np.testing.assert_allclose(held_out["targets"], -held_out["inputs"], atol=1e-6)
    batch_inputs, batch_targets = jax.jit(source.sample_real, static_argnums=3)(
        jax.random.PRNGKey(0), 3, source.device_data(), 18)
    np.testing.assert_allclose(batch_targets, -batch_inputs, atol=1e-6)
    # One epoch reads every training pair once, and no held-out one.
    trained = {tuple(np.asarray(x).ravel()) for x in batch_inputs}
    assert len(trained) == 18
    assert not trained & {tuple(np.asarray(x).ravel()) for x in held_out["inputs"]}

    for side, images in (("A", inputs), ("B", 255 - inputs)):
        (tmp_path / "dir" / side).mkdir(parents=True)
        for i, image in enumerate(images[:5]):
            Image.fromarray(image[..., 0]).save(tmp_path / "dir" / side / f"{i:02d}.png")
    folder = registry.load_dataset(f"pairs:{tmp_path / 'dir'}", image_size=8)
    np.testing.assert_array_equal(folder.targets, 255 - folder.inputs)
    assert folder.inputs.shape == (5, 8, 8, 1) and folder.labels is None

    Image.fromarray(inputs[9, ..., 0]).save(tmp_path / "dir" / "A" / "stray.png")
    with pytest.raises(DataError, match="no partner of the same name.*'stray'"):
        registry.load_dataset(f"pairs:{tmp_path / 'dir'}", image_size=8)
    np.savez(tmp_path / "half.npz", inputs=inputs)
    with pytest.raises(DataError, match="has no targets"):
        registry.load_dataset(f"pairs:{tmp_path / 'half.npz'}", image_size=8)
    np.savez(tmp_path / "uneven.npz", inputs=inputs, targets=inputs[:10])
    with pytest.raises(DataError, match="same number of pairs"):
        registry.load_dataset(f"pairs:{tmp_path / 'uneven.npz'}", image_size=8)


def test_the_bundled_tasks_blank_half_a_digit_or_keep_its_outline():
    from jaxgan.data.pairs import completion_inputs, outline_inputs

    square = np.zeros((1, 6, 6, 1), np.uint8)
    square[0, 1:5, 1:5] = 255
    outline = outline_inputs(square)[0, ..., 0] // 255
    expected = np.zeros((6, 6), np.uint8)
    expected[1:5, 1:5] = 1
    expected[2:4, 2:4] = 0  # the inside, whose 3x3 neighbourhoods lie within the square
    np.testing.assert_array_equal(outline, expected)
    blanked = completion_inputs(square)
    np.testing.assert_array_equal(blanked[0, :3], square[0, :3])
    assert not blanked[0, 3:].any()


# --- through the fit loop ----------------------------------------------------


@pytest.mark.slow
def test_a_pix2pix_run_keeps_the_translation_contract_and_resumes_exactly(tmp_path):
    """The smoke config on the completion task: samples/final.npz holds
    inputs, outputs, targets and labels of held-out pairs, eval.json the
    translation metrics; a run stopped at step 10 and resumed to 20 ends
    where the straight run does (the dropout noise included)."""
    from jaxgan import train
    from jaxgan.configs import pix2pix_smoke

    config = pix2pix_smoke.get_config()
    config.classifier_dir = str(tmp_path / "classifier")  # trained once, shared
    straight = train.train_and_evaluate(config, str(tmp_path / "straight"))
    for name in ("l1", "psnr", "label_accuracy", "frechet_distance", "real_frechet_distance",
                 "classifier_accuracy"):
        assert np.isfinite(straight[name]), name
    with np.load(tmp_path / "straight" / "samples" / "final.npz") as npz:
        final = dict(npz)
    assert final["inputs"].shape == final["images"].shape == final["targets"].shape == (
        24, 8, 8, 1)
    assert final["labels"].shape == (24,) and final["labels"].dtype == np.int32
    assert not (final["inputs"][:, 4:] > -1).any()  # the lower half blanked
    assert (final["images"][:, 4:] > -0.99).any()  # and the generator drew in it
    assert (tmp_path / "straight" / "samples" / "final.png").exists()
    # The outputs against the targets of the same held-out inputs, in the
    # scoring classifier's features, by hand from the run read back.
    from jaxgan.evaluation import Evaluation
    from jaxgan.metrics.frechet import frechet_distance_from_features

    run = train.restore_run(str(tmp_path / "straight"))
    evaluation = Evaluation.of_run(run, str(tmp_path / "straight"))
    outputs = evaluation.generate(jax.tree.map(lambda x: x[0], run.states))
    np.testing.assert_array_equal(outputs[:24], final["images"])
    targets = run.source.held_out_pairs(config.num_eval_samples)["targets"]
    by_hand = frechet_distance_from_features(evaluation.features(targets),
                                             evaluation.features(outputs))
    np.testing.assert_allclose(straight["target_frechet_distance"], by_hand, rtol=1e-4)
    assert abs(straight["target_frechet_distance"] - straight["frechet_distance"]) > 1e-2

    config.num_steps = 10
    train.train_and_evaluate(config, str(tmp_path / "resumed"))
    config.num_steps = 20
    resumed = train.train_and_evaluate(config, str(tmp_path / "resumed"))
    with np.load(tmp_path / "resumed" / "samples" / "final.npz") as npz:
        np.testing.assert_array_equal(npz["images"], final["images"])
    assert resumed["l1"] == straight["l1"]


@pytest.mark.parametrize("changes, expected", [
    ({"image_size": 28}, "image_size=28 does not halve unet_depth=4 times; use a multiple of 16"),
    ({"image_size": 16, "unet_depth": 2, "patch_layers": 3},
     "patch_layers=3 needs images of at least 24x24"),
    ({"dataset": "mnist5k"}, "model='pix2pix' translates paired images and 'mnist5k' is not"),
    ({"model": "dcgan"}, "'mnist5k_completion' holds paired images, which model='pix2pix'"),
    ({"adversarial_weight": -1.0}, "config.adversarial_weight: the adversarial loss weight"),
    ({"augment": "translation"}, "set augment='none'"),
])
def test_a_pix2pix_config_that_cannot_work_is_one_line_before_anything_runs(changes, expected):
    from jaxgan import config as config_lib
    from jaxgan.configs import pix2pix_mnist5k

    config = pix2pix_mnist5k.get_config()
    config.update(changes)
    with pytest.raises(config_lib.ConfigError, match=re.escape(expected)):
        config_lib.validate_config(config)


def test_fit_refuses_a_recipe_and_data_that_do_not_pair_up_in_one_line(tmp_path):
    from jaxgan.data.pairs import PairedSource

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 8, 8, 1), dtype=np.uint8)
    pairs = PairedSource("toy", images, 255 - images)
    plain = jaxgan.ArraySource("toy", images)
    with pytest.raises(jaxgan.FitError, match="holds no images to translate"):
        jaxgan.fit(pix2pix(width=4, layers=1), plain, str(tmp_path / "a"), num_steps=1,
                   batch_size=4)
    with pytest.raises(jaxgan.FitError, match="holds images to translate"):
        jaxgan.fit(jaxgan.GANRecipe(generator=jaxgan.MLPGenerator(output_shape=(8, 8, 1)),
                                    discriminator=jaxgan.MLPDiscriminator(), latent_dim=4),
                   pairs, str(tmp_path / "b"), num_steps=1, batch_size=4)
    with pytest.raises(jaxgan.FitError, match="set input_channels=1"):
        jaxgan.fit(pix2pix(width=4, layers=1, input_channels=3), pairs, str(tmp_path / "c"),
                   num_steps=1, batch_size=4)
    with pytest.raises(jaxgan.FitError, match="divisible by 16"):
        jaxgan.fit(pix2pix(width=4, depth=4, layers=1), pairs, str(tmp_path / "d"),
                   num_steps=1, batch_size=4)
    assert not any((tmp_path / name).exists() for name in "abcd")
    # The weight of a scaled adversarial loss is part of what a checkpoint records.
    assert pix2pix().describe()["g_loss"] == "non_saturating_generator_loss"
    scaled = pix2pix(g_loss=losses.scaled(losses.non_saturating_generator_loss, 0.0))
    assert scaled.describe()["g_loss"] == "ScaledLoss(non_saturating_generator_loss, 0.0)"
