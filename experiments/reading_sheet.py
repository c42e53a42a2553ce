r"""A blind reading test of edited or translated digits, for a person: is the
class asked for what a reader sees?

  python experiments/reading_sheet.py make --edits runs/digits/control/edits.npz \
      --dataset digits --out runs/digits/reading [--num 40] [--seed N]
  python experiments/reading_sheet.py make --edits runs/cyclegan/samples/final.npz \
      [--prefix ba_] --dataset mnist5k --out runs/cyclegan/reading_ab
  python experiments/reading_sheet.py score --key runs/digits/reading/key.json \
      --readings 6,5,4,0,...

An SVM judge is still a model. The last word on an edit is whether a person
names the digit it aimed at, so ``make`` draws ``--num`` edited images from
``edits.npz`` (those the edit changed, and where the file says which pairs
count as edits, ``counted``, only those: a pair whose start the guide
already read as the target is no edit) and as many real images of the dataset
at the same resolution, shuffles them together and writes ``sheet.png``:
numbered images with no target, class or source shown. The answers go to
``key.json`` (keep it from the reader). The reader writes one answer per
number, a digit or ``?``; ``score`` prints the share of edits read as their
target beside the share of real images read as their label, the floor of
that reader on that data (8x8 digits are hard to read even when real).

A translation run's ``samples/final.npz`` (``inputs``, ``images`` and
``labels``; a CycleGAN's B to A arrays under the prefix ``ba_``, chosen by
``--prefix``) works the same way: each output should show its input's
class, and ``--dataset`` names the output's domain.

Exit code 0 on success, 2 on bad input, with a one-line message.
"""

import argparse
import json
import os
import sys
import zlib

import numpy as np

from jaxgan.cli import usage_error

ANSWERS = {*"0123456789", "?"}
# The bundled datasets of single labelled digits a sheet can show beside the edits.
LABELLED = ("digits", "digits_framed", "mnist5k")


