r"""Downloads and prepares a tensorflow-datasets image dataset for training.

  python experiments/prepare_data.py --dataset mnist [--data_dir DIR]

Needs network access, and TensorFlow for tensorflow-datasets to build the
dataset (``pip install tensorflow``). It writes the ``array_record`` files that
training reads under ``DIR/NAME`` (``DIR`` defaults to tfds' own,
``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``). A prepared folder can be
copied to machines without network. Exit code 2 on an unknown dataset or a
failed download, with a one-line message.
"""

import sys

from absl import app, flags

_DATASET = flags.DEFINE_string("dataset", None, "mnist | fashion_mnist | cifar10 | celeb_a | "
                               "cycle_gan/TASK (e.g. cycle_gan/horse2zebra)")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Where to put it (default: tfds' own).")


def main(argv):
    del argv
    from jaxgan.data.tfds_sources import (
        TFDS_DATASETS,
        UNPAIRED_DATASETS,
        default_data_dir,
        prepare,
    )

    if _DATASET.value not in TFDS_DATASETS and _DATASET.value not in UNPAIRED_DATASETS:
        print(f"error: unknown dataset {_DATASET.value!r}; available: "
              f"{', '.join([*TFDS_DATASETS, *UNPAIRED_DATASETS])}", file=sys.stderr)
        sys.exit(2)
    data_dir = default_data_dir(_DATA_DIR.value)
    try:
        prepare(_DATASET.value, data_dir)
    except Exception as e:  # network, missing TensorFlow, disk: all end the same way
        reason = " ".join(str(e).split())[:200]
        print(f"error: could not prepare {_DATASET.value} in {data_dir} ({type(e).__name__}: "
              f"{reason}); this needs network access and `pip install tensorflow`",
              file=sys.stderr)
        sys.exit(2)
    print(f"prepared {_DATASET.value} in {data_dir}; train with --config.data_dir={data_dir}")


if __name__ == "__main__":
    app.run(main)
