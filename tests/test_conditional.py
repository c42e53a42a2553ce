"""Class-conditional GANs: module shapes and conditioning, label plumbing through
the train step and the samplers, and a conditional GAN that really learns."""


import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from test_learning import short_ring_config  # noqa: E402

from jaxgan import config as config_lib
from jaxgan import losses, train
from jaxgan.configs import digits_smoke  # noqa: E402
from jaxgan.data import ArraySource, ring
from jaxgan.data.arrays import HostStream, sample_streamed
from jaxgan.models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from jaxgan.models.conditioning import PerChannelConditions, per_channel_weights
from jaxgan.state import GANRecipe, create_state, generate
from jaxgan.step import make_multi_step, make_sampling_step, make_train_step

NUM_CLASSES = 10


def conditional_pair(family, conditioning):
    if family == "dcgan":
        return (DCGANGenerator(resolution=28, channels=1, width=4, num_classes=NUM_CLASSES),
                DCGANDiscriminator(resolution=28, width=4, num_classes=NUM_CLASSES,
                                   conditioning=conditioning)), (28, 28, 1)
    return (MLPGenerator(output_shape=(6,), features=(16,), num_classes=NUM_CLASSES),
            MLPDiscriminator(features=(16,), num_classes=NUM_CLASSES,
                             conditioning=conditioning)), (6,)


@pytest.mark.parametrize("family", ["mlp", "dcgan"])
@pytest.mark.parametrize("conditioning", ["concat", "projection"])
def test_conditional_modules_take_labels_or_class_weights(family, conditioning):
    (generator, discriminator), shape = conditional_pair(family, conditioning)
    z = jax.random.normal(jax.random.PRNGKey(0), (4, 8))
    labels = jnp.array([0, 3, 3, 9])
    g_vars = generator.init(jax.random.PRNGKey(1), z, labels, train=False)
    images = generator.apply(g_vars, z, labels, train=False)
    chex.assert_shape(images, (4, *shape))
    # Integer labels and their one-hot class weights are the same input.
    chex.assert_trees_all_close(
        generator.apply(g_vars, z, jax.nn.one_hot(labels, NUM_CLASSES), train=False), images)
    d_vars = discriminator.init(jax.random.PRNGKey(2), images, labels, train=False)
    logits = discriminator.apply(d_vars, images, labels, train=False)
    chex.assert_shape(logits, (4,))
    # The class matters: same images, other labels, other logits and images.
    other = (labels + 1) % NUM_CLASSES
    assert not np.allclose(discriminator.apply(d_vars, images, other, train=False), logits)
    assert not np.allclose(generator.apply(g_vars, z, other, train=False), images)


def test_concat_conditioning_adds_one_input_channel_per_class_and_projection_an_embedding():
    (_, concat), shape = conditional_pair("dcgan", "concat")
    (_, projection), _ = conditional_pair("dcgan", "projection")
    x, y = jnp.zeros((1, *shape)), jnp.zeros((1,), jnp.int32)
    concat_params = concat.init(jax.random.PRNGKey(0), x, y, train=False)["params"]
    projection_params = projection.init(jax.random.PRNGKey(0), x, y, train=False)["params"]
    assert concat_params["down_0"]["kernel"].shape == (4, 4, 1 + NUM_CLASSES, 4)
    assert projection_params["down_0"]["kernel"].shape == (4, 4, 1, 4)
    # One embedding row per class, as wide as the last features (4 * 2 channels at 7x7).
    assert projection_params["projection"]["embedding"].shape == (NUM_CLASSES, 8)
    (generator, _), _ = conditional_pair("dcgan", "concat")
    g_params = generator.init(jax.random.PRNGKey(0), jnp.zeros((1, 8)), y, train=False)["params"]
    assert g_params["project"]["kernel"].shape[2] == 8 + NUM_CLASSES  # z and the one-hot


