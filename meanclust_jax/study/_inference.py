"""The study's rate-inference stage (paper Section VI.D; docs/model.md §7; issue 10).

On the x = 1/3 trajectory (replica mean, its standard error as the known noise floor; time in
sweeps, so rates are per sweep), for PA, OA-hard-1/2 and SA:

1. the point estimate (PA, OA): `multistart`, `polish` (Levenberg–Marquardt) and `stationarity`
   (gradient norm, Hessian spectrum on the identifiable subspace);
2. the posterior under the Gaussian likelihood with NUTS and with DRAM, 4 chains each, drawn in
   rounds until every quantity meets the convergence standard (R-hat ≤ 1.01, bulk and tail
   ESS ≥ 400) or the stated draw budget is spent — the stage summary then says
   ``"converged": false`` and the report prints the numbers marked **not converged**;
3. the agreement of the two samplers (posterior means within 4 combined MCSE);
4. PSIS-LOO (`arviz.compare`) of PA, OA and SA on the same observations;
5. checks of the noise model: the lag-1 autocorrelation of the residuals at the point estimate
   (the likelihood assumes independent errors) and, for PA, how far the least-squares
   estimate moves when the replicas are fitted as separate observations instead of their mean
   (issue 10, item 6), in posterior standard deviations.

A point estimate or posterior already on disk made with the same settings is reused
(`meanclust_jax.study._resume`), so an interrupted stage resumes per closure and sampler.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from jaxtyping import ArrayLike, Float, PRNGKeyArray

from ._config import StudyConfig

if TYPE_CHECKING:
    import arviz as az

    from ..inference import PairData, PosteriorModel, RateProblem

#: The inference problems of the study, in order.
INFERENCE_CLOSURES = ("PA", "OA-hard-1/2", "SA")
SAMPLERS = ("nuts", "drmh")


def _floats(a: Any) -> Any:
    return np.asarray(a, dtype=float).tolist()


def _file_label(name: str) -> str:
    return name.replace("/", "_")


def posterior_numbers(idata: az.InferenceData) -> dict[str, Any]:
    """Summary numbers of one posterior: per-quantity mean, sd, HDI, MCSE, ESS, R-hat; verdict."""
    from ..inference import convergence, diagnostics, posterior_summary

    # Unrounded: rates per sweep are ~1e-4, which ArviZ's default rounding would print as 0.
    table = posterior_summary(idata, round_to="none")
    rows = {str(name): {col: float(table.loc[name, col]) for col in table.columns} for name in table.index}
    diag = {k: v for k, v in diagnostics(idata).items() if k not in ("wall_time_s", "convergence")}
    conv = convergence(idata)
    F = np.asarray(idata.posterior["F"].values).reshape(-1)
    F = F[np.isfinite(F)]
    attrs = idata.posterior.attrs
    return {
        "summary": rows,
        "convergence": conv.to_dict(),
        "converged": conv.converged,
        "diagnostics": diag,
        "draws_per_chain": int(idata.posterior.sizes["draw"]),
        "thinning": int(attrs.get("thinning", 1)),
        "rounds": int(attrs.get("rounds", 1)),
        "stop_reason": str(attrs.get("stop_reason", "")),
        "F_quantiles": _floats(np.quantile(F, [0.05, 0.5, 0.95])) if F.size else None,
    }


def _settings(cfg: StudyConfig, sampler: str) -> dict[str, Any]:
    """The sampler settings of the study (reported in the stage summary)."""
    if sampler == "nuts":
        return {"sampler": "nuts", "num_warmup": cfg.nuts_warmup, "num_samples": cfg.nuts_samples,
                "max_samples": cfg.nuts_max_samples, "max_tree_depth": cfg.nuts_max_tree_depth,
                "num_chains": cfg.chains, "seed": cfg.seed}
    return {"sampler": "drmh", "num_warmup": cfg.drmh_warmup, "num_samples": cfg.drmh_samples,
            "max_samples": cfg.drmh_max_samples, "thinning": cfg.drmh_thinning,
            "num_chains": cfg.chains, "seed": cfg.seed, "variant": "dram"}


def _sample(
    pm: PosteriorModel, key: PRNGKeyArray, sampler: str, cfg: StudyConfig, init: np.ndarray, progress: bool,
    attrs: dict,
) -> az.InferenceData:
    from ..inference import sample_posterior

    if sampler == "nuts":
        kw = {"num_warmup": cfg.nuts_warmup, "num_samples": cfg.nuts_samples,
              "max_samples": cfg.nuts_max_samples, "max_tree_depth": cfg.nuts_max_tree_depth}
    else:
        kw = {"num_warmup": cfg.drmh_warmup, "num_samples": cfg.drmh_samples,
              "max_samples": cfg.drmh_max_samples, "thinning": cfg.drmh_thinning}
    return sample_posterior(pm, key, sampler=sampler, num_chains=cfg.chains, init=init,
                            until_converged=True, progress_bar=progress, attrs=attrs, **kw)


def _residual_autocorrelation(data: PairData, C_model: Float[ArrayLike, "n 3"]) -> dict[str, float]:
    """Lag-1 autocorrelation of the residuals of ``C++`` and ``C--`` after the first record."""
    r = np.asarray(data.C_pair)[1:, :2] - np.asarray(C_model)[1:, :2]
    out = {}
    for i, p in enumerate(("++", "--")):
        x = r[:, i] - r[:, i].mean()
        den = float(np.sum(x * x))
        out[p] = float(np.sum(x[1:] * x[:-1]) / den) if den > 0 else 0.0
    return out


def _replica_check(problem: RateProblem, K0: np.ndarray, idata: az.InferenceData) -> dict[str, Any]:
    """Least-squares ``s_j`` from the replica mean and from the replicas as separate observations,
    and their difference in posterior standard deviations of ``s_j`` (issue 10, item 6)."""
    from ..inference import compare_replica_fits

    fits = compare_replica_fits(problem, K0)
    sd = np.asarray(idata.posterior["k_identifiable"].std(("chain", "draw")).values)
    diff = np.abs(np.asarray(fits["s_separate"]) - np.asarray(fits["s_mean"]))
    return {**{k: _floats(v) for k, v in fits.items()}, "posterior_sd": _floats(sd),
            "difference_in_sd": _floats(diff / np.where(sd > 0, sd, np.inf))}


def _point_estimate(
    problem: RateProblem, key: PRNGKeyArray, cfg: StudyConfig, name: str, log: Callable[[str], None],
    progress: bool = False,
) -> dict[str, Any]:
    """Multistart, Levenberg–Marquardt polish and (with ``cfg.stationarity``) the stationarity
    report of one closure's rates; JSON-able."""
    from ..inference import multistart, polish, stationarity

    log(f"{name}: multistart {cfg.rate_starts} starts x {cfg.rate_steps} steps, then Levenberg-Marquardt")
    ms = multistart(problem, key, num_starts=cfg.rate_starts, num_steps=cfg.rate_steps, progress=progress)
    if not np.isfinite(float(ms.best_loss)):
        raise RuntimeError(f"{name}: multistart found no rates with a finite loss")
    pol = polish(problem, ms.best, max_steps=cfg.polish_steps)
    init = np.asarray(pol.rates)
    point: dict[str, Any] = {"Y1": _floats(init), "F_Y1": float(pol.loss), "F_multistart": float(ms.best_loss),
                             "polish_steps": int(pol.num_steps)}
    if cfg.stationarity:
        st = stationarity(problem, init)
        point["stationarity"] = {
            "gradient_norm": st.gradient_norm, "hessian_eigenvalues": _floats(st.hessian_eigenvalues),
            "gauss_newton_eigenvalues": _floats(st.gauss_newton_eigenvalues),
            "identifiable_rank": int(st.identifiable_basis.shape[1]),
            "restricted_hessian_eigenvalues": _floats(st.restricted_hessian_eigenvalues),
            "is_strict_minimum": st.is_strict_minimum,
        }
    return point


