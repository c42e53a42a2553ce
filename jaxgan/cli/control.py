r"""Controllable generation with a trained generator: latent editing and interpolation.

  jaxgan-control --workdir runs/digits [--num_latents 100] [--num_steps 200]
      [--other_weight 1.0] [--targets 0,3,8]

(in a checkout, ``python experiments/control.py`` takes the same flags).
Loads the generator of a run that ``jaxgan-train`` trained in
``--workdir`` (its latest checkpoint) and the classifier cached there by the
run (trained now if missing). Then, from ``--num_latents`` random latents,
it edits every latent towards every target class by gradient ascent on the
classifier's score (:func:`jaxgan.control.edit_latents`), once without and
once with the penalty on the other classes' logits. It writes, under
``<workdir>/control/`` (or ``--out_dir``):

- ``control.json``: per setting (``free``, ``penalised``), the success rate
  (target probability >= 0.9 within ``--num_steps``), mean steps to success,
  the mean absolute change of the other classes' logits, and the share of
  successes that a second classifier, trained with another seed, also assigns
  the target (edits that fool only the guiding classifier fail this);
- ``trajectory.png``: editing paths, one row per latent;
- ``interpolation.png``: latent interpolations and, for a conditional
  generator, class interpolations.

Exit code 0 on success, 2 on a user error (no trained run in the workdir, a
run without labels, a bad flag), with a one-line message on stderr.
"""

import json
import os
import sys

from absl import app, flags, logging

from jaxgan.cli import usage_error, wants_help

FLAGS = flags.FLAGS



def _define_flags() -> None:
    flags.DEFINE_string("workdir", None, "Workdir of a run trained by jaxgan-train on a "
                        "labelled dataset.")
    flags.DEFINE_list("targets", None, "Classes to edit towards (default: all).")
    flags.DEFINE_integer("num_latents", 100, "Random latents to start from.")
    flags.DEFINE_integer("num_steps", 200, "Gradient steps per edit.")
    flags.DEFINE_float("learning_rate", 0.05, "Adam step size on z.")
    flags.DEFINE_float("other_weight", 1.0, "Weight of the penalty on the other classes' "
                       "logit changes, for the penalised setting.")
    flags.DEFINE_integer("seed", 0, "Seed of the starting latents.")
    flags.DEFINE_string("out_dir", None, "Where to write (default: <workdir>/control).")


STOP_PROBABILITY = 0.9


def _summarize(path, targets, checker_classes, num_classes):
    """Flat numbers for one setting; pairs already confidently the target are left out."""
    import numpy as np

    start_probability = np.asarray(path.target_probability[0])
    final_logits, start_logits = np.asarray(path.logits[-1]), np.asarray(path.logits[0])
    first_success = np.asarray(path.first_success)
    counted = start_probability < STOP_PROBABILITY
    success = counted & (first_success > 0)
    others = 1.0 - np.eye(num_classes)[targets]
    other_change = (np.abs(final_logits - start_logits) * others).sum(-1) / (num_classes - 1)
    summary = {
        "edits": int(counted.sum()),
        "already_target": int((~counted).sum()),
        "success_rate": float(success.sum() / max(counted.sum(), 1)),
        "mean_steps_to_success": float(first_success[success].mean()) if success.any() else None,
        "other_logit_change": float(other_change[counted].mean()) if counted.any() else None,
        "checker_agrees": float((checker_classes == targets)[success].mean())
        if success.any() else None,
    }
    for t in np.unique(targets):
        pairs = counted & (targets == t)
        summary[f"success_rate_class_{t}"] = float(success[pairs].sum() / max(pairs.sum(), 1))
    return summary