def test_projection_term_is_the_inner_product_of_the_class_embedding_and_features():
    """Hand-computed: with the rest of the logit the same, the logits of two
    classes differ by <embed(a) - embed(b), phi(x)>."""
    (_, discriminator), _ = conditional_pair("mlp", "projection")
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 6))
    variables = discriminator.init(jax.random.PRNGKey(1), x, jnp.zeros(3, jnp.int32), train=False)
    params = variables["params"]
    features = jax.nn.leaky_relu(x @ params["Dense_0"]["kernel"] + params["Dense_0"]["bias"], 0.2)
    embedding = params["projection"]["embedding"]
    a, b = jnp.array([1, 2, 5]), jnp.array([4, 4, 0])
    expected = jnp.sum((embedding[a] - embedding[b]) * features, -1)
    got = (discriminator.apply(variables, x, a, train=False)
           - discriminator.apply(variables, x, b, train=False))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("family", ["mlp", "dcgan"])
def test_modules_refuse_missing_unexpected_or_misshapen_labels(family):
    (generator, _), _ = conditional_pair(family, "concat")
    z = jnp.zeros((2, 8))
    with pytest.raises(ValueError, match="is conditional"):
        generator.init(jax.random.PRNGKey(0), z, train=False)
    with pytest.raises(ValueError, match=r"class weights \[batch, 10\]"):
        generator.init(jax.random.PRNGKey(0), z, jnp.zeros((2, 3)), train=False)
    unconditional = generator.clone(num_classes=0)
    with pytest.raises(ValueError, match="is unconditional"):
        unconditional.init(jax.random.PRNGKey(0), z, jnp.zeros(2, jnp.int32), train=False)


def test_per_channel_weights_are_each_channel_s_marginal_by_hand():
    # Tuples of 2 channels over 3 classes: tuple 5 is (1, 2), tuple 6 is (2, 0).
    np.testing.assert_allclose(per_channel_weights(jax.nn.one_hot(jnp.array([5, 0]), 9), 3, 2),
                               [[0, 1, 0, 0, 0, 1], [1, 0, 0, 1, 0, 0]])
    blend = 0.25 * jax.nn.one_hot(5, 9) + 0.75 * jax.nn.one_hot(6, 9)
    np.testing.assert_allclose(per_channel_weights(blend[None], 3, 2),
                               [[0, 0.25, 0.75, 0.75, 0, 0.25]])


def test_per_channel_conditions_give_the_module_one_one_hot_per_channel():
    inner = MLPDiscriminator(features=(16,), num_classes=6, conditioning="projection")
    wrapped = PerChannelConditions(inner, classes=3, channels=2)
    assert wrapped.num_classes == 9
    x, labels = jax.random.normal(jax.random.PRNGKey(0), (3, 5)), jnp.array([5, 0, 8])
    variables = wrapped.init(jax.random.PRNGKey(1), x, labels, train=False)
    # One embedding row per channel's class, not per tuple.
    assert variables["params"]["inner"]["projection"]["embedding"].shape == (6, 16)
    by_hand = jnp.array([[0, 1, 0, 0, 0, 1], [1, 0, 0, 1, 0, 0], [0, 0, 1, 0, 0, 1]],
                        jnp.float32)
    expected = inner.apply({"params": variables["params"]["inner"]}, x, by_hand, train=False)
    np.testing.assert_allclose(wrapped.apply(variables, x, labels, train=False), expected,
                               rtol=1e-6)
    np.testing.assert_allclose(
        wrapped.apply(variables, x, jax.nn.one_hot(labels, 9), train=False), expected, rtol=1e-6)
    # Under pmap the step names the BatchNorm axis; the wrapper hands it on.
    generator = PerChannelConditions(
        DCGANGenerator(resolution=28, channels=1, width=4, num_classes=6), 3, 2)
    bound = generator.clone(batch_norm_axis_name="data").bind({})
    assert bound.inner.batch_norm_axis_name == "data"
    with pytest.raises(ValueError, match="build the module with num_classes=6, not 9"):
        PerChannelConditions(inner.clone(num_classes=9), 3, 2)
    with pytest.raises(ValueError, match="is conditional"):
        wrapped.init(jax.random.PRNGKey(1), x, train=False)


