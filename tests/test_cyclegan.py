"""CycleGAN (jaxgan.cyclegan): the history buffer against the CycleGAN code's
image pool, the step's losses and gradients against a hand computation, many
seeds at once, a resume that is bit-identical with the history in the state,
and a toy unpaired task that it learns."""

import dataclasses
import re

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxgan
from jaxgan import checkpoint
from jaxgan.cyclegan import CycleGANRecipe, query_history
from jaxgan.data.arrays import ArraySource, to_unit_range
from jaxgan.data.unpaired import UnpairedSource
from jaxgan.models.translation import PatchDiscriminator, UNetGenerator


def pool_reference(history, filled, fakes, key):
    """The CycleGAN code's ImagePool.query, one image after another, with the
    same draws as query_history (a coin and a slot from each image's key)."""
    history, shown = [np.array(h) for h in history], []
    for fake, image_key in zip(np.asarray(fakes), jax.random.split(key, len(fakes)),
                               strict=True):
        coin_key, slot_key = jax.random.split(image_key)
        if filled < len(history):
            history[filled] = fake
            filled += 1
            shown.append(fake)
        elif bool(jax.random.bernoulli(coin_key)):
            slot = int(jax.random.randint(slot_key, (), 0, len(history)))
            shown.append(history[slot])
            history[slot] = fake
        else:
            shown.append(fake)
    return np.stack(history), filled, np.stack(shown)


def test_the_history_is_the_cyclegan_image_pool():
    """Five batches of 3 into a buffer of 4: it fills in order (the first 4
    fakes are shown as they are), then each fake is shown or swapped for an
    old one as the reference pool does; over many draws about half are
    swapped, and every fake shown is one that was generated."""
    size, batch = 4, 3
    history, filled = jnp.zeros((size, 2, 2, 1)), jnp.zeros((), jnp.int32)
    ref_history, ref_filled = np.zeros((size, 2, 2, 1), np.float32), 0
    made, swapped = [], 0
    query = jax.jit(query_history)
    for i in range(60):
        # Image k is filled with the number k + 1: which fake is shown is readable.
        fakes = jnp.broadcast_to(jnp.arange(i * batch, (i + 1) * batch, dtype=jnp.float32)[
            :, None, None, None] + 1, (batch, 2, 2, 1))
        key = jax.random.PRNGKey(i)
        history, filled, shown = query(history, filled, fakes, key)
        if i < 5:
            ref_history, ref_filled, ref_shown = pool_reference(ref_history, ref_filled,
                                                                fakes, key)
            np.testing.assert_array_equal(shown, ref_shown)
            np.testing.assert_array_equal(history, ref_history)
            assert int(filled) == ref_filled == min(size, (i + 1) * batch)
        if i == 0:
            np.testing.assert_array_equal(shown, fakes)  # not full: shown as made
        made.extend(np.asarray(fakes)[:, 0, 0, 0])
        shown_ids = np.asarray(shown)[:, 0, 0, 0]
        assert set(shown_ids) <= set(made)
        if i >= 2:  # the buffer is full from the second batch's first fake
            swapped += int(np.sum(shown_ids != np.asarray(fakes)[:, 0, 0, 0]))
    # 174 draws with a full buffer, each a coin flip.
    rate = swapped / (58 * batch)
    assert 0.38 < rate < 0.62, rate
    # Without a buffer the fakes pass through.
    empty = jnp.zeros((0, 2, 2, 1))
    _, _, shown = query_history(empty, jnp.zeros((), jnp.int32), fakes, key)
    np.testing.assert_array_equal(shown, fakes)


class Affine(nn.Module):
    """A toy generator, ``tanh(w * x + c)`` with scalar ``w`` and ``c``."""

    w: float
    c: float

    @nn.compact
    def __call__(self, x, *, train):
        w = self.param("w", lambda key: jnp.asarray(self.w))
        c = self.param("c", lambda key: jnp.asarray(self.c))
        return jnp.tanh(w * x + c)


class MeanCritic(nn.Module):
    """A toy discriminator, ``v * mean(x) + u`` per image."""

    v: float
    u: float

    @nn.compact
    def __call__(self, x, *, train):
        v = self.param("v", lambda key: jnp.asarray(self.v))
        u = self.param("u", lambda key: jnp.asarray(self.u))
        return v * x.reshape(x.shape[0], -1).mean(axis=1) + u


