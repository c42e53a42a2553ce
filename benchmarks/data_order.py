r"""What drawing a batch's indices costs, per train step, as the dataset grows:
the O(batch) Feistel shuffle against the whole-epoch permutation it replaced.

  python benchmarks/data_order.py [--batch_size 64] [--json benchmarks/results/cpu_data_order.json]

For each dataset size (1,797: the digits; 60,000: MNIST; 1,000,000) and each
order (``ArraySource(shuffle=...)``), it jits ``ArraySource.indices`` for one
step, as the device-resident sampler calls it inside the train step, and
times calls at successive steps: the median over ``--repeats`` blocks of
``--steps`` calls, after a warm-up call that compiles.
"""

import argparse
import json
import os
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

SIZES = (1_797, 60_000, 1_000_000)


def time_indices(n: int, shuffle: str, batch_size: int, steps: int, repeats: int) -> float:
    """Median milliseconds per call of one step's ``indices``."""
    from jaxgan.data import ArraySource

    # One row of one pixel per example: indices() reads only the count.
    source = ArraySource("sized", np.zeros((n, 1, 1, 1), np.uint8), shuffle=shuffle)
    draw = jax.jit(lambda step: source.indices(step, batch_size))
    draw(jnp.int32(0)).block_until_ready()
    blocks = []
    for r in range(repeats):
        began = time.perf_counter()
        for s in range(steps):
            draw(jnp.int32(r * steps + s + 1)).block_until_ready()
        blocks.append((time.perf_counter() - began) / steps * 1e3)
    return float(np.median(blocks))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch_size", "--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="calls per timed block")
    parser.add_argument("--repeats", type=int, default=7, help="timed blocks")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if min(args.batch_size, args.steps, args.repeats) < 1:
        print("error: --batch_size, --steps and --repeats must be >= 1", file=sys.stderr)
        return 2
    results = []
    for n in SIZES:
        row = {"num_examples": n}
        for shuffle in ("feistel", "permutation"):
            row[f"{shuffle}_ms"] = time_indices(n, shuffle, args.batch_size, args.steps,
                                                args.repeats)
        row["speedup"] = row["permutation_ms"] / row["feistel_ms"]
        results.append(row)
        print(f"{n:>9,} examples: feistel {row['feistel_ms']:.3f} ms, permutation "
              f"{row['permutation_ms']:.3f} ms per step ({row['speedup']:.0f}x)")
    if args.json:
        report = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                              "cpus": len(os.sched_getaffinity(0)), "jax": jax.__version__,
                              "device": str(jax.devices()[0])},
                  "command": " ".join(sys.argv), "batch_size": args.batch_size,
                  "steps_per_block": args.steps, "repeats": args.repeats, "results": results}
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
