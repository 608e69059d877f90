"""``meanclust audit``: every quantitative claim of the paper, our number, a verdict and its reason.

    meanclust audit [--out DIR] [--quick] [--size N] [--study DIR] [--seed S] [--force]

Anneals the paper's ten compositions (or reads a `meanclust reproduce` folder with ``--study``),
judges every claim of the paper on the numbers (`meanclust_jax.audit`), runs the protocol sweep,
and writes ``DIR/audit.json`` (a list of ``{id, claim, paper, ours, verdict, reason}``),
``DIR/audit_numbers.json``, ``DIR/audit.md``, ``DIR/audit.html`` and ``DIR/figures/``. Existing
audit files in DIR are replaced only with ``--force``.
"""

from __future__ import annotations

import argparse

from ._common import (
    Interrupted,
    add_force,
    add_no_progress,
    add_parser,
    integer,
    seed,
    show_progress,
    sigint_checkpoints,
)

DEFAULT_OUT = "meanclust-audit"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``audit`` sub-command."""
    p = add_parser(
        sub, "audit",
        examples=("meanclust audit --quick --out audit-quick",
                  "meanclust audit --study study --out study-audit"),
        help="judge every quantitative claim of the paper on our data (claims table, checks, protocol sweep)",
        description=(
            "Audit the claims of Ahmadi, Foster & Protas: for each (Table II rows, Figs. 9-14, the SA fit, "
            "the rate statements) our number beside the paper's, a verdict (reproduced, not reproduced, "
            "not testable) computed with a stated tolerance, and the reason; analytic checks (conservation, "
            "SA's normalisation, exact ground states) and a sweep over annealing protocols. Writes "
            "DIR/audit.json, audit_numbers.json, audit.md, audit.html and figures/. --quick takes about a "
            "minute on a 2-core CPU, the default (48x48) a few minutes."
        ),
    )
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="output folder (created if missing)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 24x24 lattices, short schedules, fewer protocols")
    p.add_argument("--size", type=integer(minimum=24), default=None, metavar="N",
                   help="lattice side of the audit's runs and the protocol sweep (a multiple of 4, >= 24); "
                        "default 48, or 24 with --quick")
    p.add_argument("--study", default=None, metavar="DIR",
                   help="judge the claims on a `meanclust reproduce` folder (its trajectories, closures and "
                        "converged rate posteriors) instead of the audit's own runs")
    p.add_argument("--seed", type=seed, default=0, help="PRNG seed in [0, 2**64 - 1] of every anneal and fit")
    add_force(p, "the audit files in --out")
    add_no_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``meanclust audit``; bad arguments fail before any computation."""
    from ..audit import run_audit

    try:
        with sigint_checkpoints() as check:

            def log(message: str) -> None:
                check()
                print(message, flush=True)

            summary = run_audit(args.out, quick=args.quick, size=args.size, study=args.study, seed=args.seed,
                                force=args.force, progress=show_progress(args), log=log)
    except KeyboardInterrupt:
        raise Interrupted(f"nothing of this audit was written to {args.out!r} (its files are written at the "
                          "end); run the same command again") from None
    c = summary["counts"]
    print(f"audit: {c['reproduced']} reproduced, {c['not reproduced']} not reproduced, "
          f"{c['not testable']} not testable; see {args.out}/audit.md")
    return 0
