"""The throughput benchmark: PyTorch parity, one compilation per step, the CLI.

The parity tests need PyTorch (``pip install -e '.[bench]'``, which CI does)
and skip without it; the compilation tests need only jaxgan.
"""

import collections
import dataclasses
import importlib.util
import json
import logging
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import train
from jaxgan.state import create_state, generate_from
from jaxgan.step import make_multi_step, make_sampling_step, make_train_step

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from jaxgan.bench import throughput  # noqa: E402
from jaxgan.configs import smoke  # noqa: E402
from jaxgan.models.layers import compiler_options  # noqa: E402

# Small members of each benchmark family: the same code paths, seconds to compile.
SMALL = {
    "dcgan64": throughput.ModelSpec("dcgan", (64, 64, 3), 16, width=4),
    "dcgan28": throughput.ModelSpec("dcgan", (28, 28, 1), 16, width=8),
    "ring": throughput.ModelSpec("mlp", (2,), 2, features=(32, 32)),
    "wgan_gp": throughput.ModelSpec("dcgan", (32, 32, 3), 16, width=8, loss="wasserstein",
                                    n_disc=2, penalty_weight=10.0, normalization="layer",
                                    adam=(1e-4, 0.0, 0.9)),
}


@pytest.fixture(scope="module")
def torch():
    module = pytest.importorskip("torch", reason="the parity tests need pip install -e '.[bench]'")
    module.set_num_threads(2)
    return module


