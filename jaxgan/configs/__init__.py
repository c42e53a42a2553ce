"""The shipped experiment configs: one module per experiment, each with a
``get_config()`` that returns an ``ml_collections.ConfigDict`` (the flax
examples' convention). Variants import their base and override it, and every
field carries a comment where it is first set; :func:`field_comments` reads
those comments back for ``jaxgan-train --help``.

They ship inside the package, so an installed ``jaxgan-train --config NAME``
finds them by name; a checkout's ``experiments/configs`` points here.
"""

import ast
import io
import os
import tokenize

__all__ = ["DEFAULT", "field_comments", "get_config", "names", "path"]

DEFAULT = "digits"  # the default experiment: needs no network
_HERE = os.path.dirname(os.path.abspath(__file__))


def names() -> list[str]:
    """The names of the shipped configs, sorted."""
    return sorted(name[:-3] for name in os.listdir(_HERE)
                  if name.endswith(".py") and not name.startswith("_"))


def path(name: str) -> str:
    """The file of the shipped config ``name``; ``ValueError`` naming the
    shipped ones when there is none."""
    if name not in names():
        raise ValueError(f"no shipped config {name!r}; shipped: {', '.join(names())} "
                         "(or give a config file's path)")
    return os.path.join(_HERE, f"{name}.py")


def get_config(name: str = DEFAULT):
    """The shipped config ``name`` as a fresh ``ConfigDict``."""
    import importlib

    path(name)  # the one-line error for an unknown name
    return importlib.import_module(f"{__name__}.{name}").get_config()


def _bases(file: str) -> list[str]:
    """The shipped configs that the config file ``file`` imports."""
    with open(file) as f:
        tree = ast.parse(f.read(), file)
    return [os.path.join(_HERE, f"{alias.name}.py") for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == __name__
            for alias in node.names if os.path.isfile(os.path.join(_HERE, f"{alias.name}.py"))]


def _comments_in(file: str) -> dict[str, str]:
    """``config.FIELD = ...`` assignments in one file -> the comment lines just
    above the assignment and the comment at its end, joined."""
    with open(file) as f:
        source = f.read()
    lines = source.splitlines()
    trailing, full_line = {}, {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row, column = token.start
            text = token.string.lstrip("#").strip()
            if lines[row - 1][:column].strip():
                trailing[row] = text
            elif not text.startswith("---"):  # section rulers are not descriptions
                full_line[row] = text
    comments = {}
    for node in ast.walk(ast.parse(source, file)):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                    and target.value.id == "config" and target.attr not in comments):
                above, row = [], node.lineno - 1
                while row in full_line:
                    above.insert(0, full_line[row])
                    row -= 1
                text = "; ".join(part for part in (" ".join(above),
                                                     trailing.get(node.end_lineno, "")) if part)
                if text:
                    comments[target.attr] = text
    return comments


def field_comments(file: str) -> dict[str, str]:
    """Each field that the config file ``file`` (or a shipped config it builds
    on) sets -> its comment: the one where it is first set, which says what
    the field is, then each variant's, which says why it changed the value."""
    comments, seen = {}, set()

    def visit(current):
        if current in seen:
            return
        seen.add(current)
        for base in _bases(current):
            visit(base)
        for field, text in _comments_in(current).items():
            if field in comments:  # a variant's reason for its own value
                text = f"{comments[field]} [{os.path.basename(current)[:-3]}: {text}]"
            comments[field] = text

    visit(os.path.abspath(file))
    return comments
