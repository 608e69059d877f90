"""Measured reaction rates against the inferred ones (issue 11): the computational pieces of the
report's "measured rates" section.

The annealing engine's reaction observer (``anneal(..., reactions=True)``,
`meanclust_jax.engine._reactions`) records per record interval the reaction events ``A_r`` and the
reactant chains at attempted swaps ``R_r`` of the eight classes of eq. (5). From a trajectory:

* `pooled_rates`: the measured ``k1 … k8`` per interval, pooled over replicas
  (``k_r = (10 / (3 c_r)) ΣA_r / ΣR_r``);
* `time_averaged_rates`: the attempt-weighted time average over a window (the constant rate that
  gives the window's total flux from its total reactant exposure), with a batch-means standard
  error over consecutive blocks of intervals;
* `check_pa_statement`: the paper's statement that under PA ``k6`` and ``k8`` are close to zero
  and ``k7 > k5``, checked on a set of rates (measured, or a posterior's means);
* `posterior_rates`: mean, 94% HDI, R-hat and bulk ESS of ``posterior.k`` from an ArviZ netCDF;
* `closure_error`: the closed ODE (8) integrated with the measured, time-dependent rates (the
  error left is the closure's alone) and with fitted constant rates (closure plus rate-model
  error), both against the data;
* `plot_measured_rates`: the figure of the measured rates against time with the temperature
  steps and posterior intervals of the constant rates;
* `reaction_rate_study` / `reaction_rate_blocks`: all of it for `meanclust reproduce`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine import COEFFICIENTS, INFINITE_TEMPERATURE_RATES, REACTANTS, REACTIONS
from .closure_figures import _new_figure, _save
from .style import RATE_UNIT, TIME_UNIT, closure_colour, with_unit

if TYPE_CHECKING:
    import xarray as xr

    from ..closures import AbstractClosure

#: ``10 / (3 c_r)``: measured rate = this x acceptance fraction of the class's reactant chains.
_SCALE = np.asarray(INFINITE_TEMPERATURE_RATES)
#: A rate counts as "close to zero" below this fraction of the median of the eight rates.
CLOSE_TO_ZERO = 0.1
#: Convergence bar for posterior numbers: rank-normalised R-hat and bulk ESS (Vehtari et al. 2021).
RHAT_MAX, ESS_MIN = 1.01, 400


def _require_observer(ds: xr.Dataset) -> None:
    if "reaction_attempts" not in ds:
        raise ValueError(
            "the trajectory has no reaction observer (reaction_attempts): anneal with reactions=True "
            "(`meanclust anneal --reactions`); studies annealed before issue 11 need --force"
        )


def _pooled_counts(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Attempts and accepted events per record, summed over replicas: ``(time, 8)`` each."""
    R, A = ds["reaction_attempts"], ds["reaction_accepted"]
    if "replica" in R.dims:
        R, A = R.sum("replica"), A.sum("replica")
    return np.asarray(R.values, dtype=np.float64), np.asarray(A.values, dtype=np.float64)


def pooled_rates(ds: xr.Dataset) -> np.ndarray:
    """Measured rates ``k1 … k8`` per record interval, pooled over replicas.

    **Arguments:** `ds`, a trajectory recorded with the reaction observer.

    **Returns:** float64 ``(time, 8)`` per sweep; NaN at the first record and where a class had
    no attempt.

    **Raises:** `ValueError` if `ds` has no observer variables.
    """
    _require_observer(ds)
    R, A = _pooled_counts(ds)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(R > 0, _SCALE * A / np.where(R > 0, R, 1.0), np.nan)


