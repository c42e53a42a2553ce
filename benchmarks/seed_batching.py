"""Times the two ways a run's seeds share one train program (config.seed_batching).

  python benchmarks/seed_batching.py --config experiments/configs/dcgan_digits.py --num_seeds 3

Compiles ``steps`` scanned train steps of the config's GAN for one seed, for
``num_seeds`` seeds under ``jax.vmap`` and for them under ``jax.lax.map``, and
prints (and with --json writes) the best-of-``repeats`` milliseconds per step
of each. The data stays on the device; nothing is written but the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import jax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=os.path.join(ROOT, "experiments", "configs",
                                                         "dcgan_digits.py"))
    parser.add_argument("--num_seeds", "--num-seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=25, help="train steps per timed call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.num_seeds < 1 or args.steps < 1 or args.repeats < 1:
        print("error: --num_seeds, --steps and --repeats must be positive", file=sys.stderr)
        sys.exit(2)

    import importlib.util

    from jaxgan import config as config_lib
    from jaxgan.models.layers import compiler_options
    from jaxgan.programs import over_seeds
    from jaxgan.state import create_states
    from jaxgan.step import make_multi_step, make_sampling_step, make_train_step

    spec = importlib.util.spec_from_file_location("config", args.config)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config()
    recipe, source, _ = config_lib.build(config)
    data = source.device_data()  # None for a mixture
    sampler = source.sample_labelled if recipe.conditional else source.sample_real
    step = make_sampling_step(make_train_step(recipe), sampler, config.batch_size,
                              config.n_disc)
    multi = make_multi_step(step, args.steps)

    def time_per_step(how: str, num_seeds: int) -> float:
        states = create_states(recipe, list(range(num_seeds)), source.example_shape)
        program = jax.jit(over_seeds(multi, how)).lower(states, data).compile(
            compiler_options=compiler_options())  # as the fit loop compiles it
        jax.block_until_ready(program(states, data))  # warm-up
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            jax.block_until_ready(program(states, data))
            best = min(best, time.perf_counter() - start)
        return 1000 * best / args.steps

    results = {"one seed": time_per_step("vmap", 1)}
    for how in ("vmap", "map"):
        results[f"{args.num_seeds} seeds, {how}"] = time_per_step(how, args.num_seeds)
    for name, ms in results.items():
        print(f"{name:>16}: {ms:8.1f} ms per step")
    if args.json:
        with open(args.json, "w") as f:
            machine = {"device": str(jax.devices()[0]), "backend": jax.default_backend(),
                       "cpu_count": os.cpu_count(), "python": platform.python_version(),
                       "jax": jax.__version__}
            json.dump({"machine": machine,
                       "config": os.path.relpath(args.config, ROOT), "steps": args.steps,
                       "repeats": args.repeats, "ms_per_step": results}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
