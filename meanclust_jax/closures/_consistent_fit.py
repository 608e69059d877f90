"""Joint calibration of the consistent closure on several annealing runs (beyond the paper).

The coefficients ``θ`` (``5 × F``) of a `ConsistentClosure` minimise

    ℰ(θ) / ℰ(0) + λ ‖θ‖²,      ℰ(θ) = mean over runs of (1/16) Σ_τ J_τ(θ)      (eqs. (15), (30))

where ``J_τ`` is the trapezoid-rule time average over the recorded times of each replica's
squared triplet error, averaged over the run's replicas (every replica is an observation of its
own: the closure acts on its own pairs), ``ℰ(0)`` is the error of the zero-association closure
(the pair approximation's chains and the maximum-entropy triangles) on the same data, and
``λ ≥ 0`` an optional ridge weight that shrinks towards it. No constraint is needed: every ``θ``
gives a consistent closure. The objective separates into the five quantities (each chain group
touches three types, the triangle four), so it is solved as five small nonlinear least-squares
problems with optimistix's Levenberg–Marquardt (the four chain groups vmapped). Each starts from
the weighted least-squares fit of the data's own free quantities in log space (`empirical_quantities`;
the Gauss–Newton linearisation of the objective). Records are padded to bucketed lengths with
zero-weight rows, so data sets of similar size share one compiled solver.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from .._labels import SHAPE_WEIGHTS, TRIPLET_INDEX, TRIPLETS
from .._validate import check_float, check_int
from ._consistent import (
    _CHAIN_CELLS,
    _TRI_CELLS,
    DEFAULT_BASIS,
    QUANTITIES,
    ConsistentClosure,
    empirical_quantities,
    evaluate_features,
    plackett_table,
    triangle_from_pairs,
)

if TYPE_CHECKING:
    from ._data import Runs

#: Ridge weights of the named regularisations of the consistent family.
CONSISTENT_REGULARIZATIONS: dict[str, float] = {"none": 0.0}


def resolve_ridge(regularization: str | float | None) -> float:
    """The ridge weight ``λ`` of a regularisation of the consistent family: ``None`` or
    ``"none"`` → 0, a number (or its text) ``≥ 0`` → itself.

    **Raises:** `ValueError` naming ``regularization`` and the allowed values.
    """
    if regularization is None:
        return 0.0
    if isinstance(regularization, str):
        text = regularization.strip().lower()
        if text in CONSISTENT_REGULARIZATIONS:
            return CONSISTENT_REGULARIZATIONS[text]
        try:
            value = float(text)
        except ValueError:
            raise ValueError(
                f"regularization for the consistent family must be 'none' or a ridge weight >= 0 "
                f"(e.g. '1e-3'); got {regularization!r}"
            ) from None
    elif isinstance(regularization, (int, float)) and not isinstance(regularization, bool):
        value = float(regularization)
    else:
        raise ValueError(f"regularization must be 'none' or a ridge weight >= 0; got {regularization!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"regularization (ridge weight) must be finite and >= 0; got {regularization!r}")
    return value


def _support_array(support: Mapping[str, Sequence[str]] | ArrayLike | None, features: tuple[str, ...]) -> np.ndarray:
    """``(5, F)`` bool mask of the coefficients that may be non-zero."""
    F = len(features)
    if support is None:
        return np.ones((len(QUANTITIES), F), dtype=bool)
    if isinstance(support, Mapping):
        unknown = set(support) - set(QUANTITIES)
        if unknown:
            raise ValueError(f"support: unknown quantities {sorted(unknown)}; allowed {list(QUANTITIES)}")
        mask = np.zeros((len(QUANTITIES), F), dtype=bool)
        for q, name in enumerate(QUANTITIES):
            for feat in support.get(name, ()):
                if feat not in features:
                    raise ValueError(f"support[{name!r}]: feature {feat!r} is not in features {list(features)}")
                mask[q, features.index(feat)] = True
        return mask
    mask = np.asarray(support, dtype=bool)
    if mask.shape != (len(QUANTITIES), F):
        raise ValueError(f"support must have shape (5, {F}); got {mask.shape}")
    return mask


def _chain_residuals(theta: Float[Array, " F"], data: tuple[Array, ...]) -> Float[Array, " r"]:
    """Scaled residuals ``√(ω/(16 ℰ0)) (g − Ĉ)`` of one chain group (3 types), and ``√λ θ``."""
    X, a, b, targets, sqrt_w, w, mask, sqrt_ridge = data
    coef = theta * mask
    cells = jnp.stack(plackett_table(a, b, X @ coef), axis=-1)
    return jnp.concatenate([(sqrt_w[:, None] * (w * cells - targets)).ravel(), sqrt_ridge * coef])


def _triangle_residuals(theta: Float[Array, " F"], data: tuple[Array, ...]) -> Float[Array, " r"]:
    """Scaled residuals of the triangle group (4 types), and ``√λ θ``."""
    X, C_pair, targets, sqrt_w, w, mask, sqrt_ridge = data
    coef = theta * mask
    cells = triangle_from_pairs(C_pair, X @ coef)
    return jnp.concatenate([(sqrt_w[:, None] * (w * cells - targets)).ravel(), sqrt_ridge * coef])


@functools.partial(jax.jit, static_argnums=(3, 4))
def _solve_groups(
    theta0: Float[Array, "5 F"], chain_data: tuple[Array, ...], tri_data: tuple[Array, ...], tol: float, max_steps: int
) -> tuple[Float[Array, "5 F"], Bool[Array, " 5"], Int[Array, " 5"]]:
    """Levenberg–Marquardt on the four chain groups (vmapped: same structure) and the triangle."""
    import optimistix as optx

    solver = optx.LevenbergMarquardt(rtol=tol, atol=tol)

    def solve(
        fn: Callable[[Array, tuple[Array, ...]], Array], y0: Float[Array, " F"], data: tuple[Array, ...]
    ) -> tuple[Float[Array, " F"], Bool[Array, ""], Int[Array, ""]]:
        sol = optx.least_squares(fn, solver, y0, args=data, max_steps=max_steps, throw=False)
        return sol.value, sol.result == optx.RESULTS.successful, sol.stats["num_steps"]

    th_c, ok_c, n_c = jax.vmap(lambda y0, d: solve(_chain_residuals, y0, d))(theta0[:4], chain_data)
    th_t, ok_t, n_t = solve(_triangle_residuals, theta0[4], tri_data)
    theta = jnp.concatenate([th_c, th_t[None]], axis=0)
    return theta, jnp.concatenate([ok_c, ok_t[None]]), jnp.concatenate([n_c, n_t[None]])


def _log_space_start(X: np.ndarray, C_triplet: np.ndarray, omega: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Starting coefficients: per quantity, weighted least squares of the data's own free
    quantities on the features in log space (weights: time weight × first-order sensitivity,
    see `empirical_quantities`), the Gauss–Newton linearisation of the calibration objective."""
    eta, sens = empirical_quantities(C_triplet)
    theta = np.zeros(mask.shape)
    for q in range(mask.shape[0]):
        cols = np.flatnonzero(mask[q])
        if cols.size == 0:
            continue
        w = omega * sens[:, q]
        if not np.any(w > 0):
            continue
        A = X[:, cols] * np.sqrt(w)[:, None]
        y = eta[:, q] * np.sqrt(w)
        sol, *_ = np.linalg.lstsq(A, y, rcond=1e-10)
        theta[q, cols] = sol if np.all(np.isfinite(sol)) else 0.0
    return theta