def time_averaged_rates(ds: xr.Dataset, *, t_min: float | None = None, t_max: float | None = None,
                        n_batches: int = 10) -> dict[str, Any]:
    """Attempt-weighted time average of the measured rates over a window, pooled over replicas.

    ``k̄_r = (10 / (3 c_r)) Σ A_r / Σ R_r`` over the intervals ending in ``(t_min, t_max]``: the
    constant rate that gives the window's total flux from its total reactant exposure, i.e. the
    average of the interval rates weighted by their attempts.

    Standard error (``se_method``): with two or more replicas (same schedule), ``"replicas"``:
    the linearised ratio estimator with the replicas as clusters *within each interval*,
    ``SE² = (10/(3c))² B/(B−1) Σ_n Σ_b (A_nb − p̂_n R_nb)² / (Σ R)²`` with ``p̂_n`` the pooled
    acceptance fraction of interval ``n``; it uses the scatter between independent replicas at
    the same time, so a schedule's temperature steps (the rates' real change in time) do not
    count as noise. With one replica, ``"batch means"``: the window cut into `n_batches`
    consecutive blocks whose pooled rates are treated as independent samples (appropriate at
    constant temperature only).

    **Returns:** ``{"rate": (8,), "se": (8,), "se_method", "attempts": (8,), "accepted": (8,),
    "window": [t_first, t_last], "intervals": n}`` (NaN for a class without attempts).

    **Raises:** `ValueError` without observer variables, for fewer than 2 batches, or a window
    holding fewer intervals than batches.
    """
    _require_observer(ds)
    if isinstance(n_batches, bool) or not isinstance(n_batches, int) or n_batches < 2:
        raise ValueError(f"n_batches={n_batches!r} must be an integer >= 2")
    t = np.asarray(ds["time"].values, dtype=np.float64)
    keep = np.zeros(t.size, bool)
    keep[1:] = True
    if t_min is not None:
        keep &= t > t_min
    if t_max is not None:
        keep &= t <= t_max
    idx = np.flatnonzero(keep)
    if idx.size < n_batches:
        raise ValueError(f"the window holds {idx.size} record intervals, fewer than n_batches={n_batches}")
    R, A = _pooled_counts(ds)
    R, A = R[idx], A[idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = _SCALE * A.sum(0) / R.sum(0)
        if "replica" in ds["reaction_attempts"].dims and ds.sizes["replica"] > 1:
            Rb = np.asarray(ds["reaction_attempts"].values, dtype=np.float64)[:, idx]
            Ab = np.asarray(ds["reaction_accepted"].values, dtype=np.float64)[:, idx]
            B = Rb.shape[0]
            p = np.where(R > 0, A / np.where(R > 0, R, 1.0), 0.0)
            resid = ((Ab - p * Rb) ** 2).sum(axis=(0, 1))
            se = _SCALE * np.sqrt(resid * B / (B - 1)) / R.sum(0)
            method = "replicas"
        else:
            blocks = np.array_split(np.arange(idx.size), n_batches)
            kb = np.stack([_SCALE * A[b].sum(0) / R[b].sum(0) for b in blocks])
            se = np.nanstd(kb, axis=0, ddof=1) / np.sqrt(np.sum(np.isfinite(kb), axis=0))
            method = "batch means"
    return {"rate": rate, "se": se, "se_method": method, "attempts": R.sum(0), "accepted": A.sum(0),
            "window": [float(t[idx[0] - 1]), float(t[idx[-1]])], "intervals": int(idx.size)}


def check_pa_statement(rates: np.ndarray, se: np.ndarray | None = None) -> dict[str, Any]:
    """The paper's statement "under PA, k6 and k8 are close to zero and k7 > k5", on `rates`.

    A rate is "close to zero" when it is below `CLOSE_TO_ZERO` (10%) of the median of the eight.
    ``k7 > k5`` holds when ``k7 − k5`` exceeds twice its standard error (when `se` is given;
    otherwise by the sign), fails when it is below minus twice, and is undecided in between.

    **Returns:** a dict of the numbers and ``verdict`` strings (``"holds"``, ``"fails"``,
    ``"undecided"``) for each part.
    """
    k = np.asarray(rates, dtype=np.float64)
    med = float(np.nanmedian(k))
    rel = {name: float(k[i] / med) if med > 0 else float("nan") for i, name in ((5, "k6"), (7, "k8"))}
    zero = {name: ("holds" if v < CLOSE_TO_ZERO else "fails") if np.isfinite(v) else "undecided"
            for name, v in rel.items()}
    diff = float(k[6] - k[4])
    if se is not None:
        s = float(np.hypot(se[6], se[4]))
        order = "holds" if diff > 2 * s else "fails" if diff < -2 * s else "undecided"
    else:
        s = float("nan")
        order = "holds" if diff > 0 else "fails"
    return {"median": med, "k6_over_median": rel["k6"], "k8_over_median": rel["k8"], "k6_close_to_zero": zero["k6"],
            "k8_close_to_zero": zero["k8"], "k7_minus_k5": diff, "k7_minus_k5_se": s, "k7_gt_k5": order}


def posterior_rates(path: str | os.PathLike[str]) -> dict[str, list[float]]:
    """Posterior mean, 94% HDI, R-hat and bulk ESS of ``posterior.k`` (dimension ``rate``).

    **Arguments:** `path`, an ArviZ netCDF file (``posteriors/<closure>.<sampler>.nc``).

    **Returns:** ``{"mean", "hdi_low", "hdi_high", "r_hat", "ess_bulk"}``: lists over
    ``k1 … k8`` in that order, and ``"converged"``: every rate has R-hat ≤ `RHAT_MAX` and bulk
    ESS ≥ `ESS_MIN` (Vehtari et al. 2021).

    **Raises:** `FileNotFoundError` for a missing file; `ValueError` if it has no ``k``.
    """
    import arviz as az

    if not Path(path).is_file():
        raise FileNotFoundError(f"path={str(path)!r}: no such posterior file")
    idata = az.from_netcdf(str(path))
    if "k" not in idata.posterior:
        raise ValueError(f"path={str(path)!r} has no posterior.k (rates k1..k8)")
    table = az.summary(idata, var_names=["k"], hdi_prob=0.94, round_to="none")
    labels = [str(v) for v in idata.posterior["k"][idata.posterior["k"].dims[-1]].values]
    rows = [table.loc[f"k[{name}]"] for name in REACTIONS] if labels == list(REACTIONS) else None
    if rows is None:
        raise ValueError(f"path={str(path)!r}: posterior.k labels {labels} are not k1..k8")
    out = {"mean": [float(r["mean"]) for r in rows], "hdi_low": [float(r["hdi_3%"]) for r in rows],
           "hdi_high": [float(r["hdi_97%"]) for r in rows], "r_hat": [float(r["r_hat"]) for r in rows],
           "ess_bulk": [float(r["ess_bulk"]) for r in rows]}
    out["converged"] = bool(max(out["r_hat"]) <= RHAT_MAX and min(out["ess_bulk"]) >= ESS_MIN)
    return out


def _pair_error(ts: np.ndarray, model: np.ndarray, data: np.ndarray) -> dict[str, float]:
    """``½ ∫ |C − Ĉ|² dt`` (trapezoid; the first term of eq. (17)) and the RMS of ``C − Ĉ``."""
    sq = np.sum((model - data) ** 2, axis=-1)
    return {"half_integral": float(0.5 * np.trapezoid(sq, ts)), "rms": float(np.sqrt(np.mean(sq)))}


def closure_error(
    ds: xr.Dataset, closure: AbstractClosure, constant_rates: Mapping[str, np.ndarray] | None = None
) -> dict[str, Any]:
    """Separate the closure's error from the constant-rate model's (issue 11, item 5).

    Integrates the closed pair system (8) from the data's first record (replica mean), once with
    the measured time-dependent rates (`pooled_rates`, piecewise constant on the record grid,
    `meanclust_jax.ode.PiecewiseConstantRates.from_measured`) — its error against the data is
    the closure's alone — and once with each set of fitted constant rates (closure plus
    constant-rate error). Time is in sweeps and rates per sweep.

    **Arguments:**

    - `ds`: a trajectory recorded with the reaction observer.
    - `closure`: an `meanclust_jax.closures.AbstractClosure`.
    - `constant_rates`: ``{label: (8,) rates}``, e.g. the best multistart point ``Y1`` or a
      posterior mean.

    **Returns:** ``{"measured": {"half_integral", "rms", "ok"}, "<label>": {...}, "times",
    "data", "models": {label: (time, 3)}}``.
    """
    import jax.numpy as jnp

    from ..ode import PiecewiseConstantRates, solve_pairs_with_rates

    ts = np.asarray(ds["time"].values, dtype=np.float64)
    C = ds["C_pair"].mean("replica") if "replica" in ds["C_pair"].dims else ds["C_pair"]
    C = np.asarray(C.values, dtype=np.float64)
    C1 = ds["C_single"].isel(time=0)
    C1 = np.asarray((C1.mean("replica") if "replica" in C1.dims else C1).values, dtype=np.float64)
    runs = {"measured": PiecewiseConstantRates.from_measured(ts, pooled_rates(ds))}
    for label, K in (constant_rates or {}).items():
        K = np.broadcast_to(np.asarray(K, dtype=np.float64), (ts.size - 1, 8))
        runs[label] = PiecewiseConstantRates(edges=jnp.asarray(ts), values=jnp.asarray(K))
    out: dict[str, Any] = {"times": ts, "data": C, "models": {}}
    for label, rates in runs.items():
        sol = solve_pairs_with_rates(rates, closure, jnp.asarray(C1), jnp.asarray(C[0]), jnp.asarray(ts))
        model = np.asarray(sol.C_pair)
        out["models"][label] = model
        out[label] = dict(_pair_error(ts, model, C), ok=bool(sol.ok))
    return out


def plot_measured_rates(ds: xr.Dataset, path: str | os.PathLike[str], *,
                        posteriors: Mapping[str, Mapping[str, list[float]]] | None = None,
                        averaged: Mapping[str, Any] | None = None, title: str | None = None) -> Path:
    """The measured ``k1 … k8`` against time, one panel per rate, with the temperature steps.

    **Arguments:**

    - `ds`: a trajectory with the reaction observer (replicas pooled).
    - `path`: output file, written atomically.
    - `posteriors`: optional ``{label: posterior_rates(...)}``; each draws its 94% HDI of the
      constant rate as a band and its mean as a line.
    - `averaged`: optional `time_averaged_rates` result, drawn as a dashed line.
    - `title`: optional figure title.

    **Returns:** `path`.
    """
    k = pooled_rates(ds)
    t = np.asarray(ds["time"].values, dtype=np.float64)
    T = ds["temperature"]
    T = np.asarray((T.isel(replica=0) if "replica" in T.dims else T).values, dtype=np.float64)
    steps = t[1:][np.diff(T) != 0]
    fig = _new_figure((13, 6.2))
    axes = fig.subplots(2, 4, sharex=True)
    colours = [closure_colour(label) for label in (posteriors or {})]  # one colour per closure
    for r, ax in enumerate(axes.ravel()):
        ax.step(t[1:], k[1:, r], where="pre", color="k", lw=0.9, label="measured (per record)")
        if averaged is not None and np.isfinite(averaged["rate"][r]):
            ax.axhline(averaged["rate"][r], color="k", ls="--", lw=0.8, label="measured, time average")
        for (label, post), colour in zip((posteriors or {}).items(), colours, strict=True):
            ax.axhspan(post["hdi_low"][r], post["hdi_high"][r], color=colour, alpha=0.18, lw=0)
            ax.axhline(post["mean"][r], color=colour, lw=1.1, label=f"{label} posterior (94% HDI)")
        for s in steps:
            ax.axvline(s, color="0.75", lw=0.6, zorder=0)
        ax.set_yscale("log")
        reactant = REACTANTS[r].replace("ang:", "∠").replace("lin:", "—")
        ax.set_title(f"{REACTIONS[r]}: {reactant} (c = {COEFFICIENTS[r]})", fontsize=9)
        if r % 4 == 0:
            ax.set_ylabel(with_unit("rate", RATE_UNIT))
        if r >= 4:
            ax.set_xlabel(with_unit("time", TIME_UNIT))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=max(1, len(labels)), fontsize=8, frameon=False)
    fig.suptitle(title or "Measured reaction rates (grey lines: temperature steps)", fontsize=10)
    return _save(fig, path)


