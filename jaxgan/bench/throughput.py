r"""Train-step throughput of jaxgan beside PyTorch, on the same models and weights.

Command (the installed ``jaxgan-bench``; in a checkout also ``python
benchmarks/throughput.py``; this machine's record is in benchmarks/results/):

  jaxgan-bench --model dcgan64 --batch_size 64 --json benchmarks/results/cpu_dcgan64_b64.json

PyTorch comes with the ``bench`` extra (``pip install 'jaxgan[bench]'``, its
CPU wheel); without it, ``--frameworks jax`` measures jaxgan alone.

Models (``--model``): ``dcgan64`` (the PyTorch DCGAN example's networks: 64x64x3,
ngf = ndf = 64, nz = 100), ``dcgan32`` and ``dcgan28`` (the same family at 32x32x3
and 28x28x1), ``ring`` (the fully connected GAN of the ring-of-8 experiment:
2-D latent, three hidden layers of 128, BatchNorm in the generator, BCE), and
``wgan_gp`` (DCGAN-32 with a LayerNorm critic, 5 critic updates per generator
update, the gradient penalty with lambda 10, the Wasserstein loss).

Variants (``--frameworks``; a bare ``jax`` or ``torch`` means all of its variants):

- ``jax/jit``: ``jax.jit(make_train_step(recipe))``, one step per call, the
  state donated.
- ``jax/scan``: ``--scan_steps`` steps per call (``make_multi_step``, a
  ``lax.scan``).
- ``jax/scan_data`` (only when named): what the fit loop runs, the scan with
  each step drawing its real batch inside the program from ``--dataset_size``
  images held on the device (``ArraySource.sample_real``: the epoch's order,
  the gather, the conversion to [-1, 1]); the images are random bytes of the
  model's shape. Image models only.
- ``torch/eager_example``: the step written as the PyTorch DCGAN example writes
  it: ``zero_grad``, a backward pass each for real and fake, the default Adam,
  ``.item()`` on the losses every step.
- ``torch/eager_tuned``: no per-step host sync, no discriminator weight
  gradients in the generator update, fused Adam, channels_last on a GPU.
- ``torch/compile``: the tuned step with both networks under ``torch.compile``
  (not for ``wgan_gp``: the penalty needs a double backward, which compiled
  modules do not support).

Both frameworks run jaxgan's algorithm (:mod:`jaxgan.step`): each
discriminator update draws fresh noise, and the generator update draws its
own, so a step runs the generator forward twice where the PyTorch example
reuses the discriminator update's fakes. Before timing, both start from the
same weights (jaxgan's initialisation, copied into PyTorch), take the same
batch and the same noise for ``--parity_steps`` steps, and their losses must
agree: to ``--parity_rtol`` in the first step, and to 5% later, when Adam's
nearly sign-like first updates have amplified float rounding. A mismatch stops
the run with exit code 1.

Timing: compilation and warm-up are excluded (and reported), every variant runs
blocks of ``--steps`` steps with a device sync only at the end of each block,
the blocks of all variants take turns, ``--repeats`` times, and the median
block gives ms per step; ``speedups`` are ratios of those medians, and
``speedups_per_round`` says how steady each is (the spread of the ratio of the
blocks run side by side in each round, and in how many rounds jax was ahead).
Images per second count the generator update's batch
(``batch_size`` images per step). ``gflop_per_step`` is XLA's cost analysis of
jaxgan's step (the same arithmetic in both frameworks; none for ``wgan_gp``,
whose critic updates run in a loop that the analysis counts once); with it come the
achieved GFLOP/s and, on a known GPU, the model FLOPs utilisation (MFU)
against the chip's dense peak for the compute type.

``--loop_config CONFIG`` also measures what the fit loop (:func:`jaxgan.fit`)
adds over its own compiled program called bare, for that experiment config.
``--threads N`` pins both frameworks to N cores. jaxgan's step compiles with
the options its fit loop uses (:func:`jaxgan.models.layers.compiler_options`,
recorded as ``xla_options``), or with XLA's defaults under ``--xla_options
default``. ``--compute_dtype bfloat16``
computes in bfloat16 (jaxgan's ``compute_dtype``; PyTorch's forward passes
under ``torch.autocast``), ``--conv_impl`` picks jaxgan's convolution
implementation (:mod:`jaxgan.models.layers`), ``--width`` shrinks a DCGAN for
a quick run; ``benchmarks/gpu_suite.sh`` runs the GPU table with them.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from typing import Any

import numpy as np

MODELS = ("dcgan64", "dcgan32", "dcgan28", "ring", "wgan_gp")
JAX_VARIANTS = ("jit", "scan")
# Asked for by name only (a bare "jax" means JAX_VARIANTS): the scan with the
# fit loop's device-resident data draw inside the step, over --dataset_size images.
JAX_OPT_IN = ("scan_data",)
TORCH_VARIANTS = ("eager_example", "eager_tuned", "compile")
# Step 1's losses agree to float rounding (--parity_rtol); Adam's first
# updates are nearly sign-like, so rounding differences in gradients near zero
# then grow by about 10x a step, and later steps get this looser bound.
LATER_STEPS_RTOL = 5e-2
# Dense peak FLOP/s by device kind and compute type (vendor data sheets, SXM parts).
PEAK_FLOPS = {"H100 PCIe": {"float32": 378e12, "bfloat16": 756e12},
              "H100": {"float32": 494.7e12, "bfloat16": 989.4e12},   # float32 as TF32
              "H200": {"float32": 494.7e12, "bfloat16": 989.4e12},
              "A100": {"float32": 156e12, "bfloat16": 312e12}}


class UsageError(ValueError):
    """A bad command-line value (exit code 2)."""


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One benchmark model, described once for both frameworks."""

    kind: str                     # "dcgan" or "mlp"
    example_shape: tuple[int, ...]
    latent_dim: int
    width: int = 64               # DCGAN ngf = ndf
    features: tuple[int, ...] = ()  # MLP hidden widths
    loss: str = "bce"             # "bce" (non-saturating) or "wasserstein"
    n_disc: int = 1
    penalty_weight: float = 0.0   # WGAN-GP's lambda (0: no penalty)
    normalization: str = "batch"  # the discriminator's
    adam: tuple[float, float, float] = (2e-4, 0.5, 0.999)
    # What the networks compute in (jaxgan: GANRecipe.compute_dtype; PyTorch:
    # autocast), and how jaxgan's DCGAN computes its convolutions.
    compute_dtype: str = "float32"
    conv_impl: str = "auto"


