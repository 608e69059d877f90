"""The numbers the claims are judged on, computed from trajectories and fitted closures.

`claim_numbers` gathers, from the ten compositions' trajectories and the optimal closures fitted
on them (by the audit itself or by a study), everything `evaluate_claims` needs, plus the
analytic checks of `meanclust_jax.audit._checks` on the same data. Rate-posterior numbers come
from a study's inference stage when given (only converged ones count there).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from jaxtyping import Array, Float

from .. import paper
from .._io import jsonable
from .._labels import TRIPLETS
from ..closures import (
    AbstractClosure,
    PairApproximation,
    SparseApproximation,
    closure_errors,
    cross_stoichiometry_study,
    predict_triplets,
)
from ..dataset import read_trajectories
from ..paper import composition_label
from ._checks import (
    closure_bias,
    closure_from_vectors,
    closures_at_state,
    ground_state,
    ordered_error_floor,
    pair_conservation,
    random_state,
    sparse_alpha_ratio,
    sparse_normalisation,
)

if TYPE_CHECKING:
    import xarray as xr

#: Fitted closures the claims use, by name (the study's names).
FITTED = ("OA-hard-1/3", "OA-hard-1/2", "OA-soft-1/3")


def paper_closures() -> dict[str, AbstractClosure]:
    """The paper's Table II closures as `OptimalApproximation` objects: ``{"Table II OA-1/3": ..,
    "Table II OA-1/2": ..}``."""
    return {f"Table II OA-{lab}": closure_from_vectors({t: paper.TABLE_II[t][f"OA-{lab}"] for t in TRIPLETS},
                                                       regularization="hard", source={"paper": "Table II"})
            for lab in ("1/3", "1/2")}


def _at(datasets: Mapping[float, Any], x: float) -> Any:
    k = min(datasets, key=lambda c: abs(c - x))
    if abs(k - x) > 1e-3:
        raise ValueError(f"datasets: no trajectory at x = {composition_label(x)} (have {sorted(datasets)})")
    return datasets[k]


def _floats(a: Any) -> Any:
    return np.asarray(a, dtype=float).tolist()


def composition_study(datasets: Mapping[float, Any], closures: Mapping[str, AbstractClosure], *,
                      study: xr.Dataset | None = None) -> dict[str, Any]:
    """``ℰ`` and ``J_τ`` of PA, SA and `closures` at every composition, with the SA-vs-PA gain
    and its standard error over replicas.

    Uses `meanclust_jax.closures.cross_stoichiometry_study` (no new fit), once on the replica
    average and once per replica (for the standard error of the gain).

    **Arguments:**

    - `datasets`: ``{x: trajectory}``.
    - `closures`: further closures by name (e.g. the fitted OA).
    - `study`: the `cross_stoichiometry_study` dataset of exactly these data and closures, if
      already computed (it is then not recomputed).

    **Returns:**

    ``{"compositions", "mean_error": {name: [..]}, "errors": {"1/3"|"1/2": {name: [16]}},
    "improvement_over_pa": {name: %}, "mean_relative_improvement": {name: %},
    "improvement_se": {name: % or None}}``.
    """
    if study is None:
        study, _ = cross_stoichiometry_study(datasets, calibrate_at=(), closures=dict(closures))
    names = [str(n) for n in study["closure"].values]
    out: dict[str, Any] = {
        "compositions": _floats(study["composition"].values),
        "mean_error": {n: _floats(study["mean_error"].sel(closure=n).values) for n in names},
        "improvement_over_pa": {n: float(study["improvement_over_pa"].sel(closure=n)) for n in names},
        "mean_relative_improvement": {n: float(study["mean_relative_improvement"].sel(closure=n)) for n in names},
        "errors": {},
    }
    for x in paper.CALIBRATION_COMPOSITIONS:
        if np.min(np.abs(study["composition"].values - x)) < 1e-3:
            e = study["errors"].sel(composition=x, method="nearest")
            out["errors"][composition_label(x)] = {n: _floats(e.sel(closure=n).values) for n in names}
    counts = {read_trajectories(ds, need_triplets=False).num_trajectories for ds in datasets.values()}
    se: dict[str, float | None] = {n: None for n in names}
    if len(counts) == 1 and (R := counts.pop()) >= 2 and all("replica" in ds.dims for ds in datasets.values()):
        per = []
        for r in range(R):
            s, _ = cross_stoichiometry_study({x: ds.isel(replica=r) for x, ds in datasets.items()},
                                             calibrate_at=(), closures=dict(closures))
            per.append(s["improvement_over_pa"].values)
        per = np.asarray(per)
        se = {n: float(np.std(per[:, i], ddof=1) / np.sqrt(R)) for i, n in enumerate(names)}
    out["improvement_se"] = se
    return out


def sparse_fit_numbers(dataset: xr.Dataset) -> dict[str, Any]:
    """The SA fit (eq. (28)) on a trajectory's replica mean, its uncertainty and the α-ratio checks.

    **Arguments:**

    - `dataset`: the trajectory (the study fits x = 1/3).

    **Returns:**

    ``alpha`` and ``F`` of `meanclust_jax.ode.fit_sparse` on ``(C₊₊, C₋₋, C₊₋)`` (time in sweeps);
    ``alpha_conditional``: the same fit on ``(C₊₊/C₊, C₋₋/C₋, C₊₋)``; the regression ratios of
    `sparse_alpha_ratio`; ``relative_sd_least_squares``: least-squares standard errors of
    ``(α1, α2)`` over ``|α|`` (Gaussian errors on ``C₊₊``, ``C₋₋`` after the first record, σ from the
    residuals, the variance inflated by ``(1 + ρ)/(1 − ρ)`` for the residuals' lag-1
    autocorrelation ``ρ``, clipped to ``[0, 0.99]``: ``residual_autocorrelation``);
    ``relative_sd_paper_likelihood``: the Laplace (Gauss–Newton) sd of the paper's
    ``exp(−F)`` over ``|α|`` with time in sweeps, in single swaps (1/N sweep) and in units of the
    run (the paper's Fig. 2 axis): rescaling time by ``c`` multiplies ``F`` by ``c`` and ``α`` by
    ``1/c``, so the relative width scales as ``1/√c``; ``run_length`` (sweeps) and
    ``alpha_run_units`` (``α`` times the run length, dimensionless).
    """
    import jax
    import jax.numpy as jnp

    from ..inference import PairData
    from ..ode import fit_sparse, sparse_solution

    data = PairData.from_dataset(dataset, time_scale=1.0)
    ts, C = np.asarray(data.times), np.asarray(data.C_pair)
    fit = fit_sparse(ts, C)
    alpha = np.asarray(fit.alpha)
    cond = np.column_stack([C[:, 0] / data.C_single[0], C[:, 1] / data.C_single[1], C[:, 2]])
    fit_c = fit_sparse(ts, cond)
    jac = np.asarray(jax.jacfwd(lambda a: sparse_solution(a, jnp.asarray(C[0]), jnp.asarray(ts)))(jnp.asarray(alpha)))
    pred = np.asarray(fit.C_pair)
    # Least squares on the two independent components after the initial record.
    J = jac[1:, :2, :].reshape(-1, 2)
    res = C[1:, :2] - pred[1:, :2]
    r = res.reshape(-1)
    dof = max(1, r.size - 2)
    # Lag-1 autocorrelation of the residuals (pooled over C++, C--): AR(1) variance inflation.
    x = res - res.mean(axis=0)
    rho = float(np.sum(x[1:] * x[:-1]) / np.sum(x * x)) if np.sum(x * x) > 0 else 0.0
    rho = min(max(rho, 0.0), 0.99)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = (r @ r / dof) * np.linalg.inv(J.T @ J) * (1 + rho) / (1 - rho)
        ls = np.sqrt(np.diag(cov)) / np.abs(alpha)
        # Paper's exp(−F), F = ½ ∫ |C − Ĉ|² dt: Gauss–Newton Hessian ∫ Jᵀ J dt (trapezoid).
        dt = np.diff(ts)
        wt = np.zeros_like(ts)
        wt[:-1] += dt / 2
        wt[1:] += dt / 2
        H = np.einsum("t,tpi,tpj->ij", wt, jac, jac)
        lap = np.sqrt(np.diag(np.linalg.inv(H))) / np.abs(alpha)
    traj = read_trajectories(dataset, need_triplets=False)
    span = float(ts[-1] - ts[0])
    n_sites = int(dataset.attrs.get("n_sites", 0)) or int(dataset.sizes.get("row", 1) * dataset.sizes.get("col", 1))
    return {
        "composition": traj.composition,
        "alpha": _floats(alpha),
        "F": float(fit.loss),
        "alpha_conditional": _floats(fit_c.alpha),
        "regression_ratio_pairs": sparse_alpha_ratio(dataset).value,
        "regression_ratio_conditional": sparse_alpha_ratio(dataset, normalisation="conditional").value,
        "relative_sd_least_squares": _floats(ls),
        "residual_autocorrelation": rho,
        "run_length": span,
        "alpha_run_units": _floats(alpha * span),
        "relative_sd_paper_likelihood": {"sweep": _floats(lap), "swap": _floats(lap / np.sqrt(n_sites)),
                                         "run": _floats(lap * np.sqrt(span)), "n_sites": n_sites},
    }


def sparse_linearity(seed: int = 0) -> dict[str, float]:
    """Whether the SA-closed system is linear and solved by eq. (29), on random rates and pairs.

    * superposition: ``f(aC₁ + bC₂) − a f(C₁) − b f(C₂)`` for the SA right-hand side (eq. (8))
      relative to ``|f|``;
    * closed form: ``d/dt`` of `meanclust_jax.ode.sparse_solution` (forward-mode AD) against the
      right-hand side at the solution, relative, with ``(α1, α2)`` from the same rates (eq. (28)).

    **Returns:** ``{"linearity_residual", "closed_form_residual"}`` (dimensionless).
    """
    import jax
    import jax.numpy as jnp

    from ..ode import pair_rhs, sparse_alphas, sparse_solution

    rng = np.random.default_rng(seed)
    sa = SparseApproximation()
    K = jnp.asarray(rng.uniform(0.01, 1.0, 8))
    C_single = jnp.asarray([2 / 3, 1 / 3])

    def random_pairs() -> Float[Array, " 3"]:
        c = rng.dirichlet(np.ones(3))
        return jnp.asarray([c[0], c[1], c[2] / 2]) / (c[0] + c[1] + c[2])

    C1, C2 = random_pairs(), random_pairs()
    a, b = 0.3, 0.7

    def f(C: Float[Array, "*batch 3"]) -> Float[Array, "*batch 3"]:
        return pair_rhs(K, sa, C_single, C)

    lin = jnp.abs(f(a * C1 + b * C2) - a * f(C1) - b * f(C2)).max() / jnp.abs(f(C1)).max()
    ts = jnp.linspace(0.0, 2.0, 9)
    alpha = sparse_alphas(K)
    sol, dsol = jax.jvp(lambda t: sparse_solution(alpha, C1, t, t0=0.0), (ts,), (jnp.ones_like(ts),))
    rhs = f(sol)
    closed = jnp.abs(dsol - rhs).max() / jnp.abs(rhs).max()
    return {"linearity_residual": float(lin), "closed_form_residual": float(closed)}


def identifiability(closure: AbstractClosure, dataset: xr.Dataset, *, rtol: float = 1e-9) -> dict[str, Any]:
    """How many rate combinations eq. (5) closed by `closure` can see on these data.

    Eq. (5) is linear in the rates: ``d(C₊₊, C₋₋)/dt = M(C) K`` with the columns of ``M`` built
    from the closure's triplets (``4 g∠(+−+)``, ``2 g—(+−+)``, ``−4 g∠(++−)``, ...). Stacking
    ``M(C(t))`` over the recorded pairs, the number of singular values above ``rtol`` times the
    largest is the number of independent rate combinations the trajectory can depend on; along
    the others the closed ODE, and with it the loss (17)'s trajectory term, is exactly unchanged.
    Under PA ``g∠ = 2 g—`` for every pattern, so only ``4k₁ + k₂, 4k₃ + k₄, 4k₅ + k₆, 4k₇ + k₈``
    are seen (rank 4).

    **Arguments:**

    - `closure`: the closure.
    - `dataset`: a trajectory (replica mean).
    - `rtol`: relative threshold on the singular values.

    **Returns:** ``{"rank", "singular_values", "condition"}`` (condition of the identified part:
    the largest over the smallest singular value above the threshold).
    """
    from .._labels import TRIPLET_INDEX as I

    traj = read_trajectories(dataset, need_triplets=False)
    g = predict_triplets(closure, traj.C_single.mean(0), traj.C_pair.mean(0))  # (n, 16)
    zero = np.zeros(g.shape[0])
    rows_pp = np.stack([4 * g[:, I["ang:+-+"]], 2 * g[:, I["lin:+-+"]], -4 * g[:, I["ang:++-"]],
                        -2 * g[:, I["lin:++-"]], zero, zero, zero, zero], axis=1)
    rows_mm = np.stack([zero, zero, zero, zero, 4 * g[:, I["ang:-+-"]], 2 * g[:, I["lin:-+-"]],
                        -4 * g[:, I["ang:--+"]], -2 * g[:, I["lin:--+"]]], axis=1)
    s = np.linalg.svd(np.concatenate([rows_pp, rows_mm]), compute_uv=False)
    rank = int(np.sum(s > rtol * s[0]))
    return {"rank": rank, "singular_values": _floats(s), "condition": float(s[0] / s[rank - 1])}


def equilibrium_numbers(dataset: xr.Dataset, closures: Mapping[str, AbstractClosure]) -> dict[str, list[float]]:
    """``Q̂`` of eq. (7) of each closure at the trajectory's final pairs (replica mean)."""
    import jax.numpy as jnp

    from ..ode import closure_equilibrium_constants

    traj = read_trajectories(dataset, need_triplets=False)
    Cs, Cp = traj.C_single.mean(0)[-1], traj.C_pair.mean(0)[-1]
    return {n: _floats(closure_equilibrium_constants(c, jnp.asarray(Cs), jnp.asarray(Cp)))
            for n, c in closures.items()}


def _rate_check() -> ModuleType | None:
    """The engine's reaction-rate report module (issue 11), or None in a version without it."""
    try:
        from ..reports import reaction_rates
    except ImportError:
        return None
    return reaction_rates


def measured_rate_numbers(dataset: xr.Dataset) -> dict[str, Any] | None:
    """Rates measured by the engine's reaction observer (issue 11), time-averaged over the run,
    and the paper's statement on k5..k8 checked on them
    (`meanclust_jax.reports.reaction_rates.check_pa_statement`); ``None`` when the trajectory
    has no observer variables or this version of the package has no observer."""
    rr = _rate_check()
    if rr is None or "reaction_attempts" not in getattr(dataset, "data_vars", {}):
        return None
    avg = rr.time_averaged_rates(dataset)
    rate, se = np.asarray(avg["rate"], float), np.asarray(avg["se"], float)
    return {"rate": _floats(rate), "se": _floats(se), "source": "x = 1/3, time average over the run",
            "check": jsonable(rr.check_pa_statement(rate, se))}


def posterior_rate_numbers(inference: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The same statement on the posterior means of a *converged* PA posterior of a study's
    inference stage (``None`` if there is none, or no checker in this version)."""
    from ._claims import converged_sampler

    rr = _rate_check()
    sampler, res = converged_sampler(((inference or {}).get("results") or {}).get("PA"))
    if rr is None or res is None:
        return None
    rows = [res["summary"].get(f"k[k{i}]") for i in range(1, 9)]
    if any(r is None for r in rows):
        return None
    mean = np.array([float(r["mean"]) for r in rows])
    sd = np.array([float(r["sd"]) for r in rows])
    return {"sampler": sampler, "mean": _floats(mean), "sd": _floats(sd),
            "check": jsonable(rr.check_pa_statement(mean, sd))}


def ground_state_numbers(datasets: Mapping[float, Any], closures: Mapping[str, AbstractClosure], *,
                         pair_tolerance: float = 0.005) -> dict[str, Any]:
    """Ground states, the engine's final states and the closures evaluated there.

    **Arguments:**

    - `datasets`: ``{x: trajectory}``.
    - `closures`: closures to evaluate (``PA``, ``SA``, the paper's Table II, ours).
    - `pair_tolerance`: a record is "ordered" when its pairs are within this of the ground state's.

    **Returns:**

    ``{"per_composition": [{x, ground-state pairs and energy, final pairs and energy, distance,
    reached}], "1/3": {"exact" triplets of the √3×√3 state, "pairs", "closures" (closures_at_state),
    "random": the same at the uncorrelated state every run starts from}, "1/2": {the same at
    x = 1/2, where a ground state fixes only the triangles and the chains with a vanishing bond},
    "floors": {"1/3"|"1/2": {closure: {"floor": [16], "ordered_fraction"},
    "J_PA": [16]}}}``.
    """
    rows = []
    for x, ds in sorted(datasets.items()):
        traj = read_trajectories(ds, need_triplets=False)
        xm = float(traj.C_single[0, 0, 1])
        gs = ground_state(xm)
        final = traj.C_pair[:, -1, :]
        dist = float(np.max(np.abs(final - gs.C_pair)))
        energy = np.asarray(ds["energy"].isel(time=-1)).mean() if "energy" in ds else float("nan")
        rows.append({"x": float(x), "label": composition_label(x), "ground_state_pairs": _floats(gs.C_pair),
                     "ground_state_energy": gs.energy, "final_pairs": _floats(final.mean(0)),
                     "final_energy": float(energy), "distance": dist, "reached": dist <= pair_tolerance})
    out: dict[str, Any] = {"per_composition": rows, "pair_tolerance": pair_tolerance}
    for lab, x in (("1/3", 1 / 3), ("1/2", 0.5)):
        gs = ground_state(x)
        singles = np.array([1 - x, x])
        rp, rt = random_state(x)
        out[lab] = {"exact": [None if not np.isfinite(v) else float(v) for v in gs.C_triplet],
                    "pairs": _floats(gs.C_pair),
                    "closures": closures_at_state(closures, singles, gs.C_pair, gs.C_triplet),
                    "random": {"pairs": _floats(rp), "exact": _floats(rt),
                               "closures": closures_at_state(closures, singles, rp, rt)}}
    floors: dict[str, Any] = {}
    for lab, x in (("1/3", 1 / 3), ("1/2", 0.5)):
        ds = _at(datasets, x)
        floors[lab] = {n: ordered_error_floor(c, ds, pair_tolerance=pair_tolerance) for n, c in closures.items()}
        floors[lab]["J_PA"] = _floats(closure_errors(PairApproximation(), ds).values)
    out["floors"] = floors
    return out


def claim_numbers(datasets: Mapping[float, Any], fitted: Mapping[str, AbstractClosure], *,
                  inference: Mapping[str, Any] | None = None, source: str = "") -> dict[str, Any]:
    """Everything the claims are judged on, from trajectories and fitted closures.

    **Arguments:**

    - `datasets`: ``{x: trajectory}`` at the paper's compositions (1/3 and 1/2 required).
    - `fitted`: the fitted optimal closures by the study's names (`FITTED`; missing ones make
      their claims ``not testable``).
    - `inference`: the summary of a study's inference stage (``stages/inference.json``), or None.
    - `source`: where the data come from (for the report).

    **Returns:**

    A JSON-able dict (see `meanclust_jax.audit.evaluate_claims`), with the analytic checks
    under ``"checks"`` and ``"ground_states"``.

    **Raises:**

    - `ValueError` if there is no trajectory at x = 1/3 or 1/2, or a trajectory is invalid.
    """
    ds13, ds12 = _at(datasets, 1 / 3), _at(datasets, 0.5)
    fitted = {n: c for n, c in fitted.items() if c is not None}
    numbers: dict[str, Any] = {"source": source, "closures_fitted": sorted(fitted)}
    numbers.update(composition_study(datasets, fitted))
    numbers["exponents"] = {n: {t: _floats(v) for t, v in c.parameter_vectors().items()} for n, c in fitted.items()}
    pc = paper_closures()
    ratio: dict[str, dict[str, float]] = {}
    for lab, ds in (("1/3", ds13), ("1/2", ds12)):
        ours = fitted.get(f"OA-hard-{lab}")
        if ours is None:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            r = closure_errors(pc[f"Table II OA-{lab}"], ds).values / closure_errors(ours, ds).values
        ratio[lab] = dict(zip(TRIPLETS, _floats(r), strict=True))
    numbers["paper_exponent_J_ratio"] = ratio
    numbers["sa_fit"] = sparse_fit_numbers(ds13)
    numbers["sa_linear"] = sparse_linearity()
    eq = {"PA": PairApproximation(), "Table II OA-1/2": pc["Table II OA-1/2"]}
    if "OA-hard-1/2" in fitted:
        eq["OA-hard-1/2"] = fitted["OA-hard-1/2"]
    numbers["Q_hat"] = equilibrium_numbers(ds13, eq)
    numbers["identifiability"] = {n: identifiability(c, ds13) for n, c in eq.items() if n != "Table II OA-1/2"}
    numbers["measured_rates"] = measured_rate_numbers(ds13)
    numbers["pa_posterior_rates"] = posterior_rate_numbers(inference)
    numbers["inference"] = dict(inference) if inference is not None else None
    sa = SparseApproximation()
    traj13 = read_trajectories(ds13, need_triplets=False)
    numbers["checks"] = {
        "pair_conservation": {composition_label(x): pair_conservation(ds).to_dict()
                              for x, ds in sorted(datasets.items())},
        "alpha_ratio_pairs": sparse_alpha_ratio(ds13).to_dict(),
        "alpha_ratio_conditional": sparse_alpha_ratio(ds13, normalisation="conditional").to_dict(),
        "sa_normalisation": sparse_normalisation(traj13.C_single, traj13.C_pair).to_dict(),
        "pa_normalisation": sparse_normalisation(traj13.C_single, traj13.C_pair, closure=PairApproximation()).to_dict(),
        "sa_bias": {"1/3": closure_bias(sa, ds13), "1/2": closure_bias(sa, ds12)},
    }
    at_states = {"PA": PairApproximation(), "SA": sa, **pc, **{n: fitted[n] for n in ("OA-hard-1/3", "OA-hard-1/2")
                                                              if n in fitted}}
    numbers["ground_states"] = ground_state_numbers(datasets, at_states)
    return jsonable(numbers)


__all__ = [
    "FITTED",
    "claim_numbers",
    "composition_study",
    "equilibrium_numbers",
    "ground_state_numbers",
    "identifiability",
    "measured_rate_numbers",
    "posterior_rate_numbers",
    "paper_closures",
    "sparse_fit_numbers",
    "sparse_linearity",
]