def inference_stage(out: Path, cfg: StudyConfig, log: Callable[[str], None], progress: bool) -> dict[str, Any]:
    """Run the rate inference of the study (module docstring); returns the stage summary.

    Writes ``posteriors/<closure>.<sampler>.nc`` (ArviZ InferenceData with CF metadata).
    """
    import jax

    from .._cf import cf_posterior_attrs
    from ..closures import PairApproximation, load_closure
    from ..dataset import load_trajectory
    from ..inference import (
        PairData,
        compare_posteriors,
        load_posterior,
        make_problem,
        rate_posterior_model,
        save_posterior,
        sparse_posterior_model,
    )
    from ..ode import fit_sparse, sparse_solution
    from ._resume import mark_posterior, posterior_exists, result_settings, save_result, saved_result
    from ._stages import trajectory_path

    (out / "posteriors").mkdir(exist_ok=True)
    data = PairData.from_dataset(load_trajectory(trajectory_path(out, 1 / 3)), time_scale=1.0)
    summary: dict[str, Any] = {
        "data": "x = 1/3, replica mean (its standard error is the noise floor)", "time_scale": 1.0,
        "likelihood": "gaussian", "chains": cfg.chains,
        "solver": f"Tsit5, rtol {cfg.rate_rtol:g}, atol {cfg.rate_atol:g}, at most 1024 steps",
        "settings": {s: _settings(cfg, s) for s in SAMPLERS}, "results": {},
    }
    key = jax.random.key(cfg.seed)
    posteriors: dict[str, dict[str, Any]] = {}
    for n, name in enumerate(INFERENCE_CLOSURES):
        k_fit, *k_samplers = jax.random.split(jax.random.fold_in(key, n), 3)
        res: dict[str, Any] = {"files": {}}
        problem = None
        if name == "SA":
            fit = fit_sparse(data.times, data.C_pair)
            init = np.asarray(fit.alpha)
            res["alpha"] = _floats(fit.alpha)
            res["F_fit"] = float(fit.loss)
            span = float(data.times[-1] - data.times[0])
            bound = max(10.0 * float(np.max(np.abs(init))), 10.0 / span)
            pm = sparse_posterior_model(data, lower=-bound, upper=bound)
            res["residual_autocorrelation"] = _residual_autocorrelation(
                data, sparse_solution(init, data.C_pair[0], data.times))
        else:
            closure = (PairApproximation() if name == "PA"
                       else load_closure(out / "closures" / f"{_file_label(name)}.json"))
            problem = make_problem(data, closure, rtol=cfg.rate_rtol, atol=cfg.rate_atol, max_steps=1024)
            point_path = out / "posteriors" / f"{_file_label(name)}.point.json"
            point_settings = result_settings(cfg, stage="inference", closure=name, result="point estimate")
            point = saved_result(point_path, point_settings)
            if point is None:
                point = _point_estimate(problem, k_fit, cfg, name, log, progress)
                save_result(point_path, point_settings, point)
            else:
                log(f"{name}: point estimate Y1 already on disk, reused")
            res.update(point)
            init = np.asarray(point["Y1"], dtype=np.float64)
            pm = rate_posterior_model(problem)
            res["residual_autocorrelation"] = _residual_autocorrelation(data, problem.predict(init).C_pair)
        posteriors[name] = {}
        for sampler, k in zip(SAMPLERS, k_samplers, strict=True):
            path = out / "posteriors" / f"{_file_label(name)}.{sampler}.nc"
            done = result_settings(cfg, stage="inference", closure=name, sampler=sampler)
            if posterior_exists(path, done):
                log(f"{name}: {sampler} posterior already on disk, reused")
                idata = load_posterior(path)
            else:
                budget = cfg.nuts_max_samples if sampler == "nuts" else cfg.drmh_max_samples
                log(f"{name}: {sampler}, {cfg.chains} chains until converged (budget {budget} draws per chain)")
                idata = _sample(pm, k, sampler, cfg, init, progress, {"closure": name, "time_scale": 1.0})
                save_posterior(mark_posterior(cf_posterior_attrs(idata, time_scale=1.0), done), path)
            res[sampler] = posterior_numbers(idata)
            res["files"][sampler] = str(path.relative_to(out))
            posteriors[name][sampler] = idata
        res["agreement"] = compare_posteriors(posteriors[name]["nuts"], posteriors[name]["drmh"]).to_dict()
        if name == "PA" and problem is not None and cfg.replica_check and data.C_pair_replicas is not None:
            log("PA: least-squares fits of the replica mean and of the replicas separately")
            res["replica_check"] = _replica_check(problem, init, posteriors[name]["nuts"])
        summary["results"][name] = res
    summary["loo"] = _loo(posteriors)
    return summary


def _loo(posteriors: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """PSIS-LOO comparison of the closures on the NUTS posteriors (the same observations)."""
    import warnings

    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ warns about Pareto k; we report k ourselves
        table = az.compare({name: p["nuts"] for name, p in posteriors.items()}, ic="loo")
        pareto = {name: float(np.mean(np.asarray(az.loo(p["nuts"], pointwise=True).pareto_k) > 0.7))
                  for name, p in posteriors.items()}
    rows = {str(name): {"rank": int(r["rank"]), "elpd_loo": float(r["elpd_loo"]), "se": float(r["se"]),
                        "elpd_diff": float(r["elpd_diff"]), "dse": float(r["dse"]), "p_loo": float(r["p_loo"]),
                        "fraction_pareto_k_above_0.7": pareto[name]}
            for name, r in table.iterrows()}
    return {"table": rows, "sampler": "nuts"}


__all__ = ["INFERENCE_CLOSURES", "inference_stage", "posterior_numbers"]