def toy_guide(scale):
    """A toy classifier of three classes: logits ``(s m, -s m, 0.1)`` of an
    image's mean ``m``."""
    def guide(x):
        m = x.reshape(x.shape[0], -1).mean(axis=1)
        return jnp.stack([scale * m, -scale * m, jnp.full_like(m, 0.1)], axis=1)
    return guide


def hand_cross_entropy(guide_scale, reader_scale, inputs, outputs):
    """:func:`jaxgan.cyclegan.semantic_consistency` of toy guides, by hand:
    ``toy_guide(guide_scale)`` reads the inputs, ``toy_guide(reader_scale)``
    the outputs."""
    def logits(scale, x):
        m = x.reshape(len(x), -1).mean(1)
        return np.stack([scale * m, -scale * m, np.full_like(m, 0.1)], axis=1)

    read, out = logits(guide_scale, inputs).argmax(1), logits(reader_scale, outputs)
    log_z = np.log(np.exp(out).sum(1))
    return np.mean(log_z - out[np.arange(len(out)), read])


def hand_objectives(p, a, b, cycle_weight, identity_weight, semantic_weight=0.0,
                    semantic_reader="input", guide_scales=(3.0, -2.0), cycle_b_fraction=1.0):
    """The CycleGAN objectives in float64 NumPy, from parameters ``p``
    (w_ab, c_ab, w_ba, c_ba, v_a, u_a, v_b, u_b): the generators' total, and
    the discriminators' total on the fakes of the generators at ``p``; with a
    semantic weight, toy guides of ``guide_scales`` (domain A's, B's); the
    round trip from B weighted by ``cycle_b_fraction`` in the total."""
    w_ab, c_ab, w_ba, c_ba, v_a, u_a, v_b, u_b = p

    def g_ab(x):
        return np.tanh(w_ab * x + c_ab)

    def g_ba(x):
        return np.tanh(w_ba * x + c_ba)

    def d_a(x):
        return v_a * x.reshape(len(x), -1).mean(1) + u_a

    def d_b(x):
        return v_b * x.reshape(len(x), -1).mean(1) + u_b

    def l1(x, y):
        return np.abs(x - y).mean()

    fake_b, fake_a = g_ab(a), g_ba(b)
    adversarial = 0.5 * (np.mean((d_b(fake_b) - 1) ** 2) + np.mean((d_a(fake_a) - 1) ** 2))
    cycle = 0.5 * (l1(g_ba(fake_b), a) + l1(g_ab(fake_a), b))
    weighted_cycle = 0.5 * (l1(g_ba(fake_b), a) + cycle_b_fraction * l1(g_ab(fake_a), b))
    identity = 0.5 * (l1(g_ab(b), b) + l1(g_ba(a), a))
    readers = guide_scales[::-1] if semantic_reader == "output" else guide_scales
    semantic = 0.5 * (hand_cross_entropy(guide_scales[0], readers[0], a, fake_b)
                      + hand_cross_entropy(guide_scales[1], readers[1], b, fake_a))
    g_total = 2 * (adversarial + cycle_weight * weighted_cycle
                   + cycle_weight * identity_weight * identity
                   + semantic_weight * semantic)
    d_loss_a = np.mean(0.5 * (d_a(a) - 1) ** 2 + 0.5 * d_a(fake_a) ** 2)
    d_loss_b = np.mean(0.5 * (d_b(b) - 1) ** 2 + 0.5 * d_b(fake_b) ** 2)
    return g_total, (adversarial, cycle, identity, d_loss_a, d_loss_b, semantic)


@pytest.mark.parametrize("semantic_weight,semantic_reader,cycle_b_fraction",
                         [(0.0, "input", 1.0), (0.7, "input", 1.0), (0.7, "output", 1.0),
                          (0.0, "input", 0.2)])
