"""Train-step throughput of jaxgan beside PyTorch (``jaxgan-bench``).

:mod:`jaxgan.bench.throughput` times the same models, weights, batches and
noise in both frameworks; :mod:`jaxgan.bench.torch_twins` holds the PyTorch
models and the weight copy. PyTorch is imported only by the latter, when a
PyTorch variant is asked for (the ``bench`` extra); the library never needs it.
"""
