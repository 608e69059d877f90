"""Calibration of the optimal approximation (paper eqs. (15)–(16), Table II; docs/model.md §5):
constraints, recovery of known exponents, agreement with SciPy SLSQP, OA ≥ PA where PA is
feasible. The "annealing" data here come from the small NumPy Metropolis anneal of the test
helpers (the engine's own anneal is used in ``test_closures_engine.py``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from helpers import unchecked
from test_closures_helpers import anneal_dataset, slsqp_objectives, synthetic_dataset

from meanclust_jax._labels import TRIPLETS
from meanclust_jax.closures import (
    REGULARIZATIONS,
    OptimalApproximation,
    SparseApproximation,
    _structure as S,
    constraint_violation,
    fit_optimal_closure,
    project_exponents,
)

OPEN = [t for t, lab in enumerate(TRIPLETS) if not lab.startswith("tri")]


@pytest.fixture(scope="module")
def anneal13():
    """24x24, x = 1/3, stepwise cooling through the ordering, 51 records."""
    return anneal_dataset(0, 24, 24, 1 / 3, [1.0, 0.6, 0.4, 0.3, 0.25, 0.2, 0.17, 0.14, 0.11, 0.08], 10, 2)


@pytest.fixture(scope="module")
def fits(anneal13):
    return {reg: fit_optimal_closure(anneal13, reg) for reg in ("hard", "soft")}


@pytest.mark.parametrize("reg", ["hard", "soft"])
def test_fitted_exponents_satisfy_constraints_and_kkt(fits, reg):
    closure, report = fits[reg]
    assert isinstance(closure, OptimalApproximation)
    assert closure.regularization == reg and closure.bounds == REGULARIZATIONS[reg]
    assert np.max(constraint_violation(closure.gamma, closure.xi, closure.bounds)) <= 1e-8
    assert np.all(report["constraint_violation"].values <= 1e-8)
    assert bool(report["converged"].all()), report["kkt_residual"].values
    assert report["objective"].dims == ("triplet",)
    assert report["start_objective"].shape == (16, 6)
    # the reported objective is the best over starts, and equals J of the returned closure
    assert np.all(report["objective"].values <= report["start_objective"].min("start").values * (1 + 1e-12))


@pytest.mark.parametrize("reg", ["hard", "soft"])
def test_projected_gradient_agrees_with_slsqp(anneal13, fits, reg):
    """Same objective, same kinds of starts: J_τ agrees with SciPy SLSQP to 1e-6 relative."""
    _, report = fits[reg]
    ref = slsqp_objectives(anneal13, REGULARIZATIONS[reg])
    ours = report["objective"].values
    np.testing.assert_allclose(ours, ref, rtol=1e-6)


def test_oa_hard_at_least_as_accurate_as_pa_on_open_types(fits):
    _, report = fits["hard"]
    J, J_pa = report["objective"].values, report["objective_pa"].values
    assert np.all(J[OPEN] <= J_pa[OPEN] * (1 + 1e-10))
    assert np.sum(J[OPEN] < 0.9 * J_pa[OPEN]) >= 6  # and strictly better on many of them


def test_soft_is_never_worse_than_hard(fits):
    """The hard feasible set lies inside the soft one (β ∈ [0,2] ⊂ ℝ, γ ≤ 2 ≤ 6)."""
    assert np.all(fits["soft"][1]["objective"].values <= fits["hard"][1]["objective"].values * (1 + 1e-9))


def _true_exponents(seed, bounds):
    rng = np.random.default_rng(seed)
    lo = np.where(np.isfinite(bounds[0]), bounds[0], -1.0)
    gamma = rng.uniform(0.2, min(bounds[2], 2.5), (16, 3))
    xi = rng.uniform(lo, 1.5, (16, 2))
    g, x = project_exponents(gamma, xi, bounds)
    return np.asarray(g), np.asarray(x)


@pytest.mark.parametrize(("reg", "seed"), [("hard", 0), ("soft", 1)])
def test_calibration_recovers_known_exponents(reg, seed):
    """Triplets generated exactly by a known feasible OA (x = 1/3, where every exponent is
    identifiable): the fit returns those exponents and J ≈ 0."""
    bounds = REGULARIZATIONS[reg]
    g, x = _true_exponents(seed, bounds)
    truth = OptimalApproximation(g, x)
    ds = synthetic_dataset(truth, 1 / 3, n_records=60)
    closure, report = fit_optimal_closure(ds, reg)
    assert np.all(report["objective"].values < 1e-20)
    np.testing.assert_allclose(np.asarray(closure.gamma), g, atol=1e-5)
    np.testing.assert_allclose(np.asarray(closure.xi), x, atol=1e-5)


def test_calibration_recovers_sparse_exponents_on_the_boundary():
    """SA's exponents sit on the hard bounds (γ ∈ {0, 1}, ξ = 0)."""
    ds = synthetic_dataset(OptimalApproximation.from_closure(S_SPARSE), 1 / 3, n_records=60)
    closure, _ = fit_optimal_closure(ds, "hard")
    np.testing.assert_allclose(np.asarray(closure.gamma), S.SA_GAMMA, atol=1e-6)
    np.testing.assert_allclose(np.asarray(closure.xi), S.SA_XI, atol=1e-6)


def test_pa_data_gives_pa_exponents_on_open_types():
    """Data from the PA itself: for linear/angled types PA is feasible, so it is recovered."""
    from meanclust_jax.closures import PairApproximation

    ds = synthetic_dataset(PairApproximation(), 0.3, n_records=60)
    closure, report = fit_optimal_closure(ds, "hard")
    np.testing.assert_allclose(np.asarray(closure.gamma)[OPEN], S.PA_GAMMA[OPEN], atol=1e-5)
    assert np.all(report["objective"].values[OPEN] < 1e-20)


def test_replicas_are_averaged(anneal13):
    """Two identical replicas give the same fit as one trajectory."""
    both = xr.concat([anneal13, anneal13], dim="replica").transpose("replica", ...)
    c1, r1 = fit_optimal_closure(anneal13, "hard")
    c2, r2 = fit_optimal_closure(both, "hard")
    np.testing.assert_allclose(r2["objective"].values, r1["objective"].values, rtol=1e-9)
    assert c2.source["trajectories"] == 2


def test_custom_bounds_and_errors(anneal13):
    closure, _ = fit_optimal_closure(anneal13, "hard", bounds={"delta": 1.5})
    assert closure.regularization == "custom" and closure.bounds == (0.0, 2.0, 1.5)
    assert float(np.max(closure.gamma)) <= 1.5 + 1e-12
    assert np.max(constraint_violation(closure.gamma, closure.xi, closure.bounds)) <= 1e-8
    closure, _ = fit_optimal_closure(anneal13, None, bounds=(-1.0, None, 3.0))
    assert closure.bounds == (-1.0, math.inf, 3.0)
    with unchecked(), pytest.raises(ValueError, match="regularization"):
        fit_optimal_closure(anneal13, "medium")
    with unchecked(), pytest.raises(ValueError, match="no exponents"):
        fit_optimal_closure(anneal13, "hard", bounds={"delta": 0.3})
    with unchecked(), pytest.raises(ValueError, match="beta1 <= beta2"):
        fit_optimal_closure(anneal13, "hard", bounds={"beta1": 3.0})
    with unchecked(), pytest.raises(ValueError, match="C_pair"):
        fit_optimal_closure(anneal13.drop_vars("C_pair"), "hard")
    with unchecked(), pytest.raises(ValueError, match="num_starts"):
        fit_optimal_closure(anneal13, "hard", num_starts=0)


S_SPARSE = SparseApproximation()