def test_the_step_follows_the_hand_computed_objective_and_its_gradients(
        semantic_weight, semantic_reader, cycle_b_fraction):
    """Toy modules of two parameters each, SGD at rate 1: the metrics equal
    the hand-computed losses, and each parameter moves by minus the finite
    difference of the hand objective (generators: the total with cycle and
    identity terms, and with toy guides the semantic term; discriminators:
    their least-squares loss on the fakes of the generators before their
    update); with cycle_b_fraction < 1 the round trip from B weighs less in
    the generators' total (the metric g_cycle stays the unweighted mean)."""
    start = np.array([0.8, 0.1, -0.6, 0.05, 1.5, -0.2, -1.1, 0.3])
    cycle_weight, identity_weight = 10.0, 0.5
    recipe = CycleGANRecipe(Affine(*start[0:2]), Affine(*start[2:4]), MeanCritic(*start[4:6]),
                            MeanCritic(*start[6:8]), cycle_weight=cycle_weight,
                            identity_weight=identity_weight, history_size=0,
                            cycle_b_fraction=cycle_b_fraction, semantic_weight=semantic_weight,
                            semantic_reader=semantic_reader, guide_a=toy_guide(3.0),
                            guide_b=toy_guide(-2.0),
                            g_optimizer=optax.sgd(1.0), d_optimizer=optax.sgd(1.0))
    a = jax.random.uniform(jax.random.PRNGKey(1), (1, 4, 3, 3, 1), minval=-1, maxval=1)
    b = jax.random.uniform(jax.random.PRNGKey(2), (1, 4, 3, 3, 1), minval=-1, maxval=1)
    state = recipe.create_state(jax.random.PRNGKey(0), (3, 3, 1))
    new, metrics = jax.jit(recipe.make_train_step())(state, (a, b))

    a64, b64 = np.asarray(a[0], np.float64), np.asarray(b[0], np.float64)
    _, (adversarial, cycle, identity, d_loss_a, d_loss_b, semantic) = hand_objectives(
        start, a64, b64, cycle_weight, identity_weight, semantic_weight, semantic_reader)
    np.testing.assert_allclose(metrics["g_loss"], adversarial, rtol=1e-5)
    np.testing.assert_allclose(metrics["g_cycle"], cycle, rtol=1e-5)
    np.testing.assert_allclose(metrics["g_identity"], identity, rtol=1e-5)
    np.testing.assert_allclose(metrics["d_loss_a"], d_loss_a, rtol=1e-5)
    if semantic_weight:
        np.testing.assert_allclose(metrics["g_semantic"], semantic, rtol=1e-5)
        assert semantic > 0.1  # a term with something to move
    else:
        assert "g_semantic" not in metrics
    np.testing.assert_allclose(metrics["d_loss"], 0.5 * (d_loss_a + d_loss_b), rtol=1e-5)

    def finite_difference(f, i, eps=1e-6):
        up, down = start.copy(), start.copy()
        up[i] += eps
        down[i] -= eps
        return (f(up) - f(down)) / (2 * eps)

    def g_total(p):
        return hand_objectives(p, a64, b64, cycle_weight, identity_weight, semantic_weight,
                               semantic_reader, cycle_b_fraction=cycle_b_fraction)[0]

    def d_total(p):  # the fakes held at the generators' starting parameters
        q = np.concatenate([start[:4], p[4:]])
        return sum(hand_objectives(q, a64, b64, cycle_weight, identity_weight)[1][3:5])

    moved = np.array([new.g_params["ab"]["w"], new.g_params["ab"]["c"],
                      new.g_params["ba"]["w"], new.g_params["ba"]["c"],
                      new.d_params["a"]["v"], new.d_params["a"]["u"],
                      new.d_params["b"]["v"], new.d_params["b"]["u"]]) - start
    expected = [-finite_difference(g_total, i) for i in range(4)] + [
        -finite_difference(d_total, i) for i in range(4, 8)]
    np.testing.assert_allclose(moved, expected, rtol=2e-4, atol=1e-6)
    assert np.all(np.abs(expected) > 1e-3)  # every parameter has a gradient to check
    if semantic_weight:  # the term moves the generators by far more than the tolerance
        def without(p):
            return hand_objectives(p, a64, b64, cycle_weight, identity_weight)[0]

        shift = np.array([finite_difference(g_total, i) - finite_difference(without, i)
                          for i in range(4)])
        assert np.all(np.abs(shift) > 100 * 2e-4 * np.abs(expected[:4])), shift


