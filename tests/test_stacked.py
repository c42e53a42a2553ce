"""Stacked MNIST: three independent digits per example drawn on the device,
and its scores (modes covered of 1,000, reverse KL), by hand."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import train
from jaxgan.data import ArraySource, StackedSource
from jaxgan.data.stacked import mode_of
from jaxgan.metrics.classifier import holdout_split
from jaxgan.metrics.stacked import (
    StackedClassifier,
    joint_probabilities,
    mode_scores,
    real_mode_scores,
)


def small_base(n=13):
    """n greyscale 4x4 'digits' whose pixels all equal the example's row index
    (so an image says which row it came from) and whose label is row % 10."""
    rows = np.arange(n, dtype=np.uint8)
    images = np.broadcast_to(rows[:, None, None, None], (n, 4, 4, 1)).copy()
    return ArraySource("rows", images, (rows % 10).astype(np.int32), shuffle_seed=5)


def rows_of(images):
    """The base row each channel of stacked images came from."""
    return np.rint((np.asarray(images)[:, 0, 0, :] + 1) * 127.5).astype(int)


def test_each_channel_reads_every_base_example_once_per_epoch_in_its_own_order():
    source = StackedSource(small_base(13))
    assert source.example_shape == (4, 4, 3) and source.num_classes == 1000
    data = source.device_data()
    sample = jax.jit(source.sample_labelled, static_argnums=3)
    # 13 examples, batches of 5 (the batch straddles epochs): 13 steps = 5 epochs.
    images, modes = zip(*(sample(None, jnp.int32(step), data, 5) for step in range(13)),
                        strict=True)
    rows = np.concatenate([rows_of(x) for x in images])         # [65, 3]
    for epoch in range(5):
        for c in range(3):
            assert sorted(rows[13 * epoch:13 * (epoch + 1), c]) == list(range(13))
    # Channel 0 keeps the base's own order; the others differ from it and from each other.
    assert list(rows[:13, 0]) == list(np.asarray(source.base.indices(jnp.int32(0), 13)))
    assert len({tuple(rows[:13, c]) for c in range(3)}) == 3
    # The mode is the three labels read as a number, red first.
    labels = rows % 10
    np.testing.assert_array_equal(np.concatenate(modes),
                                  labels[:, 0] * 100 + labels[:, 1] * 10 + labels[:, 2])
    # A pure function of the step: the same batch again, and the host's stack agrees.
    again, _ = sample(None, jnp.int32(4), data, 5)
    np.testing.assert_array_equal(again, images[4])
    host, host_modes = source.stack(np.asarray(source.indices(jnp.int32(4), 5)))
    np.testing.assert_allclose(host, images[4])
    np.testing.assert_array_equal(host_modes, modes[4])


def test_stacking_needs_greyscale_labelled_digits():
    base = small_base()
    colour = ArraySource("colour", np.zeros((4, 4, 4, 3), np.uint8), np.zeros(4, np.int32))
    with pytest.raises(ValueError, match="stacks greyscale labelled images; colour has shape"):
        StackedSource(colour)
    with pytest.raises(ValueError, match="and no labels"):
        StackedSource(ArraySource("bare", base.images))


def test_joint_probabilities_and_mode_scores_by_hand():
    scored = jax.jit(mode_scores)  # compiled: op by op, this test took 2 minutes
    np.testing.assert_array_equal(mode_of(jnp.array([[3, 0, 7], [0, 0, 1]])), [307, 1])
    p = [jnp.array([[0.5, 0.5]]), jnp.array([[0.2, 0.8]])]
    np.testing.assert_allclose(joint_probabilities(p), [[0.1, 0.4, 0.1, 0.4]])
    # 6 samples on 2 of 1,000 modes, 4 and 2: KL = 4/6 log(1000 4/6) + 2/6 log(1000 2/6).
    probabilities = jax.nn.one_hot(jnp.array([5, 5, 5, 5, 999, 999]), 1000)
    scores = scored(probabilities)
    assert int(scores["modes_covered"]) == 2
    expected = 4 / 6 * math.log(1000 * 4 / 6) + 2 / 6 * math.log(1000 * 2 / 6)
    assert float(scores["reverse_kl"]) == pytest.approx(expected, rel=1e-5)
    assert int(scores["confident_modes_covered"]) == 2
    # Unsure readings count for the papers' number, not for the confident one.
    unsure = scored(jnp.concatenate([probabilities, jnp.full((1, 1000), 1e-3)]))
    assert int(unsure["modes_covered"]) == 3 and int(unsure["confident_modes_covered"]) == 2
    uniform = scored(jnp.eye(1000))
    assert int(uniform["modes_covered"]) == 1000
    assert float(uniform["reverse_kl"]) == pytest.approx(0.0, abs=1e-5)


class RowReader:
    """A stand-in digit classifier: certain that an image shows its row % 10
    (the images of small_base), with the row as its one feature."""

    class_frequencies = jnp.full((10,), 0.1)

    def probabilities_and_features(self, images):
        rows = jnp.rint((images[:, 0, 0, 0] + 1) * 127.5).astype(jnp.int32)
        return jax.nn.one_hot(rows % 10, 10), rows[:, None].astype(jnp.float32)


def test_the_stacked_classifier_reads_each_channel_on_its_own():
    source = StackedSource(small_base(13))
    reader = StackedClassifier(RowReader(), 3, 1.0, 1.0)
    images, modes = source.stack(np.array([[1, 2, 3], [12, 0, 9], [7, 7, 7]]))
    probabilities, features = reader.probabilities_and_features(jnp.asarray(images))
    assert probabilities.shape == (3, 1000)
    np.testing.assert_array_equal(np.argmax(probabilities, -1), [123, 209, 777])
    np.testing.assert_array_equal(modes, [123, 209, 777])
    np.testing.assert_allclose(features, [[1, 2, 3], [12, 0, 9], [7, 7, 7]])
    np.testing.assert_allclose(reader.class_frequencies, np.full(1000, 1e-3), rtol=1e-5)


class OneAsZeroReader:
    """A stand-in digit classifier of the digits of :func:`labelled_rows`:
    reads the label that a held-out digit shows, except that it reads every
    1 as a 0, and reads every digit it trained on as a 9 (so a floor drawn
    from the wrong digits would show)."""

    class_frequencies = jnp.full((10,), 0.1)

    def __init__(self, held_out):
        self.held_out = jnp.zeros(1000, bool).at[held_out].set(True)

    def probabilities(self, images):
        pixels = jnp.rint((images[:, 0, :2, 0] + 1) * 127.5).astype(jnp.int32)
        labels, rows = pixels[:, 0], pixels[:, 0] + 10 * pixels[:, 1]
        read = jnp.where(labels == 1, 0, labels)
        return jax.nn.one_hot(jnp.where(self.held_out[rows], read, 9), 10)


def labelled_rows(n):
    """n 4x4 digits labelled row % 10: pixel (0, 0) shows the label, pixel
    (0, 1) the row // 10, so an image says which row it is."""
    rows = np.arange(n)
    images = np.zeros((n, 4, 4, 1), np.uint8)
    images[:, 0, 0, 0], images[:, 0, 1, 0] = rows % 10, rows // 10
    return ArraySource("labels", images, (rows % 10).astype(np.int32))


