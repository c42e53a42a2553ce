r"""Trains a GAN experiment: flags in, ``jaxgan.train.train_and_evaluate`` out.

  jaxgan-train [--config NAME|PATH] [--workdir DIR] [--config.FIELD=VALUE ...]

(in a checkout, ``python experiments/train.py`` takes the same flags).
``--config`` is a shipped config's name (``jaxgan-train --help`` lists them) or
a config file's path; with none it runs the default experiment, which needs
no network. With no ``--workdir`` it writes to ``runs/<dataset>``. Running the
same command again resumes from the latest checkpoint in the workdir.

Exit code 0 on success, 2 on a user error (bad flag or config value, unknown
or unavailable dataset, incompatible checkpoint, a workdir that another run
holds), 1 when training diverges (non-finite losses or parameters), 130 after
Ctrl-C and 143 after SIGTERM (a scheduler's preemption) have saved a
checkpoint; each with a one-line message on stderr.

Data parallelism: ``--config.parallel=jit`` (or ``pmap``) spreads each batch over
every device. For several processes (hosts), start the same command in each
with ``--coordinator_address=HOST:PORT --num_processes=N --process_id=I`` (or
the environment variables ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``,
``JAX_PROCESS_ID``) and a ``--workdir`` that every process sees; process 0
writes the logs and samples, and all of them save the checkpoints together.
"""

import functools
import os
import sys
import textwrap
import traceback

import ml_collections
from absl import app, flags, logging
from ml_collections import config_flags

from jaxgan import configs
from jaxgan.cli import quiet_logs, usage_error, wants_help

__all__ = ["DEFAULT_CONFIG", "main", "resolve_config_argument"]

DEFAULT_CONFIG = configs.path(configs.DEFAULT)


def _config_arguments(argv: list[str]):
    """Each ``--config`` value in ``argv``: ``(index, value, inline)``, where
    ``index`` holds the value (``inline``: inside ``--config=VALUE``)."""
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            yield i, arg.split("=", 1)[1], True
        elif arg == "--config" and i + 1 < len(argv):
            yield i + 1, argv[i + 1], False


def resolve_config_argument(argv: list[str]) -> list[str]:
    """``argv`` with a ``--config NAME`` (a shipped config's name, perhaps with
    config_flags' ``:ARGS``) replaced by that config's path; a path stays as
    it is. An unknown name is a usage error that lists the shipped ones."""
    argv = list(argv)
    for where, value, inline in list(_config_arguments(argv)):
        name, colon, rest = value.partition(":")
        if os.path.exists(name) or name.endswith(".py") or os.sep in name or "/" in name:
            continue  # a path: config_flags loads it, or says it is missing
        try:
            resolved = configs.path(name) + colon + rest
        except ValueError as e:
            usage_error(f"--config: {e}")
        argv[where] = f"--config={resolved}" if inline else resolved
    return argv


def _config_path() -> str:
    """The --config value as given (also while flags are being parsed)."""
    return next((value for _, value, _ in _config_arguments(sys.argv)), DEFAULT_CONFIG)


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
            usage_error(f"the config file {_config_path()} defines no get_config(); a config "
                        "file is a module whose get_config() returns an "
                        "ml_collections.ConfigDict")
        # config_flags reports an unknown --config.FIELD as "'FIELD'", perhaps
        # followed by a line of suggestions.
        lines = message.strip().splitlines()
        field = lines[0].strip("\"' ") if lines else message
        hint = f" ({lines[1].strip()})" if len(lines) > 1 else ""
        usage_error(f"the config has no field {field!r}{hint}; check the name against the "
                    "config file (--config), or list the fields with --help")
    except flags.Error as e:
        text = str(e).strip()
        cause = e.__cause__ or e.__context__
        if "parsing config file" in text and cause is not None:  # the file's own error
            usage_error(_config_file_error(cause))
        usage_error(text.splitlines()[0] if text else repr(e))
    except (TypeError, ValueError) as e:
        usage_error(str(e).strip().splitlines()[0] if str(e).strip() else repr(e))
    except Exception as e:  # the config file's own code failed  # noqa: BLE001
        usage_error(_config_file_error(e))


def _load_config(config_flag):
    """The config, checked to be a ConfigDict with every field a run needs."""
    from jaxgan import config as config_lib

    path = _config_path().split(":", 1)[0]
    if not os.path.isfile(path):
        usage_error(f"cannot load the config file {path}: no such file")
    try:
        config = config_flag.value
        if not isinstance(config, ml_collections.ConfigDict | dict):
            config.to_dict()  # config_flags' stand-in for a file it could not read raises
    except Exception as e:  # config_flags loads a file on first use  # noqa: BLE001
        cause = e.__cause__ or e.__context__
        if isinstance(e, flags.Error) and "None" in str(e):
            usage_error(f"the config file {_config_path()}: get_config() returned None; "
                        "return an ml_collections.ConfigDict")
        usage_error(_config_file_error(cause if cause is not None else e))
    try:
        config_lib.validate_config(config)
    except config_lib.ConfigError as e:
        usage_error(str(e))
    return config