def unet_cyclegan(history_size=3, dropout=0.5):
    return CycleGANRecipe(
        UNetGenerator(channels=1, width=4, depth=2, dropout=dropout),
        UNetGenerator(channels=1, width=4, depth=2, dropout=dropout),
        PatchDiscriminator(width=4, layers=1), PatchDiscriminator(width=4, layers=1),
        history_size=history_size)


def test_a_checkpoint_records_the_round_trip_weighting_only_where_it_is_not_the_papers():
    """Runs saved before cycle_b_fraction existed resume under the default
    (their record has no such field); a run trained at another fraction is
    refused, naming it."""
    from jaxgan.loop import check_same_run

    papers = unet_cyclegan().describe()
    assert "cycle_b_fraction" not in papers
    halved = dataclasses.replace(unet_cyclegan(), cycle_b_fraction=0.5).describe()
    assert halved["cycle_b_fraction"] == 0.5
    check_same_run(papers, unet_cyclegan().describe(), (), 10)
    with pytest.raises(jaxgan.FitError) as refused:
        check_same_run(papers, halved, (), 10)
    assert ("trained with cycle_b_fraction not recorded (its default, if it has one), this "
            "run has cycle_b_fraction=0.5;") in str(refused.value)


def batches(num, batch=2, side=8):
    """``num`` unpaired batches ``(a, b)``, each ``[1, batch, side, side, 1]``."""
    out = []
    for i in range(num):
        ka, kb = jax.random.split(jax.random.PRNGKey(100 + i))
        out.append((jax.random.uniform(ka, (1, batch, side, side, 1), minval=-1, maxval=1),
                    jax.random.uniform(kb, (1, batch, side, side, 1), minval=-1, maxval=1)))
    return out


