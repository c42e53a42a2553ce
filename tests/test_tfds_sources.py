"""tensorflow-datasets sources on tfds.testing.mock_data (no network), end to end
through the experiment loop, and the error for a dataset that is not prepared."""

import os
import subprocess
import sys

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from jaxgan import train  # noqa: E402
from jaxgan.data import registry  # noqa: E402
from jaxgan.data.images import DataError  # noqa: E402
from jaxgan.data.tfds_sources import TFDS_DATASETS, load_tfds  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from jaxgan.configs import celeb_a64, cifar10, digits_smoke, fashion_mnist, mnist  # noqa: E402

EXPECTED = {  # name: (config module, example shape, has labels)
    "mnist": (mnist, (28, 28, 1), True),
    "fashion_mnist": (fashion_mnist, (28, 28, 1), True),
    "cifar10": (cifar10, (32, 32, 3), True),
    "celeb_a": (celeb_a64, (64, 64, 3), False),
}


def test_every_listed_dataset_has_a_config():
    assert set(EXPECTED) == set(TFDS_DATASETS) == set(registry.TFDS_NAMES)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_reads_the_split_as_uint8_images_and_labels(name):
    module, shape, labelled = EXPECTED[name]
    with tfds.testing.mock_data(num_examples=12):
        source = load_tfds(name, image_size=shape[0], data_dir="/nonexistent", download=False)
    assert source.images.shape == (12, *shape)
    assert source.images.dtype == np.uint8
    assert source.images.std() > 10  # mock data is random pixels, not a constant
    if labelled:
        assert source.labels.shape == (12,) and source.labels.dtype == np.int32
        assert source.labels.min() >= 0 and source.labels.max() < 10
    else:
        assert source.labels is None


# The larger images' runs compile the full-size models (3 and 2 minutes on 2
# cores): the slow tier's. The 28x28 ones run in the default suite.
@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow)
                                  if EXPECTED[name][1][0] > 28 else name for name in EXPECTED])
def test_one_training_step_end_to_end(name, tmp_path):
    module, shape, _ = EXPECTED[name]
    config = module.get_config()
    tiny = digits_smoke.get_config()
    for field in ("batch_size", "g_width", "d_width", "latent_dim", "log_every",
                  "num_eval_samples", "num_final_samples"):
        config[field] = tiny[field]
    config.num_steps = config.eval_every = config.checkpoint_every = 2
    config.steps_per_dispatch = config.log_every = 2
    config.classifier_steps = 2 if config.classifier_steps else 0
    with tfds.testing.mock_data(num_examples=40):
        result = train.train_and_evaluate(config, str(tmp_path))
    assert result["step"] == 2
    with np.load(tmp_path / "samples" / "final.npz") as final:
        assert final["images"].shape == (tiny.num_final_samples, *shape)
    assert os.path.exists(tmp_path / "samples" / "step_0000002.png")
    assert ("confident_fraction" in result) == (name != "celeb_a")