def test_per_channel_conditions_need_a_stacked_dataset_and_conditioning(tmp_path):
    config = digits_smoke.get_config()
    config.per_channel_conditions = None
    with pytest.raises(train.ConfigError, match="per_channel_conditions must be True or False"):
        config_lib.validate_config(config)
    config.per_channel_conditions, config.conditioning = True, "projection"
    with pytest.raises(train.ConfigError, match="and 'digits' is not one; set per_channel"):
        train.train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
    config.dataset, config.conditioning = "stacked_mnist5k", "none"
    with pytest.raises(train.ConfigError, match="and conditioning='none' gives them none"):
        config_lib.validate_config(config)
    # On stacked data both networks are wrapped, and take the triples' labels.
    config.conditioning = "projection"
    recipe = config_lib.build_recipe(config, (28, 28, 3), 1000, per_channel=(10, 3))
    assert isinstance(recipe.generator, PerChannelConditions)
    assert recipe.num_classes == recipe.discriminator.num_classes == 1000
    state = create_state(recipe, jax.random.PRNGKey(0), (28, 28, 3))
    assert state.d_params["inner"]["projection"]["embedding"].shape[0] == 30
    assert generate(recipe, state, jax.random.PRNGKey(1), 4,
                    labels=jnp.array([0, 9, 990, 999])).shape == (4, 28, 28, 3)


def mlp_recipe(conditioning="concat", n_disc=1):
    return GANRecipe(
        MLPGenerator(output_shape=(2,), features=(16,), batch_norm=False, num_classes=8),
        MLPDiscriminator(features=(16,), num_classes=8, conditioning=conditioning),
        latent_dim=4, num_classes=8, g_optimizer=optax.sgd(0.1), d_optimizer=optax.sgd(0.1),
        n_disc=n_disc)


def test_train_step_generates_fakes_for_the_real_labels_and_scores_them_with_them():
    """The step's losses, recomputed by hand from its documented keys, with two
    discriminator updates: fakes of update i are generated for batch i's labels
    and judged with them; the generator update uses the last update's labels."""
    recipe = mlp_recipe(n_disc=2)
    state = create_state(recipe, jax.random.PRNGKey(0), (2,))
    points, labels = ring().sample_with_modes(jax.random.PRNGKey(1), 64)
    points, labels = points.reshape(2, 32, 2), labels.reshape(2, 32)
    new_state, metrics = jax.jit(make_train_step(recipe))(state, (points, labels))

    noise_key = jax.random.fold_in(jax.random.fold_in(state.key, 0), 0)

    def g(params, z, y):
        return recipe.generator.apply({"params": params}, z, y, train=False)

    def d(params, x, y):
        return recipe.discriminator.apply({"params": params}, x, y, train=False)

    def d_loss(params, i, fake_labels):
        z = recipe.sample_latent(jax.random.fold_in(noise_key, i), 32)
        fake = g(state.g_params, z, fake_labels)
        return losses.bce_discriminator_loss(d(params, points[i], labels[i]),
                                             d(params, fake, fake_labels)).mean()

    # Update 0 from the initial parameters, update 1 from those after one SGD step.
    loss_0, grads = jax.value_and_grad(d_loss)(state.d_params, 0, labels[0])
    d_params_1 = jax.tree.map(lambda p, g_: p - 0.1 * g_, state.d_params, grads)
    loss_1 = d_loss(d_params_1, 1, labels[1])
    np.testing.assert_allclose(metrics["d_loss"], (loss_0 + loss_1) / 2, rtol=1e-5)
    z_g = recipe.sample_latent(jax.random.fold_in(noise_key, 2), 32)

    def g_loss(fake_labels):
        return losses.non_saturating_generator_loss(
            d(new_state.d_params, g(state.g_params, z_g, fake_labels), fake_labels)).mean()

    np.testing.assert_allclose(metrics["g_loss"], g_loss(labels[1]), rtol=1e-5)
    # The checks can fail: the first batch's labels, or shuffled ones, give other losses.
    assert not np.isclose(g_loss(labels[0]), g_loss(labels[1]))
    assert not np.isclose(loss_0, d_loss(state.d_params, 0, jnp.roll(labels[0], 1)))


