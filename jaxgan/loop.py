"""The fit loop: ``fit(recipe, source, workdir, **options)``.

A thin layer around the pure train step. Given any :class:`~jaxgan.GANRecipe`
(or another recipe that keeps :class:`Trainable`) and any object that keeps
the data-source protocol (:mod:`jaxgan.data.source`), it trains
``num_seeds`` seeds ``steps_per_dispatch`` steps per call (data sampled
inside the jitted program, or streamed from the host), and writes
under ``workdir``: ``config.json``, ``metrics.jsonl`` (and TensorBoard events),
``eval.json``, ``samples/`` and ``checkpoints/``. Running it again on the same
workdir resumes from the latest checkpoint, bit for bit. Non-finite losses or
parameters stop the run or roll it back; Ctrl-C saves a checkpoint and stops.

The pieces it stands on: :mod:`jaxgan.programs` (placement and the compiled
program), :mod:`jaxgan.evaluation` (the evaluation protocol),
:mod:`jaxgan.run_io` (files, pictures, Ctrl-C), :mod:`jaxgan.checkpoint`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxgan import checkpoint as checkpoint_lib
from jaxgan import health, parallel, run_io
from jaxgan.data.arrays import HostStream, sample_streamed
from jaxgan.data.source import HostArrays, ModeMixture, check_source
from jaxgan.data.unpaired import UnpairedSource
from jaxgan.evaluation import (
    NO_LATENTS,
    Evaluation,
    Features,
    MetricFn,
    TwoWayEvaluation,
    asked_classes,
    build_evaluation,
    check_sample_sizes,
    classifier_cache_dir,
    is_translation,
    wants_classifier,
)
from jaxgan.models.layers import compiler_options
from jaxgan.programs import (
    DATA_PLACEMENTS,
    SEED_BATCHING,
    Layout,
    place_on_device,
    resolve_seed_batching,
)
from jaxgan.run_io import Interrupted
from jaxgan.state import ModuleContractError, module_identity

ON_NAN = ("stop", "rollback")
# on_nan="rollback": how many times, and by how much each lowers both rates.
MAX_ROLLBACKS = 3
ROLLBACK_LR_FACTOR = 0.5
# The learning-rate factor that rollbacks left, saved with each checkpoint
# (beside the run's config) so that a resumed run keeps it.
LR_SCALE_KEY = "lr_scale_after_rollbacks"
# The number of devices that trained up to a checkpoint, saved beside it. A run
# may resume on another number: the step computes the same function of the
# global batch however many devices share it.
DEVICES_KEY = "num_devices"


class Trainable(Protocol):
    """What :func:`fit` asks of a recipe. :class:`jaxgan.GANRecipe` keeps it;
    a recipe of other networks (CycleGAN's two generators and two
    discriminators, say) keeps it over a state of its own, and gets the
    whole loop without a fork.

    The states are pytrees with a scalar ``step`` (int32: completed train
    steps) and ``key`` (the run's base key; each step's randomness is folded
    from ``(key, step)``, so a resumed run continues the same stream). Every
    method is pure, and ``make_train_step``'s step keeps the contract of
    :func:`jaxgan.step.make_train_step`: ``(state, batch [n_disc, batch,
    ...]) -> (state, {name: scalar})``, with ``d_loss`` and ``g_loss`` among
    the metrics.
    """

    n_disc: int  # real batches a train step reads
    num_classes: int  # 0, or the classes that batches and samples carry

    @property
    def conditional(self) -> bool: ...

    @property
    def has_moving_average(self) -> bool: ...

    def check(self, example_shape: tuple[int, ...]) -> None:
        """Raises :class:`jaxgan.ModuleContractError` for modules that cannot work."""

    def uses_convolution(self, example_shape: tuple[int, ...]) -> bool:
        """Whether the networks convolve (``seed_batching="auto"`` maps such
        seeds one after another on the CPU)."""

    def describe(self) -> dict[str, Any]:
        """JSON-able identity, recorded with checkpoints (a resume must match it)."""

    def create_states(self, seeds, example_shape: tuple[int, ...]) -> Any:
        """One state per seed, stacked on a leading axis."""

    def make_train_step(self, axis_name: str | None = None) -> Callable:
        """The pure ``(state, batch) -> (state, metrics)`` step; ``axis_name``
        names the device axis to average gradients over (pmap)."""

    def with_learning_rate_scale(self, scale: float) -> Trainable:
        """The same recipe with every optimizer's updates scaled (rollback)."""

    def sample_latent(self, key: jax.Array, num: int) -> jax.Array:
        """``num`` latent vectors of the generator's prior. A recipe that
        takes a keyword ``truncation`` (:meth:`jaxgan.GANRecipe.sample_latent`)
        can be evaluated with ``FitOptions.truncation``; fit asks it only then."""

    def generate(self, state: Any, z: jax.Array, labels: jax.Array | None = None,
                 ema: bool = True) -> jax.Array:
        """Samples for ``z`` (and labels) from one state, in inference mode."""


def check_trainable(recipe) -> None:
    """Raises :class:`FitError` naming what ``recipe`` lacks of :class:`Trainable`."""
    names = ("n_disc", "num_classes", "conditional", "has_moving_average", "check",
             "uses_convolution", "describe", "create_states", "make_train_step",
             "with_learning_rate_scale", "sample_latent", "generate")
    missing = [name for name in names if not hasattr(recipe, name)]
    if missing:
        raise FitError(f"fit takes a jaxgan.GANRecipe or another recipe that keeps "
                       f"jaxgan.loop.Trainable; {type(recipe).__name__} lacks "
                       f"{', '.join(missing)}")


