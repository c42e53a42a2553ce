r"""Controllable generation with a trained generator: latent editing and interpolation.

  jaxgan-control --workdir runs/digits [--num_latents 60] [--num_steps 400]
      [--settings free,prior,ensemble,confident,swapped,settled] [--targets 0,3,8]
      [--attribute stroke_width]

(in a checkout, ``python experiments/control.py`` takes the same flags).
Loads the generator of a run that ``jaxgan-train`` trained in
``--workdir`` (its latest checkpoint) and the classifier cached there by the
run (trained now if missing). From ``--num_latents`` random latents it edits
every latent towards every target class by gradient ascent
(:func:`jaxgan.control.edit_latents`), once per setting of ``--settings``:

- ``free``: the guiding classifier's score alone, stopping where its
  probability of the target reaches ``--stop_probability``;
- ``penalised``: plus the penalty on the other classes' logits (``--other_weight``);
- ``prior``: the score and the prior term that keeps z's norm typical
  (``--prior_weight``);
- ``ensemble``: the prior term and a guide that generalises better:
  ``--ensemble`` classifiers trained with different seeds (their score
  averaged over ``--noise_samples`` draws of Gaussian noise of
  ``--noise_std`` added to the image, where that is > 0);
- ``confident``: as ``ensemble``, stopping only at ``--confident_probability``;
- ``realism``: as ``confident``, plus the discriminator's logit (``--realism_weight``);
- ``settled`` (a self-conditioned generator only): as ``confident``, then
  each latent is snapped to one cluster, z kept: of the clusters
  (``--settle_candidates``: of that many of the edit's largest cluster
  weights), the one whose image the guide gives the target's highest
  probability. The edit goes on in z alone, the cluster held, for up to
  ``--settle_steps`` (:func:`jaxgan.control.settle_conditions`). It ends on
  a cluster the generator was trained on, not on a blend of several;
- ``swapped`` (a self-conditioned generator only): as ``settled`` with no
  edit before the snap, the ablation that asks what the first edit adds:
  the start's z in the cluster the guide likes best for the target (of all
  clusters, whatever ``--settle_candidates`` says), then the steps in z.

``settled`` goes on from ``confident``'s own edits where both are asked for
(they are made once, with the first of the two settings' noise key).

A self-conditioned generator (``config.clusters``) draws from clusters of
the data, mostly one class each, so its edits move the cluster weights as
well as z (:func:`jaxgan.control.with_conditions`; ``--noedit_clusters``
keeps each edit in the cluster it started in).

Every edit is judged three ways: by the guide (its probability of the target
reaches 0.9), by a twin of the guide (the same network trained with another
seed: adversarial edits often fool it too), and by an independent judge of
another kind, an SVM on the real pixels at the data's native size
(:mod:`jaxgan.metrics.judge`; for the bundled digits and ``mnist5k``). Then
it edits a continuous attribute computed from the pixels (``--attribute``:
``stroke_width`` or ``slant``) up and down while the ensemble guide holds the
class, and reports how far it moved, in standard deviations of its spread
over the real data, whether the judge's class held, and how far the other
attribute drifted. It writes, under ``<workdir>/control/`` (or ``--out_dir``):

- ``control.json``: per setting, the guide's success rate, the twin's and the
  judge's (the share of edits whose most likely class is the target), the
  other classes' drift, the latents' norm; the judge's real-data floor; and
  the attribute edit's numbers;
- ``edits.npz``: the last setting's edits: ``images`` (the edited images,
  ``N x H x W x C`` in [-1, 1]), ``targets`` (the class each edit aimed at),
  ``starts`` (the unedited images), ``counted`` (the pairs that are edits:
  the run's guide does not already give the start the target with
  p >= --stop_probability; every rate counts only these), ``setting`` (its
  name), and ``judge_classes`` where a judge exists;
- ``trajectory.png`` (the last setting) and ``trajectory_free.png``: editing
  paths, one row per latent, labelled with the judge's verdict;
- ``attribute.png``: the attribute lowered (left) and raised (right);
- ``interpolation.png``: latent interpolations and, for a conditional
  generator, class interpolations.

Exit code 0 on success, 2 on a user error (no trained run in the workdir, a
run without labels, a bad flag), with a one-line message on stderr.
"""

import os
import sys

from absl import app, flags

from jaxgan.cli import quiet_logs, usage_error, wants_help

FLAGS = flags.FLAGS

