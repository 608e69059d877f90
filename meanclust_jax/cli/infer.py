"""``meanclust infer-rates``: Bayesian inference of the reaction rates (paper Sections V, VI.D).

    meanclust infer-rates RUN.nc --closure pa|sa|oa.json --sampler nuts|drmh|both \\
        --samples N --chains C --out posterior.nc

* ``--closure pa`` / ``oa.json`` (a closure file from ``meanclust fit-closures``): the eight
  rates ``k1..k8``; the point estimate ``Y1`` (multistart, problem (18)) starts the chains and
  sets the DR-MH scales ``0.1·Y1``, ``0.01·Y1``.
* ``--closure sa``: the SA model's two parameters ``(α1, α2)`` (eq. 28): the direct fit, and
  their posterior.

With ``--sampler both`` two files are written, ``<out stem>.nuts.nc`` and
``<out stem>.drmh.nc``; otherwise exactly ``--out``. A summary table (mean, sd, HDI, ESS,
R-hat per parameter, plus acceptance rates or divergences) is printed.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {v}")
    return v


def register(subparsers) -> None:  # noqa: ANN001 - argparse's private subparsers action
    """Add the ``infer-rates`` sub-command."""
    p = subparsers.add_parser(
        "infer-rates",
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
    p.add_argument("--samples", type=int, default=1000, help="kept draws per chain (>= 1); default 1000")
    p.add_argument("--chains", type=int, default=1, help="number of chains (>= 1); default 1")
    p.add_argument("--warmup", type=int, default=None,
                   help="warmup/burn-in per chain; default samples/2 (NUTS), samples/10 (DR-MH)")
    p.add_argument("--out", required=True, metavar="posterior.nc", help="output netCDF file")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed; default 0")
    p.add_argument("--weight-a", type=float, default=1.0,
                   help="weight a of the equilibrium term of F (eq. 17); default 1")
    p.add_argument("--beta", type=float, default=1.0,
                   help="inverse temperature of the likelihood exp(-beta F); default 1 (paper)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="model time = time-scale x sweeps; rates are per model time unit; default 1")
    p.add_argument("--upper", type=float, default=None,
                   help="upper bound of the uniform prior on each rate (default 10 x max(Y1)); with "
                        "--closure sa the half-width of the (alpha1, alpha2) box (default "
                        "max(10 max|alpha*|, 10/span))")
    p.add_argument("--starts", type=_positive_int, default=8, help="multistart starts; default 8")
    p.add_argument("--opt-steps", type=_positive_int, default=200,
                   help="Adam steps per start of the multistart point estimate; default 200")
    p.add_argument("--chain-method", choices=("sequential", "vectorized", "parallel"),
                   default="sequential", help="how chains run (NumPyro); default sequential")
    p.add_argument("--replica", default="mean",
                   help="'mean' (average the replicas) or a replica index; default mean")
    p.add_argument("--figures", metavar="DIR", default=None,
                   help="also write Fig. 13/14-style figures into DIR")
    p.add_argument("--progress-bar", action="store_true", help="show NumPyro's progress bar")
    p.set_defaults(func=_infer_rates)


def _closure_from_arg(text: str):  # noqa: ANN202
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
    import jax
    import numpy as np

    from .._validate import check_int
    from ..dataset import load_trajectory
    from ..inference import (
        PairData,
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
    replica = args.replica if args.replica == "mean" else int(args.replica)
    samplers = ("nuts", "drmh") if args.sampler == "both" else (args.sampler,)
    outputs = _outputs(args.out, samplers)
    for path in outputs.values():
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise ValueError(f"--out: folder {str(parent)!r} does not exist")

    ds = load_trajectory(args.run)
    data = PairData.from_dataset(ds, time_scale=args.time_scale, replica=replica)
    key = jax.random.key(args.seed)
    attrs = {"run": os.path.abspath(args.run), "time_scale": args.time_scale, "seed": args.seed}
    common = dict(
        samplers=samplers,
        num_samples=args.samples,
        num_chains=args.chains,
        num_warmup=args.warmup,
        beta=args.beta,
        chain_method=args.chain_method,
        progress_bar=args.progress_bar,
        attrs=attrs,
    )
    sa_loss = None
    if args.closure.lower() in ("sa", "sparse"):
        bound = args.upper
        posteriors, fit = infer_sparse(data, key, bound=bound, **common)
        sa_loss = float(fit.loss)
        print(f"SA fit (eq. 28): alpha1 = {float(fit.alpha[0]):.6g}, alpha2 = "
              f"{float(fit.alpha[1]):.6g}, F = {sa_loss:.6g}")
    else:
        closure = _closure_from_arg(args.closure)
        problem = make_problem(data, closure, weight_a=args.weight_a)
        posteriors, ms = infer_rates(
            problem, key, upper=args.upper, num_starts=args.starts, num_steps=args.opt_steps,
            **common,
        )
        if ms is not None:
            y1 = ", ".join(f"{v:.4g}" for v in np.asarray(ms.best))
            print(f"Y1 (best of {args.starts} starts): [{y1}], F(Y1) = {float(ms.best_loss):.6g}")
    for sampler, idata in posteriors.items():
        save_posterior(idata, outputs[sampler])
        diag = diagnostics(idata)
        print(f"\n== {sampler.upper()}: {args.chains} chain(s) x {args.samples} draws, "
              f"{diag['wall_time_s']:.1f} s -> {outputs[sampler]}")
        with _pandas_wide():
            print(posterior_summary(idata).to_string())
        if sampler == "drmh":
            print(f"acceptance: first stage {diag['acceptance_rate_first_stage']:.3f}, "
                  f"second stage (of attempts) {diag['acceptance_rate_second_stage']:.3f}, "
                  f"total {diag['acceptance_rate_total']:.3f}")
        else:
            print(f"divergences: {diag['num_divergences']}, mean acceptance "
                  f"{diag['acceptance_rate']:.3f}")
    if args.figures:
        _figures(args.figures, posteriors, sa_loss, args.closure)
    return 0


class _pandas_wide:
    def __enter__(self):  # noqa: ANN204
        import pandas as pd

        self._ctx = pd.option_context("display.width", 200, "display.max_columns", 20)
        self._ctx.__enter__()

    def __exit__(self, *exc):  # noqa: ANN002, ANN204
        self._ctx.__exit__(*exc)


def _figures(folder: str, posteriors: dict, sa_loss, closure_arg: str) -> None:  # noqa: ANN001
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