def test_conditional_step_refuses_a_batch_without_labels():
    recipe = mlp_recipe()
    state = create_state(recipe, jax.random.PRNGKey(0), (2,))
    with pytest.raises(ValueError, match=r"pass batch=\(images"):
        make_train_step(recipe)(state, jnp.zeros((1, 8, 2)))
    with pytest.raises(ValueError, match="labels have shape"):
        make_train_step(recipe)(state, (jnp.zeros((1, 8, 2)), jnp.zeros((1, 4), jnp.int32)))
    with pytest.raises(ValueError, match="pass labels"):
        generate(recipe, state, jax.random.PRNGKey(0), 4)


def test_labelled_samplers_keep_each_example_with_its_label():
    images = np.arange(12, dtype=np.uint8).reshape(12, 1, 1, 1) * 20
    source = ArraySource("toy", images, (np.arange(12) % 3).astype(np.int32))
    data = source.device_data()
    batch, labels = source.sample_labelled(None, jnp.int32(5), data, 8)
    # Image k has pixel 20k and label k % 3: recover k from the pixel.
    k = np.round((np.asarray(batch)[:, 0, 0, 0] + 1) * 127.5 / 20).astype(int)
    np.testing.assert_array_equal(np.asarray(labels), k % 3)
    np.testing.assert_array_equal(batch, source.sample_real(None, jnp.int32(5), data, 8))

    stream = HostStream(source, start_step=5, steps_per_call=2, examples_per_step=8,
                        with_labels=True)
    streamed = next(stream)
    stream.close()
    for i, step in enumerate((5, 6)):  # both steps of the call, as the device reads them
        one_step = {name: value[i] for name, value in streamed.items()}
        images_i, labels_i = sample_streamed(None, None, one_step, 8)
        expected = source.sample_labelled(None, jnp.int32(step), data, 8)
        np.testing.assert_array_equal(images_i, expected[0])
        np.testing.assert_array_equal(labels_i, expected[1])

    points, modes = ring().sample_labelled(jax.random.PRNGKey(0), None, None, 64)
    centers = ring().centers[np.asarray(modes)]
    assert np.abs(np.asarray(points) - centers).max() < 0.06  # std 0.01: within 6 std


def test_conditioning_needs_labels_and_a_known_kind(tmp_path):
    config = short_ring_config(conditioning="film")
    with pytest.raises(train.ConfigError, match="config.conditioning must be one of none, concat"):
        config_lib.validate_config(config)
    np.savez(tmp_path / "unlabelled.npz", images=np.zeros((40, 28, 28, 1), np.uint8))
    config = digits_smoke.get_config()
    config.dataset = f"npz:{tmp_path / 'unlabelled.npz'}"
    config.conditioning = "projection"
    workdir = tmp_path / "run"
    with pytest.raises(train.ConfigError, match="needs class labels"):
        train.train_and_evaluate(config, str(workdir))
    assert not workdir.exists()  # refused before anything was written
    config = digits_smoke.get_config()
    config.conditioning, config.num_eval_samples = "concat", 5
    with pytest.raises(train.ConfigError, match="num_eval_samples=5 cannot ask for each of the 10"):
        train.train_and_evaluate(config, str(workdir))
    assert not workdir.exists()