# The edit settings (module docstring).
SETTINGS = ("free", "penalised", "prior", "ensemble", "confident", "realism", "settled",
            "swapped")
# The settings that snap a self-conditioned generator's edit to one cluster.
SNAPPING = ("settled", "swapped")


def _define_flags() -> None:
    flags.DEFINE_string("workdir", None, "Workdir of a run trained by jaxgan-train on a "
                        "labelled dataset.")
    flags.DEFINE_list("targets", None, "Classes to edit towards (default: all).")
    flags.DEFINE_integer("num_latents", 60, "Random latents to start from; each is edited "
                         "towards every target.")
    flags.DEFINE_integer("num_steps", 400, "Gradient steps per edit.")
    flags.DEFINE_float("learning_rate", 0.05, "Adam step size on z.")
    flags.DEFINE_list("settings", ["free", "prior", "ensemble", "confident", "swapped",
                                   "settled"],
                      "Edit settings to run and compare, "
                      f"of {', '.join(SETTINGS)}; edits.npz and trajectory.png show the last "
                      "(swapped and settled are left out of the default list where the "
                      "edits move no cluster).")
    flags.DEFINE_float("other_weight", 1.0, "Weight of the penalty on the other classes' "
                       "logit changes (setting penalised).")
    flags.DEFINE_float("prior_weight", 1.0, "Weight of the typical-set penalty on z's norm "
                       "(every setting but free and penalised).")
    flags.DEFINE_integer("ensemble", 3, "Classifiers in the ensemble guide (settings ensemble, "
                         "confident, realism, swapped, settled, and the attribute edit), each "
                         "with its own seed.")
    flags.DEFINE_float("noise_std", 0.0, "Standard deviation of the noise the ensemble guide "
                       "averages its score over (images in [-1, 1]).")
    flags.DEFINE_integer("noise_samples", 4, "Noise draws per step for the ensemble guide.")
    flags.DEFINE_float("realism_weight", 1.0, "Weight of the discriminator's logit (setting "
                       "realism).")
    flags.DEFINE_enum("attribute", "stroke_width", ["stroke_width", "slant", "none"],
                      "Continuous attribute to edit while the class holds (none: skip).")
    flags.DEFINE_float("attribute_change", 1.2, "How far to move it, in standard deviations "
                       "of its spread over the real data.")
    flags.DEFINE_float("hold_weight", 5.0, "Weight of the class-holding term in the "
                       "attribute edit.")
    flags.DEFINE_float("stop_probability", 0.9, "An edit stops once its guide's probability "
                       "of the target reaches this; it succeeds by the guide there.")
    flags.DEFINE_float("confident_probability", 0.999, "The stop of the settings confident, "
                       "realism, swapped and settled.")
    flags.DEFINE_boolean("edit_clusters", True, "For a self-conditioned generator "
                         "(config.clusters), let an edit move the cluster weights as well as "
                         "z; false: each edit keeps the cluster it started in.")
    flags.DEFINE_integer("settle_steps", 200, "Steps in z after the snap to one cluster "
                         "(settings swapped and settled; 0: the snap alone).")
    flags.DEFINE_integer("settle_candidates", 0, "The snap chooses among this many of the "
                         "edit's largest cluster weights; 0: among all clusters (setting "
                         "settled; swapped always chooses among all).")
    flags.DEFINE_integer("seed", 0, "Seed of the starting latents.")
    flags.DEFINE_string("out_dir", None, "Where to write (default: <workdir>/control).")


def _check_flags() -> None:
    if not FLAGS.workdir:
        usage_error("--workdir is required: the workdir of a run trained by jaxgan-train")
    for name, least in (("num_latents", 2), ("num_steps", 1), ("ensemble", 1),
                        ("noise_samples", 1), ("settle_steps", 0), ("settle_candidates", 0)):
        if FLAGS[name].value < least:
            usage_error(f"--{name} must be at least {least}, got {FLAGS[name].value}")
    for name in ("other_weight", "prior_weight", "noise_std", "realism_weight", "hold_weight"):
        if FLAGS[name].value < 0:
            usage_error(f"--{name} must be >= 0, got {FLAGS[name].value}")
    for name in ("stop_probability", "confident_probability"):
        if not 0 < FLAGS[name].value < 1:
            usage_error(f"--{name} must be in (0, 1), got {FLAGS[name].value}")
    if not FLAGS.learning_rate > 0 or not FLAGS.attribute_change > 0:
        usage_error("--learning_rate and --attribute_change must be > 0")
    unknown = [name for name in FLAGS.settings if name not in SETTINGS]
    if unknown or not FLAGS.settings:
        usage_error(f"--settings takes names of {', '.join(SETTINGS)}, got "
                    f"{','.join(FLAGS.settings)}")