def test_resume_is_bit_identical_with_the_history_and_seeds_run_as_one(tmp_path):
    """Four steps straight against two, a save and restore through the
    checkpoint module, and two more: the same bits, history included (a buffer
    of 3 filled by batches of 2 is full after the second step and swaps
    after). Two seeds vmapped equal each seed's own run."""
    recipe = unet_cyclegan()
    step = jax.jit(recipe.make_train_step())
    data = batches(4)
    straight = recipe.create_state(jax.random.PRNGKey(0), (8, 8, 1))
    for batch in data:
        straight, _ = step(straight, batch)
    assert int(straight.history_filled) == 3

    halfway = recipe.create_state(jax.random.PRNGKey(0), (8, 8, 1))
    for batch in data[:2]:
        halfway, _ = step(halfway, batch)
    checkpoint.save_tree(str(tmp_path / "entry"), halfway, {"step": 2})
    resumed, _ = checkpoint.restore_tree(str(tmp_path / "entry"),
                                         recipe.create_state(jax.random.PRNGKey(5), (8, 8, 1)))
    for batch in data[2:]:
        resumed, _ = step(resumed, batch)
    for x, y in zip(jax.tree.leaves(straight), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(straight.history["b"], halfway.history["b"])  # it moved

    states = recipe.create_states([0, 1], (8, 8, 1))
    together, metrics = jax.jit(jax.vmap(recipe.make_train_step(), in_axes=(0, None)))(
        states, data[0])
    for seed in (0, 1):
        alone, alone_metrics = step(recipe.create_state(jax.random.PRNGKey(seed), (8, 8, 1)),
                                    data[0])
        chex.assert_trees_all_close(jax.tree.map(lambda x, s=seed: x[s], together), alone,
                                    rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(metrics["g_cycle"][seed], alone_metrics["g_cycle"],
                                   rtol=1e-5)
    kernels = jax.tree.leaves(together.g_params["ab"])[0]  # initialised from each seed
    assert not np.allclose(kernels[0], kernels[1])


def test_a_module_that_breaks_the_contract_is_one_line():
    recipe = unet_cyclegan()
    with pytest.raises(jaxgan.ModuleContractError, match="generator ab fails.*divisible by 4"):
        recipe.check((6, 6, 1))
    wrong = CycleGANRecipe(UNetGenerator(channels=3, width=4, depth=2),
                           UNetGenerator(channels=1, width=4, depth=2),
                           PatchDiscriminator(width=4, layers=1),
                           PatchDiscriminator(width=4, layers=1))
    with pytest.raises(jaxgan.ModuleContractError,
                       match=r"generator ab makes images of shape \(8, 8, 3\).*\[batch, 8, 8, 1\]"):
        wrong.check((8, 8, 1))
    two_kinds = CycleGANRecipe(UNetGenerator(channels=1, width=4, depth=2),
                               UNetGenerator(channels=3, width=4, depth=2),
                               PatchDiscriminator(width=4, layers=1),
                               PatchDiscriminator(width=4, layers=1), input_channels=3)
    with pytest.raises(jaxgan.ModuleContractError, match="identity_weight=0"):
        two_kinds.check((8, 8, 1))
    with pytest.raises(ValueError, match="history_size must be an integer >= 0"):
        dataclasses.replace(two_kinds, history_size=-1)
    with pytest.raises(ValueError, match="one batch of each domain"):
        recipe.make_train_step()(recipe.create_state(jax.random.PRNGKey(0), (8, 8, 1)),
                                 (jnp.zeros((2, 2, 8, 8, 1)), jnp.zeros((2, 2, 8, 8, 1))))


def bars(key, num, side=8):
    """Images of one bright horizontal bar, two rows thick, on black."""
    rows = jax.random.randint(key, (num,), 0, side - 1)
    grid = jnp.arange(side)[None, :]
    lit = (grid == rows[:, None]) | (grid == rows[:, None] + 1)
    return jnp.where(lit[:, :, None, None], 1.0, -1.0) * jnp.ones((1, 1, side, 1))


def test_it_learns_an_unpaired_toy_task():
    """Domain A: bright bars on black; domain B: the negatives of other, unpaired
    draws (black bars on white). From unpaired batches alone G_ab learns to
    invert: on held-out bars its output is within 0.15 (mean L1, of a range
    of 2) of the true negative, and the round trip returns the input, where
    the untrained generators are more than 0.5 away."""
    recipe = CycleGANRecipe(
        UNetGenerator(channels=1, width=8, depth=2, dropout=0.0),
        UNetGenerator(channels=1, width=8, depth=2, dropout=0.0),
        PatchDiscriminator(width=8, layers=1), PatchDiscriminator(width=8, layers=1),
        identity_weight=0.0, history_size=8,
        g_optimizer=optax.adam(2e-3, b1=0.5), d_optimizer=optax.adam(2e-3, b1=0.5))
    step = recipe.make_train_step()

    def sampling_step(state, _):
        ka, kb = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(7), state.step))
        return step(state, (bars(ka, 16)[None], -bars(kb, 16)[None]))

    state = recipe.create_state(jax.random.PRNGKey(0), (8, 8, 1))
    held_out = bars(jax.random.PRNGKey(99), 64)

    def errors(state):
        out = recipe.translate(state, held_out)
        back = recipe.translate(state, out, backward=True)
        return float(jnp.abs(out + held_out).mean()), float(jnp.abs(back - held_out).mean())

    before = errors(state)
    state, _ = jax.jit(lambda s: jax.lax.scan(sampling_step, s, None, length=300))(state)
    after = errors(state)
    assert min(before) > 0.5, before
    assert after[0] < 0.15 and after[1] < 0.15, (before, after)


