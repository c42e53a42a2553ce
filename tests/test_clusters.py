"""The self-conditioned GAN (config.clusters): clusters of the images,
conditions that the samplers read instead of the labels, evaluation labels
drawn in the clusters' shares, and a run scored as an unconditional one."""

import dataclasses
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_learning import short_ring_config  # noqa: E402

from jaxgan import config as config_lib
from jaxgan import evaluation, train
from jaxgan.configs import digits_smoke  # noqa: E402
from jaxgan.data import ArraySource, digits
from jaxgan.data.arrays import HostStream, sample_streamed
from jaxgan.data.clusters import cluster_images, condition_frequencies, with_clusters
from jaxgan.data.stacked import mode_of
from jaxgan.models import MLPDiscriminator, MLPGenerator
from jaxgan.models.conditioning import per_channel_weights
from jaxgan.state import GANRecipe, create_state, generate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blobs():
    """Seven dark images and five bright ones, each a little noisy, in a mixed order."""
    rng = np.random.default_rng(0)
    bright = np.array([1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0], bool)
    images = np.where(bright[:, None, None, None], 220, 30) + rng.integers(0, 10, (12, 4, 4, 1))
    return images.astype(np.uint8), bright


def test_clusters_split_separated_images_and_are_numbered_by_size():
    images, bright = blobs()
    found = cluster_images(images, 2)
    # The larger group (7 dark images) is cluster 0, the bright five cluster 1.
    np.testing.assert_array_equal(found, bright.astype(np.int32))
    np.testing.assert_array_equal(cluster_images(images, 2), found)  # the same every time
    assert condition_frequencies(found, 2) == (7 / 12, 5 / 12)
    for bad in (1, 13, 2.0, True):
        with pytest.raises(ValueError, match="k must be an integer from 2 to the 12 images"):
            cluster_images(images, bad)
    with pytest.raises(ValueError, match="cluster features must be one of pixels, spectral, "
                                         "got 'umap'"):
        cluster_images(images, 2, features="umap")
    # A neighbour graph of 12 images has no structure for a spectral embedding.
    with pytest.raises(ValueError, match=r"spectral clusters need more than 20 images, got 12; "
                                         r"cluster the pixels \(features='pixels'\)"):
        cluster_images(images, 2, features="spectral")


def test_pixel_clusters_of_the_digits_are_mostly_one_class():
    """What self-conditioning rests on: a k-means cluster of digit pixels is
    mostly one class. Measured: purity 0.80 at k=10 (the most common class's
    share of each cluster, over all clusters); labels that ignore the pixels
    score about 0.1."""
    source = digits(8)
    found = cluster_images(source.images, 10)
    purity = sum(np.bincount(source.labels[found == c]).max() for c in range(10)) / len(found)
    assert purity > 0.7, purity
    assert np.bincount(found).tolist() == sorted(np.bincount(found).tolist(), reverse=True)


def test_spectral_clusters_of_the_digits_are_purer_than_pixel_clusters():
    """Neighbours chain two digits of a class that are far apart in pixels.
    Measured at k=10: purity 0.825 against the pixels' 0.784 (on mnist5k at
    k=30: 0.89 against 0.76)."""
    source = digits(8)

    def purity(found):
        return sum(np.bincount(source.labels[found == c]).max() for c in range(10)) / len(found)

    pixels = purity(cluster_images(source.images, 10))
    spectral = purity(cluster_images(source.images, 10, features="spectral"))
    assert spectral > pixels + 0.02, (spectral, pixels)