def _setting(name: str) -> dict:
    """The options of a setting (module docstring): edit_latents' weights and
    noise, the guide's ensemble size and where the edit stops."""
    ensemble = name in ("ensemble", "confident", "realism", *SNAPPING)
    return {"other_weight": FLAGS.other_weight if name == "penalised" else 0.0,
            "prior_weight": 0.0 if name in ("free", "penalised") else FLAGS.prior_weight,
            "noise_std": FLAGS.noise_std if ensemble else 0.0,
            "noise_samples": FLAGS.noise_samples if ensemble and FLAGS.noise_std else 1,
            "realism_weight": FLAGS.realism_weight if name == "realism" else 0.0,
            "ensemble": FLAGS.ensemble if ensemble else 1,
            "stop_probability": FLAGS.confident_probability
            if name in ("confident", "realism", *SNAPPING) else FLAGS.stop_probability,
            "edit_steps": 0 if name == "swapped" else FLAGS.num_steps,
            "settle": name in SNAPPING}


def _share(mask, of):
    """The share of ``of`` (a boolean mask) where ``mask`` holds; None if empty."""
    import numpy as np

    return float(mask[of].mean()) if np.any(of) else None


def _softmax(logits):
    import numpy as np

    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _summarize(path, targets, counted, verdicts, num_classes, latent_dim):
    """Flat numbers for one setting, over the pairs that are ``counted``
    (the same pairs for every setting: :func:`_main` leaves out those whose
    start the run's guide already gives the target with p >=
    --stop_probability). ``verdicts`` holds the guide's, the twin's and the
    judge's classes and probabilities of the start and final images."""
    import numpy as np

    from jaxgan.control import typical_set_penalty

    guide_start, guide_final = verdicts["guide_logits"]
    first_success = np.asarray(path.first_success)
    success = counted & (first_success > 0)
    others = 1.0 - np.eye(num_classes)[targets]
    other_change = (np.abs(guide_final - guide_start) * others).sum(-1) / (num_classes - 1)
    norm_sigma = np.sqrt(np.asarray(typical_set_penalty(path.final_latents[:, :latent_dim])))
    summary = {
        "edits": int(counted.sum()),
        "already_target": int((~counted).sum()),
        "success_rate": _share(success, counted),
        "mean_steps_to_success": float(first_success[success].mean()) if success.any() else None,
        # The guide's own logits, whatever the setting steered by.
        "other_logit_change": float(other_change[counted].mean()) if counted.any() else None,
        "twin_success_rate": _share(verdicts["twin_final"] == targets, counted),
        "checker_agrees": _share(verdicts["twin_final"] == targets, success),
        # How many standard deviations z's squared norm ends from the prior's mean.
        "latent_norm_sigma": float(norm_sigma[counted].mean()) if counted.any() else None,
    }
    if "judge_final" in verdicts:
        judged = verdicts["judge_final"] == targets
        start_p, final_p = verdicts["judge_probabilities"]
        # Probability moved to or from classes that are neither the start's nor the target.
        bystanders = others * (1.0 - np.eye(num_classes)[verdicts["judge_start"]])
        summary.update({
            "judge_success_rate": _share(judged, counted),
            "judge_success_rate_plausible": _share(judged & verdicts["judge_plausible"],
                                                   counted),
            "judge_agrees_with_guide_successes": _share(judged, success),
            "judge_bystander_drift": float((np.abs(final_p - start_p) * bystanders)
                                           .sum(-1)[counted].mean()) if counted.any() else None,
        })
    for t in np.unique(targets):
        pairs = counted & (targets == t)
        summary[f"success_rate_class_{t}"] = _share(success, pairs)
        if "judge_final" in verdicts:
            summary[f"judge_success_rate_class_{t}"] = _share(verdicts["judge_final"] == t,
                                                              pairs)
    return summary


def _log(line: str) -> None:
    print(line, file=sys.stderr)