def test_an_unpaired_source_holds_out_a_tenth_of_each_domain_and_reads_the_rest_once_an_epoch():
    """Image i of domain A (40 images) is filled with the value i, of B (30)
    with 100 + i. Steps of 9 images a domain: A's first 4 steps read each of
    its 36 training images once, B's first 3 its 27, and neither ever reads
    a held-out image."""
    def filled(values):
        return np.broadcast_to(values.astype(np.uint8)[:, None, None, None],
                               (len(values), 4, 4, 1)).copy()

    a = ArraySource("a", filled(np.arange(40)), np.arange(40) % 10)
    b = ArraySource("b", filled(np.arange(100, 130)))
    source = UnpairedSource("a2b", a, b)
    assert (source.held_out_count("a"), source.held_out_count("b"), source.num_examples,
            source.num_held_out) == (4, 3, 27, 3)
    assert source.example_shape == source.input_shape == (4, 4, 1)
    assert source.num_classes == 0  # domain B has no labels

    def ids(images):
        return list(np.round((np.asarray(images)[:, 0, 0, 0] + 1) * 127.5).astype(int))

    data = source.device_data()
    draws = [source.sample_real(None, jnp.asarray(step), data, 9) for step in range(12)]
    held = {key: ids(source.held_out(key)["images"]) for key in ("a", "b")}
    first_a = sum((ids(a_images) for a_images, _ in draws[:4]), [])
    first_b = sum((ids(b_images) for _, b_images in draws[:3]), [])
    assert sorted(first_a) == sorted(set(range(40)) - set(held["a"]))
    assert sorted(first_b) == sorted(set(range(100, 130)) - set(held["b"]))
    every = set(sum((ids(x) for pair in draws for x in pair), []))
    assert not every & (set(held["a"]) | set(held["b"]))
    np.testing.assert_array_equal(source.held_out("a")["labels"], np.array(held["a"]) % 10)
    # What a semantic guide learns from: the training images and their labels, no more.
    training = source.training_domain("a")
    assert sorted(ids(to_unit_range(training.images))) == sorted(set(range(40)) - set(held["a"]))
    np.testing.assert_array_equal(training.labels,
                                  np.array(ids(to_unit_range(training.images))) % 10)
    assert source.training_domain("b").labels is None
    assert "labels" not in source.held_out("b")
    with pytest.raises(ValueError, match="load both at one image size"):
        UnpairedSource("bad", a, ArraySource("c", np.zeros((5, 8, 8, 1), np.uint8)))


def test_the_smoke_config_trains_and_evaluates_both_ways(tmp_path):
    """The smoke config (scikit-learn's digits to the mnist5k digits, at 8x8,
    with semantic guides) through the config path and the fit loop: eval.json holds each
    direction's class agreement, Frechet distance, round trip and real-data
    floor (B to A's prefixed ba_), final.npz the held-out inputs, outputs,
    round trips and classes of both directions, and the guides steer every
    logged step. The resume through the loop is the slow tier's, below."""
    import json

    from jaxgan import train
    from jaxgan.configs import cyclegan_smoke

    config = cyclegan_smoke.get_config()
    config.classifier_dir = str(tmp_path / "classifiers")
    workdir = tmp_path / "run"
    final = train.train_and_evaluate(config, str(workdir))
    assert final["step"] == 4
    for name in ("label_accuracy", "frechet_distance", "cycle_l1", "cycle_psnr",
                 "real_frechet_distance", "classifier_accuracy"):
        assert np.isfinite(final[name]) and np.isfinite(final["ba_" + name]), name
    assert "l1" not in final  # no targets to compare with
    assert 0 < final["cycle_l1"] < 2
    with np.load(workdir / "samples" / "final.npz") as arrays:
        for prefix in ("", "ba_"):
            assert arrays[prefix + "inputs"].shape == arrays[prefix + "images"].shape == (
                16, 8, 8, 1)
            assert arrays[prefix + "cycled"].shape == (16, 8, 8, 1)
            assert arrays[prefix + "labels"].shape == (16,)
        # Domain A is scikit-learn's digits in MNIST's frame: a border of background.
        assert (arrays["inputs"][:, 0] == -1).all() and (arrays["inputs"] > 0).any()
        assert not np.array_equal(arrays["inputs"], arrays["ba_inputs"])
    assert (workdir / "samples" / "final.png").exists()
    with open(workdir / "metrics.jsonl") as f:
        logs = [json.loads(line) for line in f]
    assert [log["step"] for log in logs] == [2, 4]
    assert all(0 < log["g_semantic"] < 10 for log in logs)  # the guides steer
    assert len(list((tmp_path / "classifiers").glob("*_seed1"))) == 2  # one guide a domain


