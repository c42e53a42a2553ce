"""Summarises runs of one config that differ in seed: each eval.json metric's
mean and standard error over the runs, for the moving average and the live
generator, plus the Frechet distance and KID of the first N samples, with N
the number of held-out real images behind the floor (equal sizes).

  python experiments/results/digits_eval/summarize.py runs/digits_0 runs/digits_1 runs/digits_2

Writes summary.json beside this file and prints a table.
"""

import json
import os
import sys

import jax
import numpy as np

from jaxgan import evaluation, train

NAMES = ("frechet_distance", "kid", "precision", "recall", "classes_covered", "class_kl",
         "confident_fraction")


def one_run(workdir: str) -> dict[str, float]:
    with open(os.path.join(workdir, "eval.json")) as f:
        final = json.load(f)
    run = train.restore_run(workdir)
    protocol = evaluation.Evaluation.of_run(run, workdir)
    state = jax.tree.map(lambda x: x[0], run.states)
    size = protocol.floor["real_floor_num_examples"]
    row = {}
    generators = (("ema", True), ("live", False)) if state.g_ema is not None else (("live", False),)
    for tag, ema in generators:
        small = protocol.compare(protocol.features(protocol.generate(state, ema))[:size])
        row[f"{tag}_fd_at_{size}"] = float(small["frechet_distance"])
        row[f"{tag}_kid_at_{size}"] = float(small["kid"])
        prefix = evaluation.NO_EMA_PREFIX if state.g_ema is not None and not ema else ""
        for name in NAMES:
            row[f"{tag}_{name}"] = final[prefix + name]
    for name in ("frechet_distance", "kid", "precision", "recall"):
        row[f"real_{name}"] = final[f"real_{name}"]
    return row


def main(workdirs: list[str]) -> None:
    rows = [one_run(w) for w in workdirs]
    flat = evaluation.summarize_seeds({name: [row[name] for row in rows] for name in rows[0]})
    summary = {}
    for name in rows[0]:
        summary[name] = {"mean": flat[name], "stderr": flat[f"{name}_stderr"],
                         "per_seed": flat[f"{name}_per_seed"]}
        print(f"{name:28s} {flat[name]:10.4f} +- {flat[f'{name}_stderr']:.4f}   "
              f"{np.round(flat[f'{name}_per_seed'], 4).tolist()}")
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