def test_a_cyclegan_task_reads_its_two_train_splits_and_trains_through_the_config(
        tmp_path, monkeypatch):
    """cycle_gan/horse2zebra (mock data of random sizes): trainA is domain A
    and trainB domain B, resized to the config's side, with no labels (the
    tfds 'label' names the domain); the CycleGAN smoke config trains on it and
    evaluates both round trips. Offline, the error names the task to prepare."""
    from jaxgan.config import ConfigError
    from jaxgan.configs import cyclegan_smoke
    from jaxgan.data import tfds_sources
    from jaxgan.data.unpaired import UnpairedSource

    splits = []

    def spy(*args, split, **kwargs):
        splits.append(split)
        return load_tfds(*args, split=split, **kwargs)

    monkeypatch.setattr(tfds_sources, "load_tfds", spy)
    config = cyclegan_smoke.get_config()
    config.update({"dataset": "cycle_gan/horse2zebra", "data_dir": "/nonexistent",
                   "download": False, "num_steps": 2, "num_eval_samples": 2,
                   "num_final_samples": 2})
    with tfds.testing.mock_data(num_examples=20):
        source = registry.load_dataset(config.dataset, 8, "/nonexistent", download=False)
        # The smoke config's semantic guides need classes, which these domains lack.
        with pytest.raises(ConfigError, match="semantic guides need labels in both domains"):
            train.train_and_evaluate(config, str(tmp_path / "run"))
        config.semantic_weight = 0.0
        result = train.train_and_evaluate(config, str(tmp_path / "run"))
    assert splits == ["trainA", "trainB"] * 3
    assert isinstance(source, UnpairedSource) and source.name == "horse2zebra"
    assert source.domain_a.name == "horse2zebra_A" and source.domain_b.name == "horse2zebra_B"
    assert source.domain_a.images.shape == source.domain_b.images.shape == (20, 8, 8, 3)
    assert source.domain_a.labels is None and source.num_classes == 0
    assert result["step"] == 2
    assert 0 < result["cycle_l1"] < 2 and 0 < result["ba_cycle_l1"] < 2
    assert "label_accuracy" not in result  # no classes to keep
    with np.load(tmp_path / "run" / "samples" / "final.npz") as final:
        assert final["inputs"].shape == final["ba_images"].shape == (2, 8, 8, 3)
    with pytest.raises(DataError, match="'cycle_gan/horse2zebra' is not prepared .*"
                                        "--dataset cycle_gan/horse2zebra"):
        registry.load_dataset("cycle_gan/horse2zebra", 8, str(tmp_path), download=False)


def test_a_dataset_that_is_not_prepared_is_a_config_error(tmp_path):
    with pytest.raises(DataError, match=r"'mnist' is not prepared in .*prepare_data.py "
                                        r"--dataset mnist") as error:
        load_tfds("mnist", 28, data_dir=str(tmp_path), download=False)
    assert "\n" not in str(error.value)


def test_offline_download_fails_with_how_to_prepare(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Failed to establish a new connection: network is unreachable")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    with pytest.raises(DataError, match="not prepared .*ConnectionError.*network is "
                                        "unreachable.*prepare_data.py"):
        load_tfds("cifar10", 32, data_dir=str(tmp_path), download=True)


def test_a_module_missing_for_the_download_is_named_not_called_unprepared(
        tmp_path, monkeypatch):
    def needs_a_module(*args, **kwargs):
        try:
            raise ModuleNotFoundError("No module named 'apache_beam'", name="apache_beam")
        except ImportError as e:  # tfds wraps what its download code raises
            raise RuntimeError("Failed to construct dataset") from e

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", needs_a_module)
    with pytest.raises(DataError, match="needs the Python module 'apache_beam', which is not "
                                        "installed") as error:
        load_tfds("cifar10", 32, data_dir=str(tmp_path), download=True)
    assert "not prepared" not in str(error.value)


def test_script_exits_2_with_one_line_when_the_dataset_is_missing(tmp_path):
    workdir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "experiments", "train.py"),
         f"--config={os.path.join(ROOT, 'experiments', 'configs', 'mnist.py')}",
         f"--workdir={workdir}", f"--config.data_dir={tmp_path / 'tfds'}",
         "--config.download=False"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "prepare_data.py --dataset mnist" in lines[0]
    assert not workdir.exists()  # nothing written before the data is there


def test_a_tfrecord_copy_gets_its_own_way_out(tmp_path, monkeypatch):
    # tfds reads its default tfrecord files only through TensorFlow; pretend one is there.
    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "as_data_source", lambda self, split: (
        _ for _ in ()).throw(NotImplementedError("FileFormat.TFRECORD is not supported")))
    with pytest.raises(DataError, match="prepared as tfrecord files.*--data_dir NEW_DIR"):
        load_tfds("mnist", 28, data_dir=str(tmp_path), download=False)
