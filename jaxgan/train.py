"""The config path: ``train_and_evaluate(config, workdir)`` and reading back a
run that it trained.

A config becomes ``(recipe, source, options)`` in one place
(:func:`jaxgan.config.build`), and the run is :func:`jaxgan.fit` on those, with
the config written to ``config.json`` and checked on resume by the config's
own rules (:func:`jaxgan.config.check_resumable`). This module is what
``experiments/train.py`` and ``experiments/control.py`` call.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NamedTuple

import jax
import ml_collections
from tqdm.auto import tqdm

from jaxgan import checkpoint as checkpoint_lib
from jaxgan import config as config_lib
from jaxgan import run_io

# ConfigError and the first wave's other names re-exported here live in
# config, evaluation and programs now; they stay importable from jaxgan.train
# for code written against it (new code imports them from their modules).
from jaxgan.config import (
    ConfigError,
    build_recipe,
    build_source,
    check_resumable,
    num_classes,
    seed_batching,
    validate_config,
)
from jaxgan.evaluation import (
    Features,
    classifier_cache_dir,
    eval_labels,
    evaluation_key,
    make_evaluate,
    real_examples,
    real_floor,
    summarize_seeds,
)
from jaxgan.loop import DivergenceError, FitError, Interrupted, fit, workdir_lock
from jaxgan.programs import over_seeds
from jaxgan.state import GANRecipe, GANState, create_states


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       features: Features | None = None) -> dict[str, Any]:
    """Trains and evaluates as ``config`` says, writing results under ``workdir``.

    Generated samples are compared with real data on the features of
    ``features`` (``images [N, H, W, C] in [-1, 1] -> [N, D]``; bring your own,
    e.g. Inception), or by default on the scoring classifier's penultimate
    layer when ``config.classifier_steps > 0``.

    Returns:
      The final evaluation (also written to ``eval.json``).

    Raises:
      ConfigError: for a bad config, an incompatible checkpoint in
        ``workdir`` or a workdir that another live run holds; nothing in
        ``workdir`` is written before these checks.
    """
    validate_config(config)  # a bad value is refused before the workdir is touched
    # Ctrl-C and SIGTERM while the data load: the loop stops before its first call.
    interrupt = run_io.InterruptFlag(immediate=jax.process_count() == 1)
    try:
        # One run at a time in a workdir: refused before the data load.
        with workdir_lock(workdir):
            recipe, source, options = config_lib.build(
                config, progress=lambda **kw: tqdm(file=sys.stderr, **kw),
                log=lambda line: tqdm.write(line, file=sys.stderr))
            return fit(recipe, source, workdir, features=features, config=config.to_dict(),
                       check_resume=lambda step, saved: config_lib.check_resumable(
                           saved, config, step), **options.as_dict())
    except ConfigError:
        raise
    except FitError as e:  # the scripts report every user error as the config's
        raise ConfigError(str(e)) from e
    finally:
        interrupt.restore()


class TrainedRun(NamedTuple):
    """A finished (or checkpointed) run, restored from its workdir."""

    config: ml_collections.ConfigDict
    source: Any
    recipe: GANRecipe
    states: GANState  # one per seed, stacked
    step: int


def restore_run(workdir: str) -> TrainedRun:
    """Rebuilds a run's GAN from ``workdir``'s config.json and latest checkpoint.

    Raises:
      ConfigError: no trained run there, or its checkpoint does not fit its
        config; one line naming the workdir and the fix.
    """
    config_path = os.path.join(workdir, "config.json")
    checkpoint_dir = os.path.join(workdir, "checkpoints")
    if not os.path.exists(config_path) or not os.path.isdir(checkpoint_dir):
        raise ConfigError(f"{workdir} holds no trained run (no config.json or checkpoints/); "
                          f"train one first with experiments/train.py --workdir {workdir}")
    with open(config_path) as f:
        config = ml_collections.ConfigDict(json.load(f))
    # The checkpoint holds one copy of the state, whatever trained it; a
    # reader needs no data parallelism (nor its batch to split over devices).
    config.parallel = "none"
    recipe, source, options = config_lib.build(config)
    seeds = range(options.seed, options.seed + options.num_seeds)
    states = create_states(recipe, list(seeds), source.example_shape)
    checkpointer = checkpoint_lib.Checkpointer(checkpoint_dir, config.keep_checkpoints)
    try:
        # A reader: it may run beside the training, so it moves nothing.
        latest = checkpointer.restore_latest(like=states, set_aside=False)
    except checkpoint_lib.CheckpointMismatchError as e:
        raise ConfigError(f"the newest checkpoint in {checkpoint_dir} does not fit "
                          f"{config_path} ({e})") from e
    except checkpoint_lib.CheckpointUnreadableError as e:
        raise ConfigError(str(e)) from e
    finally:
        checkpointer.close()
    if latest is None:
        raise ConfigError(f"{checkpoint_dir} holds no readable checkpoint; let the run reach "
                          "its first checkpoint_every")
    step, _, states = latest
    return TrainedRun(config, source, recipe, states, step)


def classifier_dir(config: ml_collections.ConfigDict, workdir: str) -> str:
    """Where a run's scoring classifier is cached: ``config.classifier_dir`` (a
    cache shared between runs) or ``<workdir>/classifier``."""
    return classifier_cache_dir(config_lib.option(config, "classifier_dir"), workdir)


def headline_metrics(result: dict[str, Any]) -> list[str]:
    """The names of the final metrics worth printing on one line."""
    return [name for name in ("modes_covered", "high_quality_fraction", "reverse_kl",
                              "confident_fraction", "classes_covered", "class_kl",
                              "label_accuracy", "l1", "psnr", "frechet_distance", "kid",
                              "precision", "recall", "real_frechet_distance")
            if name in result]


def default_workdir(config: ml_collections.ConfigDict) -> str:
    """``runs/<dataset>``; for ``npz:``/``folder:`` data, the file or folder's name."""
    name = config.dataset.split(":", 1)[-1]
    name = os.path.splitext(os.path.basename(os.path.normpath(name)))[0]
    return os.path.join("runs", name)


__all__ = ["ConfigError", "DivergenceError", "Interrupted", "TrainedRun", "build_recipe",
           "build_source", "check_resumable", "classifier_dir", "default_workdir",
           "eval_labels", "evaluation_key", "headline_metrics", "make_evaluate", "num_classes",
           "over_seeds", "real_examples", "real_floor", "restore_run", "seed_batching",
           "summarize_seeds", "train_and_evaluate", "validate_config"]
