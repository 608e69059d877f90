"""The ``meanclust`` command line: a thin layer over the Python API.

Each sub-command lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``func`` (called with the parsed namespace, returning an exit code). The shared
conventions (one-line errors with exit code 2, ``--force``, progress bars, Ctrl-C) are described
in ``meanclust_jax.cli._common``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from ._common import EXIT_BAD_INPUT, EXIT_INTERRUPTED, HelpFormatter, Interrupted, Parser, example

#: Modules of ``meanclust_jax.cli`` that register sub-commands, in the order ``--help`` lists them.
SUBCOMMAND_MODULES: tuple[str, ...] = ("anneal", "closures", "infer", "reproduce", "audit")

#: Set this environment variable to see the full traceback of an error (for bug reports).
DEBUG_ENV = "MEANCLUST_DEBUG"


def build_parser() -> Parser:
    """Build the ``meanclust`` argument parser with every sub-command."""
    from .._version import __version__

    parser = Parser(
        prog="meanclust",
        description="Mean-cluster models of lattice dynamics (Ahmadi, Foster & Protas), in JAX.",
        formatter_class=HelpFormatter,
        epilog=example("meanclust reproduce --quick --out study-quick"),
    )
    parser.add_argument("--version", action="version", version=f"meanclust_jax {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in SUBCOMMAND_MODULES:
        if importlib.util.find_spec(f"{__name__}.{name}") is None:  # not written yet
            continue
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _out_of_memory(err: BaseException) -> bool:
    return isinstance(err, MemoryError) or "RESOURCE_EXHAUSTED" in str(err)[:200]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meanclust`` console script (switches JAX to float64 first).

    **Returns:** the exit code: 0 on success, 2 for bad input (one line on stderr, no
    traceback), 1 for a run that failed (out of memory, a file system error), 130 when
    interrupted by Ctrl-C (one line saying what was saved and how to resume).
    """
    from .._precision import enable_float64

    enable_float64()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    prefix = f"meanclust {args.command}"
    try:
        return int(args.func(args) or 0)
    except Interrupted as err:
        print(f"{prefix}: interrupted: {err}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted: outputs are written whole or not at all (none is half-written); "
              "run the command again to start over", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
            PermissionError) as err:
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"{prefix}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as err:
        if os.environ.get(DEBUG_ENV) or not (_out_of_memory(err) or isinstance(err, OSError)):
            raise
        what = "out of memory" if _out_of_memory(err) else "file system error"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"{prefix}: error: {what}: {first}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