def _describe(setting: str, summary: dict, stop: float) -> str:
    def pct(name):
        value = summary.get(name)
        return "n/a" if value is None else f"{value:.1%}"

    line = (f"  {setting}: {summary['edits']} edits; guide {pct('success_rate')} reach "
            f"p >= {stop}, twin {pct('twin_success_rate')}")
    if "judge_success_rate" in summary:
        line += f", independent judge {pct('judge_success_rate')}"
    if "cluster_changed" in summary:
        line += f"; {summary['cluster_changed']:.0%} end in another cluster"
    if summary["other_logit_change"] is not None:
        line += (f"; other logits move {summary['other_logit_change']:.2f}, |z|^2 ends "
                 f"{summary['latent_norm_sigma']:.1f} sd from the prior's mean")
    return line


def _main(argv):
    if len(argv) > 1:
        usage_error(f"unexpected arguments {argv[1:]}; pass options as --flag=value")
    _check_flags()
    quiet_logs()

    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxgan import control, train
    from jaxgan.data import HostArrays
    from jaxgan.data.arrays import to_unit_range
    from jaxgan.evaluation import EVAL_SEED, fit_scoring_classifier, is_self_conditioned
    from jaxgan.metrics import judge as judge_lib
    from jaxgan.metrics.classifier import load_or_fit_classifier
    from jaxgan.run_io import write_json
    from jaxgan.state import discriminate_from, generate_from

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
    settings = {name: _setting(name) for name in FLAGS.settings}
    snapping = [name for name in settings if name in SNAPPING]
    if snapping and not (is_self_conditioned(run.recipe) and FLAGS.edit_clusters):
        if FLAGS["settings"].present:
            why = ("--noedit_clusters holds each edit in its cluster"
                   if is_self_conditioned(run.recipe) else
                   "this run's generator is not self-conditioned (config.clusters)")
            usage_error(f"--settings {' and '.join(snapping)} snap an edit's cluster weights "
                        f"to one cluster, and {why}: leave {' and '.join(snapping)} out")
        for name in snapping:
            del settings[name]

    # The guide is the run's scoring classifier, loaded as the loop loads it
    # (trained now, with 1000 steps, for a run that scored without one). Its
    # twin (seed +1) only checks; the ensemble guide adds seeds +2...
    steps = run.config.get("classifier_steps") or 1000
    cache = train.classifier_dir(run.config, workdir)
    guide = fit_scoring_classifier(run.source, steps, cache)
    twin = load_or_fit_classifier(run.source, cache, steps, EVAL_SEED + 1, log=_log)
    ensemble_size = max([s["ensemble"] for s in settings.values()]
                        + [FLAGS.ensemble if FLAGS.attribute != "none" else 1])
    members = [guide] + [load_or_fit_classifier(run.source, cache, steps, EVAL_SEED + 1 + k,
                                                log=_log)
                         for k in range(1, ensemble_size)]
    dataset = run.config.dataset
    judge = None
    if dataset in judge_lib.NATIVE_SIZE:
        _log(f"fitting the independent judge (an SVM on {dataset}'s real pixels)...")
        judge = judge_lib.fit_judge(dataset)
        judge_size = judge_lib.NATIVE_SIZE[dataset]
    else:
        _log(f"no independent judge knows {dataset!r} (it knows "
             f"{', '.join(judge_lib.NATIVE_SIZE)}); edits are judged by the guide and its twin")

    state = jax.tree.map(lambda x: x[0], run.states)  # the first seed
    recipe = run.recipe
    z0 = recipe.sample_latent(jax.random.PRNGKey(FLAGS.seed), FLAGS.num_latents)
    # A conditional generator keeps the class it was given at the start. A
    # self-conditioned one starts from a cluster drawn in the clusters' shares,
    # and its edits move the cluster weights too (--edit_clusters): a cluster
    # is mostly one class, so a move in z alone seldom changes the digit.
    start_key = jax.random.PRNGKey(FLAGS.seed + 1)
    start_labels = (recipe.sample_labels(start_key, FLAGS.num_latents)
                    if recipe.conditional else None)
    move_clusters = is_self_conditioned(recipe) and FLAGS.edit_clusters
    # Every latent towards every target: one batch of num_latents * len(targets).
    z = jnp.tile(z0, (len(targets), 1))
    pair_targets = jnp.repeat(jnp.asarray(targets), FLAGS.num_latents)
    labels = None if start_labels is None else jnp.tile(start_labels, len(targets))
    start_pair_labels = labels  # each pair's start cluster: the discriminator reads it
    if move_clusters:  # the latents carry their cluster weights
        z, labels = control.with_conditions(z, labels, recipe.num_classes), None

    def generate(state, latents, labels=labels):
        if move_clusters and labels is None:
            return generate_from(recipe, state,
                                 *control.split_conditions(latents, recipe.latent_dim))
        return generate_from(recipe, state, latents, labels)

    def apply(params, images):
        return guide.model.apply({"params": params}, images)

    # Arrays enter as arguments, not closed-over constants, which XLA would
    # spend minutes constant-folding through the networks.
    def edit_options(state, member_params, key, options):
        """The guide and edit_latents' keyword arguments of a setting."""
        options = dict(options)
        classify = control.ensemble_logits([lambda x, p=p: apply(p, x) for p in member_params])

        def realism(images):
            return discriminate_from(recipe, state, images, start_pair_labels)

        return classify, dict(
            learning_rate=FLAGS.learning_rate, other_weight=options["other_weight"],
            stop_probability=options["stop_probability"],
            prior_weight=options["prior_weight"], realism=realism,
            realism_weight=options["realism_weight"], noise_std=options["noise_std"],
            noise_samples=options["noise_samples"], key=key)

    def edit(state, member_params, z, key, options):
        classify, kwargs = edit_options(state, member_params, key, options)
        return control.edit_latents(lambda latents: generate(state, latents), classify, z,
                                    pair_targets, dict(options)["edit_steps"],
                                    prior_dims=recipe.latent_dim, **kwargs)

    def settle(state, member_params, path, key, options):
        classify, kwargs = edit_options(state, member_params, key, options)
        # With no edit before it (swapped), the weights are the start's one-hot
        # and their order says nothing: every cluster is a candidate.
        candidates = (FLAGS.settle_candidates or None) if dict(options)["edit_steps"] else None
        return control.settle_conditions(lambda latents: generate(state, latents), classify,
                                         path, pair_targets, recipe.latent_dim,
                                         FLAGS.settle_steps, candidates, **kwargs)

    edit = jax.jit(edit, static_argnums=4)
    settle = jax.jit(settle, static_argnums=4)
    params = [m.params for m in members]
    start_images = np.asarray(generate(state, z))
    guide_apply = jax.jit(apply)
    start_guide = np.asarray(guide_apply(guide.params, start_images))
    start_classes = start_guide.argmax(-1)
    out_dir = FLAGS.out_dir or os.path.join(workdir, "control")
    os.makedirs(out_dir, exist_ok=True)
    result = {"workdir": os.path.abspath(workdir), "generator_step": run.step,
              "conditional": recipe.conditional, "num_latents": FLAGS.num_latents,
              "edits_move_clusters": move_clusters,
              "targets": targets, "num_steps": FLAGS.num_steps,
              "learning_rate": FLAGS.learning_rate, "stop_probability": FLAGS.stop_probability,
              "confident_probability": FLAGS.confident_probability,
              "settle_steps": FLAGS.settle_steps,
              "settle_candidates": FLAGS.settle_candidates or "all",
              "settings": settings,
              "classifier_accuracy": guide.accuracy, "checker_accuracy": twin.accuracy,
              "ensemble_accuracies": [m.accuracy for m in members],
              # The classes of the starting latents' images, for the record.
              "start_class_counts": np.bincount(start_classes[:FLAGS.num_latents],
                                                minlength=num_classes).tolist()}
    def judge_probabilities(images):
        """The judge's class probabilities of images, and whether each is plausible."""
        return judge_lib.classify(judge.judge, images, judge_size)

    if judge is not None:
        # Every latent's start is judged once (the tiles over targets repeat it).
        judge_start_p, start_plausible = judge_probabilities(start_images[:FLAGS.num_latents])
        judge_start_p = np.tile(judge_start_p, (len(targets), 1))
        real_classes = judge.judge.probabilities(judge.test_pixels).argmax(1)
        result["judge"] = {
            "model": f"SVC(rbf, C=10) on {judge_size}x{judge_size} real pixels",
            # The real-data floor: the judge on held-out real images...
            "real_accuracy": float(np.mean(real_classes == judge.test_labels)),
            "real_num_examples": len(judge.test_labels),
            # ...and how often it and the guide agree on the unedited samples.
            "agrees_with_guide_on_starts": float(np.mean(
                judge_start_p[:FLAGS.num_latents].argmax(1) == start_classes[:FLAGS.num_latents])),
            "plausible_starts": float(np.mean(start_plausible))}

    # The pairs that are edits: the run's guide does not already give their
    # start the target with p >= --stop_probability. Every rate counts only
    # these, and edits.npz records them.
    counted = (np.take_along_axis(_softmax(start_guide), np.asarray(pair_targets)[:, None],
                                  1)[:, 0] < FLAGS.stop_probability)
    paths, finals, judge_finals = {}, {}, {}
    # Edits before any snap, by their options: settled goes on from confident's.
    first_phases = {}
    for index, (name, options) in enumerate(settings.items()):
        first = tuple(sorted({**options, "settle": False}.items()))
        if first in first_phases:
            made_by, key, path = first_phases[first]
            _log(f"{name}: going on from {made_by}'s edits")
        else:
            _log(f"editing {z.shape[0]} latent/target pairs for {options['edit_steps']} steps "
                 f"({name}: {', '.join(f'{k} {v}' for k, v in options.items())})...")
            key = jax.random.PRNGKey(FLAGS.seed + 2 + index)
            path = edit(state, params[:options["ensemble"]], z, key, first)
            first_phases[first] = (name, key, path)
        if options["settle"]:
            _log(f"  then snapping each to one cluster and {FLAGS.settle_steps} steps in z...")
            path = settle(state, params[:options["ensemble"]], path,
                          jax.random.fold_in(key, 1), first)
        path = paths[name] = jax.device_get(path)
        final_images = finals[name] = np.asarray(generate(state, jnp.asarray(
            path.final_latents)))
        verdicts = {"guide_logits": (start_guide,
                                     np.asarray(guide_apply(guide.params, final_images))),
                    "twin_final": np.asarray(jnp.argmax(twin.probabilities(final_images), -1))}
        if judge is not None:
            final_p, plausible = judge_probabilities(final_images)
            judge_finals[name] = final_p.argmax(1)
            verdicts.update(judge_final=judge_finals[name], judge_start=judge_start_p.argmax(1),
                            judge_plausible=plausible,
                            judge_probabilities=(judge_start_p, final_p))
        summary = _summarize(path, np.asarray(pair_targets), counted, verdicts, num_classes,
                             recipe.latent_dim)
        if move_clusters:  # how often the edit ended in another cluster
            summary["cluster_changed"] = float(np.mean(
                np.asarray(path.final_latents)[:, recipe.latent_dim:].argmax(-1)
                != np.asarray(start_pair_labels)))
        result[name] = summary
        _log(_describe(name, summary, options["stop_probability"]))
    last = list(settings)[-1]
    edits = {"images": finals[last], "targets": np.asarray(pair_targets),
             "starts": start_images, "counted": counted, "setting": np.asarray(last)}
    if judge is not None:
        edits["judge_classes"] = judge_finals[last]
    np.savez(os.path.join(out_dir, "edits.npz"), **edits)

    if FLAGS.attribute != "none":
        result["attribute"] = _edit_attribute(
            state, generate, members, apply, z0, start_labels, judge_probabilities
            if judge is not None else None, out_dir, to_unit_range(run.source.images))
    write_json(os.path.join(out_dir, "control.json"), result)

    # Pictures: eight latents, each edited towards a class other than its own.
    n = FLAGS.num_latents
    shown = []
    for i in range(min(8, n)):
        wanted = (int(start_classes[i]) + 1 + i) % num_classes
        choices = [k for k, t in enumerate(targets) if t == wanted] or [0]
        shown.append(choices[0] * n + i)
    shown = np.asarray(shown)
    pictures = {"trajectory.png": last}
    if "free" in paths and last != "free":
        pictures["trajectory_free.png"] = "free"
    for file_name, name in pictures.items():
        _trajectory(os.path.join(out_dir, file_name), name, settings[name]["stop_probability"],
                    paths[name], shown, state,
                    generate, labels, start_classes, pair_targets,
                    judge_probabilities if judge is not None else None)
    _interpolations(os.path.join(out_dir, "interpolation.png"), recipe, state, z0,
                    start_labels, num_classes)
    names = ["control.json", "edits.npz", *pictures, "interpolation.png"]
    if FLAGS.attribute != "none":
        names.append("attribute.png")
    print(f"results in {os.path.abspath(out_dir)}: {', '.join(names)}")


