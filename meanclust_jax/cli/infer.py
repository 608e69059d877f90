"""``meanclust infer-rates``: Bayesian inference of the reaction rates (paper Sections V, VI.D).

    meanclust infer-rates RUN.nc --closure pa|sa|oa.json --sampler nuts|drmh|both \\
        --likelihood gaussian|paper --samples N --chains C --out posterior.nc

* ``--closure pa`` / ``oa.json`` (a closure file from ``meanclust fit-closures``): the eight
  rates ``k1..k8``; the point estimate ``Y1`` (multistart, problem (18), polished by
  Levenberg–Marquardt) centres the chains' starting points.
* ``--closure sa``: the SA model's two parameters ``(α1, α2)`` (eq. 28): the direct fit, and
  their posterior.
* ``--likelihood gaussian`` (default): independent Gaussian errors on ``C++`` and ``C--`` with
  unknown noise levels ``σ`` (posterior ``sigma``); ``paper``: the paper's ``exp(−β F)``.
* ``--drmh-variant dram`` (default, adaptive) or ``paper`` (Algorithm 1 with σ1 = 0.1·Y1,
  σ2 = 0.01·Y1).

With ``--sampler both`` two files are written, ``<out stem>.nuts.nc`` and
``<out stem>.drmh.nc``; otherwise exactly ``--out``. A summary table (mean, sd, HDI, MCSE,
bulk/tail ESS, R-hat per quantity) is printed for each sampler with the verdict of the
convergence standard (R-hat ≤ 1.01, bulk and tail ESS ≥ 400, ≥ 4 chains), and with
``--sampler both`` the agreement of the two samplers (posterior means within 4 combined MCSE).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ._common import (
    add_force,
    add_no_progress,
    add_parser,
    check_output_file,
    check_output_folder,
    integer,
    real,
    seed,
    show_progress,
)

if TYPE_CHECKING:
    from ..closures import AbstractClosure

_positive_int = integer(1)


def _replica(text: str) -> str | int:
    """``mean`` or a replica index ``>= 0``."""
    if text.strip().lower() == "mean":
        return "mean"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'mean' or a replica index >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 'mean' or a replica index >= 0, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``infer-rates`` sub-command."""
    p = add_parser(
        subparsers, "infer-rates",
        examples=("meanclust infer-rates run.nc --closure oa.json --sampler both --samples 2000 "
                  "--chains 4 --out posterior.nc",),
        help="posterior of the reaction rates with NUTS and/or DR-MH (paper Section V)",
        description=(
            "Infer the reaction rates k1..k8 of the closed mean-cluster model (or (alpha1, "
            "alpha2) of the SA model) from an annealing trajectory: multistart point estimate "
            "Y1, then the posterior exp(-beta F(K)) with a uniform prior, sampled by NumPyro "
            "NUTS and/or the paper's delayed-rejection Metropolis-Hastings. Writes ArviZ "
            "InferenceData (netCDF) and prints a summary table."
        ),
    )
    p.add_argument("run", metavar="RUN.nc", help="annealing trajectory (netCDF from `meanclust anneal`)")
    p.add_argument("--closure", required=True, metavar="pa|sa|oa.json",
                   help="pair approximation (pa), sparse approximation (sa), or a closure JSON file")
    p.add_argument("--sampler", choices=("nuts", "drmh", "both"), default="drmh",
                   help="sampler; default drmh (the paper's Algorithm 1)")
    p.add_argument("--likelihood", choices=("gaussian", "paper"), default="gaussian",
                   help="gaussian: independent Gaussian errors on C++ and C-- with unknown noise "
                        "levels sigma (default); paper: the paper's exp(-beta F)")
    p.add_argument("--samples", type=int, default=1000,
                   help="draws per chain before thinning (>= 1); default 1000")
    p.add_argument("--chains", type=int, default=4,
                   help="number of chains (>= 1; the convergence standard needs 4); default 4")
    p.add_argument("--warmup", type=int, default=None,
                   help="warmup per chain; default samples/2 (NUTS), samples/5 (DR-MH)")
    p.add_argument("--drmh-variant", choices=("dram", "paper"), default="dram",
                   help="dram: adaptive (covariance learned in the warm-up, then frozen; default); "
                        "paper: Algorithm 1 with uniform proposals 0.1*Y1, 0.01*Y1")
    p.add_argument("--until-converged", action="store_true",
                   help="keep drawing rounds of --samples until R-hat <= 1.01 and bulk/tail ESS "
                        ">= 400 for every quantity, or --max-samples draws per chain")
    p.add_argument("--max-samples", type=int, default=None,
                   help="draw budget per chain with --until-converged; default 10 x --samples")
    p.add_argument("--separate-replicas", action="store_true",
                   help="gaussian likelihood: fit every replica as its own observation instead "
                        "of the replica mean")
    p.add_argument("--out", required=True, metavar="posterior.nc", help="output netCDF file")
    add_force(p, "--out (and the .nuts.nc/.drmh.nc files of --sampler both)")
    p.add_argument("--seed", type=seed, default=0, help="PRNG seed in [0, 2**64 - 1]; default 0")
    p.add_argument("--weight-a", type=real(0.0), default=1.0,
                   help="weight a of the equilibrium term of F (eq. 17); default 1")
    p.add_argument("--beta", type=real(0.0, open_min=True), default=None,
                   help="paper likelihood: inverse temperature of exp(-beta F); default 1")
    p.add_argument("--time-scale", type=real(0.0, open_min=True), default=1.0,
                   help="model time = time-scale x sweeps; rates are per model time unit; default 1")
    p.add_argument("--upper", type=real(0.0, open_min=True), default=None,
                   help="gaussian: upper bound of the uniform prior of 4k1+k2, ... (default "
                        "1e3/span); paper: upper bound of the uniform prior on each rate (default "
                        "10 x max(Y1)); with --closure sa the half-width of the (alpha1, alpha2) "
                        "box (default max(10 max|alpha*|, 10/span))")
    p.add_argument("--lower", type=real(0.0), default=None,
                   help="gaussian: lower bound of the uniform prior of 4k1+k2, ... (default 0); "
                        "paper: lower bound of each rate (default 0)")
    p.add_argument("--starts", type=_positive_int, default=8, help="multistart starts; default 8")
    p.add_argument("--opt-steps", type=_positive_int, default=200,
                   help="Adam steps per start of the multistart point estimate; default 200")
    p.add_argument("--chain-method", choices=("sequential", "vectorized", "parallel"),
                   default="vectorized",
                   help="how chains run (NumPyro); default vectorized (one compiled call)")
    p.add_argument("--replica", type=_replica, default="mean",
                   help="'mean' (average the replicas) or a replica index; default mean")
    p.add_argument("--figures", metavar="DIR", default=None,
                   help="also write Fig. 13/14-style figures into DIR")
    add_no_progress(p)
    p.add_argument("--progress-bar", action="store_true",
                   help="show the samplers' progress bars even when stderr is not a terminal")
    p.set_defaults(func=_infer_rates)


