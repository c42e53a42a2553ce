"""The experiment script and the fit loop, end to end, as users run them."""

import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import config as config_lib
from jaxgan import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "experiments", "train.py")
SMOKE = os.path.join(ROOT, "experiments", "configs", "smoke.py")

from jaxgan import configs as jaxgan_configs  # noqa: E402
from jaxgan.configs import (  # noqa: E402
    celeb_a64,
    cgan_digits,
    cgan_mnist,
    cgan_mnist5k,
    cgan_mnist5k_28,
    cifar10,
    dcgan_digits,
    dcgan_mnist5k,
    digits,
    digits_smoke,
    fashion_mnist,
    grid25,
    mnist,
    mnist5k,
    r3gan_digits,
    ring8,
    smoke,
    sngan_digits,
    wgan_gp_cifar10,
    wgan_gp_digits,
    wgan_gp_mnist,
)

DIGITS_SMOKE = os.path.join(ROOT, "experiments", "configs", "digits_smoke.py")


def run_script(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_tensorboard(workdir):
    """Everything in the TFRecord event files of workdir: {tag: {step: value}}
    for scalars, {tag: {step: PNG bytes}} for images, {tag: text} for text."""
    from tensorboardX.proto import event_pb2

    scalars, images, texts = {}, {}, {}
    for name in sorted(os.listdir(workdir)):
        if not name.startswith("events.out.tfevents"):
            continue
        data = (workdir / name).read_bytes()
        pos = 0
        while pos < len(data):  # record: u64 length, u32 crc, payload, u32 crc
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            for value in event.summary.value:
                if value.HasField("image"):
                    images.setdefault(value.tag, {})[event.step] = (
                        value.image.encoded_image_string)
                elif value.metadata.plugin_data.plugin_name == "text":
                    texts[value.tag] = value.tensor.string_val[0].decode()
                else:
                    scalars.setdefault(value.tag, {})[event.step] = value.simple_value
    return scalars, images, texts


# The installed command, as pip's console-script entry point writes it.
COMMAND = os.path.join(os.path.dirname(sys.executable), "jaxgan-train")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    # The installed command, from a folder outside the checkout, with a
    # shipped config named rather than a path.
    workdir, elsewhere = tmp_path_factory.mktemp("smoke"), tmp_path_factory.mktemp("elsewhere")
    result = subprocess.run([COMMAND, "--config", "smoke", f"--workdir={workdir}",
                             "--config.num_seeds=2"], capture_output=True, text=True,
                            cwd=elsewhere, timeout=600)
    assert result.returncode == 0, result.stderr
    return workdir, result


def test_script_writes_every_file_of_the_training_contract(smoke_run):
    workdir, result = smoke_run
    config = json.loads((workdir / "config.json").read_text())
    assert config["num_seeds"] == 2 and config["dataset"] == "ring8"

    records = read_jsonl(workdir / "metrics.jsonl")
    assert [r["step"] for r in records] == [10, 20, 30, 40]
    for record in records:
        for key in ("d_loss", "g_loss", "steps_per_sec", "d_real_logit", "d_fake_logit"):
            assert np.isfinite(record[key]), key
    assert "modes_covered" in records[1] and "modes_covered" not in records[0]

    final = json.loads((workdir / "eval.json").read_text())
    assert final["step"] == 40 and final["num_seeds"] == 2
    for name in ("modes_covered", "high_quality_fraction", "reverse_kl"):
        per_seed = final[f"{name}_per_seed"]
        assert len(per_seed) == 2
        np.testing.assert_allclose(final[name], np.mean(per_seed))
        np.testing.assert_allclose(final[f"{name}_stderr"], np.std(per_seed, ddof=1) / np.sqrt(2))

    with np.load(workdir / "samples" / "final.npz") as npz:
        assert npz["images"].shape == (100, 2) and npz["images"].dtype == np.float32
        assert npz["images_per_seed"].shape == (2, 100, 2)
        np.testing.assert_array_equal(npz["images"], npz["images_per_seed"][0])
    for png in ("step_0000020.png", "step_0000040.png", "final.png", "losses.png"):
        with open(workdir / "samples" / png, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", png
    assert sorted(os.listdir(workdir / "checkpoints")) == ["20", "40"]
    # TensorBoard: the numbers grouped, the samples of every evaluation, the config.
    scalars, images, texts = read_tensorboard(workdir)
    assert scalars["train/g_loss"] == pytest.approx({r["step"]: r["g_loss"] for r in records},
                                                    rel=1e-6)
    assert scalars["eval/modes_covered"] == {20: records[1]["modes_covered"],
                                             40: records[3]["modes_covered"]}
    assert scalars["time/steps_per_sec"].keys() == {10, 20, 30, 40}
    assert scalars["time/compile_seconds"].keys() == {10}
    assert {tag.split("/")[0] for tag in scalars} == {"train", "eval", "time"}
    assert images["samples"].keys() == {20, 40}
    from PIL import Image
    for step, png in images["samples"].items():
        with Image.open(io.BytesIO(png)) as shown, \
                Image.open(workdir / "samples" / f"step_{step:07d}.png") as drawn:
            assert shown.size == drawn.size
            np.testing.assert_array_equal(np.asarray(shown), np.asarray(drawn.convert("RGB")))
    (config_text,) = texts.values()
    assert json.loads(config_text.strip("`\n")) == config
    assert f"results in {workdir}" in result.stdout


def test_interrupted_and_resumed_run_equals_uninterrupted_run(tmp_path):
    # With a generator moving average, which must be checkpointed for the
    # resumed samples (drawn from it) to match.
    common = [f"--config={SMOKE}", "--config.checkpoint_every=10", "--config.eval_every=40",
              "--config.ema_decay=0.9", "--config.ema_start=5"]
    straight = tmp_path / "straight"
    assert run_script(*common, f"--workdir={straight}").returncode == 0
    with np.load(straight / "samples" / "final.npz") as npz:
        reference = npz["images"]
    reference_log = {r["step"]: r for r in read_jsonl(straight / "metrics.jsonl")}

    # Stopped cleanly at step 20, then resumed to 40.
    resumed = tmp_path / "resumed"
    first = run_script(*common, f"--workdir={resumed}", "--config.num_steps=20")
    assert first.returncode == 0, first.stderr
    second = run_script(*common, f"--workdir={resumed}")
    assert second.returncode == 0, second.stderr
    with np.load(resumed / "samples" / "final.npz") as npz:
        np.testing.assert_array_equal(npz["images"], reference)
    logged = {r["step"]: r for r in read_jsonl(resumed / "metrics.jsonl")}
    assert sorted(logged) == [10, 20, 30, 40]
    for step in (30, 40):
        assert logged[step]["g_loss"] == reference_log[step]["g_loss"]

    # Killed after logging steps 30 and 40 but before their checkpoints were
    # kept: the rerun goes back to step 20, and no step is logged twice.
    for step in ("30", "40"):
        shutil.rmtree(straight / "checkpoints" / step)
    again = run_script(*common, f"--workdir={straight}")
    assert again.returncode == 0, again.stderr
    with np.load(straight / "samples" / "final.npz") as npz:
        np.testing.assert_array_equal(npz["images"], reference)
    assert [r["step"] for r in read_jsonl(straight / "metrics.jsonl")] == [10, 20, 30, 40]
    assert sorted(read_tensorboard(straight)[0]["train/g_loss"]) == [10, 20, 30, 40]


def test_resume_refuses_changed_training_fields(smoke_run):
    workdir, _ = smoke_run
    before = (workdir / "config.json").read_text()
    result = run_script(f"--config={SMOKE}", f"--workdir={workdir}", "--config.num_seeds=2",
                        "--config.num_steps=60", "--config.loss=hinge")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "trained with loss='non_saturating'" in lines[0], lines
    assert (workdir / "config.json").read_text() == before


def saved_smoke_config(**changes):
    config = smoke.get_config()
    saved = json.loads(json.dumps(config.to_dict()))
    saved.update(changes)
    return saved, config


def test_check_resumable_allows_logging_changes_and_longer_runs():
    saved, config = saved_smoke_config(num_steps=20, log_every=20, eval_every=10)
    config_lib.check_resumable(saved, config, start_step=20)


def test_a_checkpoint_from_before_a_field_existed_resumes_with_its_default():
    saved, config = saved_smoke_config()
    del saved["conditioning"]  # configs written before conditional GANs lack it
    config_lib.check_resumable(saved, config, start_step=20)
    config.conditioning = "projection"
    with pytest.raises(train.ConfigError, match="trained with conditioning='none'"):
        config_lib.check_resumable(saved, config, start_step=20)


def test_a_checkpoint_from_before_the_feistel_order_resumes_only_on_its_own_order():
    """Image runs saved before data_order existed read the whole-epoch
    permutation: resuming one with the new default is refused in one line, and
    asking for the old order resumes it on the data it would have read."""
    config = digits_smoke.get_config()
    saved = json.loads(json.dumps(config.to_dict()))
    del saved["data_order"]
    assert config.data_order == "feistel"
    with pytest.raises(train.ConfigError, match=re.escape(
            "trained with data_order='permutation', this config has data_order='feistel'")):
        config_lib.check_resumable(saved, config, start_step=8)
    config.data_order = "permutation"
    config_lib.check_resumable(saved, config, start_step=8)
    assert config_lib.build_source(config).shuffle == "permutation"
    # Mixtures are drawn from the key, in no order: the field is free there.
    saved, config = saved_smoke_config()
    config.data_order = "feistel"
    config_lib.check_resumable(saved, config, start_step=20)


@pytest.mark.parametrize("changes, start_step, expected", [
    ({"g_learning_rate": 5e-4}, 20, "trained with g_learning_rate=0.0005"),
    ({"g_features": [32, 32]}, 20, "trained with g_features=[32, 32]"),
    ({}, 60, "past num_steps=40"),
    ({}, 15, "resuming at step 15 needs a steps_per_dispatch that divides it"),
])
def test_check_resumable_refuses(changes, start_step, expected):
    saved, config = saved_smoke_config(**changes)
    with pytest.raises(train.ConfigError, match=re.escape(expected)):
        config_lib.check_resumable(saved, config, start_step)


def test_a_cosine_schedule_pins_num_steps():
    saved, config = saved_smoke_config(lr_schedule="cosine", num_steps=20)
    config.lr_schedule = "cosine"
    with pytest.raises(train.ConfigError, match="trained with num_steps=20"):
        config_lib.check_resumable(saved, config, start_step=20)


def test_incompatible_checkpoint_is_refused_and_nothing_is_overwritten(smoke_run):
    workdir, _ = smoke_run
    before = {name: (workdir / name).read_text()
              for name in ("config.json", "metrics.jsonl", "eval.json")}
    result = run_script(f"--config={SMOKE}", f"--workdir={workdir}", "--config.num_steps=60",
                        "--config.num_seeds=2", "--config.g_features=(32,32)")
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and "trained with g_features=[16, 16]" in message[0]
    for name, text in before.items():
        assert (workdir / name).read_text() == text, name
    assert sorted(os.listdir(workdir / "checkpoints")) == ["20", "40"]
    result = run_script(f"--config={SMOKE}", f"--workdir={workdir}", "--config.num_steps=60")
    assert result.returncode == 2 and "trained with num_seeds=2" in result.stderr


def test_checkpointer_names_the_first_leaf_whose_shape_differs(tmp_path):
    """The last line of defence, for a checkpoint written by other code."""
    import jax.numpy as jnp

    from jaxgan import checkpoint

    saved = {"g_params": {"kernel": jnp.zeros((2, 8, 16))}, "step": jnp.zeros((2,), jnp.int32)}
    checkpointer = checkpoint.Checkpointer(str(tmp_path), keep=1)
    checkpointer.save(5, saved, {"note": "test"})
    checkpointer.close()
    checkpointer = checkpoint.Checkpointer(str(tmp_path), keep=1)
    assert checkpointer.restore_config(5) == {"note": "test"}
    restored = checkpointer.restore(5, like=saved)
    np.testing.assert_array_equal(restored["g_params"]["kernel"], saved["g_params"]["kernel"])
    wider = {"g_params": {"kernel": jnp.zeros((2, 8, 32))}, "step": jnp.zeros((2,), jnp.int32)}
    with pytest.raises(checkpoint.CheckpointMismatchError,
                       match=re.escape("g_params/kernel: saved (2, 8, 16) float32, "
                                       "config builds (2, 8, 32) float32")):
        checkpointer.restore(5, like=wider)
    with pytest.raises(checkpoint.CheckpointMismatchError, match="bias is missing"):
        checkpointer.restore(5, like={**saved, "bias": jnp.zeros(3)})
    checkpointer.close()


@pytest.mark.parametrize("args, expected", [
    (["--config.dataset=svhn"], "unknown dataset 'svhn'"),
    (["--config.model=dcgan"], "dataset 'ring8' is 2D points; it needs model='mlp'"),
    (["--config.dataset=npz:/no/such.npz", "--config.image_size=8"], "no such file: /no/such.npz"),
    (["--config.dataset=npz:tests/data/two_images.npz", "--config.image_size=8"],
     "two_images.npz has 2 examples but a step reads batch_size * n_disc = 32"),
    (["--config.bogus=1"], "the config has no field 'bogus'"),
    (["--config.batch_size=abc"], "batch_size"),
    (["--config=experiments/configs/no_such.py"],
     "cannot load the config file experiments/configs/no_such.py: no such file"),
    (["--config=no_such"], "--config: no shipped config 'no_such'; shipped: celeb_a64, "),
    (["--config.batch_size=1000000000"], "this run needs at least 373 GiB"),
    (["--config.batch_sizee=3"],
     "the config has no field 'batch_sizee' (Did you mean \"batch_size\" instead of"),
    ([f"--config={SMOKE}:foo"],
     "TypeError: get_config() takes 0 positional arguments but 1 was given; fix the file"),
    (["--config.num_steps=35"], "not a multiple of config.steps_per_dispatch"),
    (["--config.on_nan=retry"], "on_nan must be one of stop, rollback"),
    (["--config.conditioning=film"], "conditioning must be one of none, concat, projection"),
    (["--config.loss=wgan"], "unknown loss 'wgan'"),
    (["--config.g_learning_rate=-0.1"], "config.g_learning_rate must be a positive number"),
    (["--config.batch_size=0"], "config.batch_size must be a positive integer"),
    (["--config.adam_b1=1.5"], "config.adam_b1 must be in [0, 1)"),
    (["--config.loss=wasserstein", "--config.real_label=0.9"], "label smoothing"),
    (["--config.parallel=tpu"], "parallel must be one of none, pmap, jit"),
    (["--config.d_penalty=r3"], "unknown d_penalty 'r3'"),
    ([f"--config={DIGITS_SMOKE}", "--config.image_size=30"],
     "config.image_size: DCGANGenerator resolution must be one of 28, 32, 64"),
    ([f"--config={DIGITS_SMOKE}", "--config.d_penalty=r1"],
     "config.d_penalty='r1' with d_normalization='batch': the discriminator has BatchNorm"),
    ([f"--config={DIGITS_SMOKE}", "--config.augment_target=0.6"],
     "config.augment_target=0.6 steers augmentation, and config.augment is 'none'"),
    ([f"--config={DIGITS_SMOKE}", "--config.augment=translation", "--config.augment_target=1.5"],
     "config.augment_target: the adaptive augmentation target must be in [0, 1)"),
    ([f"--config={DIGITS_SMOKE}", "--config.conditioning=concat",
      "--config.num_eval_samples=5"], "cannot ask for each of the 10 classes"),
    ([f"--config={DIGITS_SMOKE}", "--config.dataset=npz:tests/data/not_an_npz.npz"],
     "not_an_npz.npz"),
])
def test_bad_input_exits_2_with_one_line(args, expected, tmp_path):
    """Each kind of bad config or data: one line naming it, exit code 2, nothing written."""
    config = [] if any(arg.startswith("--config=") for arg in args) else [f"--config={SMOKE}"]
    result = run_script(*config, f"--workdir={tmp_path / 'w'}", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert not os.path.exists(tmp_path / "w" / "config.json")


BROKEN_CONFIGS = {
    "syntax": ("def get_config(:\n    pass\n", "broken.py:1: SyntaxError: invalid syntax"),
    "raises": ("def get_config():\n    raise RuntimeError('boom')\n",
               "broken.py:2: RuntimeError: boom; fix the file"),
    "returns_none": ("def get_config():\n    return None\n",
                     "get_config() returned None; return an ml_collections.ConfigDict"),
    "returns_dict": ("def get_config():\n    return {'num_steps': 3}\n",
                     "a config is an ml_collections.ConfigDict, not dict"),
    "lacks_fields": ("import ml_collections\ndef get_config():\n"
                     "    return ml_collections.ConfigDict({'num_steps': 3})\n",
                     "the config has no field 'dataset', which every config needs"),
    "no_get_config": ("x = 1\n", "broken.py defines no get_config()"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN_CONFIGS))
def test_a_broken_config_file_exits_2_with_one_line_naming_it(kind, tmp_path):
    text, expected = BROKEN_CONFIGS[kind]
    path = tmp_path / "broken.py"
    path.write_text(text)
    result = run_script(f"--config={path}", f"--workdir={tmp_path / 'w'}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert not os.path.exists(tmp_path / "w")


@pytest.mark.parametrize("make, expected", [
    (lambda w: w.write_text(""), "the workdir {w} is a file, not a folder"),
    (lambda w: (w / "checkpoints").write_text("") if w.mkdir() is None else None,
     "{w}/checkpoints is a file where the run keeps a folder"),
    (lambda w: (w / "metrics.jsonl").mkdir(parents=True),
     "{w}/metrics.jsonl is a folder where the run writes a file"),
])
def test_a_workdir_whose_outputs_cannot_be_written_is_refused_before_work(
        make, expected, tmp_path):
    workdir = tmp_path / "w"
    make(workdir)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    result = run_script(f"--config={SMOKE}", f"--workdir={workdir}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected.format(w=workdir) in lines[0], result.stderr
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_an_unwritable_classifier_dir_is_refused_before_anything_is_compiled(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = run_script(f"--config={DIGITS_SMOKE}", f"--workdir={tmp_path / 'w'}",
                        f"--config.classifier_dir={blocker / 'cache'}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write the classifier cache classifier_dir=" in lines[0], (
        result.stderr)
    assert not (tmp_path / "w").exists()


def test_bad_override_of_the_default_config_exits_2_with_one_line():
    # Without --config, config_flags applies overrides while defining the flag.
    result = run_script("--config.bogus=1")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["error: the config has no field 'bogus'; check the name against the "
                     "config file (--config), or list the fields with --help"], result.stderr


@pytest.mark.parametrize("args", [["--help"], ["-h", "--config=smoke"],
                                  [f"--config={SMOKE}", "--help", "--config.num_steps=20"]])
def test_help_exits_0_and_lists_every_field_with_its_value_and_comment(args):
    result = run_script(*args)
    assert result.returncode == 0, result.stderr
    default = not any(arg.startswith("--config=") for arg in args)
    config = (digits if default else smoke).get_config()
    if "--config.num_steps=20" in args:
        config.num_steps = 20
    text = result.stdout
    for field, value in config.items():
        assert f"\n  {field} = {value!r}\n" in text, field
    assert text.count(" = ") == len(config)
    # Comments come from the file that first sets the field; a variant adds its reason.
    words = " ".join(text.split())  # as wrapped for the terminal
    assert "real examples per discriminator update (global)" in words
    if default:
        assert "[digits: about 10 minutes on 2 CPU cores]" in words
    else:
        assert "size of z ~ N(0, I)" in words  # ring8's comment on latent_dim
    for name in ("digits", "smoke", "mnist5k", "cgan_digits"):
        assert name in text.split("shipped configs")[1].split("config fields")[0]


@pytest.mark.parametrize("field, value, expected", [
    ("batch_size", 0, "batch_size must be a positive integer"),
    ("num_seeds", -1, "num_seeds must be a positive integer"),
    ("n_disc", 0, "config.n_disc: n_disc must be an integer >= 1"),
    ("latent_dim", -2, "config.latent_dim: latent_dim must be an integer >= 1"),
    ("ema_decay", 1.0, "config.ema_decay: ema_decay must be in [0, 1)"),
    ("g_learning_rate", 0.0, "g_learning_rate must be a positive number"),
    ("d_learning_rate", float("nan"), "d_learning_rate must be a positive number"),
    ("adam_b1", 1.0, "adam_b1 must be in [0, 1)"),
    ("real_label", 0.0, "config.real_label: real_label must be in (0, 1]"),
    ("loss", "bce", "config.loss: unknown loss 'bce'"),
    ("model", "resnet", "unknown model 'resnet'"),
    ("parallel", "tpu", "parallel must be one of"),
    ("d_penalty", "r3", "unknown d_penalty 'r3'"),
    ("lr_schedule", "step", "unknown lr_schedule 'step'"),
    ("d_penalty_weight", -1.0, "config.d_penalty_weight: penalty_weight must be a number >= 0"),
    ("d_penalty_weight", float("inf"), "config.d_penalty_weight: penalty_weight must be finite"),
    ("g_features", (), "config.g_features: MLPGenerator features must be a non-empty list"),
    ("log_every", 15, "log_every=15 is not a multiple"),
    ("dataset", "folder", "unknown dataset 'folder'"),
    ("compute_dtype", "float16", "config.compute_dtype must be one of float32, bfloat16"),
    ("conv_impl", "cudnn", "config.conv_impl must be one of auto, conv, subpixel, xla"),
    ("augment", "translation", "config.augment='translation' transforms images, and 'ring8'"),
    ("g_native_size", 8, "config.g_native_size=8 is an option of the DCGAN generator and "
     "model='mlp'"),
    ("body_size", 32, "config.body_size=32 is an option of the DCGAN networks and model='mlp'"),
    ("d_pack", 2, "config.d_pack=2 packs the DCGAN discriminator's inputs and model='mlp'"),
])
def test_validate_config_names_the_field(field, value, expected):
    config = smoke.get_config()
    with config.unlocked():
        config[field] = value
    with pytest.raises(train.ConfigError) as info:
        config_lib.validate_config(config)
    assert expected in str(info.value)


def test_augment_wraps_the_discriminator():
    config = digits_smoke.get_config()
    config.augment = "translation,cutout"
    recipe = config_lib.build_recipe(config, (28, 28, 1))
    assert recipe.discriminator.policy == "translation,cutout"
    assert recipe.discriminator.discriminator.resolution == 28


def test_compute_dtype_and_conv_impl_reach_the_recipe_and_its_modules():
    config = digits_smoke.get_config()
    config.compute_dtype = "bfloat16"
    recipe = config_lib.build_recipe(config, (28, 28, 1))
    assert recipe.compute_dtype == jnp.bfloat16
    assert recipe.generator.dtype == recipe.discriminator.dtype == jnp.bfloat16
    config.compute_dtype = "float32"
    recipe = config_lib.build_recipe(config, (28, 28, 1))
    assert recipe.compute_dtype is None and recipe.generator.dtype is None
    assert recipe.generator.impl == recipe.discriminator.impl == "auto"
    config.conv_impl = "xla"
    recipe = config_lib.build_recipe(config, (28, 28, 1))
    assert recipe.generator.impl == recipe.discriminator.impl == "xla"


def test_d_pack_reaches_the_discriminator_and_refuses_what_reads_one_example():
    config = digits_smoke.get_config()
    config.d_pack = 2
    assert config_lib.build_recipe(config, (28, 28, 1)).discriminator.pack == 2
    config.d_normalization, config.d_penalty, config.d_penalty_weight = "none", "r1", 1.0
    with pytest.raises(train.ConfigError, match=re.escape(
            "config.d_pack=2 scores several examples per logit and d_penalty='r1' scores each "
            "example's own gradient; set d_pack=1 or d_penalty='none'")):
        config_lib.validate_config(config)
    config.d_penalty, config.d_penalty_weight = "none", 0.0
    config.conditioning = "projection"
    with pytest.raises(train.ConfigError, match="config.d_pack: DCGANDiscriminator pack=2 "
                                                "scores several examples per logit"):
        config_lib.validate_config(config)


def test_label_smoothing_needs_a_bce_loss():
    config = smoke.get_config()
    config.loss, config.real_label = "hinge", 0.9
    with pytest.raises(train.ConfigError,
                       match=r"config.real_label: label smoothing .* only to BCE losses"):
        config_lib.validate_config(config)


@pytest.mark.parametrize("field, value, expected", [
    ("image_size", 48, "config.image_size: DCGANGenerator resolution must be one of 28, 32, 64"),
    ("g_width", 0, "config.g_width: DCGANGenerator width must be a positive integer"),
    ("data_placement", "disk", "data_placement must be one of auto, device, host"),
    ("classifier_steps", -5, "classifier_steps must be an integer >= 0"),
    ("d_normalization", "group",
     "config.d_normalization: normalization must be one of batch, none, layer, instance"),
    ("d_penalty", "gradient_penalty",
     "config.d_penalty='gradient_penalty' with d_normalization='batch': the discriminator has "
     "BatchNorm"),
    ("augment", "colour", "config.augment: augmentation policy 'colour' must be a"),
    ("data_order", "random", "config.data_order must be one of feistel, permutation, got "
     "'random'"),
    # A cosine schedule's length counts n_disc: the recipe's check comes first.
    ("n_disc", 0, "config.n_disc: n_disc must be an integer >= 1, got 0"),
    ("g_native_size", 16, "config.g_native_size: DCGANGenerator native_resolution must be 0 "
     "(off) or a side smaller than 28 that divides it, got 16"),
    ("body_size", 30, "config.image_size, config.body_size: DCGANGenerator body_resolution must "
     "be 0 (the resolution's own layers) or one of 28, 32, 64 larger than the resolution 28, "
     "got 30"),
    ("d_pack", 0, "config.d_pack must be a positive integer (1: no packing), got 0"),
    ("d_pack", True, "config.d_pack must be a positive integer (1: no packing), got True"),
    ("d_pack", 100, "config.d_pack=100 packs each example with the 99 after it, and a batch "
     "holds"),
])
def test_validate_image_config_names_the_field(field, value, expected):
    config = digits_smoke.get_config()
    config[field] = value
    with pytest.raises(train.ConfigError, match=re.escape(expected)):
        config_lib.validate_config(config)


def test_native_detail_finer_than_the_data_is_refused_and_the_default_uses_the_digits():
    config = digits.get_config()
    assert (config.dataset, config.g_native_size) == ("digits", 8)  # the data's own side
    config.dataset = "mnist5k"  # drawn at 28x28: an 8x8 output would blur every digit
    with pytest.raises(train.ConfigError, match=re.escape(
            "config.g_native_size=8 would blur 'mnist5k', whose images are drawn at 28x28; "
            "set g_native_size=0")):
        config_lib.validate_config(config)


@pytest.mark.parametrize("module", [ring8, grid25, smoke, digits, digits_smoke, mnist, mnist5k,
                                    fashion_mnist, cifar10, celeb_a64, wgan_gp_digits,
                                    wgan_gp_mnist, wgan_gp_cifar10, cgan_digits, cgan_mnist,
                                    cgan_mnist5k, cgan_mnist5k_28, sngan_digits, r3gan_digits,
                                    dcgan_digits, dcgan_mnist5k])
def test_shipped_configs_are_valid(module):
    config_lib.validate_config(module.get_config())


def test_body_size_reaches_both_networks_of_the_28x28_conditional_gan():
    """cgan_mnist5k_28's networks are the 32x32 ones (the same parameters),
    drawing and reading 28x28 images."""
    import jax
    import jax.numpy as jnp

    def shapes(config):
        recipe = config_lib.build_recipe(config, (config.image_size, config.image_size, 1),
                                         classes=10)
        z, labels = jnp.zeros((2, config.latent_dim)), jnp.zeros((2,), jnp.int32)
        images = jnp.zeros((2, config.image_size, config.image_size, 1))
        key = jax.random.PRNGKey(0)
        nets = [jax.eval_shape(lambda: recipe.generator.init(key, z, labels, train=False)),
                jax.eval_shape(lambda: recipe.discriminator.init(key, images, labels,
                                                                 train=False))]
        out = jax.eval_shape(lambda v: recipe.generator.apply(v, z, labels, train=False),
                             nets[0])
        return jax.tree.map(jnp.shape, nets), out.shape

    body, drawn = shapes(cgan_mnist5k_28.get_config())
    assert drawn == (2, 28, 28, 1)
    assert body == shapes(cgan_mnist5k.get_config())[0]                  # the 32x32 networks
    plain = cgan_mnist5k_28.get_config()
    plain.body_size = 0
    assert shapes(plain)[0][1] != body[1]                               # not 28x28's own


def test_default_experiment_is_dcgan_on_the_bundled_digits():
    from jaxgan.cli import train as command

    assert command.DEFAULT_CONFIG == jaxgan_configs.path("digits") == digits.__file__
    config = digits.get_config()
    assert (config.dataset, config.model) == ("digits", "dcgan")


@pytest.fixture(scope="module")
def digits_runs(tmp_path_factory):
    """The DCGAN smoke run twice: dataset on the device, and streamed from the host."""
    runs = {}
    for placement in ("device", "host"):
        workdir = tmp_path_factory.mktemp(f"digits_{placement}")
        result = run_script(f"--config={DIGITS_SMOKE}", f"--workdir={workdir}",
                            f"--config.data_placement={placement}")
        assert result.returncode == 0, result.stderr
        runs[placement] = workdir, result
    return runs


def test_image_run_writes_grids_samples_and_classifier_scores(digits_runs):
    workdir, result = digits_runs["device"]
    config = digits_smoke.get_config()
    with np.load(workdir / "samples" / "final.npz") as final:
        images = final["images"]
    assert images.shape == (config.num_final_samples, 28, 28, 1)
    assert images.dtype == np.float32 and images.min() >= -1 and images.max() <= 1
    assert images.std() > 0  # not a blank canvas
    for name in ("step_0000004.png", "step_0000008.png", "final.png", "losses.png"):
        assert (workdir / "samples" / name).stat().st_size > 1000, name
    final = json.loads((workdir / "eval.json").read_text())
    for name in ("confident_fraction", "classes_covered", "class_kl", "classifier_accuracy",
                 "real_confident_fraction"):
        assert final[name] >= 0 and np.isfinite(final[name]), name
    assert 1 <= final["classes_covered"] <= 10
    assert "confident_fraction" in result.stdout


def test_streaming_from_the_host_trains_exactly_like_the_device_resident_data(digits_runs):
    finals = []
    for placement in ("device", "host"):
        with np.load(digits_runs[placement][0] / "samples" / "final.npz") as final:
            finals.append(final["images"])
    np.testing.assert_array_equal(finals[0], finals[1])


def test_wgan_gp_image_run_logs_the_wasserstein_estimate_and_gradient_norms(tmp_path):
    config = wgan_gp_digits.wgan_gp(digits_smoke.get_config())
    config.classifier_steps = 0
    train.train_and_evaluate(config, str(tmp_path))
    records = read_jsonl(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in records] == [4, 8]
    for record in records:
        for name in ("d_wasserstein", "d_grad_norm", "d_grad_norm_max", "d_penalty"):
            assert np.isfinite(record[name]), (name, record)
        assert record["d_grad_norm_max"] >= record["d_grad_norm"] > 0
        # the Wasserstein critic loss is minus the estimate
        np.testing.assert_allclose(record["d_loss"], -record["d_wasserstein"], rtol=1e-5)