def _trajectory(path_png, name, stop, path, shown, state, generate, labels, start_classes,
                pair_targets, judge_probabilities):
    """Eight frames per shown latent, evenly spaced up to where it stopped
    (where it never reached the stop: up to its last move)."""
    import jax.numpy as jnp
    import numpy as np

    from jaxgan import viz

    frames = 8
    first = np.asarray(path.first_success)[shown]
    path_latents = np.asarray(path.latents)[:, shown]  # [T + 1, rows, D]
    moved = np.any(path_latents[1:] != path_latents[:-1], -1)  # [T, rows]
    last_move = np.where(moved.any(0), moved.shape[0] - np.argmax(moved[::-1], 0), 0)
    ends = np.where(first >= 0, first, last_move)
    steps = np.round(np.linspace(0, 1, frames)[None] * ends[:, None]).astype(int)  # [rows, F]
    latents = np.asarray(path.latents)[steps, shown[:, None]]     # [rows, F, D]
    rows = np.asarray(generate(state, jnp.asarray(latents.reshape(-1, latents.shape[-1])),
                               None if labels is None else jnp.repeat(labels[shown], frames)))
    rows = rows.reshape(len(shown), frames, *rows.shape[1:])
    probability = np.asarray(path.target_probability)[steps, shown[:, None]]
    judged = ([""] * len(shown) if judge_probabilities is None else
              [f"\njudge: {c}" for c in judge_probabilities(rows[:, -1])[0].argmax(1)])
    row_labels = [f"{start_classes[p]} -> {int(pair_targets[p])}\n"
                  f"p {probability[r, 0]:.2f} -> {probability[r, -1]:.3f}\n"
                  + (f"in {ends[r]} steps" if first[r] > 0 else "already there" if first[r] == 0
                     else f"not reached in {ends[r]} steps")
                  + judged[r]
                  for r, p in enumerate(shown)]
    viz.image_rows(path_png, rows, row_labels, [f"{k}/{frames - 1}" for k in range(frames)],
                   title=f"editing z towards a class ({name}); columns: fractions of the "
                         f"path to p >= {stop}"
                         + {"settled": "\n(snapped to one cluster where the first edit stopped)",
                            "swapped": "\n(the start's z in the cluster the guide likes best)"}
                         .get(name, ""))