class FitError(ValueError):
    """A user error in what was passed to :func:`fit` or in its workdir,
    reported in one line before anything in the workdir changes."""


class DivergenceError(RuntimeError):
    """Training produced non-finite losses or parameters (and no rollback is left)."""


class CollapseError(DivergenceError):
    """With ``on_collapse="stop"``: a health signal (:mod:`jaxgan.health`)
    named a dying GAN; the last checkpoint before it is kept."""


def is_positive_int(value) -> bool:
    """Whether ``value`` is an int (not a bool) of at least 1."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """How :func:`fit` runs: every keyword it takes besides its hooks.

    Attributes:
      num_steps: generator updates in all.
      batch_size: real examples per discriminator update, over all devices.
      seed: seeds ``seed .. seed + num_seeds - 1``; seed ``s`` starts from ``PRNGKey(s)``.
      num_seeds: seeds trained together in one program.
      log_every: steps between records of ``metrics.jsonl``.
      eval_every: steps between evaluations and sample pictures (and at the end).
      checkpoint_every: steps between checkpoints (and at the end).
      keep_checkpoints: checkpoints kept on disk.
      num_eval_samples: generated samples per seed and evaluation.
      num_final_samples: samples per seed in ``samples/final.npz``.
      steps_per_dispatch: train steps per jitted call (``lax.scan``); divides
        every ``*_every`` and ``num_steps``.
      parallel: ``none``, ``jit`` (sharded over a mesh) or ``pmap``.
      seed_batching: ``vmap``, ``map`` or ``auto`` (see :mod:`jaxgan.programs`).
      data_placement: ``auto``, ``device`` or ``host`` (stream each call's batches).
      on_nan: ``stop`` or ``rollback`` (to the last checkpoint, rates halved).
      on_collapse: what a symptom of a dying GAN does (:mod:`jaxgan.health`):
        ``warn`` (a console line; the run goes on) or ``stop`` (exit with
        :class:`CollapseError`, keeping the last checkpoint before it).
      classifier_steps: > 0 trains (or loads) a classifier of the real data
        to score labelled images; 0 for none.
      classifier_dir: where that classifier is cached (default ``workdir/classifier``).
      truncation: > 0 draws the latents of evaluations and final samples with
        the truncation trick at this threshold
        (:meth:`jaxgan.state.GANRecipe.sample_latent`); 0, the default, from
        the full prior. Training always draws from the full prior.
    """

    num_steps: int
    batch_size: int
    seed: int = 0
    num_seeds: int = 1
    log_every: int = 100
    eval_every: int = 1000
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    num_eval_samples: int = 1000
    num_final_samples: int = 1000
    steps_per_dispatch: int = 1
    parallel: str = "none"
    seed_batching: str = "auto"
    data_placement: str = "auto"
    on_nan: str = "stop"
    on_collapse: str = "warn"
    classifier_steps: int = 0
    classifier_dir: str | None = None
    truncation: float = 0.0

    # Fields a resumed run may change: they steer logging and evaluation, not
    # what is trained. (num_steps too, unless a schedule depends on it: the
    # config layer knows; fit's own check lets it change.)
    RESUME_MAY_CHANGE = frozenset({
        "num_steps", "log_every", "eval_every", "checkpoint_every", "keep_checkpoints",
        "num_final_samples", "num_eval_samples", "steps_per_dispatch", "data_placement",
        "classifier_steps", "classifier_dir", "on_nan", "on_collapse", "parallel",
        "seed_batching", "truncation"})

    def __post_init__(self):
        check_options(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        """The options as a JSON-able dict (recorded in ``config.json``)."""
        return dataclasses.asdict(self)


def check_options(values: dict[str, Any], prefix: str = "") -> None:
    """Checks :class:`FitOptions`' values; ``prefix`` goes before each field's
    name in the message (``config.`` for the config path).

    Raises:
      FitError: naming the first bad field and the fix.
    """
    def fail(message):
        raise FitError(message)

    for name in ("batch_size", "num_steps", "num_seeds", "log_every", "eval_every",
                 "checkpoint_every", "keep_checkpoints", "num_final_samples",
                 "num_eval_samples", "steps_per_dispatch"):
        if not is_positive_int(values[name]):
            fail(f"{prefix}{name} must be a positive integer, got {values[name]!r}")
    if not isinstance(values["seed"], int) or isinstance(values["seed"], bool):
        fail(f"{prefix}seed must be an integer, got {values['seed']!r}")
    choices = {"parallel": parallel.MODES, "seed_batching": SEED_BATCHING,
               "data_placement": DATA_PLACEMENTS, "on_nan": ON_NAN,
               "on_collapse": health.ON_COLLAPSE}
    for name, allowed in choices.items():
        if values[name] not in allowed:
            fail(f"{name} must be one of {', '.join(allowed)}, got {values[name]!r}")
    steps = values["classifier_steps"]
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        fail(f"{prefix}classifier_steps must be an integer >= 0, got {steps!r}")
    truncation = values["truncation"]
    if (not isinstance(truncation, int | float) or isinstance(truncation, bool)
            or not math.isfinite(truncation) or truncation < 0):
        fail(f"{prefix}truncation must be a number >= 0 (0: none; at 2, 95% of a normal's "
             f"draws are kept), got {truncation!r}")
    directory = values["classifier_dir"]
    if directory is not None and not isinstance(directory, str):
        fail(f"{prefix}classifier_dir must be a path or None, got {directory!r}")
    mode = values["parallel"]
    if mode == "none" and jax.process_count() > 1:
        fail(f"this is one of {jax.process_count()} processes; a multi-process run needs "
             "parallel='jit' or 'pmap'")
    if mode != "none":
        try:
            parallel.check_batch_size(values["batch_size"], jax.device_count())
        except ValueError as e:
            fail(f"parallel={mode!r}: {e}")
    k = values["steps_per_dispatch"]
    for name in ("num_steps", "log_every", "eval_every", "checkpoint_every"):
        if values[name] % k:
            fail(f"{prefix}{name}={values[name]} is not a multiple of "
                 f"{prefix}steps_per_dispatch={k}; make it one, or lower steps_per_dispatch")


def describe_recipe(recipe: Trainable) -> dict[str, Any]:
    """What a checkpoint records of a recipe: ``recipe.describe()``
    (:meth:`jaxgan.GANRecipe.describe`)."""
    return recipe.describe()


def check_same_run(saved: dict[str, Any], current: dict[str, Any], may_change,
                   start_step: int, defaults: dict[str, Any] | None = None,
                   subject: str = "this run", new_workdir: str = "a new workdir") -> None:
    """Refuses to resume when a field that shapes training differs.

    A field missing on one side takes its value from ``defaults`` (a config
    that predates the field meant that value). ``subject`` and
    ``new_workdir`` word the message for the caller (a config, a script).

    Raises:
      FitError: naming the first such field and both values.
    """
    defaults = defaults or {}
    may_change = set(may_change) | {LR_SCALE_KEY, DEVICES_KEY}

    def shown(record, name):  # a field a record left out meant its default
        if name in record or name in defaults:
            return f"{name}={record.get(name, defaults.get(name))!r}"
        return f"{name} not recorded (its default, if it has one)"

    for name in sorted(saved.keys() | current.keys()):
        before, now = (c.get(name, defaults.get(name)) for c in (saved, current))
        if name not in may_change and before != now:
            raise FitError(
                f"the checkpoint at step {start_step} was trained with {shown(saved, name)}, "
                f"{subject} has {shown(current, name)}; pass the same value to resume, or "
                f"use {new_workdir}")


def check_resume_step(start_step: int, num_steps: int, steps_per_dispatch: int,
                      new_workdir: str = "a new workdir") -> None:
    """Refuses a checkpoint past ``num_steps``, or at a step that calls of
    ``steps_per_dispatch`` steps cannot reach.

    Raises:
      FitError: naming the step and the fix.
    """
    if start_step > num_steps:
        raise FitError(f"the checkpoint is at step {start_step}, past num_steps={num_steps}; "
                       f"raise num_steps or use {new_workdir}")
    if start_step % steps_per_dispatch:
        raise FitError(f"resuming at step {start_step} needs a steps_per_dispatch that "
                       f"divides it, not {steps_per_dispatch}")


def _all_finite(states: Any) -> jax.Array:
    leaves = [leaf for leaf in jax.tree.leaves(states) if jnp.issubdtype(leaf.dtype, jnp.floating)]
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


_all_finite_jit = jax.jit(_all_finite)


def divergence(means: dict[str, float], states: Any) -> str | None:
    """What is non-finite in the interval's mean metrics or in the state
    (parameters, BatchNorm statistics, optimizer moments), or ``None``."""
    bad = [f"{name}={value}" for name, value in means.items() if not math.isfinite(value)]
    if not bool(_all_finite_jit(states)):
        bad.append("non-finite parameters or optimizer state")
    return ", ".join(bad) if bad else None


def _check_program_memory(program) -> None:
    """Refuses a compiled program that XLA says needs more memory than the
    device has, before its first call."""
    analysis, available = None, available_memory()
    with contextlib.suppress(Exception):  # not every backend analyses memory
        analysis = program.memory_analysis()
    if analysis is None or available is None:
        return
    needed = (analysis.argument_size_in_bytes + analysis.output_size_in_bytes
              - analysis.alias_size_in_bytes + analysis.temp_size_in_bytes)
    # The arguments (state, data) are placed already, so no longer available.
    more = needed - analysis.argument_size_in_bytes
    if more > available:
        raise FitError(f"the compiled train program needs {_gigabytes(more)} beyond its "
                       f"{_gigabytes(analysis.argument_size_in_bytes)} of state and data "
                       f"({_gigabytes(analysis.temp_size_in_bytes)} of it temporary) and "
                       f"{_gigabytes(available)} is available; lower batch_size, num_seeds or "
                       "steps_per_dispatch")


class _Run:
    """What changes during a fit and what a rollback rebuilds in one call
    (:meth:`_Fit.start`): the recipe at its learning-rate scale, the compiled
    program, the states, the data stream, the logs and the interval's timing."""

    def __init__(self, recipe, program, compile_seconds, states, step, stream, logs):
        self.recipe, self.program, self.compile_seconds = recipe, program, compile_seconds
        self.states, self.step, self.stream, self.logs = states, step, stream, logs
        self.first_step = step
        self.pending: list[dict[str, jax.Array]] = []  # device metrics since the last record
        self.last_eval = None  # (per-seed metrics, samples) at self.step, if evaluated there
        self.interval_start, self.interval_step = time.perf_counter(), step
        self.health = health.HealthMonitor()  # a rollback starts it afresh

    def close(self) -> None:
        self.logs.close()
        if self.stream is not None:
            self.stream.close()


class _Fit:
    """The parts of a fit fixed for its whole length: options, layout, seeds,
    paths, the checkpointer and the evaluation."""

    def __init__(self, recipe: Trainable, source, workdir: str, options: FitOptions,
                 record: dict[str, Any], check_resume: Callable[[int, dict], None]):
        self.base_recipe, self.source, self.workdir, self.options = recipe, source, workdir, options
        self.record, self.check_resume = record, check_resume
        self.seeds = np.arange(options.seed, options.seed + options.num_seeds)
        self.primary = parallel.is_primary()  # only process 0 writes files
        self.one_process = jax.process_count() == 1
        how = options.seed_batching
        if how == "auto":
            how = resolve_seed_batching(how, recipe.uses_convolution(source.example_shape))
        self.seed_batching = how
        self.layout = Layout(options.parallel, recipe.n_disc, how)
        self.streamed = (isinstance(source, HostArrays)
                         and not place_on_device(options.data_placement, source.nbytes))
        self.samples_dir = os.path.join(workdir, "samples")
        self.checkpointer = checkpoint_lib.Checkpointer(os.path.join(workdir, "checkpoints"),
                                                        options.keep_checkpoints)
        self.lr_scale = 1.0
        self.evaluation: Evaluation | TwoWayEvaluation | None = None
        self.progress = None
        self.data = None  # what each call takes besides the state: placed once

    def say(self, line: str, stderr: bool = False) -> None:
        """A console line (stdout, or stderr), from the first process only."""
        if self.primary:
            (self.progress or tqdm).write(line, file=sys.stderr if stderr else None)

    def fresh_states(self, recipe: Trainable):
        return recipe.create_states(self.seeds, self.source.example_shape)

    def restore(self, like: Any) -> tuple[int, Any, int]:
        """The latest checkpoint's ``(step, states, devices)``, or step 0 and ``like``."""
        try:
            latest = self.checkpointer.restore_latest(like=like, check_config=self.check_resume)
        except checkpoint_lib.CheckpointMismatchError as e:
            raise FitError(f"the newest checkpoint in {self.checkpointer.directory} does not "
                           f"fit this run ({e}); use a new workdir") from e
        except checkpoint_lib.CheckpointUnreadableError as e:
            raise FitError(str(e)) from e
        if latest is None:
            return 0, like, self.layout.num_devices
        step, saved, states = latest
        self.lr_scale = saved.get(LR_SCALE_KEY, 1.0)
        return step, states, saved.get(DEVICES_KEY, 1)

    def saved_record(self) -> dict[str, Any]:
        saved = dict(self.record)
        if self.lr_scale != 1.0:
            saved[LR_SCALE_KEY] = self.lr_scale
        if self.layout.num_devices != 1:
            saved[DEVICES_KEY] = self.layout.num_devices
        return saved

    def start(self, step: int, states: Any) -> _Run:
        """Compiles the program at the current learning-rate scale and opens the
        data stream and the logs at ``step``: a new run or a rolled-back one."""
        options, source, layout = self.options, self.source, self.layout
        recipe = self.base_recipe.with_learning_rate_scale(self.lr_scale)
        k = options.steps_per_dispatch
        examples = options.batch_size * recipe.n_disc
        if self.streamed:  # each call takes its K steps' batches, gathered on the host
            sampler = sample_streamed
            shapes = {"images": ((k, examples, *source.example_shape), source.images.dtype)}
            if recipe.conditional:
                shapes["labels"] = ((k, examples), np.int32)
            self.data = layout.stream_spec(shapes)
        else:  # each call takes the source's device data (or None), placed once
            sampler = source.sample_labelled if recipe.conditional else source.sample_real
            if self.data is None:
                self.data = layout.put_state(source.device_data())
        states = layout.put_state(states)
        # One program runs K steps of every seed, with the state donated so that
        # XLA updates it in place. It is compiled ahead of time: the compile is
        # timed on its own (not charged to steps_per_sec), and a run cannot
        # compile twice (a rollback builds a new program, with lower rates).
        xla_options = compiler_options()
        began = time.perf_counter()
        program = layout.program(recipe, sampler, options.batch_size, k, self.streamed).lower(
            states, self.data).compile(compiler_options=xla_options)
        compile_seconds = time.perf_counter() - began
        _check_program_memory(program)
        stream = (HostStream(source, step, k, examples, with_labels=recipe.conditional,
                             put=layout.put_stream) if self.streamed else None)
        logs = run_io.RunLogs(self.workdir, step, enabled=self.primary, config=self.record)
        return _Run(recipe, program, compile_seconds, states, step, stream, logs)

    def rollback(self, run: _Run, diverged: str, rollbacks: int) -> _Run:
        """The run rebuilt from the last good checkpoint (or step 0) with both
        learning rates lowered by ``ROLLBACK_LR_FACTOR``."""
        self.lr_scale *= ROLLBACK_LR_FACTOR
        good = self.checkpointer.latest_step()
        lr_scale = self.lr_scale
        if good is None:
            step, states = 0, self.fresh_states(self.base_recipe)
        else:
            step, states, _ = self.restore(self.layout.one_copy(run.states))
        self.lr_scale = lr_scale  # the checkpoint's own scale is the one before this rollback
        run.close()
        self.say(f"diverged at step {run.step}: {diverged}; rolled back to step {step} with "
                 f"learning rates x{self.lr_scale:g} (rollback {rollbacks} of {MAX_ROLLBACKS})")
        new = self.start(step, states)
        # Restart the bar's clock at the good step: counting the steps back up
        # with update() would read as a burst of speed.
        self.progress.reset(total=self.options.num_steps)
        self.progress.n = self.progress.initial = self.progress.last_print_n = step
        self.progress.refresh()
        return new

    def log_record(self, run: _Run, means: dict[str, float], is_eval: bool) -> None:
        """Writes the interval's record (evaluating first at evaluation steps)."""
        elapsed = time.perf_counter() - run.interval_start
        record = {"step": run.step, **means,
                  "steps_per_sec": (run.step - run.interval_step) / elapsed}
        if run.interval_step == run.first_step:
            record["compile_seconds"] = run.compile_seconds
        evaluated, picture = frozenset(), None
        if is_eval:
            began = time.perf_counter()
            run.last_eval = per_seed, samples = self.evaluation(self.layout.one_copy(run.states))
            record.update({name: float(np.mean(values)) for name, values in per_seed.items()})
            record["eval_seconds"] = time.perf_counter() - began  # the first includes compiling
            if self.options.truncation:  # the samples scored were drawn truncated
                record["truncation"] = float(self.options.truncation)
            evaluated = frozenset(per_seed)
            picture = os.path.join(self.samples_dir, f"step_{run.step:07d}.png")
            if self.primary:
                run_io.plot_samples(picture, self.source, samples, per_seed, self.seeds,
                                    run.step, asked_classes(run.recipe))
        symptoms = run.health.update(record)
        record["health_warnings"] = len(run.health.active)
        run.logs.write(record, evaluated, picture)
        for symptom in symptoms:
            self.say(f"warning at step {run.step}: {symptom}", stderr=True)
        if symptoms and self.options.on_collapse == "stop":
            good = self.checkpointer.latest_step()
            raise CollapseError(
                f"stopped at step {run.step} (on_collapse='stop'): {symptoms[0]}; the last "
                "checkpoint is " + (f"step {good}" if good else "none (step 0)"))
        self.progress.set_postfix(d_loss=f"{means['d_loss']:.3f}",
                                  g_loss=f"{means['g_loss']:.3f}", refresh=False)
        if not sys.stderr.isatty():
            self.say(run_io.console_line(record))

    def finish(self, run: _Run) -> dict[str, Any]:
        """Writes ``eval.json``, the final picture, ``final.npz`` and the loss curves."""
        states = self.layout.one_copy(run.states)
        final_png = os.path.join(self.samples_dir, "final.png")
        last_png = os.path.join(self.samples_dir, f"step_{run.step:07d}.png")
        if run.last_eval is not None:  # the loop just evaluated this state
            per_seed, samples = run.last_eval
            if self.primary and os.path.exists(last_png):  # some shapes are not drawn
                shutil.copyfile(last_png, final_png)
        else:  # resumed a finished run: evaluate it again
            per_seed, samples = self.evaluation(states)
            if self.primary:
                run_io.plot_samples(final_png, self.source, samples, per_seed, self.seeds,
                                    run.step, asked_classes(run.recipe))
        final = self.evaluation.final(per_seed, run.step, self.options.num_seeds)
        if self.primary:
            run_io.write_json(os.path.join(self.workdir, "eval.json"), final)
            run_io.write_npz(os.path.join(self.samples_dir, "final.npz"),
                             self.evaluation.final_samples(states,
                                                           self.options.num_final_samples))
            run_io.plot_losses(run.logs.metrics_path,
                               os.path.join(self.samples_dir, "losses.png"),
                               run_io.experiment_title(self.record), final)
        return final


def fit(recipe: Trainable, source, workdir: str, *, features: Features | None = None,
        metric_fn: MetricFn | None = None, config: dict[str, Any] | None = None,
        check_resume: Callable[[int, dict], None] | None = None, **options) -> dict[str, Any]:
    """Trains ``recipe`` on ``source``, writing results under ``workdir``.

    Args:
      recipe: the GAN: a :class:`jaxgan.GANRecipe` of a user's own modules,
        losses, penalty and optimizers, or any recipe keeping :class:`Trainable`.
      source: any object keeping :class:`jaxgan.data.Source`.
      workdir: where the run writes (and from where it resumes).
      features: ``images [N, ...] -> [N, D]``, jittable: samples are compared
        with real data on these features (Frechet distance, KID,
        precision/recall). By default the scoring classifier's, where there
        is one (``classifier_steps > 0`` and labelled images).
      metric_fn: the user's own evaluation, ``samples -> {name: scalar}``
        (``(samples, labels)`` for a conditional recipe), jittable; its
        values join the evaluation's.
      config: the JSON-able description written to ``config.json`` and saved
        with each checkpoint; by default the options and :func:`describe_recipe`.
      check_resume: ``(step, saved_config)`` raising for a checkpoint this run
        must not continue; by default :func:`check_same_run` on ``config``,
        allowing what ``FitOptions.RESUME_MAY_CHANGE`` names.
      **options: the fields of :class:`FitOptions` (``num_steps`` and
        ``batch_size`` are required).

    Returns:
      The final evaluation (also written to ``eval.json``).

    Raises:
      FitError: bad options, data or workdir (one line); nothing in the
        workdir has changed.
      DivergenceError: non-finite values and no rollback left.
      Interrupted: Ctrl-C or SIGTERM, after saving a checkpoint.
    """
    try:
        check_source(source)
    except TypeError as e:
        raise FitError(str(e)) from e
    try:
        options = FitOptions(**options)
    except TypeError as e:  # an unknown or missing option
        raise FitError(f"fit: {e}; the options are FitOptions' fields") from e
    check_trainable(recipe)
    try:
        recipe.check(source.example_shape)
    except ModuleContractError as e:
        raise FitError(str(e)) from e
    _check_sizes(recipe, source, options, features is not None)
    if config is None:
        config = {**options.as_dict(), "dataset": source.name, **describe_recipe(recipe)}
        if isinstance(getattr(source, "shuffle", None), str):  # an ArraySource's data order
            config["data_order"] = source.shuffle
    try:  # as a checkpoint will read it back (tuples become lists)
        config = json.loads(json.dumps(config))
    except (TypeError, ValueError) as e:
        raise FitError(f"the run's config must be JSON: {e}") from e
    if check_resume is None:
        def identities(record):
            # Module descriptions without the fields that do not count
            # (module_identity): a saved one may carry one that a recipe's
            # describe() now leaves out, or a user's describe() keeps.
            return {name: module_identity(value) if isinstance(value, str) else value
                    for name, value in record.items()}

        def check_resume(step, saved):
            # A checkpoint from before the O(batch) shuffle read the data in
            # the whole-epoch permutation's order.
            check_same_run(identities(saved), identities(config), FitOptions.RESUME_MAY_CHANGE,
                           step,
                           {"data_order": "permutation"} if "data_order" in config else {})
    check = check_resume

    def check_resume_and_length(step: int, saved: dict) -> None:
        check(step, saved)
        check_resume_step(step, options.num_steps, options.steps_per_dispatch)

    # Ctrl-C and SIGTERM become a flag from here on: during the set-up (the
    # restore, the compile, the classifier's training) too, after which the
    # loop stops before its first call.
    interrupt = run_io.InterruptFlag(immediate=jax.process_count() == 1)
    try:
        with workdir_lock(workdir):
            # Process 0 alone writes the outputs; every process hears its verdict.
            decided_by_primary(lambda: check_outputs(
                workdir, options.classifier_dir
                if wants_classifier(source, options.classifier_steps) else None))
            return _fit(recipe, source, workdir, options, config, check_resume_and_length,
                        features, metric_fn, interrupt)
    finally:
        interrupt.restore()


def _fit(recipe, source, workdir, options, config, check_resume, features, metric_fn,
         interrupt):
    _check_memory(recipe, source, options)
    context = _Fit(recipe, source, workdir, options, config, check_resume)
    failed = False
    try:
        start_step, states, saved_devices = context.restore(context.fresh_states(recipe))
        return _train(context, start_step, states, saved_devices, features, metric_fn,
                      interrupt)
    except checkpoint_lib.CheckpointWriteError as e:
        failed = True
        raise FitError(str(e)) from e
    finally:
        try:
            context.checkpointer.close()
        except checkpoint_lib.CheckpointWriteError as e:
            if not failed:  # else already reported
                raise FitError(str(e)) from e
        finally:
            # A run refused before its first save leaves no empty folder behind.
            with contextlib.suppress(OSError):
                os.rmdir(context.checkpointer.directory)


def check_outputs(workdir: str, classifier_dir: str | None = None) -> None:
    """Refuses, before anything is loaded or compiled, a workdir whose outputs
    cannot be written: a file where a folder goes or the reverse, or a
    ``classifier_dir`` (when a classifier is cached there) that cannot be
    made or written.

    Raises:
      FitError: one line naming the path and the fix.
    """
    for name in ("checkpoints", "samples"):
        path = os.path.join(workdir, name)
        if os.path.exists(path) and not os.path.isdir(path):
            raise FitError(f"{path} is a file where the run keeps a folder; move it away or "
                           "use another --workdir")
    for name in ("config.json", "metrics.jsonl", "eval.json"):
        path = os.path.join(workdir, name)
        if os.path.isdir(path):
            raise FitError(f"{path} is a folder where the run writes a file; move it away or "
                           "use another --workdir")
    if classifier_dir is not None:
        directory = classifier_cache_dir(classifier_dir, workdir)
        try:
            os.makedirs(directory, exist_ok=True)
            writable = os.access(directory, os.W_OK)
        except OSError:
            writable = False
        if not writable:
            raise FitError(f"cannot write the classifier cache classifier_dir={classifier_dir}; "
                           "point it at a writable folder, or leave it unset to cache in "
                           "the workdir")


def decided_by_primary(check: Callable[[], None]) -> None:
    """Runs ``check`` in process 0 only, and ends every process if it raises:
    process 0 re-raises its error, the others raise :class:`FitError` with
    its line. For what only process 0 does because only it writes files (the
    workdir's lock, its outputs); else the others would go on to load data
    and compile, and fail at their next collective with a timeout's
    traceback instead of the reason. In a multi-process run this is a
    collective (:func:`jaxgan.parallel.primary_verdict`): every process calls
    it at the same point."""
    error = None
    if parallel.is_primary():
        try:
            check()
        except Exception as e:  # whatever it is, the other processes must hear of it
            error = e
    line = (None if error is None else str(error) if isinstance(error, FitError)
            else f"process 0 failed: {type(error).__name__}: {error}")
    agreed = parallel.primary_verdict(line)
    if error is not None:
        raise error
    if agreed is not None:
        raise FitError(agreed)


@contextlib.contextmanager
def workdir_lock(workdir: str):
    """Holds ``workdir``'s lock (:class:`jaxgan.run_io.WorkdirLock`) for the
    ``with`` block: taken by the first process of a run only, re-entered by a
    process that holds it already. In a multi-process run every process must
    enter it at the same point (it is a collective, :func:`decided_by_primary`),
    and a refusal ends all of them with process 0's line.

    Raises:
      FitError: another live run holds it, or the workdir cannot be created
        or written; one line, and nothing in the workdir has changed.
    """
    taken = []
    try:
        decided_by_primary(lambda: taken.append(_take_lock(workdir)))
        yield
    finally:
        for lock in taken:
            lock.release()


def _take_lock(workdir: str) -> run_io.WorkdirLock:
    lock = run_io.WorkdirLock(workdir)
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise FitError(f"the workdir {lock.workdir} is a file, not a folder; choose another "
                       "--workdir")
    try:
        lock.acquire()
    except run_io.WorkdirBusyError as e:
        raise FitError(str(e)) from e
    except OSError as e:
        raise FitError(f"cannot write the workdir {lock.workdir} ({e.strerror or e}); choose a "
                       "writable --workdir") from e
    return lock


def _check_sizes(recipe: Trainable, source, options: FitOptions, user_features: bool) -> None:
    """Refuses, before anything is built, data and sample sizes that cannot work."""
    examples_per_step = options.batch_size * recipe.n_disc
    if options.data_placement == "host" and not isinstance(source, HostArrays):
        raise FitError(f"data_placement='host' streams a dataset held as host arrays, and "
                       f"{source.name} is drawn on the device; use data_placement='auto'")
    if (isinstance(getattr(source, "num_examples", None), int)
            and source.num_examples < examples_per_step):
        raise FitError(f"{source.name} has {source.num_examples} examples but a step reads "
                       f"batch_size * n_disc = {examples_per_step}; lower batch_size")
    translation = is_translation(recipe)
    if translation != hasattr(source, "held_out_pairs"):
        raise FitError(f"the recipe translates images and {source.name} holds no images to "
                       "translate (jaxgan.data.pairs.PairedSource, or UnpairedSource for a "
                       "CycleGAN)" if translation else
                       f"{source.name} holds images to translate, which a translation recipe "
                       "(GANRecipe(translation=True), CycleGANRecipe) trains on")
    if translation and isinstance(source, UnpairedSource) != hasattr(recipe, "direction"):
        raise FitError(f"a CycleGAN trains on two unpaired domains (UnpairedSource) and a "
                       f"Pix2Pix recipe on pairs; {source.name} and this recipe do not match")
    if translation and recipe.input_shape(source.example_shape) != tuple(source.input_shape):
        raise FitError(f"the recipe's inputs have shape {recipe.input_shape(source.example_shape)}"
                       f" and {source.name}'s {tuple(source.input_shape)}; set input_channels="
                       f"{source.input_shape[-1]}")
    if recipe.conditional and not getattr(source, "num_conditions", source.num_classes):
        raise FitError(f"the recipe is conditional ({recipe.num_classes} classes) and "
                       f"{source.name} has no labels; use num_classes=0 or labelled data")
    if options.truncation:
        # Asked here, before anything compiles, rather than at the first evaluation.
        if translation:
            raise FitError(NO_LATENTS)
        try:
            jax.eval_shape(lambda: recipe.sample_latent(jax.random.PRNGKey(0), 1,
                                                        truncation=options.truncation))
        except (TypeError, ValueError) as e:
            raise FitError(f"truncation={options.truncation!r}: the recipe cannot draw truncated "
                           f"latents ({e}); set truncation=0") from e
    if recipe.conditional and options.num_eval_samples < recipe.num_classes:
        raise FitError(f"num_eval_samples={options.num_eval_samples} cannot ask for each of "
                       f"the {recipe.num_classes} classes; raise it to at least "
                       f"{recipe.num_classes}")
    if user_features and not (isinstance(source, HostArrays | ModeMixture)
                              or hasattr(source, "real_examples")):
        raise FitError(f"features compare samples with real data, and {source.name} offers "
                       "none; give the source real_examples(num, seed) -> (reference, "
                       "held_out), or pass metric_fn instead")
    if user_features or wants_classifier(source, options.classifier_steps):
        try:
            check_sample_sizes(source, options.num_eval_samples,
                               "" if user_features else ", or set classifier_steps=0")
        except ValueError as e:
            raise FitError(str(e)) from e


def available_memory(device: jax.Device | None = None) -> int | None:
    """Bytes a run may still allocate on ``device`` (the first by default):
    the accelerator's limit less what is in use, or on the CPU the host's
    available memory (``MemAvailable``); ``None`` where neither is known."""
    device = device or jax.local_devices()[0]
    stats = None
    with contextlib.suppress(Exception):  # not every backend reports memory
        stats = device.memory_stats()
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _gigabytes(num_bytes: float) -> str:
    return f"{num_bytes / 2**30:.3g} GiB"


def _check_memory(recipe: Trainable, source, options: FitOptions) -> None:
    """Refuses, before any array is made, a run whose state and one batch
    already cannot fit: a cheap estimate from shapes (the compiled program's
    own memory analysis checks the rest, in :meth:`_Fit.start`)."""
    available = available_memory()
    if available is None:
        return
    seeds = np.arange(options.seed, options.seed + options.num_seeds)
    shapes = jax.eval_shape(lambda: recipe.create_states(seeds, source.example_shape))
    state = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(shapes))
    # One batch of real examples and latents, as float32, per seed and step of a call.
    latent = int(np.prod(jax.eval_shape(lambda: recipe.sample_latent(
        jax.random.PRNGKey(0), 1)).shape))
    batch = (options.batch_size * recipe.n_disc * options.num_seeds * options.steps_per_dispatch
             * (int(np.prod(source.example_shape)) + latent) * 4)
    # A step holds the state three times over: as it came in, its gradients
    # and optimizer moments in flight, and the state it returns.
    if 3 * state + batch > available:
        raise FitError(f"this run needs at least {_gigabytes(3 * state + batch)} (3 x "
                       f"{_gigabytes(state)} of state for {options.num_seeds} seed(s), "
                       f"{_gigabytes(batch)} for one batch of {options.batch_size}) and "
                       f"{_gigabytes(available)} is available; lower batch_size, num_seeds or "
                       "steps_per_dispatch")