@pytest.mark.parametrize("conditioning", ["concat", "projection"])
def test_conditional_gan_on_the_ring_draws_the_mode_it_is_asked_for(conditioning, tmp_path):
    """1000 steps, about 10 s: each sample lands nearest the mode it was
    generated for. An untrained generator puts every point near the origin,
    where the nearest mode is the same for all: 1/8 of them right."""
    config = short_ring_config(conditioning=conditioning, num_steps=1000, log_every=1000,
                               eval_every=1000, checkpoint_every=1000)
    result = train.train_and_evaluate(config, str(tmp_path))
    # Measured with this seed: concat 0.998, projection 0.994; 8/8 modes.
    assert result["label_accuracy"] >= 0.9, result
    assert min(result[f"label_accuracy_class_{k}"] for k in range(8)) >= 0.8, result
    assert result["modes_covered"] == 8, result
    with np.load(tmp_path / "samples" / "final.npz") as final:
        assert final["labels"].tolist() == [k % 8 for k in range(config.num_final_samples)]


def short_mnist5k_recipe(**fields):
    """The conditional DCGAN at 28x28 on the bundled real MNIST digits, small."""
    config = digits_smoke.get_config()
    config.update(dataset="mnist5k", conditioning="projection",
                  batch_size=32, g_width=16, d_width=16, latent_dim=32, lr_schedule="constant",
                  g_learning_rate=5e-4, d_learning_rate=5e-4, classifier_steps=0)
    config.update(fields)
    recipe, source, _ = config_lib.build(config)
    return recipe, source


@pytest.mark.slow
def test_projection_discriminator_at_28_learns_real_digits_by_class():
    """The 28x28 projection failure (issue 18): without a bias on the
    discriminator's input layer the generator's output shrank to a constant
    grey. 400 steps of small networks on the real digits, about 15 s; the
    numbers are measured with this seed, the old discriminator's beside."""
    recipe, source = short_mnist5k_recipe()
    step = make_sampling_step(recipe.make_train_step(), source.sample_labelled, 32, 1)
    run = jax.jit(make_multi_step(step, 400))
    state, _ = run(create_state(recipe, jax.random.PRNGKey(0), source.example_shape),
                   source.device_data())
    labels = np.arange(1000) % NUM_CLASSES
    fakes = np.asarray(generate(recipe, state, jax.random.PRNGKey(1), 1000, jnp.asarray(labels)))
    # Not constant: each pixel's spread over samples is 0.33 (was 0.009;
    # real digits 0.38).
    assert fakes.std(axis=0).mean() > 0.2
    # Trained towards the data: a dark background with bright strokes, mean
    # pixel -0.70 (was -0.004, flat grey; real digits -0.74).
    assert fakes.mean() < -0.5
    # Different by class: the variance over classes of the per-class mean
    # images is 0.011 (was 0.0000; real digits 0.057, and sampling noise
    # alone gives about 0.001).
    class_means = np.stack([fakes[labels == k].mean(axis=0) for k in range(NUM_CLASSES)])
    assert class_means.var(axis=0).mean() > 0.005


def ac_recipe(conditioning, class_loss_weight=0.5):
    """A small conditional DCGAN with AC-GAN's class head, trained by SGD."""
    return GANRecipe(
        DCGANGenerator(resolution=28, channels=1, width=4, num_classes=NUM_CLASSES),
        DCGANDiscriminator(resolution=28, width=4, num_classes=NUM_CLASSES,
                           conditioning=conditioning, class_head=True),
        latent_dim=8, num_classes=NUM_CLASSES, g_optimizer=optax.sgd(0.1),
        d_optimizer=optax.sgd(0.1), class_loss_weight=class_loss_weight)