def _closure_from_arg(text: str) -> AbstractClosure:
    from ..closures import PairApproximation, load_closure

    if text.lower() in ("pa", "pair"):
        return PairApproximation()
    if not os.path.isfile(text):
        raise ValueError(
            f"--closure must be 'pa', 'sa' or an existing closure JSON file, got {text!r}"
        )
    return load_closure(text)


def _outputs(out: str, samplers: tuple[str, ...]) -> dict[str, Path]:
    path = Path(out)
    if len(samplers) == 1:
        return {samplers[0]: path}
    stem = path.with_suffix("")
    return {s: Path(f"{stem}.{s}{path.suffix or '.nc'}") for s in samplers}


def _infer_rates(args: argparse.Namespace) -> int:
    import numpy as np

    from .._validate import check_int, seed_key
    from ..dataset import load_trajectory
    from ..inference import (
        PairData,
        compare_posteriors,
        diagnostics,
        infer_rates,
        infer_sparse,
        make_problem,
        posterior_summary,
        save_posterior,
    )

    check_int(args.samples, "--samples", minimum=1)
    check_int(args.chains, "--chains", minimum=1)
    if args.warmup is not None:
        check_int(args.warmup, "--warmup", minimum=0)
    replica = args.replica
    samplers = ("nuts", "drmh") if args.sampler == "both" else (args.sampler,)
    check_output_file(args.out, force=args.force, suffix_hint="posterior.nc")
    outputs = _outputs(args.out, samplers)
    for path in outputs.values():
        check_output_file(path, flag="--out", force=args.force)
    if args.figures is not None:
        check_output_folder(args.figures, flag="--figures")
        if Path(args.figures).is_dir():
            for path in _figure_paths(args.figures, args.closure, samplers):
                check_output_file(path, flag="--figures", force=args.force)
    closure = None if args.closure.lower() in ("sa", "sparse") else _closure_from_arg(args.closure)

    ds = load_trajectory(args.run)
    data = PairData.from_dataset(ds, time_scale=args.time_scale, replica=replica)
    key = seed_key(args.seed, "--seed")
    attrs = {"run": os.path.abspath(args.run), "time_scale": args.time_scale, "seed": args.seed}
    if args.likelihood == "gaussian" and args.beta is not None:
        raise ValueError("--beta applies to --likelihood paper only (the Gaussian likelihood has a noise model)")
    if args.separate_replicas and args.likelihood != "gaussian":
        raise ValueError("--separate-replicas applies to --likelihood gaussian only")
    if args.max_samples is not None:
        check_int(args.max_samples, "--max-samples", minimum=args.samples)
    model_kwargs = {"replicas": "separate"} if args.separate_replicas else {}
    common = dict(
        likelihood=args.likelihood,
        samplers=samplers,
        num_samples=args.samples,
        num_chains=args.chains,
        num_warmup=args.warmup,
        beta=args.beta,
        chain_method=args.chain_method,
        progress_bar=args.progress_bar or show_progress(args),
        until_converged=args.until_converged,
        max_samples=args.max_samples,
        model_kwargs=model_kwargs,
        attrs=attrs,
        sampler_kwargs={"drmh": {"drmh_variant": args.drmh_variant}},
    )
    sa_loss = None
    if closure is None:
        bound = args.upper
        posteriors, fit = infer_sparse(data, key, bound=bound, **common)
        sa_loss = float(fit.loss)
        print(f"SA fit (eq. 28): alpha1 = {float(fit.alpha[0]):.6g}, alpha2 = "
              f"{float(fit.alpha[1]):.6g}, F = {sa_loss:.6g}")
    else:
        problem = make_problem(data, closure, weight_a=args.weight_a)
        posteriors, ms = infer_rates(
            problem, key, upper=args.upper, lower=args.lower, num_starts=args.starts,
            num_steps=args.opt_steps, **common,
        )
        attrs0 = next(iter(posteriors.values())).posterior.attrs if posteriors else {}
        if ms is not None and "Y1" in attrs0:
            y1 = ", ".join(f"{v:.4g}" for v in np.asarray(attrs0["Y1"]))
            print(f"Y1 (best of {args.starts} starts, polished by Levenberg-Marquardt): [{y1}], "
                  f"F(Y1) = {float(attrs0['F_Y1']):.6g}")
    for sampler, idata in posteriors.items():
        save_posterior(idata, outputs[sampler])
        diag = diagnostics(idata)
        conv = diag["convergence"]
        print(f"\n== {sampler.upper()} ({args.likelihood} likelihood): {conv['num_chains']} chain(s) x "
              f"{conv['num_draws']} kept draws, {diag['wall_time_s']:.1f} s -> {outputs[sampler]}")
        with _PandasWide():
            print(posterior_summary(idata, round_to="none").to_string(float_format=lambda v: f"{v:.4g}"))
        if conv["converged"]:
            print("converged: every quantity has R-hat <= 1.01 and bulk and tail ESS >= 400")
        else:
            print("NOT CONVERGED: these numbers are not results. " + "; ".join(conv["failures"][:8])
                  + (" ..." if len(conv["failures"]) > 8 else ""))
        if sampler == "drmh":
            print(f"acceptance: first stage {diag['acceptance_rate_first_stage']:.3f}, "
                  f"second stage (of attempts) {diag['acceptance_rate_second_stage']:.3f}, "
                  f"total {diag['acceptance_rate_total']:.3f}")
        else:
            print(f"divergences: {diag['num_divergences']}, mean acceptance "
                  f"{diag['acceptance_rate']:.3f}")
    if len(posteriors) == 2:
        agreement = compare_posteriors(posteriors["nuts"], posteriors["drmh"])
        if not all(diagnostics(p)["convergence"]["converged"] for p in posteriors.values()):
            print("\nNUTS vs DR-MH: not assessed (a sampler did not converge, so its MCSE is not a "
                  "standard error)")
        elif agreement.agree:
            print(f"\nNUTS and DR-MH agree: every posterior mean within {agreement.tol:g} combined MCSE")
        else:
            print("\nNUTS and DR-MH DISAGREE: " + "; ".join(agreement.disagreements))
    if args.figures:
        _figures(args.figures, posteriors, sa_loss, args.closure)
    return 0