@pytest.mark.slow
def test_the_smoke_config_resumes_through_the_loop_with_its_guides(tmp_path):
    """A second call with more steps resumes from the first's checkpoint, its
    guides loaded from the cache; the intervals are logged once each."""
    import json

    from jaxgan import train
    from jaxgan.configs import cyclegan_smoke

    config = cyclegan_smoke.get_config()
    config.num_steps = 2
    config.classifier_dir = str(tmp_path / "classifiers")
    workdir = tmp_path / "run"
    train.train_and_evaluate(config, str(workdir))
    config.num_steps = 4
    assert train.train_and_evaluate(config, str(workdir))["step"] == 4
    with open(workdir / "metrics.jsonl") as f:
        logs = [json.loads(line) for line in f]
    assert [log["step"] for log in logs] == [2, 4]
    assert all(0 < log["g_semantic"] < 10 for log in logs)
    assert len(list((tmp_path / "classifiers").glob("*_seed1"))) == 2


def test_a_cyclegan_and_data_that_do_not_match_are_one_line(tmp_path):
    """Pix2Pix's pairs to a CycleGAN, or two domains to Pix2Pix, through fit
    and through a config: refused before anything is written."""
    from jaxgan import config as config_lib
    from jaxgan.configs import cyclegan_smoke
    from jaxgan.data.pairs import PairedSource

    images = np.random.default_rng(0).integers(0, 256, (40, 8, 8, 1), dtype=np.uint8)
    domains = UnpairedSource("toy", ArraySource("a", images), ArraySource("b", 255 - images))
    with pytest.raises(jaxgan.FitError, match="do not match"):
        jaxgan.fit(unet_cyclegan(), PairedSource("pairs", images, 255 - images),
                   str(tmp_path / "a"), num_steps=1, batch_size=4)
    with pytest.raises(jaxgan.FitError, match="do not match"):
        jaxgan.fit(jaxgan.GANRecipe(generator=UNetGenerator(channels=1, width=4, depth=2),
                                    discriminator=PatchDiscriminator(width=4, layers=1),
                                    latent_dim=0, translation=True),
                   domains, str(tmp_path / "b"), num_steps=1, batch_size=4)
    assert not any((tmp_path / name).exists() for name in "ab")
    for changes, expected in (({"dataset": "mnist5k"}, "name two, e.g. 'unpaired:digits"),
                              ({"model": "pix2pix"}, "which model='cyclegan' translates"),
                              ({"dataset": "unpaired:digits,ring8"}, "unknown dataset"),
                              ({"n_disc": 2}, "set d_penalty='none' and n_disc=1"),
                              ({"ema_decay": 0.999}, "keeps no average of its two; set "
                                                     "ema_decay=0"),
                              ({"history_size": -1}, "config.history_size: history_size "
                                                     "must be an integer >= 0"),
                              ({"cycle_b_fraction": -0.5}, "config.cycle_b_fraction: "
                                                           "cycle_b_fraction must be a number"),
                              ({"semantic_weight": -1.0}, "config.semantic_weight: "
                                                          "semantic_weight must be a number"),
                              ({"semantic_reader": "both"}, "config.semantic_reader: "
                                                            "semantic_reader must be one of"),
                              ({"semantic_weight": 1.0, "classifier_steps": 0},
                               "needs classifier_steps > 0"),
                              ({"semantic_weight": 1.0, "model": "pix2pix",
                                "dataset": "mnist5k_edges"}, "steers a CycleGAN's")):
        config = cyclegan_smoke.get_config()
        config.update(changes)
        with pytest.raises(config_lib.ConfigError, match=re.escape(expected)):
            config_lib.validate_config(config)


def test_framed_digits_sit_in_mnists_margin():
    """At 28x28 the 8x8 digits fill the central 20x20 box (MNIST's) and the
    4-pixel border is background; at 32x32 the box is 23 pixels."""
    from jaxgan.data.arrays import framed_digits

    framed, plain = framed_digits(28), jaxgan.digits(28)
    assert framed.images.shape == plain.images.shape == (1797, 28, 28, 1)
    np.testing.assert_array_equal(framed.labels, plain.labels)
    border = np.ones((28, 28), bool)
    border[4:24, 4:24] = False
    assert (framed.images[:, border] == -1).all()
    assert (framed.images[:, 4:24, 4:24] > 0).any(axis=(1, 2, 3)).all()  # ink in every box
    assert (plain.images[:, border] > 0).any()  # the plain digits reach the edge
    assert ((framed_digits(32).images[:, 4:27, 4:27] > 0).any(axis=(1, 2, 3))).all()