def reaction_rate_study(trajectory: str | os.PathLike[str], *, figure: str | os.PathLike[str],
                        closures: Mapping[str, Any], posterior_files: Mapping[str, Mapping[str, Path]],
                        fitted: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Everything of the report's measured-rates section, as a JSON-able summary.

    **Arguments:**

    - `trajectory`: netCDF trajectory recorded with the reaction observer.
    - `figure`: output path of `plot_measured_rates`.
    - `closures`: ``{name: closure}`` (e.g. PA, OA-hard-1/2) for `closure_error`.
    - `posterior_files`: ``{name: {sampler: path}}`` of ``posterior.k`` files; missing files are
      skipped.
    - `fitted`: ``{name: (8,) rates}``, the fitted constant rates per closure (e.g. ``Y1``);
      the closure's first available posterior mean otherwise.

    **Returns:** the summary (measured time averages with SE, posterior means and diagnostics,
    the PA statement checked on the measured rates and on each PA posterior, and the ODE
    errors with measured vs fitted constant rates).
    """
    from ..dataset import load_trajectory

    ds = load_trajectory(trajectory)
    _require_observer(ds)
    avg = time_averaged_rates(ds)
    post = {}
    for name, files in posterior_files.items():
        for sampler, path in files.items():
            if Path(path).is_file():
                post[f"{name} {sampler.upper()}"] = posterior_rates(path)
    bands = {label: p for label, p in post.items() if label.endswith("NUTS")} or post
    plot_measured_rates(ds, figure, posteriors=bands, averaged=avg,
                        title="Measured reaction rates at x = 1/3 (grey lines: temperature steps)")
    summary: dict[str, Any] = {
        "figure": str(figure), "window": avg["window"], "intervals": avg["intervals"],
        "measured": {"rate": avg["rate"].tolist(), "se": avg["se"].tolist(), "se_method": avg["se_method"],
                     "attempts": avg["attempts"].tolist(), "accepted": avg["accepted"].tolist()},
        "posteriors": post,
        "pa_statement": {"measured": check_pa_statement(avg["rate"], avg["se"])},
        "ode": {},
    }
    for label, p in post.items():
        if label.startswith("PA "):
            summary["pa_statement"][label] = dict(check_pa_statement(np.asarray(p["mean"])), converged=p["converged"])
    for name, closure in closures.items():
        constant = {}
        if fitted and name in fitted:
            constant["fitted"] = np.asarray(fitted[name])
        else:
            means = [p["mean"] for label, p in post.items() if label.split(" ")[0] == name]
            if means:
                constant["fitted"] = np.asarray(means[0])
        res = closure_error(ds, closure, constant)
        summary["ode"][name] = {label: res[label] for label in ("measured", *constant)}
    return json.loads(json.dumps(summary, default=float))


def _g(v: float, digits: int = 3) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{v:.{digits}g}"


def reaction_rate_blocks(summary: Mapping[str, Any], figure_caption: str | None = None) -> list:
    """Report blocks (`meanclust_jax.reports.markup`) of the measured-rates section."""
    from .markup import Bullets, Figure, Heading, Paragraph, Table

    m = summary["measured"]
    labels = list(summary["posteriors"])
    head = ["rate", "reactant", "measured (time average ± SE)"] + [f"{lab} mean [R-hat, ESS]" for lab in labels]
    rows = []
    for r, name in enumerate(REACTIONS):
        row = [name, REACTANTS[r], f"{_g(m['rate'][r])} ± {_g(m['se'][r], 2)}"]
        for lab in labels:
            p = summary["posteriors"][lab]
            ok = p["r_hat"][r] <= RHAT_MAX and p["ess_bulk"][r] >= ESS_MIN
            row.append(f"{_g(p['mean'][r])} [{p['r_hat'][r]:.2f}, {p['ess_bulk'][r]:.0f}]" + ("" if ok else " ✗"))
        rows.append(row)
    se_text = ("from the scatter between replicas at the same time (each interval's pooled acceptance "
               "fraction as centre)" if m.get("se_method") == "replicas" else "by batch means over consecutive blocks")
    blocks: list = [
        Heading("5b. Measured reaction rates (issue 11)"),
        Paragraph(
            "The engine counts every reaction of eq. (5) while annealing (local swaps): per record interval "
            "the reaction events and the reactant chains present at the attempted swaps of each class give "
            "the effective rate k_r = (10 / (3 c_r)) × (accepted / attempted), per sweep, with c_r = 4 "
            "(angled) or 2 (linear); at infinite temperature every k_r is 5/6 (angled) or 5/3 (linear). "
            f"Time averages below pool all replicas over t = {summary['window'][0]:.0f}–{summary['window'][1]:.0f} "
            f"sweeps ({summary['intervals']} intervals), weighting each interval by its attempts; SE {se_text}. "
            "Posterior means are of the constant rates of the closed model fitted to the same trajectory "
            f"(time in sweeps); ✗ marks a rate whose R-hat exceeds {RHAT_MAX} or bulk ESS is below {ESS_MIN}: "
            "not converged, so its mean is not a result."),
        Table(head, rows, caption="Time-averaged measured rates against the posterior means of the constant rates."),
    ]
    bullets = [f"Paper: under PA, k6 and k8 are close to zero and k7 > k5. Checked below (close to zero: "
               f"below {CLOSE_TO_ZERO:g} × the median of the eight rates; k7 > k5: by more than 2 SE where an SE "
               "is known)."]
    checks = sorted(summary["pa_statement"].items(), key=lambda kv: kv[0] != "measured")  # measured first
    for label, check in checks:
        if not check.get("converged", True):
            bullets.append(f"{label}: chains not converged (R-hat > {RHAT_MAX} or ESS < {ESS_MIN} for some rate); "
                           "no conclusion from this posterior.")
            continue
        bullets.append(
            f"{label}: k6 = {_g(check['k6_over_median'], 2)} and k8 = {_g(check['k8_over_median'], 2)} × the "
            f"median (k6 close to zero: {check['k6_close_to_zero']}; k8: {check['k8_close_to_zero']}); "
            f"k7 − k5 = {_g(check['k7_minus_k5'])}"
            + (f" ± {_g(check['k7_minus_k5_se'], 2)}" if np.isfinite(check["k7_minus_k5_se"]) else "")
            + f" (k7 > k5: {check['k7_gt_k5']}).")
    for name, res in summary["ode"].items():
        meas = res["measured"]
        line = (f"{name} closure, ODE (8) with the measured time-dependent rates (closure error alone): "
                f"½∫|C − Ĉ|² dt = {_g(meas['half_integral'])}, RMS {_g(meas['rms'])}"
                + ("" if meas["ok"] else " (**solve failed**)"))
        if "fitted" in res:
            fit = res["fitted"]
            line += (f"; with the fitted constant rates (best multistart point Y1): {_g(fit['half_integral'])}, "
                     f"RMS {_g(fit['rms'])}" + ("" if fit["ok"] else " (**solve failed**)") + ". "
                     + ("The constant-rate model adds error beyond the closure's own."
                        if meas["half_integral"] < fit["half_integral"] else
                        "The fitted constant rates do **better** than the lattice's own rates: they compensate "
                        "the closure's error, so they are effective parameters of the closed model rather "
                        "than the lattice's rate constants."))
        bullets.append(line)
    blocks.append(Bullets(bullets))
    blocks.append(Figure(summary["figure"], figure_caption or
                         "Measured k1…k8 at x = 1/3 against time (pooled over replicas; black: per record "
                         "interval, dashed: time average), with the temperature steps (grey) and the 94% "
                         "posterior intervals of the constant rates (bands); an interval without any "
                         "event (measured rate 0) is not drawn on the logarithmic axis."))
    return blocks


__all__ = [
    "CLOSE_TO_ZERO",
    "ESS_MIN",
    "RHAT_MAX",
    "check_pa_statement",
    "closure_error",
    "plot_measured_rates",
    "pooled_rates",
    "posterior_rates",
    "reaction_rate_blocks",
    "reaction_rate_study",
    "time_averaged_rates",
]
