r"""Trains a GAN experiment: flags in, ``jaxgan.train.train_and_evaluate`` out.

  python experiments/train.py --config experiments/configs/NAME.py --workdir DIR \
      [--config.FIELD=VALUE ...]

With no ``--config`` it runs the default experiment (no network needed); with
no ``--workdir`` it writes to ``runs/<dataset>``. Running the same command again
resumes from the latest checkpoint in the workdir. Exit code 0 on success, 2 on
a user error (bad flag or config value, unknown or unavailable dataset,
incompatible checkpoint, a workdir that another run holds), 1 when training
diverges (non-finite losses or parameters), 130 after Ctrl-C and 143 after
SIGTERM (a scheduler's preemption) have saved a checkpoint; each with a
one-line message on stderr.

Data parallelism: ``--config.parallel=jit`` (or ``pmap``) spreads each batch over
every device. For several processes (hosts), start the same command in each
with ``--coordinator_address=HOST:PORT --num_processes=N --process_id=I`` (or
the environment variables ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``,
``JAX_PROCESS_ID``) and a ``--workdir`` that every process sees; process 0
writes the logs and samples, and all of them save the checkpoints together.
"""

import os
import sys
import traceback

import ml_collections
from absl import app, flags, logging
from ml_collections import config_flags

_HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CONFIG = os.path.join(_HERE, "configs", "digits.py")



def _usage_error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def _config_path() -> str:
    """The --config value as given (also while flags are being parsed)."""
    for i, arg in enumerate(sys.argv):
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
        if arg == "--config" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
    return DEFAULT_CONFIG


def _config_file_error(error: BaseException) -> str:
    """One line for a config file that does not load: the file and line, the
    exception, and the fix."""
    while (error.__cause__ or error.__context__) is not None:  # the root cause
        error = error.__cause__ or error.__context__
    if isinstance(error, SyntaxError):
        where = f"{error.filename}:{error.lineno}: "
        what = f"SyntaxError: {error.msg}"
    else:
        # The innermost frame in the user's file (not in a library or here).
        frames = [frame for frame in traceback.extract_tb(error.__traceback__)
                  if "site-packages" not in frame.filename
                  and os.path.abspath(frame.filename) != os.path.abspath(__file__)
                  and not frame.filename.startswith("<")]
        where = f"{frames[-1].filename}:{frames[-1].lineno}: " if frames else ""
        text = str(error).strip().splitlines()
        what = f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")
    return f"cannot load the config file {_config_path()}: {where}{what}; fix the file"


def _flag_errors_exit_2(parse, *args, **kwargs):
    """Runs a flag definition or parse; a bad flag or config file exits 2 with one line."""
    try:
        return parse(*args, **kwargs)
    except (AttributeError, KeyError) as e:
        inner = e
        while isinstance(inner, BaseException) and inner.args:  # KeyError(KeyError(...))
            inner = inner.args[0]
        message = str(inner)
        if "get_config" in message:
            _usage_error(f"the config file {_config_path()} defines no get_config(); a config "
                         "file is a module whose get_config() returns an "
                         "ml_collections.ConfigDict")
        # config_flags reports an unknown --config.FIELD as "'FIELD'", perhaps
        # followed by a line of suggestions.
        lines = message.strip().splitlines()
        field = lines[0].strip("\"' ") if lines else message
        hint = f" ({lines[1].strip()})" if len(lines) > 1 else ""
        _usage_error(f"the config has no field {field!r}{hint}; check the name against the "
                     "config file (--config)")
    except flags.Error as e:
        text = str(e).strip()
        cause = e.__cause__ or e.__context__
        if "parsing config file" in text and cause is not None:  # the file's own error
            _usage_error(_config_file_error(cause))
        _usage_error(text.splitlines()[0] if text else repr(e))
    except (TypeError, ValueError) as e:
        _usage_error(str(e).strip().splitlines()[0] if str(e).strip() else repr(e))
    except Exception as e:  # the config file's own code failed  # noqa: BLE001
        _usage_error(_config_file_error(e))


def _load_config():
    """The config, checked to be a ConfigDict with every field a run needs."""
    from jaxgan import config as config_lib

    path = _config_path().split(":", 1)[0]
    if not os.path.isfile(path):
        _usage_error(f"cannot load the config file {path}: no such file")
    try:
        config = _CONFIG.value
        if not isinstance(config, ml_collections.ConfigDict | dict):
            config.to_dict()  # config_flags' stand-in for a file it could not read raises
    except Exception as e:  # config_flags loads a file on first use  # noqa: BLE001
        cause = e.__cause__ or e.__context__
        if isinstance(e, flags.Error) and "None" in str(e):
            _usage_error(f"the config file {_config_path()}: get_config() returned None; "
                         "return an ml_collections.ConfigDict")
        _usage_error(_config_file_error(cause if cause is not None else e))
    try:
        config_lib.validate_config(config)
    except config_lib.ConfigError as e:
        _usage_error(str(e))
    return config


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

    config = _load_config()
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
        sys.exit(128 + e.signum)  # the shell's code: 130 after Ctrl-C, 143 after SIGTERM
    if not parallel.is_primary():
        return  # process 0 reports for the whole run
    summary = "".join(f", {k} {result[k]:.3g}" for k in train.headline_metrics(result))
    print(f"done: step {result['step']}{summary}")
    print(f"results in {os.path.abspath(workdir)}: eval.json, metrics.jsonl, samples/, "
          "checkpoints/ (tensorboard --logdir " + workdir + ")")


if __name__ == "__main__":
    # Quiet until main() sets the run's verbosity: config_flags logs a warning
    # beside the error for a config file whose get_config() returns None.
    logging.set_verbosity(logging.ERROR)
    _CONFIG, _WORKDIR = _define_flags()
    app.run(main, flags_parser=lambda argv: _flag_errors_exit_2(flags.FLAGS, argv))
