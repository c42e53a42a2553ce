r"""What drawing a batch's indices costs, per train step, as the dataset grows:
the O(batch) Feistel shuffle against the whole-epoch permutation it replaced.

  python benchmarks/data_order.py [--batch_size 64] [--json benchmarks/results/cpu_data_order.json]

For each dataset size (1,797: the digits; 60,000: MNIST; 1,000,000) and each
order (``ArraySource(shuffle=...)``), it jits ``ArraySource.indices`` for one
step, as the device-resident sampler calls it inside the train step, and
times calls at successive steps: the median over ``--repeats`` blocks of
``--steps`` calls, after a warm-up call that compiles.

``--fit_config CONFIG`` also runs that experiment config in the fit loop on
its own dataset's images tiled to each of ``--fit_sizes`` (default 10,000 and
60,000: what the data draw costs the whole loop as the dataset grows), in
``--fit_rounds`` alternating rounds, each a short run of the config
(``jaxgan.bench.throughput.short_fit``): the median ms per step of each
size's log intervals, and their ratio. The config must be an unconditional
one on images; the tiled copies are saved as an ``.npz``, which holds float
images as uint8, so time a config on uint8 images (``mnist5k``) to time the
path its own data take.
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


class FitConfigError(ValueError):
    """Why ``--fit_config`` cannot be timed, in one line that names the fix."""


def fit_images(config_path: str, sizes: list[int]) -> np.ndarray:
    """The images of ``config_path``'s dataset, to be tiled to ``sizes``.

    Raises:
      FitConfigError: the config does not load, is conditional, has no single
        array of images, or ``sizes`` holds fewer than one step's examples.
    """
    from jaxgan import config as config_lib
    from jaxgan.bench.throughput import config_from_file

    other = "; pass an unconditional image config such as experiments/configs/dcgan_mnist5k.py"
    if not os.path.isfile(config_path):
        raise FitConfigError(f"--fit_config {config_path!r} is not a file{other}")
    try:
        config = config_from_file(config_path)
    except Exception as e:  # a config file is code: any error of its own is the answer
        raise FitConfigError(f"--fit_config {config_path} did not load "
                             f"({type(e).__name__}: {e}){other}") from e
    if config.get("conditioning", "none") != "none":
        raise FitConfigError(f"--fit_config {config_path}: its conditioning="
                             f"{config.conditioning!r} needs labels, which the tiled copies "
                             f"do not carry{other}")
    try:
        source = config_lib.build_source(config)
    except config_lib.ConfigError as e:
        raise FitConfigError(f"--fit_config {config_path}: {e}") from e
    if not hasattr(source, "images"):
        raise FitConfigError(f"--fit_config {config_path}: its dataset {config.dataset!r} is "
                             f"not one array of images to tile{other}")
    least = config.batch_size * config.get("n_disc", 1)
    if sizes[0] < least:
        raise FitConfigError(f"--fit_sizes: {sizes[0]} is fewer than one step's batch_size * "
                             f"n_disc = {least} of {config_path}; raise it to at least {least}")
    return source.images


def fit_at_sizes(config_path: str, images: np.ndarray, sizes: list[int], rounds: int,
                 intervals: int) -> dict:
    """The fit loop's ms per step on ``config_path`` with ``images`` (its own,
    from :func:`fit_images`) tiled to each size."""
    import tempfile

    from jaxgan.bench.throughput import config_from_file, short_fit

    blocks = {n: [] for n in sizes}
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for n in sizes:
            paths[n] = os.path.join(folder, f"tiled_{n}.npz")
            np.savez(paths[n], images=np.resize(images, (n, *images.shape[1:])))
        for r in range(rounds):
            for n in sizes:
                config = config_from_file(config_path)
                config.dataset = f"npz:{paths[n]}"
                blocks[n] += short_fit(config, intervals)
                print(f"round {r + 1}/{rounds}, {n:,} images: "
                      f"{np.median(blocks[n]):.2f} ms per step so far", flush=True)
    medians = {n: float(np.median(blocks[n])) for n in sizes}
    return {"config": config_path, "tiled_from": int(images.shape[0]), "rounds": rounds,
            "ms_per_step": {str(n): medians[n] for n in sizes},
            "ms_blocks": {str(n): blocks[n] for n in sizes},
            "largest_over_smallest": medians[max(sizes)] / medians[min(sizes)]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch_size", "--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="calls per timed block")
    parser.add_argument("--repeats", type=int, default=7, help="timed blocks")
    parser.add_argument("--fit_config", "--fit-config",
                        help="also time this experiment config's fit loop at --fit_sizes")
    parser.add_argument("--fit_sizes", "--fit-sizes", default="10000,60000",
                        help="comma-separated dataset sizes for --fit_config")
    parser.add_argument("--fit_rounds", "--fit-rounds", type=int, default=2)
    parser.add_argument("--fit_intervals", "--fit-intervals", type=int, default=4,
                        help="timed log intervals per run (after one of warm-up)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if min(args.batch_size, args.steps, args.repeats, args.fit_rounds, args.fit_intervals) < 1:
        print("error: --batch_size, --steps, --repeats, --fit_rounds and --fit_intervals "
              "must be >= 1", file=sys.stderr)
        return 2
    try:
        fit_sizes = sorted({int(n) for n in args.fit_sizes.split(",")})
    except ValueError:
        fit_sizes = []
    if not fit_sizes or fit_sizes[0] < 1:
        print(f"error: --fit_sizes must be positive integers such as 10000,60000, got "
              f"{args.fit_sizes!r}", file=sys.stderr)
        return 2
    fit_flags = [f"--{name}" for name in ("fit_sizes", "fit_rounds", "fit_intervals")
                 if getattr(args, name) != parser.get_default(name)]
    if fit_flags and not args.fit_config:
        print(f"error: {', '.join(fit_flags)} without --fit_config; add --fit_config "
              "CONFIG", file=sys.stderr)
        return 2
    images = None
    if args.fit_config:
        try:  # checked before the long timing of the draw below
            images = fit_images(args.fit_config, fit_sizes)
        except FitConfigError as e:
            print(f"error: {e}", file=sys.stderr)
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
    fit = None
    if args.fit_config:
        fit = fit_at_sizes(args.fit_config, images, fit_sizes, args.fit_rounds,
                           args.fit_intervals)
        print("fit loop, ms per step: " + ", ".join(
            f"{int(n):,} images {ms:.2f}" for n, ms in fit["ms_per_step"].items())
            + f" (largest / smallest {fit['largest_over_smallest']:.3f})")
    if args.json:
        report = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                              "cpus": len(os.sched_getaffinity(0)), "jax": jax.__version__,
                              "device": str(jax.devices()[0])},
                  "command": " ".join(sys.argv), "batch_size": args.batch_size,
                  "steps_per_block": args.steps, "repeats": args.repeats, "results": results,
                  **({"fit_loop": fit} if fit else {})}
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
