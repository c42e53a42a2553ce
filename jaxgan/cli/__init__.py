"""The installed commands (``jaxgan-train``, ``jaxgan-control``): flags in, the
library out. A checkout's ``experiments/*.py`` are thin entry points to these.

Each command keeps one contract: exit code 0 on success, 2 on a user error
with one line on stderr, and ``--help`` or ``-h`` prints its usage and exits 0.
Flags are absl's, spelt with underscores.
"""

import sys

__all__ = ["usage_error", "wants_help"]


def usage_error(message: str) -> None:
    """Ends the command: one line on stderr and exit code 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def wants_help(argv: list[str]) -> bool:
    """``-h``, ``--help`` or ``--help=true`` among the arguments. absl answers
    ``--help`` with exit code 1 and rejects ``-h``; the commands answer both
    themselves, with exit code 0."""
    return any(arg in ("-h", "--help", "--help=true", "--helpshort") for arg in argv[1:])
