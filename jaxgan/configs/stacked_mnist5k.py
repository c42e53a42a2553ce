r"""SNGAN on the DCGAN bodies (configs/sngan_digits.py, the digits default's
networks and objective until December 2026) in 7,000 steps, on Stacked
MNIST, beside the course's DCGAN (configs/dcgan_stacked_mnist5k.py, which
describes the benchmark and its scores).

Command (no network needed; pip install -e '.[mnist5k]'):

  python experiments/train.py --config experiments/configs/stacked_mnist5k.py \
      --workdir runs/stacked

Expected result, measured on 2 CPU cores in 14 min 17 s with other jobs
beside it (seed 0; experiments/results/stacked_mnist5k/): modes_covered 950,
reverse_kl 0.407, confident_modes_covered 10, confident_fraction 0.0004 (real
0.505), Frechet distance 128 (real 14.0): no readable triples yet.
"""

from jaxgan.configs import dcgan_stacked_mnist5k, sngan_digits


def get_config():
    config = sngan_digits.get_config()
    config.num_steps = 7_000
    stacked = dcgan_stacked_mnist5k.get_config()
    for name in ("dataset", "image_size", "num_eval_samples", "num_final_samples",
                 "eval_every"):
        config[name] = stacked[name]
    return config
