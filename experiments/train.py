r"""Trains a GAN experiment: flags in, ``jaxgan.train.train_and_evaluate`` out.

  python experiments/train.py --config experiments/configs/NAME.py --workdir DIR \
      [--config.FIELD=VALUE ...]

With no ``--config`` it runs the default experiment (no network needed); with
no ``--workdir`` it writes to ``runs/<dataset>``. Running the same command again
resumes from the latest checkpoint in the workdir. Exit code 0 on success, 2 on
a user error (bad flag or config value, unknown or unavailable dataset,
incompatible checkpoint), 1 when training diverges (non-finite losses or
parameters), 130 after Ctrl-C has saved a checkpoint; each with a one-line
message on stderr.

Data parallelism: ``--config.parallel=jit`` (or ``pmap``) spreads each batch over
every device. For several processes (hosts), start the same command in each
with ``--coordinator_address=HOST:PORT --num_processes=N --process_id=I`` (or
the environment variables ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``,
``JAX_PROCESS_ID``) and a ``--workdir`` that every process sees; process 0
writes the logs and samples, and all of them save the checkpoints together.
"""

import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

_HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CONFIG = os.path.join(_HERE, "configs", "digits.py")



def _usage_error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def _flag_errors_exit_2(parse, *args, **kwargs):
    """Runs a flag definition or parse; a bad flag exits 2 with one line."""
    try:
        return parse(*args, **kwargs)
    except (AttributeError, KeyError) as e:
        # config_flags reports an unknown --config.FIELD this way, as just "'FIELD'".
        field = str(e).strip("\"' ")
        _usage_error(f"the config has no field {field!r}; check the name against the "
                     "config file (--config)")
    except (flags.Error, TypeError, ValueError) as e:
        _usage_error(str(e).strip().splitlines()[0] if str(e).strip() else repr(e))


def _define_flags():
    # Defining the config flag already applies --config.FIELD overrides to the
    # default config, so a bad override fails here, not only in parsing.
    config = _flag_errors_exit_2(
        config_flags.DEFINE_config_file, "config", DEFAULT_CONFIG,
        "Experiment config file (experiments/configs/*.py).", lock_config=True)
    workdir = flags.DEFINE_string(
        "workdir", None, "Directory for logs, samples and checkpoints (default: runs/<dataset>).")
    flags.DEFINE_string("coordinator_address", None,
                        "Multi-process runs: HOST:PORT of process 0 (or JAX_COORDINATOR_ADDRESS).")
    flags.DEFINE_integer("num_processes", None,
                         "Multi-process runs: how many processes (or JAX_NUM_PROCESSES).")
    flags.DEFINE_integer("process_id", None,
                         "Multi-process runs: this process's index (or JAX_PROCESS_ID).")
    return config, workdir


def main(argv):
    if len(argv) > 1:
        _usage_error(f"unexpected arguments {argv[1:]}; pass options as --flag=value")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    # Imported after flag parsing so that --help and flag errors answer at once.
    from jaxgan import parallel, train

    try:  # before any other JAX call
        parallel.initialize(flags.FLAGS.coordinator_address, flags.FLAGS.num_processes,
                            flags.FLAGS.process_id)
    except ValueError as e:
        _usage_error(str(e))

    try:
        config = _CONFIG.value
        config.to_dict()  # config_flags reports a bad file only on first use
    except OSError as e:
        reason = str(e).strip().splitlines()[-1].strip()
        _usage_error(f"cannot load --config={flags.FLAGS['config'].serialize().split('=', 1)[-1]}"
                     f": {reason}")
    workdir = _WORKDIR.value or train.default_workdir(config)
    try:
        result = train.train_and_evaluate(config, workdir)
    except train.ConfigError as e:
        _usage_error(str(e))
    except train.DivergenceError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except train.Interrupted as e:
        print(str(e), file=sys.stderr)
        sys.exit(130)  # the shell's code for a run stopped by Ctrl-C
    if not parallel.is_primary():
        return  # process 0 reports for the whole run
    summary = "".join(f", {k} {result[k]:.3g}" for k in train.headline_metrics(result))
    print(f"done: step {result['step']}{summary}")
    print(f"results in {os.path.abspath(workdir)}: eval.json, metrics.jsonl, samples/, "
          "checkpoints/ (tensorboard --logdir " + workdir + ")")


if __name__ == "__main__":
    _CONFIG, _WORKDIR = _define_flags()
    app.run(main, flags_parser=lambda argv: _flag_errors_exit_2(flags.FLAGS, argv))
