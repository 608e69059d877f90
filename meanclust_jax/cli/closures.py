"""``meanclust fit-closures`` and ``meanclust evaluate-closures`` (paper Sections IV.B, VI.A–C).

* ``meanclust fit-closures RUN.nc [--regularization hard|soft] --out closure.json`` calibrates
  the optimal approximation on one annealing trajectory, writes it as JSON and prints the
  exponent table (paper Table II layout, next to the pair approximation) and the per-type
  errors ``J_τ`` (eq. (15)) of PA and OA.
* ``meanclust evaluate-closures closure.json RUNS...`` prints ``ℰ`` (eq. (30)) of a closure
  (a JSON file, or the built-in ``pair`` / ``sparse``) on each trajectory, by composition,
  next to the pair approximation's.
"""

from __future__ import annotations

import argparse
import math


def _float_or_none(text: str) -> float | None:
    t = text.strip().lower()
    if t in ("none", "inf", "+inf", "-inf", "infinity", "-infinity"):
        return None
    try:
        return float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none'; got {text!r}") from None


def register(subparsers) -> None:  # noqa: ANN001 - argparse's private subparsers action
    """Add the ``fit-closures`` and ``evaluate-closures`` sub-commands."""
    p = subparsers.add_parser(
        "fit-closures",
        help="calibrate the optimal closure on an annealing trajectory (paper Table II)",
        description=(
            "Fit the optimal approximation (OA) of the triplet concentrations on one annealing "
            "trajectory by constrained least squares (paper eqs. 15-16), write it as JSON, and "
            "print its exponents next to the pair approximation's (paper Table II) and the "
            "per-type errors J_tau of PA and OA."
        ),
    )
    p.add_argument("run", metavar="RUN.nc", help="annealing trajectory (netCDF from `meanclust anneal`)")
    p.add_argument("--regularization", choices=("hard", "soft"), default="hard",
                   help="bounds preset: hard (beta1=0, beta2=delta=2) or soft (beta unbounded, delta=6); default hard")
    p.add_argument("--out", required=True, metavar="closure.json", help="where to write the fitted closure")
    p.add_argument("--beta1", type=_float_or_none, default=argparse.SUPPRESS,
                   help="override the lower bound of the xi exponents ('none' = unbounded)")
    p.add_argument("--beta2", type=_float_or_none, default=argparse.SUPPRESS,
                   help="override the upper bound of the xi exponents ('none' = unbounded)")
    p.add_argument("--delta", type=_float_or_none, default=argparse.SUPPRESS,
                   help="override the upper bound delta of the gamma exponents")
    p.add_argument("--starts", type=int, default=6, help="starts per type (PA, SA, then random); default 6")
    p.add_argument("--seed", type=int, default=0, help="seed of the random starts; default 0")
    p.add_argument("--digits", type=int, default=2, help="decimals in the exponent table; default 2")
    p.set_defaults(func=_fit_closures)

    q = subparsers.add_parser(
        "evaluate-closures",
        help="mean closure error (paper eq. 30) of a closure on trajectories",
        description=(
            "Evaluate a closure (JSON from fit-closures, or the built-in 'pair' or 'sparse') on "
            "one or more annealing trajectories: print the mean error E (paper eq. 30) per "
            "composition next to the pair approximation's, and the improvement over it."
        ),
    )
    q.add_argument("closure", help="closure JSON file, or 'pair' / 'sparse'")
    q.add_argument("runs", nargs="+", metavar="RUNS", help="annealing trajectories (netCDF)")
    q.add_argument("--per-type", action="store_true", help="also print J_tau per triplet type for each run")
    q.set_defaults(func=_evaluate_closures)


def _load_closure_arg(text: str):
    from ..closures import PairApproximation, SparseApproximation, load_closure

    if text == "pair":
        return PairApproximation()
    if text == "sparse":
        return SparseApproximation()
    return load_closure(text)


def _fit_closures(args: argparse.Namespace) -> int:
    from ..closures import (
        PairApproximation,
        error_table,
        exponent_table,
        fit_optimal_closure,
    )
    from ..dataset import load_trajectory

    overrides = {k: getattr(args, k) for k in ("beta1", "beta2", "delta") if hasattr(args, k)}
    ds = load_trajectory(args.run, need_triplets=True)
    closure, report = fit_optimal_closure(
        ds, args.regularization, bounds=overrides or None, num_starts=args.starts, seed=args.seed
    )
    closure.save(args.out)
    b1, b2, d = closure.bounds
    fmt = lambda v: "unbounded" if math.isinf(v) else f"{v:g}"  # noqa: E731
    print(
        f"optimal closure fitted on {args.run} (composition x = {report.attrs['composition']:.4g}, "
        f"{closure.source['records']} records), regularization {closure.regularization}: "
        f"beta1 = {fmt(b1)}, beta2 = {fmt(b2)}, delta = {fmt(d)}"
    )
    print()
    print("Exponents (paper Table II layout; xi1 is the exponent of the centre species):")
    print(exponent_table({"PA": PairApproximation(), "OA": closure}, digits=args.digits))
    print("Closure errors J_tau (paper eq. 15) and KKT residuals of the fit:")
    print(error_table({"PA": report["objective_pa"], "OA": report["objective"]},
                      {"KKT": report["kkt_residual"]}))
    n_bad = int((~report["converged"].values).sum())
    if n_bad:
        print(f"warning: {n_bad} types did not reach the KKT tolerance")
    print(f"wrote {args.out}")
    return 0


def _evaluate_closures(args: argparse.Namespace) -> int:
    import numpy as np

    from ..closures import PairApproximation, closure_errors, error_table
    from ..dataset import load_trajectory, read_trajectories

    closure = _load_closure_arg(args.closure)
    pa = PairApproximation()
    rows = []
    for path in args.runs:
        ds = load_trajectory(path, need_triplets=True)
        x = read_trajectories(ds, need_triplets=False).composition
        J = closure_errors(closure, ds)
        J_pa = closure_errors(pa, ds)
        rows.append((x, path, float(J.mean()), float(J_pa.mean())))
        if args.per_type:
            print(f"{path} (x = {x:.4g}):")
            print(error_table({"PA": J_pa, type(closure).__name__: J}))
    rows.sort()
    name = type(closure).__name__
    header = ("composition", "run", f"E[{name}]", "E[PA]", "improvement %")
    table = [header]
    for x, path, e, e_pa in rows:
        table.append((f"{x:.4g}", path, f"{e:.4e}", f"{e_pa:.4e}", f"{100 * (1 - e / e_pa):+.2f}"))
    mean_e = float(np.mean([r[2] for r in rows]))
    mean_pa = float(np.mean([r[3] for r in rows]))
    table.append(("mean", "", f"{mean_e:.4e}", f"{mean_pa:.4e}", f"{100 * (1 - mean_e / mean_pa):+.2f}"))
    widths = [max(len(r[c]) for r in table) for c in range(len(header))]
    print(f"mean closure error E (paper eq. 30) of {args.closure}:")
    for n, r in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    return 0
