r"""Builds the API reference: HTML pages from the package's docstrings (pdoc),
offline, one page per module.

  pip install -e '.[test]'   # pdoc comes with the test extra
  python docs/build_reference.py [--out docs/api]

Then open ``docs/api/index.html``. Every module is rendered, including those
that a package's ``__all__`` leaves out of its namespace (``jaxgan.loop``,
``jaxgan.data.arrays``, ...), which pdoc would skip if asked for ``jaxgan`` alone.
"""

import argparse
import pathlib
import pkgutil
import sys


def modules() -> list[str]:
    """Every module of the package, the package first."""
    import jaxgan

    return ["jaxgan", *(m.name for m in pkgutil.walk_packages(jaxgan.__path__, "jaxgan."))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(pathlib.Path(__file__).parent / "api"),
                        help="the folder to write (default: docs/api)")
    args = parser.parse_args(argv)
    try:
        import pdoc
    except ImportError:
        print("error: pdoc is not installed; pip install -e '.[test]' (or pip install pdoc)",
              file=sys.stderr)
        return 2
    pdoc.render.configure(docformat="google")
    pdoc.pdoc(*modules(), output_directory=pathlib.Path(args.out))
    print(f"API reference in {pathlib.Path(args.out).resolve()}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