def _interpolations(path_png, recipe, state, z0, start_labels, num_classes):
    import jax.numpy as jnp
    import numpy as np

    from jaxgan import control, viz
    from jaxgan.evaluation import asked_classes
    from jaxgan.state import generate_from

    n = len(z0)
    pairs = [(z0[2 * i], z0[2 * i + 1]) for i in range(min(4, n // 2))]
    sequences = [generate_from(recipe, state, control.interpolate_latents(a, b, 8),
                               None if start_labels is None else
                               jnp.full((8,), start_labels[2 * i]))
                 for i, (a, b) in enumerate(pairs)]
    row_labels = [f"z{2 * i} -> z{2 * i + 1}" for i in range(len(pairs))]
    if asked_classes(recipe):  # not a self-conditioned GAN's clusters
        for i in range(min(4, num_classes // 2)):
            a, b = 2 * i, 2 * i + 1
            weights = control.interpolate_classes(a, b, num_classes, 8)
            sequences.append(generate_from(recipe, state, jnp.repeat(z0[i % n][None], 8, 0),
                                           weights))
            row_labels.append(f"class {a} -> {b}")
    viz.image_rows(path_png, np.stack([np.asarray(s) for s in sequences]), row_labels,
                   title="latent interpolation" + (" and class interpolation (z fixed)"
                                                   if asked_classes(recipe) else ""))


def _edit_attribute(state, generate, members, apply, z0, start_labels, judge_probabilities,
                    out_dir, real_images):
    """Raises and lowers ``--attribute`` from every starting latent while the
    ensemble guide holds the class; returns the numbers and draws attribute.png."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxgan import control, viz

    attribute = control.ATTRIBUTES[FLAGS.attribute]
    others = {name: fn for name, fn in control.ATTRIBUTES.items() if name != FLAGS.attribute}
    real_images = jnp.asarray(real_images)
    real_values = {name: fn(real_images) for name, fn in control.ATTRIBUTES.items()}
    spread = {name: float(jnp.std(values)) for name, values in real_values.items()}
    n = len(z0)
    # Each latent both ways: the first n rows raise the attribute, the last n lower it.
    z = jnp.concatenate([z0, z0])
    direction = jnp.concatenate([jnp.ones(n), -jnp.ones(n)])
    labels = None if start_labels is None else jnp.concatenate([start_labels, start_labels])

    @jax.jit
    def edit(state, member_params, z):
        classify = control.ensemble_logits([lambda x, p=p: apply(p, x) for p in member_params])
        return control.edit_attribute(
            lambda latents: generate(state, latents, labels), attribute, classify, z,
            direction, spread[FLAGS.attribute], FLAGS.num_steps, FLAGS.learning_rate,
            FLAGS.hold_weight, FLAGS.attribute_change, FLAGS.prior_weight)

    _log(f"editing {FLAGS.attribute} of {n} latents up and down by {FLAGS.attribute_change} "
         "sd while the class holds...")
    path = jax.device_get(edit(state, [m.params for m in members], z))
    start = np.asarray(generate(state, z, labels))
    final = np.asarray(generate(state, jnp.asarray(path.final_latents), labels))
    moved = np.asarray(direction) * (path.values[-1] - path.values[0]) / spread[FLAGS.attribute]
    guide_held = path.logits[-1].argmax(-1) == path.logits[0].argmax(-1)
    if judge_probabilities is not None:
        # Both halves start from the same n images: judge them once.
        start_classes = np.tile(judge_probabilities(start[:n])[0].argmax(1), 2)
        judge_held = judge_probabilities(final)[0].argmax(1) == start_classes
    result = {"name": FLAGS.attribute, "data_mean": float(jnp.mean(real_values[FLAGS.attribute])),
              "data_std": spread[FLAGS.attribute], "stop_change": FLAGS.attribute_change,
              "hold_weight": FLAGS.hold_weight, "edits": 2 * n}
    for label, rows in (("raise", slice(0, n)), ("lower", slice(n, 2 * n))):
        entry = {"moved_sd_mean": float(moved[rows].mean()),
                 "moved_at_least_1sd": float(np.mean(moved[rows] >= 1.0)),
                 "guide_class_held": float(np.mean(guide_held[rows]))}
        for name, fn in others.items():
            drift = np.abs(np.asarray(fn(final[rows])) - np.asarray(fn(start[rows])))
            entry[f"{name}_drift_sd"] = float(drift.mean() / spread[name])
        if judge_probabilities is not None:
            held = judge_held[rows]
            entry["judge_class_held"] = float(np.mean(held))
            entry["moved_1sd_and_judge_held"] = float(np.mean(held & (moved[rows] >= 1.0)))
        result[label] = entry
        _log(f"  {label}: moved {entry['moved_sd_mean']:.2f} sd on average, "
             f"{entry['moved_at_least_1sd']:.1%} by >= 1 sd; class held by the guide in "
             f"{entry['guide_class_held']:.1%}"
             + (f", by the judge in {entry['judge_class_held']:.1%}"
                if "judge_class_held" in entry else "")
             + "".join(f"; {name} drifts {entry[f'{name}_drift_sd']:.2f} sd"
                       for name in others))

    # Eight latents: four frames lowering (reversed), the start, four raising.
    rows_shown = np.arange(min(8, n))
    frames = 4
    pictures = []
    for r in rows_shown:
        row = []
        for sign, offset in ((-1, n), (1, 0)):
            first = int(path.first_success[offset + r])
            end = first if first >= 0 else FLAGS.num_steps
            steps = np.round(np.linspace(0, end, frames + 1)[1:]).astype(int)
            latents = path.latents[steps, offset + r]
            row.append(list(latents[::-1]) if sign < 0 else list(latents))
        pictures.append(row[0] + [z0[r]] + row[1])
    latents = jnp.asarray(np.asarray(pictures).reshape(-1, z0.shape[-1]))
    images = np.asarray(generate(state, latents, None if start_labels is None else
                                 jnp.repeat(start_labels[rows_shown], 2 * frames + 1)))
    images = images.reshape(len(rows_shown), 2 * frames + 1, *images.shape[1:])
    values = np.asarray(attribute(jnp.asarray(images.reshape(-1, *images.shape[2:]))))
    values = values.reshape(len(rows_shown), -1)
    viz.image_rows(os.path.join(out_dir, "attribute.png"), images,
                   [f"{FLAGS.attribute}\n{v[0]:.2f} | {v[frames]:.2f} | {v[-1]:.2f}"
                    for v in values],
                   ["lower"] + [""] * (frames - 1) + ["start"] + [""] * (frames - 1) + ["higher"],
                   title=f"{FLAGS.attribute} lowered and raised by up to "
                         f"{FLAGS.attribute_change} sd of the data's spread, class held")
    return result


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
