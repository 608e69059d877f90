"""The ``meanclust`` command line: a thin layer over the Python API.

Each sub-command lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``func`` (called with the parsed namespace, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Modules of ``meanclust_jax.cli`` that register sub-commands, in the order ``--help`` lists them.
SUBCOMMAND_MODULES: tuple[str, ...] = ("anneal", "closures", "infer", "reproduce", "audit")


def build_parser() -> argparse.ArgumentParser:
    """Build the ``meanclust`` argument parser with every sub-command."""
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="meanclust",
        description="Mean-cluster models of lattice dynamics (Ahmadi, Foster & Protas), in JAX.",
    )
    parser.add_argument("--version", action="version", version=f"meanclust_jax {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        if importlib.util.find_spec(f"{__name__}.{name}") is None:  # not written yet
            continue
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meanclust`` console script (switches JAX to float64 first)."""
    from .._precision import enable_float64

    enable_float64()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        print(f"meanclust {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