def _main(argv):
    if len(argv) > 1:
        usage_error(f"unexpected arguments {argv[1:]}; pass options as --flag=value")
    if not FLAGS.workdir:
        usage_error("--workdir is required: the workdir of a run trained by jaxgan-train")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    for name, least in (("num_latents", 2), ("num_steps", 1)):
        if FLAGS[name].value < least:
            usage_error(f"--{name} must be at least {least}, got {FLAGS[name].value}")
    if not FLAGS.learning_rate > 0 or FLAGS.other_weight < 0:
        usage_error("--learning_rate must be > 0 and --other_weight >= 0")

    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxgan import control, train, viz
    from jaxgan.data import HostArrays
    from jaxgan.evaluation import EVAL_SEED, fit_scoring_classifier
    from jaxgan.metrics.classifier import load_or_fit_classifier
    from jaxgan.state import generate_from

    workdir = FLAGS.workdir
    try:
        run = train.restore_run(workdir)
    except train.ConfigError as e:
        usage_error(str(e))
    if not isinstance(run.source, HostArrays) or run.source.labels is None:
        usage_error(f"{run.config.dataset!r} has no class labels to steer by; use a run on a "
                     "labelled image dataset (digits, mnist, ...)")
    num_classes = run.source.num_classes
    try:
        targets = (list(range(num_classes)) if FLAGS.targets is None
                   else [int(t) for t in FLAGS.targets])
    except ValueError:
        usage_error(f"--targets must be class numbers, got {','.join(FLAGS.targets)}")
    if not targets or any(not 0 <= t < num_classes for t in targets):
        usage_error(f"--targets must be classes of 0..{num_classes - 1}, got {targets}")

    def log(line):
        print(line, file=sys.stderr)

    # The guide is the run's scoring classifier, loaded as the loop loads it
    # (trained now, with 1000 steps, for a run that scored without one).
    steps = run.config.get("classifier_steps") or 1000
    cache = train.classifier_dir(run.config, workdir)
    guide = fit_scoring_classifier(run.source, steps, cache)
    # A second classifier, trained with another seed, judges the edits: images
    # that fool only the guide (adversarial edits) fail it.
    checker = load_or_fit_classifier(run.source, cache, steps, EVAL_SEED + 1, log=log)
    state = jax.tree.map(lambda x: x[0], run.states)  # the first seed
    recipe = run.recipe
    z0 = recipe.sample_latent(jax.random.PRNGKey(FLAGS.seed), FLAGS.num_latents)
    # A conditional generator keeps the class it was given at the start.
    start_labels = (jax.random.randint(jax.random.PRNGKey(FLAGS.seed + 1),
                                       (FLAGS.num_latents,), 0, num_classes)
                    if recipe.conditional else None)
    # Every latent towards every target: one batch of num_latents * len(targets).
    z = jnp.tile(z0, (len(targets), 1))
    pair_targets = jnp.repeat(jnp.asarray(targets), FLAGS.num_latents)
    labels = None if start_labels is None else jnp.tile(start_labels, len(targets))

    def generate(state, latents):
        return generate_from(recipe, state, latents, labels)

    # Arrays enter as arguments, not closed-over constants, which XLA would
    # spend minutes constant-folding through the networks.
    @jax.jit
    def edit(state, guide_params, z, other_weight):
        return control.edit_latents(
            lambda latents: generate(state, latents),
            lambda images: guide.model.apply({"params": guide_params}, images),
            z, pair_targets, FLAGS.num_steps, FLAGS.learning_rate, other_weight,
            STOP_PROBABILITY)

    start_classes = np.asarray(jnp.argmax(guide.probabilities(generate(state, z)), -1))
    out_dir = FLAGS.out_dir or os.path.join(workdir, "control")
    os.makedirs(out_dir, exist_ok=True)
    result = {"workdir": os.path.abspath(workdir), "generator_step": run.step,
              "conditional": recipe.conditional, "num_latents": FLAGS.num_latents,
              "targets": targets, "num_steps": FLAGS.num_steps,
              "learning_rate": FLAGS.learning_rate, "stop_probability": STOP_PROBABILITY,
              "classifier_accuracy": guide.accuracy, "checker_accuracy": checker.accuracy,
              # The classes of the starting latents' images, for the record.
              "start_class_counts": np.bincount(start_classes[:FLAGS.num_latents],
                                                minlength=num_classes).tolist()}
    paths = {}
    for setting, weight in (("free", 0.0), ("penalised", FLAGS.other_weight)):
        log(f"editing {z.shape[0]} latent/target pairs for {FLAGS.num_steps} steps "
            f"({setting}, other_weight {weight})...")
        path = paths[setting] = jax.device_get(edit(state, guide.params, z, weight))
        final_images = generate(state, jnp.asarray(path.final_latents))
        checker_classes = np.asarray(jnp.argmax(checker.probabilities(final_images), -1))
        summary = _summarize(path, np.asarray(pair_targets), checker_classes, num_classes)
        summary["other_weight"] = weight
        result[setting] = summary
        steps, agrees = summary["mean_steps_to_success"], summary["checker_agrees"]
        log(f"  {setting}: {summary['success_rate']:.1%} of {summary['edits']} edits reach "
            f"p >= {STOP_PROBABILITY}" + (f" (in {steps:.1f} steps on average)" if steps else "")
            + (f"; the other classes' logits move {summary['other_logit_change']:.3f} on average"
               if summary["other_logit_change"] is not None else "")
            + (f"; the second classifier agrees on {agrees:.1%} of the successes"
               if agrees is not None else ""))
    with open(os.path.join(out_dir, "control.json"), "w") as f:
        json.dump(result, f, indent=2)

    # Pictures: eight latents, each edited towards a class other than its own.
    path = paths["penalised"]
    n = FLAGS.num_latents
    shown = []
    for i in range(min(8, n)):
        wanted = (int(start_classes[i]) + 1 + i) % num_classes
        choices = [k for k, t in enumerate(targets) if t == wanted] or [0]
        shown.append(choices[0] * n + i)
    shown = np.asarray(shown)
    # Eight frames per row, evenly spaced up to the step where that latent stopped.
    frames = 8
    ends = np.where(path.first_success[shown] >= 0, path.first_success[shown], FLAGS.num_steps)
    steps = np.round(np.linspace(0, 1, frames)[None] * ends[:, None]).astype(int)  # [rows, F]
    latents = np.asarray(path.latents)[steps, shown[:, None]]     # [rows, F, D]
    rows = np.asarray(generate_from(recipe, state, jnp.asarray(latents.reshape(-1, z.shape[1])),
                                    None if labels is None else jnp.repeat(labels[shown], frames)))
    rows = rows.reshape(len(shown), frames, *rows.shape[1:])
    probability = np.asarray(path.target_probability)[steps, shown[:, None]]
    row_labels = [f"{start_classes[p]} -> {int(pair_targets[p])}\n"
                  f"p {probability[r, 0]:.2f} -> {probability[r, -1]:.2f}\n"
                  + (f"in {ends[r]} steps" if path.first_success[p] != 0 else "already there")
                  for r, p in enumerate(shown)]
    viz.image_rows(os.path.join(out_dir, "trajectory.png"), rows, row_labels,
                   [f"{k}/{frames - 1}" for k in range(frames)],
                   title=f"editing z towards a class (other_weight {FLAGS.other_weight}); "
                         "columns: fractions of the path to p >= 0.9")
    pairs = [(z0[2 * i], z0[2 * i + 1]) for i in range(min(4, n // 2))]
    sequences = [generate_from(recipe, state, control.interpolate_latents(a, b, 8),
                               None if start_labels is None else
                               jnp.full((8,), start_labels[2 * i]))
                 for i, (a, b) in enumerate(pairs)]
    row_labels = [f"z{2 * i} -> z{2 * i + 1}" for i in range(len(pairs))]
    if recipe.conditional:
        for i in range(min(4, num_classes // 2)):
            a, b = 2 * i, 2 * i + 1
            weights = control.interpolate_classes(a, b, num_classes, 8)
            sequences.append(generate_from(recipe, state, jnp.repeat(z0[i % n][None], 8, 0),
                                           weights))
            row_labels.append(f"class {a} -> {b}")
    viz.image_rows(os.path.join(out_dir, "interpolation.png"),
                   np.stack([np.asarray(s) for s in sequences]), row_labels,
                   title="latent interpolation" + (" and class interpolation (z fixed)"
                                                   if recipe.conditional else ""))
    print(f"results in {os.path.abspath(out_dir)}: control.json, trajectory.png, "
          "interpolation.png")


def _parse_flags(argv):
    try:
        return FLAGS(argv)
    except flags.Error as e:
        usage_error(str(e).strip().splitlines()[0])


def main() -> None:
    """The ``jaxgan-control`` command (``sys.argv`` in, an exit code out)."""
    _define_flags()
    if wants_help(sys.argv):  # absl would exit 1 on --help and refuse -h
        print(__doc__.strip().replace("``", "").replace(":func:", ""))
        print("\noptions:\n" + FLAGS.module_help(__name__))
        sys.exit(0)
    app.run(_main, flags_parser=_parse_flags)


if __name__ == "__main__":
    main()