def fit_consistent_closure(
    datasets: Runs,
    *,
    features: Sequence[str] = DEFAULT_BASIS,
    regularization: str | float | None = None,
    support: Mapping[str, Sequence[str]] | np.ndarray | None = None,
    mixed_lattices: bool = False,
    max_steps: int = 256,
    tol: float = 1e-8,
) -> tuple[ConsistentClosure, Any]:
    """Calibrate a `ConsistentClosure` jointly on one or several annealing runs.

    Minimises ``ℰ(θ)/ℰ(0) + λ‖θ‖²`` (see the module docstring) with Levenberg–Marquardt. Given
    several runs (e.g. one per composition), ``ℰ`` is the mean over runs, every replica of every
    run an observation of its own.

    **Arguments:**

    - `datasets`: an `xarray.Dataset` annealing run or a sequence of them (``C_single``,
      ``C_pair``, ``C_triplet`` over ``time``; extra dims such as ``replica`` are independent
      trajectories).
    - `features`: the basis (`meanclust_jax.closures.parse_feature` names), default
      ``("1", "log(rho++)", "log(rho--)", "log(rho+-)")``.
    - `regularization`: ``None``/``"none"`` or a ridge weight ``λ ≥ 0`` (number or text).
    - `support`: optional restriction of the non-zero coefficients, ``{quantity: [feature,
      ...]}`` or a bool array ``(5, F)`` (a sparse refit); others are pinned at 0.
    - `mixed_lattices`: allow runs on different lattices (``rows``/``cols`` attributes).
    - `max_steps`, `tol`: Levenberg–Marquardt step budget and relative/absolute tolerance.

    **Returns:**

    ``(closure, report)``: the fitted closure (``source`` records the data) and an
    `xarray.Dataset` with ``objective(triplet)`` (``J_τ``, mean over runs),
    ``objective_pa(triplet)`` (the pair approximation's), ``objective_zero(triplet)`` (the
    zero-association closure's), ``mean_error(run)`` and ``mean_error_pa(run)`` (``ℰ`` per run),
    ``composition(run)``, and attributes ``converged``, ``num_steps``, ``ridge``.

    **Raises:**

    - `ValueError` naming the parameter: an invalid run (``datasets[i]``, e.g. without
      ``C_triplet``), runs on different lattices without ``mixed_lattices``, an unknown
      feature, a bad ``regularization`` or ``support``.
    - `RuntimeError` if float64 is off (call `meanclust_jax.enable_float64()` first).
    """
    import xarray as xr

    from .._precision import require_float64
    from ._calibration import _bucket, flatten_runs, runs_source
    from ._data import read_runs
    from ._errors import run_errors
    from ._pair import PairApproximation

    require_float64("fit_consistent_closure")
    features = tuple(features)
    ridge = resolve_ridge(regularization)
    zero = ConsistentClosure(None, features)  # validates the features
    mask = _support_array(support, features)
    max_steps = check_int(max_steps, "max_steps", minimum=1)
    tol = check_float(tol, "tol", minimum=0.0, open_min=True)
    runs = read_runs(datasets, need_triplets=True, mixed_lattices=mixed_lattices)
    _, C_pair, C_triplet, omega = flatten_runs(runs)
    X = np.asarray(evaluate_features(jnp.asarray(C_pair), features))
    e_zero = run_errors(zero, runs)  # (runs, 16)
    E0 = float(e_zero.mean())
    theta0 = _log_space_start(X, C_triplet, omega, mask)
    # Pad the records to a bucketed length with zero-weight rows (a benign pair state), so that
    # data sets of similar size share one compiled solver.
    M = omega.shape[0]
    pad = _bucket(M) - M
    if pad > 0:
        C_pair = np.concatenate([C_pair, np.tile([[1 / 3, 1 / 3, 1 / 6]], (pad, 1))])
        C_triplet = np.concatenate([C_triplet, np.zeros((pad, len(TRIPLETS)))])
        omega = np.concatenate([omega, np.zeros(pad)])
        X = np.asarray(evaluate_features(jnp.asarray(C_pair), features))
    sqrt_w = jnp.asarray(np.sqrt(omega / (16.0 * E0) if E0 > 0 else omega))
    sqrt_ridge = jnp.asarray(np.sqrt(ridge))
    Xj = jnp.asarray(X)
    cpp, cmm, cpm = C_pair[:, 0], C_pair[:, 1], C_pair[:, 2]
    margins = {"+": (cpp, cpm), "-": (cpm, cmm)}
    chain_data = []
    for q, name in enumerate(QUANTITIES[:4]):
        shape_name, centre = name.split(":")
        cols = [TRIPLET_INDEX[lab] for lab in _CHAIN_CELLS[name]]
        a, b = margins[centre]
        chain_data.append((Xj, jnp.asarray(a), jnp.asarray(b), jnp.asarray(C_triplet[:, cols]), sqrt_w,
                           jnp.asarray(SHAPE_WEIGHTS[shape_name]), jnp.asarray(mask[q], dtype=jnp.float64), sqrt_ridge))
    chain_data = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *chain_data)
    tri_cols = [TRIPLET_INDEX[lab] for lab in _TRI_CELLS]
    tri_data = (Xj, jnp.asarray(C_pair), jnp.asarray(C_triplet[:, tri_cols]), sqrt_w,
                jnp.asarray(SHAPE_WEIGHTS["tri"]), jnp.asarray(mask[4], dtype=jnp.float64), sqrt_ridge)
    theta, ok, steps = _solve_groups(jnp.asarray(theta0), chain_data, tri_data, float(tol), int(max_steps))
    coef = np.where(mask, np.asarray(theta), 0.0)
    ok, steps = np.asarray(ok), np.asarray(steps)
    source = runs_source(runs)
    source["family"] = "consistent"
    source["ridge"] = ridge
    closure = ConsistentClosure(coef, features, source=source)

    e_fit = run_errors(closure, runs)
    e_pa = run_errors(PairApproximation(), runs)
    report = xr.Dataset(
        {
            "objective": ("triplet", e_fit.mean(axis=0)),
            "objective_pa": ("triplet", e_pa.mean(axis=0)),
            "objective_zero": ("triplet", e_zero.mean(axis=0)),
            "mean_error": ("run", e_fit.mean(axis=1)),
            "mean_error_pa": ("run", e_pa.mean(axis=1)),
            "composition": ("run", np.array([t.composition for t in runs])),
        },
        coords={"triplet": list(TRIPLETS), "run": np.arange(len(runs))},
        attrs={
            "family": "consistent",
            "features": list(features),
            "ridge": ridge,
            "converged": int(bool(np.all(ok))),
            "num_steps": [int(n) for n in steps],
        },
    )
    return closure, report


__all__ = ["CONSISTENT_REGULARIZATIONS", "fit_consistent_closure", "resolve_ridge"]