def test_conditions_replace_the_labels_in_every_sampler_and_keep_them_for_scoring():
    images = np.arange(12, dtype=np.uint8).reshape(12, 1, 1, 1) * 20
    labels = (np.arange(12) % 3).astype(np.int32)
    conditions = (np.arange(12) % 4).astype(np.int32)
    source = ArraySource("toy", images, labels, conditions=conditions)
    assert (source.num_classes, source.num_conditions) == (3, 4)
    np.testing.assert_array_equal(source.labels, labels)
    data = source.device_data()
    batch, drawn = source.sample_labelled(None, jnp.int32(5), data, 8)
    k = np.round((np.asarray(batch)[:, 0, 0, 0] + 1) * 127.5 / 20).astype(int)
    np.testing.assert_array_equal(np.asarray(drawn), k % 4)  # the conditions, not k % 3
    stream = HostStream(source, start_step=5, steps_per_call=1, examples_per_step=8,
                        with_labels=True)
    streamed = next(stream)
    stream.close()
    _, streamed_labels = sample_streamed(None, None, {n: v[0] for n, v in streamed.items()}, 8)
    np.testing.assert_array_equal(streamed_labels, drawn)
    with pytest.raises(ValueError, match=r"conditions must be \[N\] = \[12\]"):
        ArraySource("toy", images, labels, conditions=conditions[:5])
    clustered = with_clusters(dataclasses.replace(source, images=blobs()[0]), 2)
    np.testing.assert_array_equal(clustered.conditions, blobs()[1])
    np.testing.assert_array_equal(clustered.labels, labels)


def test_evaluation_draws_a_self_conditioned_generators_clusters_in_their_shares():
    frequencies = (0.5, 0.3, 0.15, 0.05)
    recipe = GANRecipe(MLPGenerator(output_shape=(2,), features=(8,), num_classes=4),
                       MLPDiscriminator(features=(8,), num_classes=4), latent_dim=2,
                       num_classes=4, label_frequencies=frequencies)
    assert recipe.self_conditioned and evaluation.asked_classes(recipe) == 0
    labels = np.asarray(evaluation.eval_labels(recipe, 1000))
    counts = np.bincount(labels, minlength=4)
    assert np.abs(counts - 1000 * np.array(frequencies)).max() <= 1, counts
    assert len(set(labels[:8].tolist())) >= 3  # neighbours fall in different clusters
    # generate() draws the clusters itself where no labels are given.
    state = create_state(recipe, jax.random.PRNGKey(0), (2,))
    assert generate(recipe, state, jax.random.PRNGKey(1), 5).shape == (5, 2)
    drawn = np.bincount(np.asarray(recipe.sample_labels(jax.random.PRNGKey(2), 4000)),
                        minlength=4) / 4000
    assert np.abs(drawn - np.array(frequencies)).max() < 0.03, drawn  # 4 s.e. at most
    plain = dataclasses.replace(recipe, label_frequencies=())
    with pytest.raises(ValueError, match="pass labels"):
        generate(plain, state, jax.random.PRNGKey(1), 5)
    assert evaluation.asked_classes(plain) == 4
    assert np.asarray(evaluation.eval_labels(plain, 8)).tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    with pytest.raises(ValueError, match="label_frequencies must be num_classes=4 shares"):
        dataclasses.replace(recipe, label_frequencies=(0.5, 0.5))
    with pytest.raises(ValueError, match="summing to 1"):
        dataclasses.replace(recipe, label_frequencies=(0.5, 0.3, 0.1, 0.05))


def test_clusters_need_conditioning_and_images(tmp_path):
    def refused(match, **fields):
        config = digits_smoke.get_config()
        config.update(fields)
        with pytest.raises(train.ConfigError, match=match):
            train.train_and_evaluate(config, str(tmp_path / "run"))
        assert not (tmp_path / "run").exists()

    refused(r"clusters=8 conditions the GAN on clusters .* set conditioning='concat'",
            clusters=8)
    refused("config.clusters must be 0 .* or an integer >= 2, got 1",
            clusters=1, conditioning="concat")
    refused("config.cluster_features must be one of pixels, spectral, got 'pca'",
            clusters=8, conditioning="concat", cluster_features="pca")
    config = short_ring_config(conditioning="concat", clusters=8)
    with pytest.raises(train.ConfigError, match="'ring8' with model='mlp' is not one"):
        config_lib.validate_config(config)


