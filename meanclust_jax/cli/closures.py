"""``meanclust fit-closures`` and ``meanclust evaluate-closures`` (paper Sections IV.B, VI.A–C).

* ``meanclust fit-closures RUN.nc [RUN2.nc ...] [--family optimal|consistent]
  [--regularization ...] --out closure.json`` calibrates a closure family jointly on one or
  several annealing runs (e.g. one per composition; replicas are separate observations), writes
  it as JSON and prints its parameters and the per-type errors ``J_τ`` (eq. (15)) next to the
  pair approximation's. ``--family optimal`` (default) is the paper's OA (exponent table in the
  layout of Table II); ``--family consistent`` the consistent closure.
* ``meanclust evaluate-closures closure.json RUNS... [--out e.json]`` prints ``ℰ`` (eq. (30))
  of a closure (a JSON file, or the built-in ``pair`` / ``sparse``) on each trajectory, by
  composition, next to the pair approximation's; ``--out`` also writes them as JSON
  ``{"compositions": [x, ...], "mean_error": {"<label>": [ℰ, ...], "PA": [ℰ, ...]}}``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ._common import add_force, add_parser, check_output_file, integer, seed

if TYPE_CHECKING:
    import xarray as xr

    from ..closures import AbstractClosure


def _bound(unbounded: tuple[str, ...], side: str) -> Callable[[str], float | None]:
    """Argument type of a bound of eq. (16): a finite number, or ``none`` / the infinity on the
    unbounded side (``-inf`` for a lower bound, ``inf`` for an upper one) meaning unbounded."""

    def parse(text: str) -> float | None:
        t = text.strip().lower()
        if t in ("none", *unbounded):
            return None
        try:
            v = float(t)
        except ValueError:
            v = math.nan
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(
                f"must be a finite number, or 'none' / {unbounded[0]!r} for no {side} bound; got {text!r}"
            )
        return v

    parse.__name__ = f"{side} bound"
    return parse


_lower_bound = _bound(("-inf", "-infinity"), "lower")
_upper_bound = _bound(("inf", "+inf", "infinity", "+infinity"), "upper")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fit-closures`` and ``evaluate-closures`` sub-commands."""
    p = add_parser(
        subparsers, "fit-closures",
        examples=("meanclust fit-closures run.nc --regularization hard --out oa.json",
                  "meanclust fit-closures x0.25.nc x0.50.nc x0.75.nc --family consistent --out c.json"),
        help="calibrate a closure on one or several annealing trajectories (paper Table II)",
        description=(
            "Fit a closure of the triplet concentrations jointly on one or several annealing "
            "trajectories (e.g. one per composition; every replica is its own observation) by "
            "least squares (paper eqs. 15-16), write it as JSON, and print its parameters and the "
            "per-type errors J_tau next to the pair approximation's. Families: 'optimal' (the "
            "paper's OA, exponents in the layout of Table II) and 'consistent' (triplets "
            "consistent with their pairs by construction, with learned association)."
        ),
    )
    p.add_argument("runs", nargs="+", metavar="RUN.nc", help="annealing trajectories (netCDF from `meanclust anneal`)")
    p.add_argument("--family", choices=("optimal", "consistent"), default="optimal",
                   help="closure family: optimal (paper's OA, eq. 16) or consistent; default optimal")
    p.add_argument("--regularization", default=None,
                   help="optimal: hard (beta1=0, beta2=delta=2, default) or soft (beta unbounded, delta=6); "
                        "consistent: none (default) or a ridge weight >= 0 (e.g. 1e-3)")
    p.add_argument("--features", default=None,
                   help="consistent: comma-separated basis, e.g. '1,log(rho++),log(rho--),log(rho+-)' (the default)")
    p.add_argument("--mixed-lattices", action="store_true",
                   help="allow runs on different lattices (rows/cols) in one calibration")
    p.add_argument("--out", required=True, metavar="closure.json", help="where to write the fitted closure")
    add_force(p)
    p.add_argument("--beta1", type=_lower_bound, default=argparse.SUPPRESS,
                   help="optimal: override the lower bound of the xi exponents ('none' or -inf = unbounded)")
    p.add_argument("--beta2", type=_upper_bound, default=argparse.SUPPRESS,
                   help="optimal: override the upper bound of the xi exponents ('none' or inf = unbounded)")
    p.add_argument("--delta", type=_upper_bound, default=argparse.SUPPRESS,
                   help="optimal: override the upper bound delta >= 0 of the gamma exponents "
                        "('none' or inf = unbounded)")
    p.add_argument("--starts", type=integer(1), default=6,
                   help="optimal: starts per type (PA, SA, then random); default 6")
    p.add_argument("--seed", type=seed, default=0,
                   help="optimal: seed of the random starts, in [0, 2**64 - 1]; default 0")
    p.add_argument("--digits", type=integer(0, 15), default=2, help="decimals in the printed tables, 0..15; default 2")
    p.set_defaults(func=_fit_closures)

    q = add_parser(
        subparsers, "evaluate-closures",
        examples=("meanclust evaluate-closures oa.json x0.33.nc x0.50.nc --per-type",
                  "meanclust evaluate-closures c.json x0.25.nc x0.50.nc --out e.json"),
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
    q.add_argument("--out", default=None, metavar="e.json",
                   help='write {"compositions": [...], "mean_error": {"<label>": [...], "PA": [...]}} as JSON')
    add_force(q)
    q.add_argument("--label", default=None,
                   help="name of the closure in the table and JSON "
                        "(default: PA, SA, OA-<regularization> or consistent)")
    q.set_defaults(func=_evaluate_closures)


def _load_closure_arg(text: str) -> AbstractClosure:
    from ..closures import PairApproximation, SparseApproximation, load_closure

    if text == "pair":
        return PairApproximation()
    if text == "sparse":
        return SparseApproximation()
    return load_closure(text)


def _check_fit_args(args: argparse.Namespace) -> dict:
    """Validate the flags of ``fit-closures`` before any file is read; returns fit kwargs."""
    from ..closures import DEFAULT_BASIS, REGULARIZATIONS, ConsistentClosure, resolve_bounds, resolve_ridge

    overrides = {k: getattr(args, k) for k in ("beta1", "beta2", "delta") if hasattr(args, k)}
    if args.family == "optimal":
        reg = "hard" if args.regularization is None else args.regularization
        if reg not in REGULARIZATIONS:
            raise ValueError(
                f"--regularization must be one of {sorted(REGULARIZATIONS)} for --family optimal; got {reg!r}")
        if args.features is not None:
            raise ValueError("--features applies to --family consistent only")
        try:
            resolve_bounds(reg, overrides or None)
        except ValueError as err:
            raise ValueError(f"--beta1/--beta2/--delta: {err}") from None
        return {"regularization": reg, "bounds": overrides or None, "num_starts": args.starts, "seed": args.seed}
    if overrides:
        raise ValueError(f"--{'/--'.join(overrides)} apply to --family optimal only (bounds of eq. 16)")
    try:
        resolve_ridge(args.regularization)
    except ValueError:
        raise ValueError(
            f"--regularization must be 'none' or a ridge weight >= 0 for --family consistent; "
            f"got {args.regularization!r}"
        ) from None
    features = (DEFAULT_BASIS if args.features is None
                else tuple(f.strip() for f in args.features.split(",") if f.strip()))
    try:
        ConsistentClosure(None, features)
    except ValueError as err:
        raise ValueError(f"--features: {err}") from None
    return {"regularization": args.regularization, "features": features}


def _load_runs(paths: Sequence[str]) -> list[xr.Dataset]:
    from ..dataset import load_trajectory

    return [load_trajectory(p, need_triplets=True) for p in paths]


def _name_runs(err: ValueError, paths: Sequence[str]) -> ValueError:
    """Replace ``datasets[i]`` in an error message by the file name given on the command line."""
    text = str(err)
    for i, p in enumerate(paths):
        text = text.replace(f"datasets[{i}]", f"{p}")
    return ValueError(text.replace("mixed_lattices=True (CLI: --mixed-lattices)", "--mixed-lattices"))


def _fit_closures(args: argparse.Namespace) -> int:
    from ..closures import (
        PairApproximation,
        error_table,
        exponent_table,
        fit_consistent_closure,
        fit_optimal_closure,
    )

    check_output_file(args.out, force=args.force, suffix_hint="closure.json")
    kwargs = _check_fit_args(args)
    datasets = _load_runs(args.runs)
    try:
        if args.family == "optimal":
            reg = kwargs.pop("regularization")
            closure, report = fit_optimal_closure(datasets, reg, mixed_lattices=args.mixed_lattices, **kwargs)
        else:
            closure, report = fit_consistent_closure(datasets, mixed_lattices=args.mixed_lattices, **kwargs)
    except ValueError as err:
        raise _name_runs(err, args.runs) from None
    closure.save(args.out)
    source = closure.source
    comps = source.get("compositions", [source["composition"]])
    where = args.runs[0] if len(args.runs) == 1 else f"{len(args.runs)} runs"
    comp_text = ", ".join(f"{float(x):.4g}" for x in comps)
    if args.family == "optimal":
        b1, b2, d = closure.bounds

        def fmt(v: float) -> str:
            return "unbounded" if math.isinf(v) else f"{v:g}"

        print(
            f"optimal closure fitted on {where} (composition x = {comp_text}, "
            f"{source['records']} records), regularization {closure.regularization}: "
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
    else:
        print(
            f"consistent closure fitted on {where} (composition x = {comp_text}, {source['records']} records, "
            f"{source['trajectories']} trajectories), ridge {report.attrs['ridge']:g}, "
            f"Levenberg-Marquardt steps {report.attrs['num_steps']}"
        )
        print()
        print(closure.describe(digits=args.digits + 1))
        print()
        print("Closure errors J_tau (paper eq. 15), mean over runs; 'zero' = PA chains with max-entropy triangles:")
        print(error_table({"PA": report["objective_pa"], "zero": report["objective_zero"],
                           "consistent": report["objective"]}))
        if not report.attrs["converged"]:
            print("warning: Levenberg-Marquardt did not meet its tolerance within the step budget")
    print(f"wrote {args.out}")
    return 0


def _closure_label(closure: AbstractClosure) -> str:
    from ..closures import ConsistentClosure, OptimalApproximation, PairApproximation, SparseApproximation

    if isinstance(closure, PairApproximation):
        return "PA"
    if isinstance(closure, SparseApproximation):
        return "SA"
    if isinstance(closure, OptimalApproximation):
        return f"OA-{closure.regularization}" if closure.regularization else "OA"
    if isinstance(closure, ConsistentClosure):
        return "consistent"
    return type(closure).__name__


def _evaluate_closures(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from .._io import write_text_atomic
    from ..closures import PairApproximation, closure_errors, error_table
    from ..dataset import load_trajectory, read_trajectories

    if args.out is not None:
        check_output_file(args.out, force=args.force, suffix_hint="e.json")
    closure = _load_closure_arg(args.closure)
    name = args.label or _closure_label(closure)
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
            print(error_table({"PA": J_pa, name: J}))
    rows.sort()
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
    if args.out is not None:
        data = {
            "compositions": [float(r[0]) for r in rows],
            "mean_error": {name: [r[2] for r in rows], "PA": [r[3] for r in rows]},
        }
        write_text_atomic(args.out, json.dumps(data, indent=2, allow_nan=False) + "\n")
        print(f"wrote {args.out}")
    return 0