class _PandasWide:
    def __enter__(self) -> None:
        import pandas as pd

        self._ctx = pd.option_context("display.width", 200, "display.max_columns", 20)
        self._ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def _figure_paths(folder: str, closure_arg: str, samplers: tuple[str, ...]) -> list[Path]:
    """The files `_figures` writes (checked before the run: never replaced without --force)."""
    out, label = Path(folder), Path(closure_arg).stem
    paths = [out / f"loss_histograms_{label}.png"]
    if closure_arg.lower() not in ("sa", "sparse"):
        paths += [out / f"posterior_rates_{label}_{s}.png" for s in samplers]
    return paths


def _figures(folder: str, posteriors: dict, sa_loss: float | None, closure_arg: str) -> None:
    from ..reports.inference_figures import plot_loss_histograms, plot_posterior_rates

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    label = Path(closure_arg).stem
    plot_loss_histograms({f"{label} {s}": idata for s, idata in posteriors.items()},
                         out / f"loss_histograms_{label}.png", sa_loss=sa_loss)
    for s, idata in posteriors.items():
        if idata.posterior.attrs.get("site") == "k" and idata.posterior["k"].shape[-1] == 8:
            plot_posterior_rates(idata, out / f"posterior_rates_{label}_{s}.png",
                                 title=f"{label} ({s})")
    print(f"figures written to {json.dumps(str(out))}")