def test_the_real_floor_of_the_mode_scores_by_hand():
    source = StackedSource(labelled_rows(1000), channels=2)
    reader = OneAsZeroReader(holdout_split(1000, 0)[1])
    floor = real_mode_scores(StackedClassifier(reader, 2, 1.0, 1.0), source, 40_000)
    # Every 1 read as a 0: the 9 x 9 pairs without a 1 are read, and each
    # channel reads a 0 with probability 0.2, the others 0.1 (classes drawn
    # uniformly, as the data's are), so the KL to the uniform 100 pairs is
    # twice 0.2 log 2, plus the finite sample's ~80 / (2 * 40,000).
    assert floor["real_modes_covered"] == 81
    assert floor["real_reverse_kl"] == pytest.approx(2 * 0.2 * math.log(2), abs=0.004)
    # Held-out digits that lack a class cannot stand for the data's draw.
    # (30 digits hold out 3, so at least 7 classes are missing.)
    lacking = StackedSource(dataclasses.replace(labelled_rows(30), name="lacking"), channels=2)
    with pytest.raises(ValueError, match="held-out tenth of lacking has no digit of classes"):
        real_mode_scores(StackedClassifier(reader, 2, 1.0, 1.0), lacking, 100)


@pytest.mark.slow
def test_a_stacked_mnist_run_reports_modes_covered_and_reverse_kl(tmp_path):
    """The shipped config, shrunk: the loop trains on the stacked data and its
    evaluation reads every channel with the digits' classifier."""
    from jaxgan.configs import stacked_mnist5k

    config = stacked_mnist5k.get_config()
    config.update(num_steps=4, log_every=4, eval_every=4, checkpoint_every=4,
                  steps_per_dispatch=4, g_width=4, d_width=4, latent_dim=8, batch_size=16,
                  num_eval_samples=1000, num_final_samples=16, classifier_steps=30,
                  clusters=10)  # 1,000 triples of clusters, so 1,000 samples may ask each
    result = train.train_and_evaluate(config, str(tmp_path))
    # Four steps of a tiny GAN (self-conditioned: one draw per triple of
    # clusters, so at least 1,000 samples): far from uniform.
    assert 1 <= result["modes_covered"] <= 1000
    assert result["reverse_kl"] == pytest.approx(result["class_kl"], rel=1e-6)
    assert result["reverse_kl"] >= math.log(1000 / result["modes_covered"]) - 1e-4
    # The real floor is of stacked images, three digits each.
    assert 0 < result["classifier_accuracy"] < 1
    assert result["real_floor_num_examples"] == 1000
    # And the floor of the mode scores, of 1,000 real triples: 1,000 draws of
    # 1,000 equally likely modes cover about 632 of them, with a KL of about
    # 0.57 even when every digit is read right; misread digits only add to it.
    assert result["real_modes_covered"] < 700
    assert result["real_reverse_kl"] > 0.4
    final = np.load(tmp_path / "samples" / "final.npz")
    assert final["images"].shape == (16, 32, 32, 3)


def test_the_judge_reads_each_channel_and_counts_the_triples():
    """jaxgan.metrics.judge.stacked_scores with a stand-in judge: sure of the
    class written in a pixel's first value, plausible where the second is 1."""
    from jaxgan.metrics.judge import stacked_scores

    class Reader:
        def probabilities(self, pixels):
            return np.eye(10)[pixels[:, 0].astype(int)] * 0.95 + 0.005

        def plausible(self, pixels):
            return pixels[:, 1] == 1

    digits = np.array([[1, 2, 3], [1, 2, 3], [9, 0, 0], [4, 4, 4]])
    plausible = np.array([[1, 1, 1], [1, 1, 1], [1, 0, 1], [1, 1, 1]])
    channels = [np.stack([digits[:, c], plausible[:, c]], 1) for c in range(3)]
    result = stacked_scores(Reader(), channels)
    assert result["modes_covered"] == 3                 # 123 twice, 900, 444
    assert result["plausible"] == result["confident"] == 0.75
    expected = 0.5 * math.log(0.5 * 1000) + 2 * 0.25 * math.log(0.25 * 1000)
    assert result["reverse_kl"] == pytest.approx(expected)
