"""Closures on the engine's own anneals (issue 3, validation): OA-hard vs PA at x = 1/3,
projected gradient vs SLSQP on real annealing data, and the cross-stoichiometry study of
SA/OA vs PA over the ten compositions of docs/model.md §1 (paper Section VI.C)."""

from __future__ import annotations

import numpy as np
import pytest
from test_closures_helpers import slsqp_objectives

from meanclust_jax._labels import TRIPLETS
from meanclust_jax.closures import (
    PAPER_COMPOSITIONS,
    REGULARIZATIONS,
    PairApproximation,
    SparseApproximation,
    closure_errors,
    constraint_violation,
    cross_stoichiometry_study,
    fit_optimal_closure,
    mean_closure_error,
)

engine = pytest.importorskip("meanclust_jax.engine")
if not hasattr(engine, "anneal"):  # pragma: no cover - engine not written yet
    pytest.skip("meanclust_jax.engine.anneal is not available", allow_module_level=True)

OPEN = [t for t, lab in enumerate(TRIPLETS) if not lab.startswith("tri")]

#: A short version of the paper's stepwise cooling through the ordering (T in energy units).
STEPS = [(1.0, 10), (0.6, 10), (0.4, 10), (0.3, 10), (0.25, 10), (0.2, 10), (0.17, 10), (0.14, 10), (0.11, 10),
         (0.08, 10)]


@pytest.fixture(scope="module")
def anneals():
    """One 24x24 anneal (global swaps, as in the paper's data) per composition of docs/model.md §1, run
    as replicas of one compiled engine call; returns {x: dataset}."""
    import jax

    from meanclust_jax import schedules
    from meanclust_jax.lattice import TriangularLattice

    xs = list(PAPER_COMPOSITIONS)
    ds = engine.anneal(
        jax.random.key(2024), TriangularLattice(24, 24), schedule=schedules.from_steps(STEPS),
        composition=xs, replicas=len(xs), moves="global", record_every=2, progress=False,
    )
    return {x: ds.isel(replica=[r]) for r, x in enumerate(xs)}


@pytest.fixture(scope="module")
def fit13(anneals):
    return {reg: fit_optimal_closure(anneals[1 / 3], reg) for reg in ("hard", "soft")}


def test_oa_hard_at_least_as_accurate_as_pa_on_open_types_x_one_third(fit13):
    """PA's exponents are a feasible point of OA-hard for every linear and angled type, so a
    worse fit there would be an optimiser failure."""
    closure, report = fit13["hard"]
    J, J_pa = report["objective"].values, report["objective_pa"].values
    assert np.all(J[OPEN] <= J_pa[OPEN] * (1 + 1e-10)), (J / J_pa)
    assert np.max(constraint_violation(closure.gamma, closure.xi, closure.bounds)) <= 1e-8
    assert bool(report["converged"].all())
    # Measured (see the report of issue 3): several types improve severalfold, not "most".
    assert np.sum(J < 0.5 * J_pa) >= 4, (J / J_pa)
    assert J[OPEN].sum() < 0.5 * J_pa[OPEN].sum()


@pytest.mark.parametrize("reg", ["hard", "soft"])
def test_projected_gradient_agrees_with_slsqp_on_engine_data(anneals, fit13, reg):
    ref = slsqp_objectives(anneals[1 / 3], REGULARIZATIONS[reg], num_random=4)
    np.testing.assert_allclose(fit13[reg][1]["objective"].values, ref, rtol=1e-6)


def test_pa_and_concentrations_consistent_on_engine_data(anneals):
    """Sanity of the data contract: the first record (random start) is nearly uncorrelated, so
    PA's error there is far below SA's."""
    ds = anneals[0.5].isel(time=slice(0, 2))
    assert mean_closure_error(PairApproximation(), ds) < 0.01 * mean_closure_error(SparseApproximation(), ds)


def test_cross_stoichiometry_study_on_engine_data(anneals, fit13):
    study, fitted = cross_stoichiometry_study(anneals, calibrate_at=(1 / 3,), regularizations=("hard",))
    assert list(study.closure.values) == ["PA", "SA", "OA-hard-1/3"]
    np.testing.assert_allclose(study.composition.values, sorted(PAPER_COMPOSITIONS))
    # ℰ is the mean of the per-type errors, and matches closure_errors on each trajectory
    for x, ds in anneals.items():
        e = study["errors"].sel(closure="SA", composition=x).values
        np.testing.assert_allclose(e, closure_errors(SparseApproximation(), ds).values, rtol=1e-12)
    pa = study["mean_error"].sel(closure="PA").values
    sa = study["mean_error"].sel(closure="SA").values
    assert study["improvement_over_pa"].sel(closure="SA") == pytest.approx(100 * (1 - sa.mean() / pa.mean()))
    np.testing.assert_allclose(
        np.asarray(fitted["OA-hard-1/3"].gamma), np.asarray(fit13["hard"][0].gamma), atol=1e-8
    )


@pytest.mark.xfail(
    strict=True,
    reason=(
        "paper claim (Section VI.C: SA improves on PA by 36.13% averaged over compositions) "
        "does not reproduce on our anneals: SA's mean error is about ten times PA's at every "
        "composition (see the issue 3 report)"
    ),
)
def test_sparse_beats_pair_averaged_over_ten_compositions(anneals):
    pa = np.mean([mean_closure_error(PairApproximation(), ds) for ds in anneals.values()])
    sa = np.mean([mean_closure_error(SparseApproximation(), ds) for ds in anneals.values()])
    assert sa < pa


def test_projected_gradient_agrees_with_slsqp_at_x_one_half_soft(anneals):
    """The degenerate case: at x = 1/2, C_+ = C_-, so the two ξ of a type multiply the same
    constant and the problem has a flat direction (with ξ unbounded under "soft")."""
    _, report = fit_optimal_closure(anneals[0.5], "soft")
    ref = slsqp_objectives(anneals[0.5], REGULARIZATIONS["soft"], num_random=4)
    np.testing.assert_allclose(report["objective"].values, ref, rtol=1e-6)
    assert bool(report["converged"].all())


def test_composition_is_read_per_replica(anneals):
    from meanclust_jax.dataset import read_trajectories

    for x, ds in anneals.items():
        assert read_trajectories(ds).composition == pytest.approx(x)