def test_a_self_conditioned_run_is_scored_and_saved_as_an_unconditional_one(tmp_path):
    config = digits_smoke.get_config()
    # Ten clusters: the programs of the conditional smoke run (test_control),
    # which the session's compilation cache may already hold.
    config.update(clusters=10, conditioning="concat")
    result = train.train_and_evaluate(config, str(tmp_path))
    # The classifier scores the data's classes; no label accuracy, since the
    # clusters asked for are not classes.
    assert "confident_fraction" in result and "classes_covered" in result
    assert not any(name.startswith("label_accuracy") for name in result)
    recipe, source, _ = config_lib.build(config)
    assert recipe.num_classes == 10 and not np.array_equal(source.conditions, source.labels)
    with np.load(tmp_path / "samples" / "final.npz") as final:
        assert "labels" not in final  # judge.py would read them as classes
        counts = np.bincount(final["clusters"], minlength=10)
    shares = np.array(recipe.label_frequencies) * config.num_final_samples
    assert np.abs(counts - shares).max() <= 1, (counts, shares)
    # The clusters are part of the run's identity (its checkpoint's recipe
    # record): a resume rebuilds the same.
    assert config_lib.build(config).recipe.describe() == recipe.describe()
    assert recipe.describe()["label_frequencies"] == list(recipe.label_frequencies)
    # Its edits move the cluster weights with z (the control CLI's default).
    edited = subprocess.run(
        [sys.executable, os.path.join(ROOT, "experiments", "control.py"),
         f"--workdir={tmp_path}", "--num_latents=2", "--num_steps=20", "--targets=1",
         "--settings=free,confident,swapped,settled", "--settle_steps=4",
         "--attribute=none"],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert edited.returncode == 0, edited.stderr[-3000:]
    report = json.loads((tmp_path / "control" / "control.json").read_text())
    assert report["edits_move_clusters"] and 0 <= report["free"]["cluster_changed"] <= 1
    # Settled edits go on from confident's (made once); swapped ones snap the
    # start, so a success comes within the snap and the 4 steps after it.
    assert "settled: going on from confident's edits" in edited.stderr
    assert report["confident"]["edits"] == report["settled"]["edits"] == 2
    if report["swapped"]["mean_steps_to_success"] is not None:
        assert 1 <= report["swapped"]["mean_steps_to_success"] <= 5
    with np.load(tmp_path / "control" / "edits.npz") as edits:
        assert edits["images"].shape == edits["starts"].shape == (2, 28, 28, 1)
        # The pairs edits.npz counts are the ones every rate counts.
        assert int(edits["counted"].sum()) == report["settled"]["edits"]


def test_stacked_digits_condition_on_their_channels_clusters_and_are_scored_by_class():
    config = digits_smoke.get_config()
    config.update(dataset="stacked_mnist5k", clusters=3, conditioning="projection")
    recipe, source, _ = config_lib.build(config)
    clusters = source.base.conditions
    shares = np.bincount(clusters, minlength=3) / len(clusters)
    assert recipe.num_classes == source.num_conditions == 27
    # Triple (a, b, c) is condition 9a + 3b + c, drawn with the product of the shares.
    np.testing.assert_allclose(recipe.label_frequencies[9 * 2 + 3 * 0 + 1],
                               shares[2] * shares[0] * shares[1])
    data = source.device_data()
    images, conditions = source.sample_labelled(None, jnp.int32(3), data, 16)
    rows = np.asarray(source.indices(jnp.int32(3), 16))
    np.testing.assert_array_equal(conditions, mode_of(jnp.asarray(clusters[rows]), 3))
    # The scores' real triples keep the digits' classes.
    _, modes = source.stack(rows)
    np.testing.assert_array_equal(modes, mode_of(jnp.asarray(source.base.labels[rows]), 10))
    np.testing.assert_array_equal(images, source.stack(rows)[0])
    # Taken channel by channel, under DiffAugment: the networks read each
    # channel's cluster as the one that channel's digit is in.
    config.update(per_channel_conditions=True, augment="translation")
    recipe, _, _ = config_lib.build(config)
    assert recipe.discriminator.num_classes == recipe.generator.num_classes == 27
    state = create_state(recipe, jax.random.PRNGKey(0), source.example_shape)
    assert state.d_params["inner"]["inner"]["projection"]["embedding"].shape[0] == 9
    per_channel = per_channel_weights(jax.nn.one_hot(conditions, 27), 3, 3)
    np.testing.assert_array_equal(per_channel.reshape(16, 3, 3).argmax(-1), clusters[rows])
