"""Project hygiene that CI checks: ruff, the README's commands, light imports."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", ROOT],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def readme_commands():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(?:bash|sh)\n(.*?)\n```", setup, re.S)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_second():
    commands = readme_commands()
    assert len(commands) == 2, commands
    train_command, test_command = commands
    assert "experiments/train.py" in train_command and "pytest" in test_command
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        assert test_command.strip() in f.read()


def test_import_jaxgan_does_not_import_tensorflow():
    code = ("import sys, jaxgan, jaxgan.train; "
            "heavy = ('tensorflow', 'tensorflow_datasets', 'torch', 'sklearn'); "
            "bad = [m for m in heavy if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_pickle_anywhere_in_the_package():
    offenders = []
    for folder in ("jaxgan", "experiments"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                if name.endswith(".py"):
                    with open(os.path.join(dirpath, name)) as f:
                        pattern = r"\b(import pickle|cloudpickle|pickle\.load|allow_pickle=True)"
                        if re.search(pattern, f.read()):
                            offenders.append(name)
    assert not offenders