def test_class_loss_is_the_head_s_cross_entropy_of_the_image_alone():
    """AC-GAN's class loss, recomputed by hand: the head classifies real
    images (discriminator) and fakes (generator) in calls with blank class
    weights, enters each loss with its weight, and is the head's only
    gradient. With the class given instead (the concat discriminator reads it
    from its input), the values differ, so the check can fail."""
    recipe = ac_recipe("concat")
    state = create_state(recipe, jax.random.PRNGKey(0), (28, 28, 1))
    images = jax.random.uniform(jax.random.PRNGKey(1), (1, 16, 28, 28, 1), minval=-1, maxval=1)
    labels = jax.random.randint(jax.random.PRNGKey(2), (1, 16), 0, NUM_CLASSES)
    new_state, metrics = jax.jit(make_train_step(recipe))(state, (images, labels))

    def head_loss(params, stats, x, condition):
        _, sown = recipe.discriminator.apply({"params": params, "batch_stats": stats}, x,
                                             condition, train=True,
                                             mutable=["batch_stats", "intermediates"])
        logits = sown["intermediates"]["class_logits"][0]
        return losses.class_cross_entropy(logits, labels[0]).mean()

    blank = jnp.zeros((16, NUM_CLASSES))
    d_class, d_grads = jax.value_and_grad(head_loss)(state.d_params, state.d_batch_stats,
                                                     images[0], blank)
    np.testing.assert_allclose(metrics["d_class_loss"], d_class, rtol=1e-5)
    assert not np.isclose(d_class, head_loss(state.d_params, state.d_batch_stats, images[0],
                                             labels[0]))
    # The head's parameters learn from the class loss alone, with its weight.
    chex.assert_trees_all_close(
        new_state.d_params["class_head"],
        jax.tree.map(lambda p, g_: p - 0.1 * 0.5 * g_, state.d_params["class_head"],
                     d_grads["class_head"]), rtol=1e-5, atol=1e-7)
    # The generator's: its fakes for the last labels, through the updated discriminator.
    key = jax.random.fold_in(jax.random.fold_in(state.key, state.step), 0)
    z = recipe.sample_latent(jax.random.fold_in(key, 1), 16)
    fake, _ = recipe.generator.apply(
        {"params": state.g_params, "batch_stats": state.g_batch_stats}, z, labels[0],
        train=True, mutable=["batch_stats"])
    g_class = head_loss(new_state.d_params, new_state.d_batch_stats, fake, blank)
    np.testing.assert_allclose(metrics["g_class_loss"], g_class, rtol=1e-5)
    assert 0 <= metrics["d_class_accuracy"] <= 1

    # And it enters the generator's update with its weight: one SGD step on
    # the adversarial loss plus 0.5 times the head's.
    def g_total(g_params):
        fake, _ = recipe.generator.apply(
            {"params": g_params, "batch_stats": state.g_batch_stats}, z, labels[0],
            train=True, mutable=["batch_stats"])
        logits, _ = recipe.discriminator.apply(
            {"params": new_state.d_params, "batch_stats": new_state.d_batch_stats}, fake,
            labels[0], train=True, mutable=["batch_stats"])
        return (losses.non_saturating_generator_loss(logits).mean()
                + 0.5 * head_loss(new_state.d_params, new_state.d_batch_stats, fake, blank))

    g_grads = jax.grad(g_total)(state.g_params)
    chex.assert_trees_all_close(
        new_state.g_params, jax.tree.map(lambda p, g_: p - 0.1 * g_, state.g_params, g_grads),
        rtol=1e-4, atol=1e-6)


def test_class_head_needs_a_conditional_dcgan(tmp_path):
    with pytest.raises(ValueError, match="class_head classifies each image"):
        DCGANDiscriminator(resolution=28, width=4, class_head=True)
    with pytest.raises(ValueError, match="recipe is unconditional"):
        GANRecipe(DCGANGenerator(resolution=28, channels=1, width=4),
                  DCGANDiscriminator(resolution=28, width=4), latent_dim=8,
                  class_loss_weight=1.0)
    for fields, message in (({"class_loss_weight": -1.0}, "must be a finite number >= 0"),
                            ({"class_loss_weight": float("inf")}, "must be a finite number"),
                            ({"class_loss_weight": 1.0}, "trains a class head on the DCGAN"),
                            ({"class_loss_weight": 1.0, "conditioning": "concat",
                              "model": "mlp"}, "trains a class head on the DCGAN")):
        config = digits_smoke.get_config()
        config.update(fields)
        with pytest.raises(train.ConfigError, match=message):
            config_lib.validate_config(config)