SPECS = {
    "dcgan64": ModelSpec("dcgan", (64, 64, 3), 100),
    "dcgan32": ModelSpec("dcgan", (32, 32, 3), 100),
    "dcgan28": ModelSpec("dcgan", (28, 28, 1), 100),
    "ring": ModelSpec("mlp", (2,), 2, features=(128, 128, 128)),
    "wgan_gp": ModelSpec("dcgan", (32, 32, 3), 128, loss="wasserstein", n_disc=5,
                         penalty_weight=10.0, normalization="layer", adam=(1e-4, 0.0, 0.9)),
}


# --------------------------------------------------------------------------
# jaxgan
# --------------------------------------------------------------------------


def jax_recipe(spec: ModelSpec):
    """jaxgan's recipe for ``spec``."""
    import jax.numpy as jnp
    import optax

    from jaxgan import losses, penalties
    from jaxgan.models import (
        DCGANDiscriminator,
        DCGANGenerator,
        MLPDiscriminator,
        MLPGenerator,
    )
    from jaxgan.state import GANRecipe

    dtype = None if spec.compute_dtype == "float32" else jnp.dtype(spec.compute_dtype)
    if spec.kind == "dcgan":
        generator = DCGANGenerator(spec.example_shape[0], spec.example_shape[-1], spec.width,
                                   impl=spec.conv_impl, dtype=dtype)
        discriminator = DCGANDiscriminator(spec.example_shape[0], spec.width,
                                           normalization=spec.normalization,
                                           impl=spec.conv_impl, dtype=dtype)
    else:
        generator = MLPGenerator(spec.example_shape, spec.features, dtype=dtype)
        discriminator = MLPDiscriminator(spec.features, dtype=dtype)
    lr, b1, b2 = spec.adam
    loss_pair = ((losses.bce_discriminator_loss, losses.non_saturating_generator_loss)
                 if spec.loss == "bce" else
                 (losses.wasserstein_critic_loss, losses.wasserstein_generator_loss))
    return GANRecipe(generator, discriminator, spec.latent_dim, *loss_pair,
                     g_optimizer=optax.adam(lr, b1, b2), d_optimizer=optax.adam(lr, b1, b2),
                     n_disc=spec.n_disc,
                     penalty=penalties.gradient_penalty if spec.penalty_weight else None,
                     penalty_weight=spec.penalty_weight or 1.0, compute_dtype=dtype)


def real_batch(spec: ModelSpec, batch_size: int, seed: int = 0) -> np.ndarray:
    """A fixed real batch ``[n_disc, B, *example_shape]`` (NHWC), values in [-1, 1]."""
    rng = np.random.default_rng(seed)
    shape = (spec.n_disc, batch_size, *spec.example_shape)
    return rng.uniform(-1, 1, shape).astype(np.float32)


