r"""How close the ring MLP's train step is to what XLA:CPU's matrix products
allow: the step's FLOPs, the rate of one of its products, and whether two
independent products share the cores.

  python benchmarks/ring_floor.py [--batch_size 64] [--json benchmarks/results/cpu_ring_floor.json]

It compiles the ``ring`` model's train step (``jaxgan-bench --model ring``) the
way the fit loop does (``compiler_options()``) and takes its FLOPs from XLA's
cost analysis; times the step in a ``lax.scan``, alternating with the same
step with plain SGD in place of both Adams (what the optimizer costs); times
a chain of ``batch x 128 @ 128 x 128`` products (the step's large ones) in a
scan, and then four independent such products per scan iteration (nothing
else in the loop but the carry and, for the four, their mean; the two
alternate). If XLA:CPU ran small products on several cores, or independent
ones side by side, the second would cost less per product than the first. ``floor_ms`` is the
step's FLOPs at the chained product's rate: what the step would cost if all
it did were such products, one after another.

Where PyTorch is installed (``pip install -e '.[bench]'``) it also times
``torch.mm`` on the same shape, on one thread and on all of this process's
cores: what a tuned library's kernel does with the product, beside XLA:CPU's.
"""

import argparse
import dataclasses
import importlib.util
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax


def _alternating_median_s(programs, repeats: int) -> list[float]:
    """Each ``(compiled, args)`` program's median call time over ``repeats``
    rounds, the programs taking turns within each round."""
    for compiled, args in programs:
        jax.block_until_ready(compiled(*args))
    times = [[] for _ in programs]
    for _ in range(repeats):
        for (compiled, args), record in zip(programs, times, strict=True):
            began = time.perf_counter()
            jax.block_until_ready(compiled(*args))
            record.append(time.perf_counter() - began)
    return [float(np.median(record)) for record in times]


def torch_product_us(batch_size: int, width: int, threads: int, calls: int = 2000) -> float:
    """``torch.mm`` of ``batch_size x width @ width x width`` on ``threads``
    threads: microseconds per call, the median of 5 blocks of ``calls``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(batch_size, width), torch.randn(width, width)
        out = torch.empty(batch_size, width)
        for _ in range(calls // 4):  # warm-up
            torch.mm(a, b, out=out)
        blocks = []
        for _ in range(5):
            began = time.perf_counter()
            for _ in range(calls):
                torch.mm(a, b, out=out)
            blocks.append((time.perf_counter() - began) / calls)
        return float(np.median(blocks)) * 1e6
    finally:
        torch.set_num_threads(before)


def measure(batch_size: int, steps: int, repeats: int) -> dict:
    from jaxgan.bench.throughput import SPECS, flops_of, jax_recipe, real_batch
    from jaxgan.models.layers import compiler_options
    from jaxgan.state import create_state
    from jaxgan.step import make_multi_step, make_train_step

    options = compiler_options()
    spec = SPECS["ring"]
    recipe = jax_recipe(spec)
    state = create_state(recipe, jax.random.PRNGKey(0), spec.example_shape)
    batch = jax.device_put(real_batch(spec, batch_size))

    def step_flops(recipe, state) -> float:  # XLA's count for one step
        return flops_of(jax.jit(make_train_step(recipe)).lower(state, batch).compile(
            compiler_options=options))

    flops = step_flops(recipe, state)
    # The same step with plain SGD in place of both Adams: what the optimizer
    # costs. The two programs alternate, call by call.
    sgd = dataclasses.replace(recipe, g_optimizer=optax.sgd(spec.adam[0]),
                              d_optimizer=optax.sgd(spec.adam[0]))
    sgd_state = create_state(sgd, jax.random.PRNGKey(0), spec.example_shape)
    sgd_flops = step_flops(sgd, sgd_state)
    programs = [(jax.jit(make_multi_step(make_train_step(r), steps)).lower(s, batch)
                 .compile(compiler_options=options), (s, batch))
                for r, s in ((recipe, state), (sgd, sgd_state))]
    step_s, sgd_step_s = (t / steps for t in _alternating_median_s(programs, repeats))

    width = spec.features[0]
    x = jnp.ones((batch_size, width), jnp.float32)
    w = jnp.full((width, width), 1.0 / width, jnp.float32)

    # The product alone in each iteration: w averages the row, so the carry
    # neither grows nor vanishes, and the loop carry keeps XLA from fusing
    # successive products.
    def chained(x, w):
        return jax.lax.scan(lambda c, _: (c @ w, None), x, None, length=steps)[0]

    def four_apart(x, w):
        def body(c, _):
            outs = [c @ (w * (1.0 + 1e-4 * k)) for k in range(4)]
            return sum(outs) * 0.25, None
        return jax.lax.scan(body, x, None, length=steps)[0]

    dot_flops = 2.0 * batch_size * width * width
    products = [(jax.jit(fn).lower(x, w).compile(compiler_options=options), (x, w))
                for fn in (chained, four_apart)]
    chained_s, four_apart_s = _alternating_median_s(products, repeats)
    timed = {"chained": chained_s / steps, "four_apart": four_apart_s / (4 * steps)}
    rate = dot_flops / timed["chained"]
    torch_us = {}
    if importlib.util.find_spec("torch") is not None:
        cores = len(os.sched_getaffinity(0))
        torch_us = {"torch_product_us_one_thread": torch_product_us(batch_size, width, 1),
                    "torch_product_us_all_threads": torch_product_us(batch_size, width, cores)}
    return {
        "batch_size": batch_size,
        "step_flops": flops,
        "step_ms": step_s * 1e3,
        "step_ms_with_sgd": sgd_step_s * 1e3,
        "step_flops_with_sgd": sgd_flops,
        "product_shape": [batch_size, width, width],
        "product_us_chained": timed["chained"] * 1e6,
        "product_us_four_apart": timed["four_apart"] * 1e6,
        "product_gflops": rate / 1e9,
        "floor_ms": flops / rate * 1e3,
        "step_gflops": flops / step_s / 1e9,
        **torch_us,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch_size", "--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100,
                        help="steps (or products) per scanned call")
    parser.add_argument("--repeats", type=int, default=15, help="timed calls; the median is kept")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if min(args.batch_size, args.steps, args.repeats) < 1:
        print("error: --batch_size, --steps and --repeats must be >= 1", file=sys.stderr)
        return 2
    report = measure(args.batch_size, args.steps, args.repeats)
    from jaxgan.bench.throughput import machine_info

    # The cores this process may run on: fewer under taskset.
    report["machine"] = machine_info(len(os.sched_getaffinity(0)))
    print(f"ring step at batch {report['batch_size']}: {report['step_flops'] / 1e6:.1f} MFLOP, "
          f"{report['step_ms']:.3f} ms ({report['step_gflops']:.0f} GFLOP/s)")
    print(f"the same step with SGD in place of Adam: {report['step_ms_with_sgd']:.3f} ms")
    print(f"one {'x'.join(map(str, report['product_shape']))} product: "
          f"{report['product_us_chained']:.1f} us chained, "
          f"{report['product_us_four_apart']:.1f} us each when four are independent "
          f"({report['product_gflops']:.0f} GFLOP/s)")
    print(f"the step's FLOPs at that rate: {report['floor_ms']:.3f} ms")
    if "torch_product_us_one_thread" in report:
        one = report["torch_product_us_one_thread"]
        print(f"torch.mm of the same shape: {one:.1f} us on one thread "
              f"({2 * np.prod(report['product_shape']) / one / 1e3:.0f} GFLOP/s), "
              f"{report['torch_product_us_all_threads']:.1f} us on all")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