@pytest.mark.parametrize("name", ["dcgan64", "dcgan28", "ring"])
def test_copied_weights_give_pytorchs_generator_the_same_function(name, torch):
    spec = SMALL[name]
    recipe = throughput.jax_recipe(spec)
    state = create_state(recipe, jax.random.PRNGKey(0), spec.example_shape)
    gan = throughput.torch_gan(spec, state, tuned=False)
    z = np.random.default_rng(1).normal(size=(4, spec.latent_dim)).astype(np.float32)
    mine = np.asarray(generate_from(recipe, state, jnp.asarray(z)))
    with torch.no_grad():
        theirs = gan.G.eval()(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(throughput.to_torch_layout(spec, mine), theirs, atol=1e-5)
    # And the discriminators on those images.
    logits = recipe.discriminator.apply({"params": state.d_params,
                                         "batch_stats": state.d_batch_stats},
                                        jnp.asarray(mine), train=False)
    with torch.no_grad():
        torch_logits = gan.D.eval()(torch.from_numpy(theirs)).numpy()
    np.testing.assert_allclose(np.asarray(logits), torch_logits, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("tuned", [False, True], ids=["example", "tuned"])
@pytest.mark.parametrize("name", ["dcgan64", "dcgan28", "ring", "wgan_gp"])
def test_both_frameworks_train_alike_from_the_same_weights_batch_and_noise(name, tuned, torch):
    rows = throughput.parity(SMALL[name], 8, steps=3, tuned=tuned)
    # Step 1 is one float rounding apart; Adam's early, nearly sign-like updates
    # then amplify rounding, so later steps get a looser bound.
    assert throughput.parity_error(rows[:1]) < 1e-4, rows[0]
    assert throughput.parity_error(rows) < 1e-2, rows
    # The losses move, so agreeing is not agreeing on a constant.
    assert rows[0]["jax_g_loss"] != rows[-1]["jax_g_loss"]


def test_parity_catches_a_wrongly_copied_weight(torch):
    spec = SMALL["dcgan28"]
    original = throughput.torch_gan

    def one_weight_off(*args, **kwargs):
        gan = original(*args, **kwargs)
        with torch.no_grad():
            gan.D[0].weight[0, 0, 1, 2] += 0.05  # one tap of one filter
        return gan

    throughput.torch_gan = one_weight_off
    try:
        rows = throughput.parity(spec, 8, steps=1)
    finally:
        throughput.torch_gan = original
    assert throughput.parity_error(rows) > 1e-3, rows


def test_benchmark_writes_the_contracts_json(tmp_path, torch, monkeypatch):
    monkeypatch.setitem(throughput.SPECS, "ring", SMALL["ring"])
    path = tmp_path / "out" / "ring.json"
    code = throughput.main(["--model", "ring", "--batch-size", "16", "--steps", "4",
                            "--scan-steps", "2", "--repeats", "2", "--parity-steps", "2",
                            "--frameworks", "jax,torch/eager_example,torch/eager_tuned",
                            "--json", str(path), "--markdown", str(tmp_path / "ring.md")])
    assert code == 0
    report = json.loads(path.read_text())
    # the Markdown file names the command and the machine above its table
    lines = (tmp_path / "ring.md").read_text().splitlines()
    assert lines[0] == f"`{report['command']}`" and "--markdown" in lines[0]
    assert lines[2].startswith(report["machine"]["processor"])
    assert f"torch {report['machine']['torch']}" in lines[2]
    assert lines[4].startswith("| framework/variant |")
    assert report["machine"]["torch"] and report["machine"]["jax"]
    variants = [(r["framework"], r["variant"]) for r in report["results"]]
    assert variants == [("jax", "jit"), ("jax", "scan"), ("torch", "eager_example"),
                        ("torch", "eager_tuned")]
    for r in report["results"]:
        assert r["model"] == "ring" and r["batch_size"] == 16
        # jaxgan's step compiles as the fit loop compiles it
        assert r.get("xla_options") == (compiler_options() if r["framework"] == "jax" else None)
        assert len(r["ms_per_step_blocks"]) == 2 and r["ms_per_step"] > 0
        assert r["images_per_sec"] == pytest.approx(16_000 / r["ms_per_step"])
    assert set(report["speedups"]) == {f"jax/{j} vs torch/{t}" for j in ("jit", "scan")
                                       for t in ("eager_example", "eager_tuned")}
    assert set(report["speedups_per_round"]) == set(report["speedups"])
    assert len(report["parity"]) == 2


def test_per_round_speedups_compare_the_blocks_run_side_by_side():
    """Round i's ratio is torch's i-th block over jax's i-th block; the spread,
    the median and the rounds where jax was as fast or faster follow from them."""
    # Per round: 18/10, 12/20, 8/8. Pairing the blocks in sorted order instead
    # would give 8/8, 12/10, 18/20.
    results = [{"framework": "jax", "variant": "scan", "ms_per_step_blocks": [10.0, 20.0, 8.0]},
               {"framework": "torch", "variant": "eager_tuned",
                "ms_per_step_blocks": [18.0, 12.0, 8.0]}]
    spread = throughput.round_speedups(results)
    assert list(spread) == ["jax/scan vs torch/eager_tuned"]
    r = spread["jax/scan vs torch/eager_tuned"]
    assert r == pytest.approx({"min": 0.6, "median": 1.0, "max": 1.8, "rounds_ahead": 2,
                               "rounds": 3})
    line = throughput.table({"results": [], "speedups": {"jax/scan vs torch/eager_tuned": 1.1},
                             "speedups_per_round": spread})
    assert "1.10x (per round 0.60-1.80x, as fast or faster in 2 of 3)" in line
    # a stored report from before the field: the plain ratio only
    assert throughput.table({"results": [], "speedups": {"jax/scan vs torch/eager_tuned": 1.1}}
                            ).endswith("- jax/scan vs torch/eager_tuned: 1.10x")
    results[1]["ms_per_step_blocks"].append(9.0)
    with pytest.raises(ValueError, match="3 against 4 blocks"):
        throughput.round_speedups(results)


def test_the_markdown_header_leaves_out_a_torch_that_did_not_run():
    report = {"command": "jaxgan-bench --frameworks jax",
              "machine": {"processor": "CPU X", "cpu_threads": 2, "jax": "0.10.2",
                          "jax_backend": "cpu", "torch": "2.13.0+cpu"},
              "results": [], "speedups": {}}
    assert throughput.markdown(report).splitlines()[:3] == [
        "`jaxgan-bench --frameworks jax`", "", "CPU X, 2 CPU threads, jax 0.10.2 on cpu."]


def test_the_data_variant_draws_each_step_from_the_dataset_on_the_device(monkeypatch, tmp_path):
    """jax/scan_data, only when named: the fit loop's program, the batch drawn
    inside the scan from --dataset_size images held on the device."""
    runner = throughput.JaxRunner(SMALL["dcgan28"], 8, "scan_data", 2, dataset_size=40)
    assert runner.batch["images"].shape == (40, 28, 28, 1)
    assert runner.batch["images"].dtype == jnp.uint8
    runner.block(4)
    assert int(runner.state.step) == 4
    monkeypatch.setitem(throughput.SPECS, "dcgan28", SMALL["dcgan28"])
    path = tmp_path / "data.json"
    assert throughput.main(["--model", "dcgan28", "--batch_size", "8", "--steps", "2",
                            "--scan_steps", "2", "--repeats", "1", "--frameworks",
                            "jax/scan_data", "--dataset_size", "40", "--xla_options", "default",
                            "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert report["dataset_size"] == 40
    assert report["results"][0]["xla_options"] == {}  # XLA's defaults, as asked
    assert [(r["framework"], r["variant"]) for r in report["results"]] == [("jax", "scan_data")]
    # A bare "jax" keeps meaning jit and scan, as in the recorded commands.
    assert throughput.parse_frameworks("jax", "dcgan28") == [("jax", "jit"), ("jax", "scan")]


def test_bfloat16_and_the_convolution_choice_reach_both_frameworks(torch):
    spec = dataclasses.replace(SMALL["dcgan28"], compute_dtype="bfloat16", conv_impl="xla")
    recipe = throughput.jax_recipe(spec)
    assert recipe.compute_dtype == jnp.bfloat16
    assert recipe.generator.dtype == recipe.discriminator.dtype == jnp.bfloat16
    assert recipe.generator.impl == recipe.discriminator.impl == "xla"
    state = create_state(recipe, jax.random.PRNGKey(0), spec.example_shape)
    gan = throughput.torch_gan(spec, state, tuned=True)
    seen = []
    handle = gan.D.register_forward_hook(lambda module, inputs, out: seen.append(out.dtype))
    real = torch.from_numpy(throughput.to_torch_layout(spec, throughput.real_batch(spec, 4)))
    gan.step(real)
    handle.remove()
    assert seen and set(seen) == {torch.bfloat16}     # autocast's forward passes
    assert {p.dtype for p in gan.D.parameters()} == {torch.float32}
    # Parity is float32 whatever the spec says: the rounding of bfloat16 is
    # not a disagreement between the frameworks.
    rows = throughput.parity(spec, 4, steps=1)
    assert throughput.parity_error(rows) < 1e-4, rows


@pytest.mark.slow
def test_the_gpu_suite_runs_every_stage_at_toy_size_on_cpu(tmp_path, torch):
    """benchmarks/gpu_suite.sh --dry-run: the stages of the GPU run (install
    check, machine record, parity, the table in float32 and bfloat16, both
    convolution implementations, the larger batches) on a toy DCGAN."""
    import subprocess

    script = os.path.join(ROOT, "benchmarks", "gpu_suite.sh")
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run(["bash", script, "--dry-run", "--out", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=1000)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "dryrun_dcgan64.json").read_text())
    assert report["failed"] == []
    runs = report["runs"]
    assert set(runs) == {"b2_float32", "b2_bfloat16", "b2_float32_conv", "b4_float32",
                         "b4_bfloat16"}
    variants = {name: [(r["framework"], r["variant"]) for r in run["results"]]
                for name, run in runs.items()}
    table = [("jax", "jit"), ("jax", "scan"), ("torch", "eager_example"),
             ("torch", "eager_tuned")]
    assert variants["b2_float32"] == variants["b2_bfloat16"] == table
    assert variants["b2_float32_conv"] == table[:2]
    assert variants["b4_float32"] == variants["b4_bfloat16"] == [("jax", "scan")]
    for name, run in runs.items():
        dtype = "bfloat16" if "bfloat16" in name else "float32"
        assert {r["compute_dtype"] for r in run["results"]} == {dtype}, name
        assert "xla_flags" in run["machine"]
    # The parity check ran before each table, and in float32.
    assert len(runs["b2_bfloat16"]["parity"]) == 1
    assert throughput.parity_error(runs["b2_bfloat16"]["parity"]) < 1e-4
    assert {r["conv_impl_resolved"] for r in runs["b2_float32_conv"]["results"]} == {"conv"}
    assert (tmp_path / "dryrun_suite.log").read_text().count(": done") == 5
    bad = subprocess.run(["bash", script, "--fast"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown argument --fast" in bad.stderr


@pytest.mark.parametrize("argv,message", [
    (["--model", "resnet"], "unknown --model 'resnet'"),
    (["--model", "ring", "--frameworks", "jax/scan_data"], "'ring' is not an image model"),
    (["--frameworks", "jax/scan_data", "--dataset_size", "10"],
     "--dataset_size must hold a step's batch_size * n_disc = 64 images"),
    (["--frameworks", "jax/pmap"], "unknown jax variant 'pmap'"),
    # The underscore spelling, and the hyphenated one of recorded commands.
    (["--steps", "5", "--scan_steps", "2"], "--steps=5 must be a multiple of --scan_steps=2"),
    (["--loop-config", "no/such/config.py"], "is not a file"),
    (["--loop_config", "x.py", "--xla_options", "default"], "drop --xla_options default"),
    (["--model", "wgan_gp", "--frameworks", "torch/compile"], "needs a double backward"),
    (["--parity-steps", "0"], "--parity_steps must be >= 1"),
])
def test_benchmark_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    assert throughput.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_loop_overhead_compares_the_fit_loop_with_its_own_program():
    smoke_path = os.path.join(ROOT, "experiments", "configs", "smoke.py")
    loop = throughput.loop_overhead(smoke_path, intervals=2)
    assert len(loop["loop_ms_blocks"]) == 2 and len(loop["bare_ms_blocks"]) == 4
    assert loop["loop_ms_per_step"] > 0 and loop["bare_ms_per_step"] > 0
    assert loop["loop_overhead"] == pytest.approx(
        loop["loop_ms_per_step"] / loop["bare_ms_per_step"] - 1)
    with pytest.raises(throughput.UsageError, match="unconditional config"):
        throughput.loop_overhead(os.path.join(ROOT, "experiments", "configs", "cgan_digits.py"))


def test_ring_floor_counts_the_steps_products_and_reports_their_rate(tmp_path):
    """benchmarks/ring_floor.py backs the ring goal's analysis: XLA's FLOP count
    of the ring step at batch 64 must be its 24 large products (14 in the
    discriminator update, 10 in the generator's: counted by hand in
    benchmarks/results/README.md) plus what the rest costs, 6.4% more; one
    product computed twice would add 4.2% and fail the bound."""
    ring_floor = _script("ring_floor")
    out = tmp_path / "floor.json"
    assert ring_floor.main(["--steps", "2", "--repeats", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    large = 24 * 2 * 64 * 128 * 128
    assert large <= report["step_flops"] < 1.09 * large
    assert report["product_shape"] == [64, 128, 128]
    assert report["product_us_chained"] > 0 and report["product_us_four_apart"] > 0
    # The SGD twin really drops Adam: the same products, less elementwise work.
    assert large <= report["step_flops_with_sgd"] < report["step_flops"]
    assert report["step_ms"] > 0 and report["step_ms_with_sgd"] > 0
    assert ring_floor.main(["--steps", "0"]) == 2
    # PyTorch's kernel on the same shape (bench extra, installed in CI): no
    # core of this kind does 2.1 MFLOP in under 2.1 us (1 TFLOP/s), so a
    # smaller figure would mean calls went untimed.
    if importlib.util.find_spec("torch") is not None:
        for key in ("torch_product_us_one_thread", "torch_product_us_all_threads"):
            assert 2 * 64 * 128 * 128 / 1e12 * 1e6 < report[key] < 1e4
    else:
        assert "torch_product_us_one_thread" not in report


def _script(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "benchmarks",
                                                                     f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_data_order_times_the_fit_loop_on_the_configs_images_tiled_to_each_size(monkeypatch):
    """benchmarks/data_order.py --fit_config: each run's dataset is the config's
    own images repeated to the size asked for (the fit loop itself is stubbed
    here: it reports back the size it was given; test_loop_overhead runs it)."""
    from jaxgan import config as config_lib

    data_order = _script("data_order")
    seen = []

    def fake_short_fit(config, intervals):
        with np.load(config.dataset.removeprefix("npz:")) as archive:
            seen.append(archive["images"])
        return [float(len(seen[-1]))] * intervals

    monkeypatch.setattr(throughput, "short_fit", fake_short_fit)
    config_path = os.path.join(ROOT, "experiments", "configs", "digits_smoke.py")
    images = data_order.fit_images(config_path, [50, 4000])
    fit = data_order.fit_at_sizes(config_path, images, [50, 4000], rounds=2, intervals=3)
    original = config_lib.build_source(throughput.config_from_file(config_path)).images
    assert [len(images) for images in seen] == [50, 4000, 50, 4000]
    np.testing.assert_array_equal(seen[1][:len(original)], original)
    np.testing.assert_array_equal(seen[1][len(original):2 * len(original)], original)
    np.testing.assert_array_equal(seen[0], original[:50])
    assert fit["ms_per_step"] == {"50": 50.0, "4000": 4000.0}
    assert len(fit["ms_blocks"]["50"]) == 6 and fit["largest_over_smallest"] == 80.0


@pytest.mark.parametrize("argv, message", [
    (["--fit_sizes", "ten"], "--fit_sizes must be positive integers"),
    (["--fit_rounds", "3"], "--fit_rounds without --fit_config"),
    (["--fit_config", "no/such.py"], "'no/such.py' is not a file"),
    (["--fit_config", "experiments/configs/ring8.py"], "is not one array of images"),
    (["--fit_config", "experiments/configs/cgan_digits.py"], "needs labels"),
    (["--fit_config", "experiments/configs/digits_smoke.py", "--fit_sizes", "8,60000"],
     "8 is fewer than one step's batch_size * n_disc = 16 of"),
])
def test_data_order_refuses_what_it_cannot_time_in_one_line(argv, message, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert _script("data_order").main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


class _Compiles(logging.Handler):
    """Counts ``Compiling jit(NAME)`` log lines by NAME while jax.log_compiles is on."""

    def __init__(self):
        super().__init__()
        self.counts = collections.Counter()

    def emit(self, record):
        found = re.match(r"Compiling jit\((\w+)\)", record.getMessage())
        if found:
            self.counts[found.group(1)] += 1


@pytest.fixture
def compiles():
    handler = _Compiles()
    logger = logging.getLogger("jax")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        with jax.log_compiles():
            yield handler.counts
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_each_step_form_compiles_once_over_many_calls(compiles):
    # A state that came out of a step must fit the program it came from: a
    # dtype, weak type or pytree that changed would recompile on every call.
    spec = SMALL["ring"]
    recipe = throughput.jax_recipe(spec)
    state = create_state(recipe, jax.random.PRNGKey(0), spec.example_shape)
    batch = jnp.asarray(throughput.real_batch(spec, 8))
    plain = jax.jit(make_train_step(recipe), donate_argnums=0)
    scanned = jax.jit(make_multi_step(make_train_step(recipe), 2), donate_argnums=0)

    def sample_real(key, step, data, num):
        return jax.random.normal(key, (num, 2))

    sampling = jax.jit(make_sampling_step(make_train_step(recipe), sample_real, 8, 1))
    for _ in range(3):
        state, _ = plain(state, batch)
        state, _ = scanned(state, batch)
        state, metrics = sampling(state, None)
    jax.block_until_ready(metrics)
    assert int(state.step) == 12
    assert compiles["train_step"] == 1 and compiles["multi_step"] == 1
    assert compiles["sampling_step"] == 1


def test_the_fit_loop_compiles_its_program_once(tmp_path, compiles):
    config = smoke.get_config()  # 4 calls, 4 log lines, 2 evaluations, 2 checkpoints
    train.train_and_evaluate(config, str(tmp_path))
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == config.num_steps // config.log_every
    assert compiles["multi_step"] == 1, compiles
    assert compiles["evaluate_one"] == 1, compiles
    # Module-level, so an earlier test in this process may have compiled it already.
    assert compiles["_all_finite"] <= 1, compiles