def step_randomness(recipe, state, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The noise ``[n_disc + 1, B, latent]`` and penalty weights ``[n_disc, B]``
    that jaxgan's step draws from ``state`` (the streams that :mod:`jaxgan.step`
    documents), for feeding the same draws to PyTorch."""
    import jax

    from jaxgan.step import step_key

    key = step_key(state)
    noise_key, penalty_key = jax.random.fold_in(key, 0), jax.random.fold_in(key, 2)
    noise = np.stack([np.asarray(recipe.sample_latent(jax.random.fold_in(noise_key, i),
                                                      batch_size))
                      for i in range(recipe.n_disc + 1)])
    eps = np.stack([np.asarray(jax.vmap(lambda k: jax.random.uniform(k, ()))(
        jax.random.split(jax.random.fold_in(penalty_key, i), batch_size)))
        for i in range(recipe.n_disc)])
    return noise, eps


class JaxRunner:
    """Times jaxgan's step: one step per call (``scan_steps=1``) or a scan of them,
    compiled with ``xla_options`` (``None``: XLA's defaults)."""

    framework = "jax"

    def __init__(self, spec: ModelSpec, batch_size: int, variant: str, scan_steps: int,
                 seed: int = 0, dataset_size: int = 60_000,
                 xla_options: dict[str, Any] | None = None):
        import jax

        from jaxgan.data import ArraySource
        from jaxgan.state import create_state
        from jaxgan.step import make_multi_step, make_sampling_step, make_train_step

        self.variant = variant
        self.scan_steps = 1 if variant == "jit" else scan_steps
        recipe = jax_recipe(spec)
        step = make_train_step(recipe)
        if variant == "scan_data":
            images = np.random.default_rng(seed).integers(
                0, 256, (dataset_size, *spec.example_shape), dtype=np.uint8)
            source = ArraySource("random_bytes", images)
            step = make_sampling_step(step, source.sample_real, batch_size, spec.n_disc)
            self.batch = jax.device_put(source.device_data())  # what every call reads from
        else:
            self.batch = jax.device_put(real_batch(spec, batch_size))
        if variant != "jit":
            step = make_multi_step(step, scan_steps)
        self._jax = jax
        self.state = create_state(recipe, jax.random.PRNGKey(seed), spec.example_shape)
        start = time.perf_counter()
        self.compiled = jax.jit(step, donate_argnums=0).lower(self.state, self.batch).compile(
            compiler_options=xla_options)
        self.compile_seconds = time.perf_counter() - start
        # XLA's cost analysis counts a loop's body once, so only the one-step
        # program without a critic scan (n_disc = 1) gets a count.
        self.flops = (flops_of(self.compiled)
                      if variant == "jit" and spec.n_disc == 1 else None)

    def warmup(self) -> float:
        start = time.perf_counter()
        self.block(self.scan_steps)
        return self.compile_seconds + time.perf_counter() - start

    def block(self, steps: int) -> float:
        if steps % self.scan_steps:
            raise UsageError(f"--steps={steps} is not a multiple of --scan_steps="
                             f"{self.scan_steps}")
        start = time.perf_counter()
        state = self.state
        for _ in range(steps // self.scan_steps):
            state, metrics = self.compiled(state, self.batch)
        self._jax.block_until_ready((state, metrics))  # the one sync of the block
        self.state = state
        return time.perf_counter() - start

    def peak_memory(self) -> int | None:
        """What XLA plans for one call: arguments, outputs and temporaries."""
        try:
            m = self.compiled.memory_analysis()
            return int(m.argument_size_in_bytes + m.output_size_in_bytes
                       + m.temp_size_in_bytes - m.alias_size_in_bytes)
        except Exception:  # noqa: BLE001 - a backend without the analysis
            return None


def flops_of(compiled) -> float | None:
    """XLA's count of floating-point operations for one call, or ``None``."""
    try:
        analysis = compiled.cost_analysis()
    except Exception:  # noqa: BLE001 - a backend without cost analysis
        return None
    if isinstance(analysis, list):
        analysis = analysis[0] if analysis else {}
    flops = (analysis or {}).get("flops")
    return float(flops) if flops else None


# --------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------


def torch_gan(spec: ModelSpec, state, tuned: bool, device: str = "cpu"):
    """The PyTorch twin of ``spec`` holding the weights of jaxgan's ``state``, as a
    ``TorchGAN``."""
    from jaxgan.bench import torch_twins

    if spec.kind == "dcgan":
        resolution, channels = spec.example_shape[0], spec.example_shape[-1]
        generator = torch_twins.dcgan_generator(resolution, channels, spec.width, spec.latent_dim)
        discriminator = torch_twins.dcgan_discriminator(resolution, channels, spec.width,
                                                        spec.normalization)
    else:
        dim = int(np.prod(spec.example_shape))
        generator = torch_twins.mlp_generator(spec.latent_dim, spec.features, dim)
        discriminator = torch_twins.mlp_discriminator(dim, spec.features)
    torch_twins.copy_weights({"params": state.g_params, "batch_stats": state.g_batch_stats},
                             generator)
    torch_twins.copy_weights({"params": state.d_params, "batch_stats": state.d_batch_stats},
                             discriminator)
    generator.to(device).train()
    discriminator.to(device).train()
    return torch_twins.TorchGAN(generator, discriminator, spec.latent_dim, spec.loss,
                                spec.n_disc, spec.penalty_weight, spec.adam, tuned=tuned,
                                compute_dtype=spec.compute_dtype)


def to_torch_layout(spec: ModelSpec, x: np.ndarray) -> np.ndarray:
    """NHWC (with leading axes) -> NCHW; points stay as they are."""
    return np.moveaxis(x, -1, -3).copy() if spec.kind == "dcgan" else x


class TorchRunner:
    """Times a PyTorch variant of the same model, from jaxgan's initial weights."""

    framework = "torch"

    def __init__(self, spec: ModelSpec, batch_size: int, variant: str, seed: int = 0):
        import jax
        import torch

        from jaxgan.state import create_state

        self.variant, self._torch = variant, torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        state = create_state(jax_recipe(spec), jax.random.PRNGKey(seed), spec.example_shape)
        self.gan = torch_gan(spec, state, tuned=variant != "eager_example", device=self.device)
        real = torch.from_numpy(to_torch_layout(spec, real_batch(spec, batch_size)))
        real = real.to(self.device)
        if variant != "eager_example" and self.device == "cuda" and spec.kind == "dcgan":
            fmt = torch.channels_last
            self.gan.G.to(memory_format=fmt)
            self.gan.D.to(memory_format=fmt)
            real = torch.stack([r.contiguous(memory_format=fmt) for r in real])
        if variant == "compile":
            self.gan.G, self.gan.D = torch.compile(self.gan.G), torch.compile(self.gan.D)
        self.real = real
        self.compile_seconds = 0.0
        self._peak = None

    def _sync(self):
        if self.device == "cuda":
            self._torch.cuda.synchronize()

    def warmup(self) -> float:
        start = time.perf_counter()
        self.block(3)  # torch.compile compiles here (and recompiles once for training)
        return time.perf_counter() - start

    def block(self, steps: int) -> float:
        self._sync()
        if self.device == "cuda":
            self._torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for _ in range(steps):
            losses = self.gan.step(self.real)
        if self.gan.tuned:
            float(losses[1])  # read the last losses: the block's one host sync
        self._sync()
        elapsed = time.perf_counter() - start
        if self.device == "cuda":
            self._peak = max(self._peak or 0, int(self._torch.cuda.max_memory_allocated()))
        return elapsed

    def peak_memory(self) -> int | None:
        return self._peak


# --------------------------------------------------------------------------
# Parity
# --------------------------------------------------------------------------


def parity(spec: ModelSpec, batch_size: int, steps: int = 3, tuned: bool = False,
           seed: int = 0) -> list[dict[str, float]]:
    """Runs ``steps`` train steps in both frameworks from the same weights,
    batch and noise; returns each step's ``d_loss`` and ``g_loss`` from both.

    Always in float32 (a bfloat16 ``spec`` is compared as float32: its own
    parity with float32 is :mod:`tests.test_step`'s), with ``spec``'s
    convolution implementation.
    """
    import jax
    import torch

    from jaxgan.state import create_state
    from jaxgan.step import make_train_step

    spec = dataclasses.replace(spec, compute_dtype="float32")
    recipe = jax_recipe(spec)
    state = create_state(recipe, jax.random.PRNGKey(seed), spec.example_shape)
    gan = torch_gan(spec, state, tuned=tuned)
    # Full float32 on a GPU too (its default for float32 convolutions is TF32).
    train_step = make_train_step(recipe)

    def full_precision_step(state, batch):
        with jax.default_matmul_precision("highest"):
            return train_step(state, batch)

    step = jax.jit(full_precision_step)
    batch = real_batch(spec, batch_size, seed)
    real = torch.from_numpy(to_torch_layout(spec, batch))
    rows = []
    for _ in range(steps):
        noise, eps = step_randomness(recipe, state, batch_size)
        state, metrics = step(state, batch)
        d_loss, g_loss = gan.step(real, torch.from_numpy(noise), torch.from_numpy(eps))
        rows.append({"jax_d_loss": float(metrics["d_loss"]), "torch_d_loss": float(d_loss),
                     "jax_g_loss": float(metrics["g_loss"]), "torch_g_loss": float(g_loss)})
    return rows


def parity_error(rows: list[dict[str, float]]) -> float:
    """The largest relative difference between the frameworks' losses."""
    return max(abs(row[f"jax_{n}"] - row[f"torch_{n}"]) / max(abs(row[f"jax_{n}"]), 1e-3)
               for row in rows for n in ("d_loss", "g_loss"))


# --------------------------------------------------------------------------
# The fit loop's overhead
# --------------------------------------------------------------------------


def config_from_file(path: str):
    """The ``get_config()`` of an experiment config file."""
    import importlib.util

    module_spec = importlib.util.spec_from_file_location("loop_config", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.get_config()


def shorten(config, intervals: int) -> None:
    """Makes ``config`` (in place) the run that :func:`short_fit` times:
    ``intervals + 1`` log intervals, evaluated and checkpointed only at the
    end, on at most 256 samples, without training a scoring classifier."""
    config.num_steps = config.log_every * (intervals + 1)
    config.eval_every = config.checkpoint_every = config.num_steps
    config.num_eval_samples = config.num_final_samples = min(config.num_eval_samples, 256)
    if "classifier_steps" in config:
        config.classifier_steps = 0


def short_fit(config, intervals: int) -> list[float]:
    """Runs ``config``, :func:`shorten`-ed, in the fit loop, quietly, in a
    temporary directory, and returns the ms per step of each log interval after
    the first (which holds the warm-up). An interval's ``steps_per_sec``
    excludes evaluation and checkpoints, but not logging (a host sync, the
    divergence check, a line of metrics.jsonl)."""
    from jaxgan import train

    shorten(config, intervals)
    with (tempfile.TemporaryDirectory() as workdir, open(os.devnull, "w") as quiet,
          contextlib.redirect_stderr(quiet), contextlib.redirect_stdout(quiet)):
        train.train_and_evaluate(config, workdir)
        with open(os.path.join(workdir, "metrics.jsonl")) as f:
            records = [json.loads(line) for line in f]
    return [1000 / r["steps_per_sec"] for r in records[1:]]


def loop_overhead(config_path: str, intervals: int = 6) -> dict[str, Any]:
    """ms per step of the fit loop (:func:`short_fit`) against its own
    compiled program called bare, back to back, before and after it."""
    import jax

    from jaxgan import config as config_lib
    from jaxgan import programs
    from jaxgan.data import HostArrays
    from jaxgan.models.layers import compiler_options
    from jaxgan.state import create_states

    config = config_from_file(config_path)
    if config.parallel != "none" or config.get("conditioning", "none") != "none":
        raise UsageError(f"--loop_config {config_path}: measure an unconditional config with "
                         "parallel='none' (the bare program it is compared with is that one)")
    shorten(config, intervals)  # before build: the bare program must be the short run's
    recipe, source, options = config_lib.build(config)
    states = create_states(recipe, list(range(options.seed, options.seed + options.num_seeds)),
                           source.example_shape)
    if (isinstance(source, HostArrays)
            and not programs.place_on_device(options.data_placement, source.nbytes)):
        raise UsageError(f"--loop_config {config_path}: the data would be streamed from the "
                         "host; measure a config whose data fits on the device")
    layout = programs.Layout("none", config.n_disc, options.seed_batching)
    data = source.device_data()
    k = config.steps_per_dispatch
    program = layout.program(recipe, source.sample_real, config.batch_size, k, False)
    # Compiled as the fit loop compiles its program.
    compiled = program.lower(states, data).compile(compiler_options=compiler_options())
    states, metrics = compiled(states, data)
    jax.block_until_ready(states)

    def bare_blocks():  # one block per log interval, like the loop's records
        nonlocal states
        blocks = []
        for _ in range(intervals):
            start = time.perf_counter()
            for _ in range(config.log_every // k):
                states, metrics = compiled(states, data)
            jax.block_until_ready((states, metrics))
            blocks.append((time.perf_counter() - start) * 1000 / config.log_every)
        return blocks

    before = bare_blocks()  # the machine's speed before and after the loop's run
    loop_blocks = short_fit(config, intervals)
    bare = before + bare_blocks()
    loop_ms, bare_ms = statistics.median(loop_blocks), statistics.median(bare)
    log(f"fit loop: ms/step per interval {[round(b, 3) for b in loop_blocks]}; bare program "
        f"{[round(b, 3) for b in bare]}")
    return {"config": config_path, "steps_per_dispatch": k, "log_every": config.log_every,
            "loop_ms_per_step": loop_ms, "bare_ms_per_step": bare_ms,
            "loop_overhead": loop_ms / bare_ms - 1.0, "loop_ms_blocks": loop_blocks,
            "bare_ms_blocks": bare}


# --------------------------------------------------------------------------
# Running and reporting
# --------------------------------------------------------------------------


def machine_info(threads: int) -> dict[str, Any]:
    import flax
    import jax
    import optax

    info = {"platform": platform.platform(), "python": platform.python_version(),
            "processor": _cpu_name(), "cpu_threads": threads, "jax": jax.__version__,
            "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else None,
            "flax": flax.__version__, "optax": optax.__version__,
            "jax_device": str(jax.devices()[0].device_kind),
            "jax_backend": jax.default_backend(),
            "xla_flags": os.environ.get("XLA_FLAGS", "")}
    try:
        import torch
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                    torch_device=(torch.cuda.get_device_name() if torch.cuda.is_available()
                                  else "cpu"))
    except ImportError:
        info["torch"] = None
    return info


def _cpu_name() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def _peak(device_kind: str, dtype: str) -> float | None:
    for name, peaks in PEAK_FLOPS.items():
        if name in device_kind:
            return peaks.get(dtype)
    return None


def parse_frameworks(text: str, model: str) -> list[tuple[str, str]]:
    chosen = []
    for item in text.split(","):
        framework, _, variant = item.strip().partition("/")
        known = {"jax": JAX_VARIANTS, "torch": TORCH_VARIANTS}.get(framework)
        if known is None:
            raise UsageError(f"unknown framework {framework!r}; use jax or torch, optionally "
                             f"with a variant such as jax/scan or torch/compile")
        named = known + (JAX_OPT_IN if framework == "jax" else ())
        if variant and variant not in named:
            raise UsageError(f"unknown {framework} variant {variant!r}; choose from "
                             f"{', '.join(named)}")
        if variant == "scan_data" and SPECS[model].kind != "dcgan":
            raise UsageError(f"jax/scan_data draws images from a dataset; {model!r} is not an "
                             "image model")
        if model == "wgan_gp" and variant == "compile":
            raise UsageError("torch/compile cannot run wgan_gp: the gradient penalty needs a "
                             "double backward, which compiled modules do not support")
        if model == "wgan_gp" and not variant:
            known = tuple(v for v in known if v != "compile")
        chosen += [(framework, v) for v in ([variant] if variant else known)
                   if (framework, v) not in chosen]
    return chosen


def run(args) -> dict[str, Any]:
    if args.model not in SPECS:
        raise UsageError(f"unknown --model {args.model!r}; choose from {', '.join(MODELS)}")
    if args.batch_size < 1 or args.steps < 1 or args.repeats < 1 or args.scan_steps < 1:
        raise UsageError("--batch_size, --steps, --repeats and --scan_steps must be >= 1")
    if args.parity_steps < 1:
        raise UsageError("--parity_steps must be >= 1")
    if args.loop_config and args.xla_options != "jaxgan":
        raise UsageError("--loop_config measures the fit loop, which compiles with jaxgan's "
                         "options; drop --xla_options default")
    if args.loop_config and not os.path.isfile(args.loop_config):
        raise UsageError(f"--loop_config {args.loop_config!r} is not a file; pass a config "
                         "such as experiments/configs/ring8.py")
    spec = SPECS[args.model]
    if args.width is not None:
        if args.width < 1:
            raise UsageError("--width must be >= 1")
        spec = dataclasses.replace(spec, width=args.width)
    spec = dataclasses.replace(spec, compute_dtype=args.compute_dtype, conv_impl=args.conv_impl)
    from jaxgan.models.layers import compiler_options, resolve_impl

    resolved_impl = resolve_impl(args.conv_impl)
    xla_options = compiler_options() if args.xla_options == "jaxgan" else {}
    chosen = parse_frameworks(args.frameworks, args.model)
    if args.dataset_size < args.batch_size * spec.n_disc:
        raise UsageError(f"--dataset_size must hold a step's batch_size * n_disc = "
                         f"{args.batch_size * spec.n_disc} images")
    if any(f == "jax" and v != "jit" for f, v in chosen) and args.steps % args.scan_steps:
        raise UsageError(f"--steps={args.steps} must be a multiple of --scan_steps="
                         f"{args.scan_steps}")
    if any(f == "torch" for f, _ in chosen):
        try:
            import torch
        except ImportError as e:
            raise UsageError("PyTorch is not installed; pip install 'jaxgan[bench]' (its "
                             "CPU wheel), or pass --frameworks jax") from e
        torch.set_num_threads(args.threads)
        rows = parity(spec, min(args.batch_size, 16), args.parity_steps)
        first, worst = parity_error(rows[:1]), parity_error(rows)
        log(f"parity: largest relative loss difference {first:.1e} in step 1 (tolerance "
            f"{args.parity_rtol:g}), {worst:.1e} over {len(rows)} steps (tolerance "
            f"{LATER_STEPS_RTOL:g})")
        if first > args.parity_rtol or worst > LATER_STEPS_RTOL:
            raise AssertionError(f"jaxgan and PyTorch disagree: {rows}")
    else:
        rows = []

    runners = []
    for framework, variant in chosen:
        log(f"building {framework}/{variant} ...")
        runners.append(JaxRunner(spec, args.batch_size, variant, args.scan_steps,
                                 dataset_size=args.dataset_size, xla_options=xla_options)
                       if framework == "jax" else TorchRunner(spec, args.batch_size, variant))
    warmup = {}
    for runner in runners:
        warmup[id(runner)] = runner.warmup()
        log(f"{runner.framework}/{runner.variant}: warm-up {warmup[id(runner)]:.1f} s")
    times = {id(r): [] for r in runners}
    for repeat in range(args.repeats):
        # Blocks take turns, starting with a different variant each round.
        for runner in runners[repeat % len(runners):] + runners[:repeat % len(runners)]:
            times[id(runner)].append(runner.block(args.steps) / args.steps)
        log(f"round {repeat + 1}/{args.repeats}: " + ", ".join(
            f"{r.framework}/{r.variant} {times[id(r)][-1] * 1000:.1f} ms" for r in runners))

    flops = next((r.flops for r in runners if r.framework == "jax" and r.flops), None)
    if flops is None and spec.n_disc == 1:
        flops = JaxRunner(spec, args.batch_size, "jit", 1).flops
    info = machine_info(args.threads)
    results = []
    for runner in runners:
        seconds = statistics.median(times[id(runner)])
        peak = _peak(info.get("torch_device", "") if runner.framework == "torch"
                     else info["jax_device"], spec.compute_dtype)
        result = {"framework": runner.framework, "variant": runner.variant,
                  "model": args.model, "batch_size": args.batch_size,
                  "compute_dtype": spec.compute_dtype, "width": spec.width,
                  **({"conv_impl": spec.conv_impl, "conv_impl_resolved": resolved_impl}
                     if runner.framework == "jax" and spec.kind == "dcgan" else {}),
                  **({"xla_options": xla_options} if runner.framework == "jax" else {}),
                  "ms_per_step": seconds * 1000, "images_per_sec": args.batch_size / seconds,
                  "warmup_sec": warmup[id(runner)],
                  "compile_sec": getattr(runner, "compile_seconds", None),
                  "ms_per_step_blocks": [t * 1000 for t in times[id(runner)]],
                  "peak_memory_bytes": runner.peak_memory(),
                  "gflop_per_step": flops / 1e9 if flops else None,
                  "achieved_gflops": flops / seconds / 1e9 if flops else None,
                  "mfu": flops / seconds / peak if flops and peak else None}
        results.append(result)
    ratios = {f"jax/{j['variant']} vs torch/{t['variant']}": t["ms_per_step"] / j["ms_per_step"]
              for j in results if j["framework"] == "jax"
              for t in results if t["framework"] == "torch"}
    report = {"machine": info, "command": args.command_line, "steps_per_block": args.steps,
              "repeats": args.repeats, "scan_steps": args.scan_steps,
              **({"dataset_size": args.dataset_size} if ("jax", "scan_data") in chosen else {}),
              "results": results,
              "speedups": ratios, "speedups_per_round": round_speedups(results),
              "parity": rows}
    if args.loop_config:
        log(f"measuring the fit loop's overhead with {args.loop_config} ...")
        report["loop"] = loop_overhead(args.loop_config)
    return report


def round_speedups(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """How steady each jax-against-torch speed-up is from round to round.

    Round ``i`` runs every variant's ``i``-th block one after the other, so
    the ratio of two variants' ``i``-th blocks compares them under the same
    machine conditions. For each pair: the smallest, median and largest of
    those per-round ratios, and in how many of the rounds jax was as fast or
    faster. It reads only ``ms_per_step_blocks``, so it also summarises a
    stored report's ``results``.
    """
    spread = {}
    for j in results:
        for t in results:
            if j["framework"] != "jax" or t["framework"] != "torch":
                continue
            name = f"jax/{j['variant']} vs torch/{t['variant']}"
            if len(j["ms_per_step_blocks"]) != len(t["ms_per_step_blocks"]):
                raise ValueError(f"{name}: {len(j['ms_per_step_blocks'])} against "
                                 f"{len(t['ms_per_step_blocks'])} blocks; rounds pair one "
                                 "block of each, so both need the same number")
            per_round = [b / a for a, b in zip(j["ms_per_step_blocks"], t["ms_per_step_blocks"],
                                               strict=True)]
            spread[name] = {
                "min": min(per_round), "median": statistics.median(per_round),
                "max": max(per_round), "rounds_ahead": sum(r >= 1 for r in per_round),
                "rounds": len(per_round)}
    return spread


def table(report: dict[str, Any]) -> str:
    """The report as a markdown table, with the speed-ups and the loop's overhead."""
    lines = ["| framework/variant | ms/step | images/s | warm-up s | GFLOP/s | MFU |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in report["results"]:
        lines.append(f"| {r['framework']}/{r['variant']} | {r['ms_per_step']:.2f} | "
                     f"{r['images_per_sec']:.0f} | {r['warmup_sec']:.1f} | "
                     + (f"{r['achieved_gflops']:.0f}" if r["achieved_gflops"] else "-")
                     + " | " + (f"{r['mfu']:.1%}" if r["mfu"] else "-") + " |")
    lines.append("")
    per_round = report.get("speedups_per_round", {})
    for name, ratio in report["speedups"].items():
        line = f"- {name}: {ratio:.2f}x"
        if name in per_round:
            r = per_round[name]
            line += (f" (per round {r['min']:.2f}-{r['max']:.2f}x, as fast or faster in "
                     f"{r['rounds_ahead']} of {r['rounds']})")
        lines.append(line)
    if "loop" in report:
        loop = report["loop"]
        lines.append(f"- fit loop ({loop['config']}): {loop['loop_ms_per_step']:.3f} ms/step "
                     f"against {loop['bare_ms_per_step']:.3f} bare, overhead "
                     f"{loop['loop_overhead']:+.1%}")
    return "\n".join(lines)


def markdown(report: dict[str, Any]) -> str:
    """:func:`table` under the command that made it and the machine it ran on,
    so a ``--markdown`` file read alone says where its numbers come from."""
    m = report["machine"]
    jax_part = f"jax {m.get('jax')} on {m.get('jax_backend')}"
    if m.get("jax_backend") != "cpu":
        jax_part += f" ({m.get('jax_device')})"
    torch_part = ""
    if any(r["framework"] == "torch" for r in report["results"]):
        torch_part = f", torch {m.get('torch')} on {m.get('torch_device')}"
    return (f"`{report['command']}`\n\n{m.get('processor')}, {m.get('cpu_threads')} CPU "
            f"threads, {jax_part}{torch_part}.\n\n{table(report)}")


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dcgan64", help=f"one of {', '.join(MODELS)}")
    parser.add_argument("--batch_size", "--batch-size", type=int, default=64)
    parser.add_argument("--frameworks", default="jax,torch",
                        help="comma-separated: jax, torch, or variants such as jax/scan, "
                             "torch/eager_example (default: every variant of both)")
    parser.add_argument("--steps", type=int, default=10, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks per variant")
    parser.add_argument("--scan_steps", "--scan-steps", type=int, default=10,
                        help="steps per call of jax/scan (must divide --steps)")
    parser.add_argument("--parity_steps", "--parity-steps", type=int, default=3)
    parser.add_argument("--parity_rtol", "--parity-rtol", type=float, default=1e-4,
                        help="relative loss tolerance in the first parity step")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="cores for both frameworks (default: all available)")
    parser.add_argument("--loop_config", "--loop-config",
                        help="an experiment config whose fit-loop overhead to measure, "
                             "e.g. experiments/configs/ring8.py")
    parser.add_argument("--dataset_size", "--dataset-size", type=int, default=60_000,
                        help="images that jax/scan_data draws its batches from (default: "
                             "MNIST's 60,000)")
    parser.add_argument("--compute_dtype", "--compute-dtype", default="float32",
                        choices=("float32", "bfloat16"),
                        help="what both frameworks compute in: jaxgan's compute_dtype, "
                             "PyTorch's autocast (parity always runs in float32)")
    parser.add_argument("--conv_impl", "--conv-impl", default="auto",
                        choices=("auto", "conv", "subpixel", "xla"),
                        help="jaxgan's DCGAN convolutions (jaxgan/models/layers.py; auto: the "
                             "backend's recorded choice)")
    parser.add_argument("--xla_options", "--xla-options", default="jaxgan",
                        choices=("jaxgan", "default"),
                        help="compile jaxgan's step with the options its fit loop uses "
                             "(jaxgan.models.layers.compiler_options) or with XLA's defaults")
    parser.add_argument("--width", type=int,
                        help="DCGAN ngf = ndf instead of the model's own (a quick run at toy "
                             "size)")
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--markdown", help="write the table here")
    args = parser.parse_args(argv)
    # What made the record: the process's own command line, or for a call from
    # Python the arguments it was given, as the installed command would take them.
    args.command_line = shlex.join(sys.argv if argv is None else ["jaxgan-bench", *argv])
    # Before jax starts: PyTorch shares the GPU, so jax must not take 75% of it up front.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    try:
        available = sorted(os.sched_getaffinity(0))
        if not 1 <= args.threads <= len(available):
            raise UsageError(f"--threads must be between 1 and {len(available)}")
        # Before jax starts its thread pool, which takes the cores it may use.
        os.sched_setaffinity(0, available[:args.threads])
        report = run(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = table(report)
    print(f"{args.model}, batch {args.batch_size}, {args.compute_dtype}, conv_impl "
          f"{args.conv_impl}, {report['machine']['processor']}, {args.threads} threads\n{text}")
    for path, content in ((args.json, json.dumps(report, indent=1)),
                          (args.markdown, markdown(report))):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w") as f:
                f.write(content + "\n")
    return 0


def command() -> None:
    """The ``jaxgan-bench`` command (``sys.argv`` in, an exit code out)."""
    sys.exit(main())


if __name__ == "__main__":
    command()