def make(args) -> None:
    from jaxgan import viz
    from jaxgan.data.arrays import to_unit_range
    from jaxgan.data.registry import load_dataset

    if args.dataset not in LABELLED:
        usage_error(f"--dataset must be a bundled dataset of labelled single images "
                    f"({', '.join(LABELLED)}), got {args.dataset!r}")
    prefix = args.prefix
    try:
        with np.load(args.edits, allow_pickle=False) as edits:
            if f"{prefix}inputs" in edits and f"{prefix}labels" in edits:
                # A translation: every output should show its input's class.
                images, targets = edits[f"{prefix}images"], edits[f"{prefix}labels"]
                changed = counted = np.ones(len(images), bool)
            else:
                images, targets, starts = (edits[f"{prefix}images"], edits[f"{prefix}targets"],
                                           edits[f"{prefix}starts"])
                if f"{prefix}counted" in edits:
                    counted = edits[f"{prefix}counted"]
                else:
                    print(f"reading_sheet: {args.edits} does not say which pairs count as "
                          "edits (made before jaxgan-control wrote counted): every changed "
                          "pair is drawn", file=sys.stderr)
                    counted = np.ones(len(images), bool)
                changed = np.abs(images - starts).reshape(len(images), -1).max(1) > 1e-3
    except (OSError, KeyError, ValueError) as e:
        usage_error(f"cannot read images with their targets (edits.npz: images, targets, "
                    f"starts; a translation's final.npz: inputs, images, labels) from "
                    f"{args.edits}: {e}")
    pool_edits = np.flatnonzero(changed & counted)
    if len(pool_edits) < args.num:
        usage_error(f"{args.edits} holds {len(pool_edits)} changed edits, fewer than --num "
                    f"{args.num}")
    source = load_dataset(args.dataset, images.shape[1])
    if source.num_examples < args.num:
        usage_error(f"{args.dataset!r} has {source.num_examples} images, fewer than --num "
                    f"{args.num}")
    # Each file's own sheet by default, so that sheets of different runs do
    # not share their real digits or their layout.
    seed = args.seed if args.seed is not None else zlib.crc32(
        np.ascontiguousarray(images).tobytes())
    rng = np.random.default_rng(seed)
    edited = rng.choice(pool_edits, args.num, replace=False)
    real = rng.choice(source.num_examples, args.num, replace=False)
    pool = np.concatenate([images[edited].astype(np.float32),
                           np.asarray(to_unit_range(np.asarray(source.images[real])))])
    truth = np.concatenate([targets[edited], source.labels[real]]).astype(int)
    kinds = np.array(["edit"] * args.num + ["real"] * args.num)
    order = rng.permutation(2 * args.num)
    os.makedirs(args.out, exist_ok=True)
    columns = 10
    rows = -(-len(order) // columns)
    grid = np.full((rows * columns, *pool.shape[1:]), -1.0, np.float32)
    grid[:len(order)] = pool[order]
    viz.image_rows(os.path.join(args.out, "sheet.png"),
                   grid.reshape(rows, columns, *pool.shape[1:]),
                   [f"{r * columns + 1}-{r * columns + columns}" for r in range(rows)],
                   [str(c + 1) for c in range(columns)],
                   title="Name each digit (0-9, or ? if it is none): rows of ten, "
                         "numbered left to right")
    # Which edit or real image each position shows (its row in edits.npz or in the dataset).
    index = np.concatenate([edited, real])[order]
    key = {"edits": os.path.abspath(args.edits), "prefix": prefix, "dataset": args.dataset,
           "seed": seed,
           "kind": kinds[order].tolist(), "truth": truth[order].tolist(),
           "index": index.tolist()}
    with open(os.path.join(args.out, "key.json"), "w") as f:
        json.dump(key, f)
    print(f"show {os.path.join(args.out, 'sheet.png')} to the reader; keep key.json from them")


def score(args) -> None:
    try:
        with open(args.key) as f:
            key = json.load(f)
        kinds, truth = key["kind"], key["truth"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        usage_error(f"cannot read kind and truth from the key {args.key}: {e}")
    readings = [r.strip() for r in args.readings.split(",")]
    bad = sorted({r for r in readings if r not in ANSWERS})
    if bad:
        usage_error(f"--readings takes a digit or ? per image, got {', '.join(map(repr, bad))}")
    if len(readings) != len(truth):
        usage_error(f"--readings has {len(readings)} answers; the sheet has {len(truth)}")
    # A key may mark edits that do not count (their start was the target already).
    counts = key.get("counted") or [True] * len(truth)
    if len(kinds) != len(truth) or len(counts) != len(truth):
        usage_error(f"the key {args.key} is damaged: kind, truth and counted differ in length")
    result = {}
    for kind in ("edit", "real"):
        index = [i for i, k in enumerate(kinds) if k == kind and counts[i] is not False]
        right = sum(readings[i] == str(truth[i]) for i in index)
        unnamed = sum(readings[i] == "?" for i in index)
        result[kind] = {"read_right": right, "unnamed": unnamed, "shown": len(index)}
        print(f"{kind}: {right} of {len(index)} read as their "
              f"{'target' if kind == 'edit' else 'label'} ({right / len(index):.0%}), "
              f"{unnamed} not named")
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sheet = commands.add_parser("make", help="write sheet.png and key.json")
    sheet.add_argument("--edits", required=True, help="edits.npz of jaxgan-control, or a "
                       "translation run's samples/final.npz")
    sheet.add_argument("--prefix", default="", help="the arrays' prefix in the file (ba_: a "
                       "CycleGAN's B to A translations)")
    sheet.add_argument("--dataset", required=True, help="the run's bundled dataset, e.g. digits")
    sheet.add_argument("--out", required=True, help="folder for sheet.png and key.json")
    sheet.add_argument("--num", type=int, default=40, help="edits shown, and as many real")
    sheet.add_argument("--seed", type=int, default=None,
                       help="the draw's seed (default: one read from the file's images)")
    scoring = commands.add_parser("score", help="score a reader's answers")
    scoring.add_argument("--key", required=True, help="key.json written by make")
    scoring.add_argument("--readings", required=True,
                         help="comma-separated answers in the sheet's order (a digit or ?)")
    args = parser.parse_args()
    if args.command == "make" and args.num < 1:
        usage_error(f"--num must be at least 1, got {args.num}")
    (make if args.command == "make" else score)(args)


if __name__ == "__main__":
    main()
