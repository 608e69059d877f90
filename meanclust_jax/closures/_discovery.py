"""Sparse discovery of closures by regression in log space (beyond the paper; cf. cluster
expansions, where OLS, ARD, LASSO and recursive feature elimination select the few relevant
effective cluster interactions, as in icet).

Two families are linear in their coefficients in log space:

* the **monomial closures** of the paper (OA, SA, PA): ``log(g_τ/w) = Σ_q γ_q log C_q −
  Σ_r ξ_r log C_r`` with candidate terms the pair and species concentrations of τ (Table I);
* the **log-odds models** of the consistent closure: each free quantity (a chain's log odds
  ratio or the triangle's three-factor interaction, `QUANTITIES`) is ``Σ_f θ_f φ_f(C)`` over a
  library of log-space features (`feature_library`; by default the constant and the five base
  logs — the pairwise products of ``feature_library(2)`` are strongly collinear along anneals,
  and then every selector keeps most of them with large cancelling coefficients).

The regression targets are the data's own values (``log(Ĉ_τ/w)``, and the empirical log odds
ratios and ``κ`` of the recorded triplets, `empirical_quantities`), each record weighted by its
time weight times the first-order sensitivity of the triplets to the target (``Ĉ_τ²`` for a
monomial, the Plackett/triangle sensitivity for a log-odds quantity), so the weighted log-space
least squares is the Gauss–Newton linearisation of the calibration objective (eq. (15)). A
selector picks a support per target; the selected terms are then refitted in linear (triplet)
space under the family's constraints (`fit_optimal_closure` with eq. (16), or
`fit_consistent_closure`). Selectors (scikit-learn, on standardised columns):

* ``"ols"``: all candidate terms (the dense model);
* ``"ard"``: automatic relevance determination (`sklearn.linear_model.ARDRegression`), terms
  whose precision exceeds ``threshold_lambda`` pruned;
* ``"lasso"``: `sklearn.linear_model.LassoCV`, penalty chosen by cross-validation over runs
  (leave one run out);
* ``"rfe"``: recursive feature elimination with the number of terms chosen by the same
  cross-validation (`sklearn.feature_selection.RFECV` around ordinary least squares).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
import numpy as np

from .._labels import TRIPLETS
from . import _structure as S
from ._consistent import QUANTITIES, empirical_quantities, evaluate_features, feature_library

if TYPE_CHECKING:
    from ._base import AbstractClosure
    from ._data import Runs, Trajectories

#: The term selectors of `select_terms`.
METHODS: tuple[str, ...] = ("ols", "ard", "lasso", "rfe")
#: Names of the packed monomial exponents (γ on pairs, ξ on species).
MONOMIAL_TERMS: tuple[str, ...] = ("++", "--", "+-", "+", "-")


def _require_sklearn() -> None:
    try:
        import sklearn  # noqa: F401 - is scikit-learn installed?
    except ImportError:  # pragma: no cover - a declared dependency
        raise ImportError(
            "sparse discovery needs scikit-learn: pip install 'scikit-learn>=1.3'"
        ) from None


@dataclasses.dataclass(frozen=True)
class LogSpaceProblem:
    """Weighted linear regressions in log space, one per target.

    - `X`: ``(M, F)`` features (shared) or ``(T, M, F)`` per target.
    - `y`: ``(T, M)`` targets; `weight`: ``(T, M)`` non-negative record weights (0 = unused).
    - `groups`: ``(M,)`` run index of each record (for cross-validation over runs).
    - `candidates`: ``(T, F)`` bool, the terms each target may use.
    - `feature_names`, `target_names`: labels of the columns and targets.
    """

    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    groups: np.ndarray
    candidates: np.ndarray
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]

    def design(self, t: int) -> np.ndarray:
        """The ``(M, F)`` design matrix of target ``t``."""
        return self.X if self.X.ndim == 2 else self.X[t]


def _flatten_with_groups(
    runs: Sequence[Trajectories],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from ._calibration import flatten_runs

    _, C_pair, C_triplet, omega = flatten_runs(runs)
    C_single = np.stack([C_pair[:, 0] + C_pair[:, 2], C_pair[:, 1] + C_pair[:, 2]], axis=-1)
    groups = np.concatenate([np.full(t.C_pair.shape[0] * t.C_pair.shape[1], i) for i, t in enumerate(runs)])
    return C_single, C_pair, C_triplet, omega, groups


def log_odds_problem(
    datasets: Runs, features: Sequence[str] | None = None, *, mixed_lattices: bool = False
) -> LogSpaceProblem:
    """The five log-odds regressions of the consistent closure (targets `QUANTITIES`).

    **Arguments:**

    - `datasets`: an annealing run or a sequence of them (see `fit_consistent_closure`).
    - `features`: candidate features (default ``feature_library(1)``: the constant and the five
      base logs ``log C_+, log C_-, log ρ_++, log ρ_--, log ρ_+-``).
    - `mixed_lattices`: allow runs on different lattices.

    **Returns:**

    A `LogSpaceProblem` with shared ``X`` ``(M, F)``, targets and weights ``(5, M)``.

    **Raises:** `ValueError` as `fit_consistent_closure`.
    """
    from ._consistent import ConsistentClosure
    from ._data import read_runs

    features = tuple(feature_library(1) if features is None else features)
    ConsistentClosure(None, features)  # validates the names
    runs = read_runs(datasets, need_triplets=True, mixed_lattices=mixed_lattices)
    _, C_pair, C_triplet, omega, groups = _flatten_with_groups(runs)
    X = np.asarray(evaluate_features(jnp.asarray(C_pair), features))
    eta, sens = empirical_quantities(C_triplet)
    return LogSpaceProblem(
        X=X, y=eta.T, weight=(omega[:, None] * sens).T, groups=groups,
        candidates=np.ones((len(QUANTITIES), len(features)), dtype=bool),
        feature_names=features, target_names=QUANTITIES,
    )


def monomial_problem(datasets: Runs, *, mixed_lattices: bool = False) -> LogSpaceProblem:
    """The 16 log-space regressions of the monomial closures: ``log(Ĉ_τ/w)`` on
    ``(log C_++, log C_--, log C_+-, −log C_+, −log C_-)``, candidates the concentrations that
    occur in τ (paper Table I), weights ``ω Ĉ_τ²`` (0 where ``Ĉ_τ`` or a candidate is 0).

    **Raises:** `ValueError` as `fit_optimal_closure`.
    """
    from ._data import read_runs

    runs = read_runs(datasets, need_triplets=True, mixed_lattices=mixed_lattices)
    C_single, C_pair, C_triplet, omega, groups = _flatten_with_groups(runs)
    conc = np.concatenate([C_pair, C_single], axis=-1)
    positive = conc > 0
    logs = np.log(np.where(positive, conc, 1.0))
    X = np.concatenate([logs[:, :3], -logs[:, 3:]], axis=-1)
    Xs, ys, ws = [], [], []
    for t in range(len(TRIPLETS)):
        cand = S.PACKED_MASK[t]
        ok = (C_triplet[:, t] > 0) & np.all(positive | ~cand[None, :], axis=1)
        ys.append(np.where(ok, np.log(np.where(ok, C_triplet[:, t], 1.0) / S.WEIGHTS[t]), 0.0))
        ws.append(np.where(ok, omega * C_triplet[:, t] ** 2, 0.0))
        Xs.append(np.where(cand[None, :], X, 0.0))
    return LogSpaceProblem(
        X=np.stack(Xs), y=np.stack(ys), weight=np.stack(ws), groups=groups,
        candidates=S.PACKED_MASK.copy(), feature_names=MONOMIAL_TERMS, target_names=TRIPLETS,
    )


def _cv_splits(groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, LeaveOneGroupOut

    if np.unique(groups).size >= 3:
        return list(LeaveOneGroupOut().split(np.zeros(groups.size), groups=groups))
    return list(KFold(n_splits=5).split(np.zeros(groups.size)))


def select_terms(
    X: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    method: str,
    *,
    groups: np.ndarray | None = None,
    candidates: np.ndarray | None = None,
    threshold_lambda: float = 1e4,
) -> np.ndarray:
    """Select the terms of one weighted linear model ``y ≈ X θ`` (no separate intercept: a
    constant, if wanted, is a column of ``X``).

    **Arguments:**

    - `X`: float array ``(M, F)``; `y`: ``(M,)``; `weight`: ``(M,)`` ≥ 0 (rows with 0 unused).
    - `method`: one of `METHODS` (``"ols"``, ``"ard"``, ``"lasso"``, ``"rfe"``).
    - `groups`: ``(M,)`` run labels; cross-validation (LASSO, RFE) leaves one run out when there
      are at least three, else uses 5 contiguous folds.
    - `candidates`: ``(F,)`` bool, the columns that may be selected (default all).
    - `threshold_lambda`: ARD's pruning threshold on the precision of a (standardised) term.

    **Returns:**

    Bool array ``(F,)``, the selected terms (at least one candidate).

    **Raises:** `ValueError` for an unknown ``method``, no usable row or no candidate.
    """
    _require_sklearn()
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}; got {method!r}")
    X, y, weight = (np.asarray(a, dtype=np.float64) for a in (X, y, weight))
    F = X.shape[1]
    cand = np.ones(F, dtype=bool) if candidates is None else np.asarray(candidates, dtype=bool)
    cols = np.flatnonzero(cand)
    if cols.size == 0:
        raise ValueError("candidates: no term to select from")
    rows = weight > 0
    if not np.any(rows):
        raise ValueError("weight: no record with a positive weight (all triplets of this target are zero)")
    out = np.zeros(F, dtype=bool)
    if method == "ols" or cols.size == 1:
        out[cols] = True
        return out
    sw = np.sqrt(weight[rows] / weight[rows].mean())
    A = X[rows][:, cols] * sw[:, None]
    b = y[rows] * sw
    norms = np.sqrt(np.mean(A * A, axis=0))
    live = norms > 0
    A = A[:, live] / norms[live]
    b_scale = np.sqrt(np.mean(b * b)) or 1.0
    b = b / b_scale
    keep = np.zeros(live.sum(), dtype=bool)
    g = None if groups is None else np.asarray(groups)[rows]
    splits = _cv_splits(np.zeros(b.size) if g is None else g)
    if method == "ard":
        from sklearn.linear_model import ARDRegression

        model = ARDRegression(fit_intercept=False, threshold_lambda=threshold_lambda, max_iter=1000).fit(A, b)
        keep = model.coef_ != 0
    elif method == "lasso":
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LassoCV

        with warnings.catch_warnings():
            # the smallest penalties of the path may stop at max_iter; the penalty chosen by
            # cross-validation is a larger one
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = LassoCV(fit_intercept=False, cv=splits, max_iter=20000).fit(A, b)
        keep = model.coef_ != 0
    else:  # rfe
        from sklearn.feature_selection import RFECV
        from sklearn.linear_model import LinearRegression

        model = RFECV(LinearRegression(fit_intercept=False), cv=splits, scoring="neg_mean_squared_error").fit(A, b)
        keep = model.support_
    if not np.any(keep):  # never return an empty model: keep the single best term
        corr = np.abs(A.T @ b)
        keep[int(np.argmax(corr))] = True
    out[cols[np.flatnonzero(live)[keep]]] = True
    return out


def select_supports(problem: LogSpaceProblem, method: str, **kwargs: Any) -> np.ndarray:
    """`select_terms` for every target of a `LogSpaceProblem`; bool array ``(T, F)``."""
    out = np.zeros(problem.candidates.shape, dtype=bool)
    for t in range(problem.y.shape[0]):
        if not np.any(problem.weight[t] > 0):
            out[t] = problem.candidates[t]  # nothing to learn from: keep the family's structure
            continue
        out[t] = select_terms(problem.design(t), problem.y[t], problem.weight[t], method,
                              groups=problem.groups, candidates=problem.candidates[t], **kwargs)
    return out


def _monomial_support_with_pairs(support: np.ndarray) -> np.ndarray:
    """Eq. (16) needs a pair exponent in every type: add the SA term (``C_jk``/``C_ik``) if a
    selection kept only singlet exponents."""
    support = support.copy()
    for t in range(support.shape[0]):
        if not np.any(support[t, :3]):
            support[t, :3] = S.SA_GAMMA[t] > 0
    return support


def discover_closure(
    datasets: Runs,
    family: str = "consistent",
    method: str = "ard",
    *,
    features: Sequence[str] | None = None,
    regularization: str | None = None,
    mixed_lattices: bool = False,
    threshold_lambda: float = 1e4,
    **fit_kwargs: Any,
) -> tuple[AbstractClosure, np.ndarray]:
    """Select a sparse closure in log space and refit it in linear space under the constraints.

    **Arguments:**

    - `datasets`: one annealing run or a sequence (e.g. one per composition).
    - `family`: ``"consistent"`` (log-odds models over `features`) or ``"optimal"`` (monomials
      with the Table I candidates, refitted under eq. (16)).
    - `method`: selector, one of `METHODS`.
    - `features`: candidate library of the consistent family (default ``feature_library(1)``).
    - `regularization`: of the refit (``"hard"`` default for ``"optimal"``; ``"none"`` or a
      ridge weight for ``"consistent"``).
    - `mixed_lattices`: allow runs on different lattices.
    - `threshold_lambda`: ARD's pruning threshold.
    - `fit_kwargs`: passed on to the refit.

    **Returns:**

    ``(closure, support)``: the refitted closure (its ``source`` records ``"selection"``) and
    the bool support, ``(5, F)`` (consistent) or ``(16, 5)`` over `MONOMIAL_TERMS` (optimal).

    **Raises:** `ValueError` for an unknown family or method, and as the fit functions.
    """
    from ._calibration import fit_optimal_closure
    from ._consistent_fit import fit_consistent_closure
    from ._families import check_family

    check_family(family)
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}; got {method!r}")
    if family == "consistent":
        problem = log_odds_problem(datasets, features, mixed_lattices=mixed_lattices)
        support = select_supports(problem, method, threshold_lambda=threshold_lambda)
        closure, _ = fit_consistent_closure(datasets, features=problem.feature_names, support=support,
                                            regularization=regularization, mixed_lattices=mixed_lattices, **fit_kwargs)
        closure = type(closure)(closure.coefficients, closure.features,
                                source={**closure.source, "selection": method})
        return closure, support
    problem = monomial_problem(datasets, mixed_lattices=mixed_lattices)
    support = _monomial_support_with_pairs(select_supports(problem, method, threshold_lambda=threshold_lambda))
    reg = "hard" if regularization is None else regularization
    closure, _ = fit_optimal_closure(datasets, reg, support=support, mixed_lattices=mixed_lattices, **fit_kwargs)
    closure = type(closure)(closure.gamma, closure.xi, regularization=closure.regularization,
                            bounds=closure.bounds, source={**closure.source, "selection": method})
    return closure, support


def support_table(support: np.ndarray, family: str, features: Sequence[str] | None = None) -> dict[str, list[str]]:
    """A support as ``{target: [term, ...]}`` (quantities and features, or types and
    concentrations)."""
    if family == "consistent":
        names = tuple(feature_library(1) if features is None else features)
        return {q: [names[f] for f in np.flatnonzero(support[i])] for i, q in enumerate(QUANTITIES)}
    return {lab: [MONOMIAL_TERMS[f] for f in np.flatnonzero(support[t])] for t, lab in enumerate(TRIPLETS)}


def sparse_discovery_study(
    datasets: Sequence[Any] | Mapping[float, Any],
    *,
    methods: Sequence[str] = METHODS,
    families: Sequence[str] = ("consistent", "optimal"),
    features: Sequence[str] | None = None,
    tolerance: float = 1e-3,
    fit_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Discover sparse closures and measure them by leave-one-composition-out cross-validation.

    For each family and selector: the support and closed forms selected on all compositions,
    and the nested cross-validated error — for each held-out composition the selection *and*
    the refit are redone on the others, and ``ℰ`` (eq. (30)) is measured on the held-out run.
    The pair approximation and the paper's hand-rounded sparse approximation (SA) are evaluated
    on the same runs.

    **Arguments:**

    - `datasets`: runs, a sequence or ``{x: dataset}``, one per composition (≥ 2).
    - `methods`, `families`: which selectors and families to run.
    - `features`: the consistent family's candidate library (default ``feature_library(1)``).
    - `tolerance`: compositions closer than this are an error.
    - `fit_kwargs`: optional ``{family: kwargs}`` for `discover_closure`.
    - `log`: optional callable receiving progress lines.

    **Returns:**

    A JSON-able dict: ``compositions``, ``mean_error`` ``{"PA": [...], "SA": [...]}``, and
    ``results``, one entry per family and method with ``support`` (``{target: [terms]}``),
    ``n_terms``, ``formulas`` (closed forms of the closure selected on all data),
    ``loco_mean_error`` (per composition), ``wins_over_pa``, ``improvement_over_pa`` (percent,
    composition-averaged ``ℰ``) and ``mean_relative_improvement`` (percent).
    """
    from ._errors import mean_closure_error
    from ._pair import PairApproximation
    from ._sparse import SparseApproximation
    from ._study import _sorted_items

    items = _sorted_items(datasets, tolerance)
    if len(items) < 2:
        raise ValueError("datasets: cross-validation over compositions needs at least two")
    xs = [float(x) for x, _ in items]
    runs = [ds for _, ds in items]
    pa = [mean_closure_error(PairApproximation(), ds) for ds in runs]
    sa = [mean_closure_error(SparseApproximation(), ds) for ds in runs]
    fit_kwargs = dict(fit_kwargs or {})
    results = []
    for family in families:
        for method in methods:
            kw = dict(fit_kwargs.get(family, {}))
            if log is not None:
                log(f"{family}/{method}: selection on all {len(runs)} compositions")
            closure, support = discover_closure(runs, family, method, features=features, **kw)
            held = []
            for i in range(len(runs)):
                train = runs[:i] + runs[i + 1:]
                c_i, _ = discover_closure(train, family, method, features=features, **kw)
                held.append(mean_closure_error(c_i, runs[i]))
            e, p = np.asarray(held), np.asarray(pa)
            results.append({
                "family": family,
                "method": method,
                "support": support_table(support, family, features),
                "n_terms": int(support.sum()),
                "formulas": closure.formulas(),
                "loco_mean_error": [float(v) for v in held],
                "wins_over_pa": int(np.sum(e < p)),
                "improvement_over_pa": float(100 * (1 - e.mean() / p.mean())),
                "mean_relative_improvement": float(100 * np.mean(1 - e / p)),
            })
            if log is not None:
                log(f"{family}/{method}: {int(support.sum())} terms, LOCO improvement over PA "
                    f"{results[-1]['improvement_over_pa']:+.1f}%")
    p, s = np.asarray(pa), np.asarray(sa)
    return {
        "compositions": xs,
        "mean_error": {"PA": [float(v) for v in pa], "SA": [float(v) for v in sa]},
        "sa_improvement_over_pa": float(100 * (1 - s.mean() / p.mean())),
        "results": results,
    }


__all__ = [
    "METHODS",
    "MONOMIAL_TERMS",
    "LogSpaceProblem",
    "discover_closure",
    "log_odds_problem",
    "monomial_problem",
    "select_supports",
    "select_terms",
    "sparse_discovery_study",
    "support_table",
]