_OPTIONS = (
    ("--config NAME|PATH", "a shipped config by name, or a config file (a module whose "
     "get_config() returns an ml_collections.ConfigDict); default: " + configs.DEFAULT),
    ("--config.FIELD=VALUE", "override one field of the config (the fields are below)"),
    ("--workdir DIR", "logs, samples and checkpoints; the same workdir again resumes "
     "(default: runs/<dataset>)"),
    ("--coordinator_address HOST:PORT", "several processes: process 0's address "
     "(or JAX_COORDINATOR_ADDRESS)"),
    ("--num_processes N", "several processes: how many (or JAX_NUM_PROCESSES)"),
    ("--process_id I", "several processes: this one's index (or JAX_PROCESS_ID)"),
    ("--verbosity N", "absl log level (default: warnings only)"),
    ("-h, --help", "this help; with --config, that config's fields"),
)


def help_text(config_file: str, config) -> str:
    """The command's usage, its options, the shipped configs, and every field of
    ``config`` (loaded from ``config_file``) with its value and comment."""
    width = 100
    out = [__doc__.split("\n\n", 1)[0].strip().replace("``", ""), "",
           "usage: jaxgan-train [--config NAME|PATH] [--workdir DIR] [--config.FIELD=VALUE ...]",
           "", "options:"]
    for option, text in _OPTIONS:
        out.append(f"  {option}")
        out.extend(textwrap.wrap(text, width, initial_indent=" " * 6,
                                 subsequent_indent=" " * 6))
    out += ["", "shipped configs (--config NAME):"]
    out.extend(textwrap.wrap(", ".join(configs.names()), width, initial_indent="  ",
                             subsequent_indent="  "))
    comments = configs.field_comments(config_file)
    out += ["", f"config fields of {config_file} (--config.FIELD=VALUE):"]
    # In the order the config files set them (base first), which groups them.
    fields = [*[field for field in comments if field in config],
              *sorted(field for field in config if field not in comments)]
    for field in fields:
        value = config[field]
        out.append(f"  {field} = {value!r}")
        out.extend(textwrap.wrap(comments.get(field, "(no comment in the config file)"), width,
                                 initial_indent=" " * 6, subsequent_indent=" " * 6))
    out += ["", "exit codes: 0 done, 1 diverged, 2 user error (one line on stderr), "
            "130 after Ctrl-C, 143 after SIGTERM (both save a checkpoint first)"]
    return "\n".join(out)


def _print_help(config_flag) -> None:
    config = _load_config(config_flag)
    print(help_text(_config_path().split(":", 1)[0], config))
    sys.exit(0)


def _define_flags():
    # Defining the config flag already applies --config.FIELD overrides to the
    # default config, so a bad override fails here, not only in parsing.
    config = _flag_errors_exit_2(
        config_flags.DEFINE_config_file, "config", DEFAULT_CONFIG,
        "A shipped config's name, or an experiment config file.", lock_config=True)
    workdir = flags.DEFINE_string(
        "workdir", None, "Directory for logs, samples and checkpoints (default: runs/<dataset>).")
    flags.DEFINE_string("coordinator_address", None,
                        "Multi-process runs: HOST:PORT of process 0 (or JAX_COORDINATOR_ADDRESS).")
    flags.DEFINE_integer("num_processes", None,
                         "Multi-process runs: how many processes (or JAX_NUM_PROCESSES).")
    flags.DEFINE_integer("process_id", None,
                         "Multi-process runs: this process's index (or JAX_PROCESS_ID).")
    return config, workdir


def _main(config_flag, workdir_flag, argv):
    if len(argv) > 1:
        usage_error(f"unexpected arguments {argv[1:]}; pass options as --flag=value")
    quiet_logs()
    # Imported after flag parsing so that --help and flag errors answer at once.
    from jaxgan import parallel, train

    try:  # before any other JAX call
        parallel.initialize(flags.FLAGS.coordinator_address, flags.FLAGS.num_processes,
                            flags.FLAGS.process_id)
    except ValueError as e:
        usage_error(str(e))

    config = _load_config(config_flag)
    workdir = workdir_flag.value or train.default_workdir(config)
    try:
        result = train.train_and_evaluate(config, workdir)
    except train.ConfigError as e:
        usage_error(str(e))
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


def main() -> None:
    """The ``jaxgan-train`` command (``sys.argv`` in, an exit code out)."""
    # Quiet until the run sets its verbosity: config_flags logs a warning
    # beside the error for a config file whose get_config() returns None.
    logging.set_verbosity(logging.ERROR)
    sys.argv = resolve_config_argument(sys.argv)
    help_wanted = wants_help(sys.argv)
    if help_wanted:  # absl would exit 1 on --help and refuse -h
        sys.argv = [arg for arg in sys.argv if not wants_help(["", arg])]
    config_flag, workdir_flag = _define_flags()
    if help_wanted:
        _flag_errors_exit_2(flags.FLAGS, sys.argv)
        _print_help(config_flag)
    app.run(functools.partial(_main, config_flag, workdir_flag),
            flags_parser=lambda argv: _flag_errors_exit_2(flags.FLAGS, argv))


if __name__ == "__main__":
    main()