def _train(context: _Fit, start_step: int, states: Any, saved_devices: int,
           features: Features | None, metric_fn: MetricFn | None,
           interrupt: run_io.InterruptFlag) -> dict[str, Any]:
    options, layout = context.options, context.layout
    progress = run = None
    try:
        run = context.start(start_step, states)
        if context.primary:  # the program compiled and fits: the run is on
            os.makedirs(context.samples_dir, exist_ok=True)
            run_io.write_json(os.path.join(context.workdir, "config.json"), context.record)
        context.evaluation = build_evaluation(
            run.recipe, context.source, options.num_eval_samples,
            classifier_steps=options.classifier_steps,
            cache_dir=classifier_cache_dir(options.classifier_dir, context.workdir),
            features=features, metric_fn=metric_fn, seeds=context.seed_batching,
            log=lambda line: context.say(line, stderr=True), truncation=options.truncation)
        k = options.steps_per_dispatch
        context.progress = progress = tqdm(
            total=options.num_steps, initial=start_step, unit="step",
            desc=f"{context.source.name} x{options.num_seeds} seed(s)",
            mininterval=1.0 if sys.stderr.isatty() else 30.0, file=sys.stderr,
            disable=not context.primary)
        spread = ("" if options.parallel == "none"
                  else f", {options.parallel} over {layout.num_devices} devices")
        context.say(f"compiled {k} steps x {options.num_seeds} seed(s) per call in "
                    f"{run.compile_seconds:.1f} s{spread}")
        if saved_devices != layout.num_devices:
            context.say(f"resuming a run saved on {saved_devices} device(s) on "
                        f"{layout.num_devices}: the global batch and its random draws are the "
                        "same, so it trains on as it would have (to float rounding; modules' "
                        "own random streams are drawn per device, so those differ)")
        rollbacks = 0
        run.interval_start = counted_at = time.perf_counter()  # the set-up above is not training
        interrupt.immediate = False  # from here a signal saves the state first
        while run.step < options.num_steps:
            if run.step == start_step and context.one_process and interrupt.raised:
                raise Interrupted(run_io.BEFORE_TRAINING, interrupt.signum)
            run.states, metrics = run.program(
                run.states, context.data if run.stream is None else next(run.stream))
            run.step += k
            run.pending.append(metrics)  # one copy is taken at the log step that reads them
            if (len(run.pending) > 1 and not progress.disable
                    and time.perf_counter() - counted_at >= progress.mininterval):
                # The bar counts only steps that have run. The call just made
                # returned at once (JAX dispatches asynchronously), so count the
                # one before it, waiting for it while this one is queued behind
                # (the device stays busy); at most once per the bar's own
                # refresh interval, so that between log steps the host may
                # otherwise queue calls as far ahead as it likes.
                jax.block_until_ready(run.pending[-2])
                progress.update(run.step - k - progress.n)
                counted_at = time.perf_counter()
            is_eval = run.step % options.eval_every == 0 or run.step == options.num_steps
            is_log = run.step % options.log_every == 0 or is_eval
            is_save = run.step % options.checkpoint_every == 0 or run.step == options.num_steps
            diverged = means = None
            synced = True  # below, the host waits for every step so far
            if is_log:
                # Fetching the metrics is the one host sync of the interval.
                copies = [layout.one_copy(m) for m in run.pending]
                means = {name: float(np.mean([np.asarray(m[name]) for m in copies]))
                         for name in copies[0]}
                diverged = divergence(means, layout.one_copy(run.states))
            elif is_save or (context.one_process and interrupt.raised):
                diverged = divergence({}, layout.one_copy(run.states))
            else:
                synced = False
            if diverged is not None:  # never log, evaluate or save a diverged state
                context.checkpointer.wait()
                if options.on_nan != "rollback" or rollbacks >= MAX_ROLLBACKS:
                    raise DivergenceError(_divergence_message(
                        run.step, diverged, rollbacks, context.checkpointer.latest_step()))
                rollbacks += 1
                run = context.rollback(run, diverged, rollbacks)
                continue
            if synced:
                progress.update(run.step - progress.n)
                counted_at = time.perf_counter()
            if is_log:
                context.log_record(run, means, is_eval)
                run.pending = []
            if context.one_process:
                stopping = interrupt.raised
            else:  # all processes must save together: they agree where all of them pass
                stopping = (is_log or is_save) and parallel.any_process(interrupt.raised)
            stopping = stopping and run.step < options.num_steps
            if is_save or stopping:  # the state passed the divergence check above
                context.checkpointer.save(run.step, layout.one_copy(run.states),
                                          context.saved_record())
            if stopping:
                raise Interrupted(f"interrupted at step {run.step}; saved a checkpoint there; "
                                  "run the same command to resume", interrupt.signum)
            if not run.pending:
                # steps_per_sec counts train steps only: logging, evaluation and
                # checkpointing happen between intervals.
                run.interval_start, run.interval_step = time.perf_counter(), run.step
    finally:
        if progress is not None:
            progress.close()
        if run is not None:
            run.close()
        context.checkpointer.wait()
    return context.finish(run)


def _divergence_message(step: int, diverged: str, rollbacks: int, good: int | None) -> str:
    tried = f" after {rollbacks} rollback(s)" if rollbacks else ""
    return (f"training diverged at step {step}{tried}: {diverged}; the last good checkpoint "
            "is " + (f"step {good}" if good else "none (step 0)") + "; lower the learning rates"
            + ("" if rollbacks else ", or set on_nan='rollback'"))


__all__ = ["DEVICES_KEY", "LR_SCALE_KEY", "MAX_ROLLBACKS", "ON_NAN", "ROLLBACK_LR_FACTOR",
           "CollapseError", "DivergenceError", "FitError", "FitOptions", "Interrupted", "Trainable",
           "check_options", "check_trainable",
           "check_resume_step", "check_same_run", "describe_recipe", "divergence", "fit",
           "available_memory", "check_outputs", "decided_by_primary", "is_positive_int",
           "workdir_lock"]
