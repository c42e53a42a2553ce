r"""Train-step throughput of jaxgan beside PyTorch, in a checkout: the same
command as the installed ``jaxgan-bench`` (``jaxgan/bench/throughput.py``;
``--help`` lists its options).

  python benchmarks/throughput.py --model dcgan64 --batch_size 64 --json out.json
"""

from jaxgan.bench import throughput

if __name__ == "__main__":
    throughput.command()
