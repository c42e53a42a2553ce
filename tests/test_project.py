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


def test_the_wheel_ships_the_package_its_configs_and_commands(tmp_path):
    """What ``pip install .`` (not editable) installs: the package with every
    shipped config and the commands, and nothing of the checkout besides."""
    import shutil
    import zipfile

    from jaxgan import configs

    source = tmp_path / "source"  # a copy, so the build leaves the checkout as it is
    shutil.copytree(os.path.join(ROOT, "jaxgan"), source / "jaxgan",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), source)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                             "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"),
                             str(source)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = (tmp_path / "dist").glob("jaxgan-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        files = set(archive.namelist())
        (entry_points,) = [name for name in files if name.endswith("entry_points.txt")]
        commands = archive.read(entry_points).decode()
    for name in configs.names():
        assert f"jaxgan/configs/{name}.py" in files, name
    assert {"jaxgan/cli/train.py", "jaxgan/cli/control.py", "jaxgan/bench/throughput.py",
            "jaxgan/bench/torch_twins.py", "jaxgan/data/arrays.py"} <= files
    assert not [name for name in files if name.startswith(("tests/", "experiments/"))]
    assert "jaxgan-train = jaxgan.cli.train:main" in commands
    assert "jaxgan-control = jaxgan.cli.control:main" in commands
    assert "jaxgan-bench = jaxgan.bench.throughput:command" in commands


def test_a_tfds_dataset_without_tensorflow_datasets_names_the_extra(monkeypatch):
    import pytest

    from jaxgan.data import DataError
    from jaxgan.data.tfds_sources import load_tfds

    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # as if not installed
    with pytest.raises(DataError, match=r"not installed .*; pip install 'jaxgan\[tfds\]'$"):
        load_tfds("mnist", 28, download=False)


def public_api():
    """(qualified name, object) of every module, and every public class and
    function (and method) that a module of the package names in ``__all__``."""
    import importlib
    import importlib.util
    import inspect
    import pkgutil

    import jaxgan

    names = ["jaxgan", *(m.name for m in pkgutil.walk_packages(jaxgan.__path__, "jaxgan."))]
    for module_name in names:
        if module_name == "jaxgan.bench.torch_twins" and importlib.util.find_spec("torch") is None:
            continue  # needs the bench extra
        module = importlib.import_module(module_name)
        yield module_name, module
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or not getattr(
                    obj, "__module__", "").startswith("jaxgan"):
                continue  # constants (an initializer too) are documented where they are set
            yield f"{module_name}.{name}", obj
            if inspect.isclass(obj):
                for attr, value in vars(obj).items():
                    # Methods written in the class (not callables stored as fields).
                    if (not attr.startswith("_") and inspect.isfunction(value)
                            and value.__qualname__.startswith(obj.__qualname__ + ".")):
                        yield f"{module_name}.{name}.{attr}", value


def test_every_public_module_class_and_function_has_a_docstring():
    undocumented = sorted({name for name, obj in public_api() if not (obj.__doc__ or "").strip()})
    assert not undocumented, undocumented


def test_the_api_reference_builds_offline_from_the_docstrings(tmp_path):
    """pdoc renders every module of the package to HTML without network (the
    command the README gives for the reference)."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, "docs", "build_reference.py"),
                             f"--out={tmp_path}"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    page = (tmp_path / "jaxgan" / "loop.html").read_text()
    assert "Trains <code>recipe</code> on <code>source</code>" in page  # fit's docstring
    for module in ("cli/train", "configs/digits", "data/arrays", "metrics/frechet", "state"):
        assert (tmp_path / "jaxgan" / f"{module}.html").exists(), module
