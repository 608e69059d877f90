"""Sparse discovery of closures in log space (issue 12, deliverable 3): the selectors recover the
true terms of synthetic closures at a stated noise level, and the refit honours them."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import unchecked
from test_closures_helpers import make_dataset

from meanclust_jax.closures import ConsistentClosure, OptimalApproximation, _structure as S, feature_library
from meanclust_jax.closures._discovery import (
    discover_closure,
    log_odds_problem,
    monomial_problem,
    select_supports,
    select_terms,
    sparse_discovery_study,
    support_table,
)

LIBRARY = feature_library(1)
#: Relative Gaussian noise on every recorded triplet concentration.
NOISE = 1e-3
TRUTH = ConsistentClosure(
    {"lin:+": {"1": 0.5, "log(rho+-)": -6.0}, "lin:-": {"log(rho+-)": -5.0, "log(C+)": 1.0},
     "ang:+": {"log(rho+-)": 6.0, "log(rho++)": 1.5}, "ang:-": {"1": -0.4, "log(rho+-)": 5.0},
     "tri": {"1": 0.3, "log(rho+-)": -1.0}},
    LIBRARY,
)


def synthetic_runs(closure, seed: int, compositions=(0.25, 0.35, 0.45, 0.55, 0.65, 0.75), n: int = 60):
    """Pair paths from the random state (``C_+- = x(1−x)``) 90% of the way to the most ordered
    one (``min(x, 1−x, 1/3)``), one run per composition; triplets from ``closure`` times
    ``1 + NOISE·N(0, 1)``."""
    rng = np.random.default_rng(seed)
    runs = []
    for x in compositions:
        lo, hi = x * (1 - x), min(x, 1 - x, 1 / 3)
        cpm = lo + np.linspace(0.0, 0.9, n) * (hi - lo)
        C_pair = np.stack([1 - x - cpm, x - cpm, cpm], axis=-1)
        C_single = np.tile([1 - x, x], (n, 1))
        C_trip = np.asarray(closure(C_single, C_pair)) * (1 + NOISE * rng.normal(size=(n, 16)))
        runs.append(make_dataset(np.arange(n, dtype=float), C_single, C_pair, C_trip, x))
    return runs


@pytest.mark.parametrize("seed", [0, 1])
def test_log_odds_selection_recovers_the_true_terms(seed):
    problem = log_odds_problem(synthetic_runs(TRUTH, seed), LIBRARY)
    truth = np.asarray(TRUTH.coefficients) != 0
    assert np.array_equal(select_supports(problem, "ard"), truth)
    # LASSO is known to over-select (it keeps correlated terms); RFE keeps every true term
    for method in ("lasso", "rfe"):
        assert np.all(select_supports(problem, method) >= truth), method
    assert np.all(select_supports(problem, "ols"))


def test_monomial_selection_recovers_the_true_terms():
    rng = np.random.default_rng(0)
    z = S.pack(S.PA_GAMMA, S.PA_XI) * (1 + 0.3 * rng.uniform(-1, 1, (16, 5)))
    for t in range(16):  # drop the last Table I candidate of every type with more than two
        cand = np.flatnonzero(S.PACKED_MASK[t])
        if cand.size > 2:
            z[t, cand[-1]] = 0.0
    truth = OptimalApproximation(z[:, :3], z[:, 3:])
    support = S.pack(*truth.exponents()) != 0
    problem = monomial_problem(synthetic_runs(truth, 0))
    assert np.array_equal(select_supports(problem, "ard"), support)


def test_discovered_closure_is_refitted_on_its_support():
    runs = synthetic_runs(TRUTH, 2)
    closure, support = discover_closure(runs, "consistent", "ard", features=LIBRARY)
    assert np.array_equal(support, np.asarray(TRUTH.coefficients) != 0)
    assert np.all(np.asarray(closure.coefficients)[~support] == 0)
    np.testing.assert_allclose(np.asarray(closure.coefficients), np.asarray(TRUTH.coefficients), atol=0.05)
    assert closure.source["selection"] == "ard"
    table = support_table(support, "consistent", LIBRARY)
    assert table["lin:-"] == ["log(C+)", "log(rho+-)"]


def test_sparse_discovery_study_reports_cross_validated_errors():
    runs = synthetic_runs(TRUTH, 3, compositions=(0.3, 0.45, 0.6), n=30)
    study = sparse_discovery_study(runs, methods=("ard",), families=("consistent",))
    (res,) = study["results"]
    assert res["n_terms"] == 10 and len(res["loco_mean_error"]) == 3
    assert res["wins_over_pa"] == 3 and res["improvement_over_pa"] > 90
    assert set(study["mean_error"]) == {"PA", "SA"}


def test_bad_method_names_the_parameter():
    with unchecked(), pytest.raises(ValueError, match="method"):
        select_terms(np.ones((3, 2)), np.ones(3), np.ones(3), "stepwise")
    with unchecked(), pytest.raises(ValueError, match="weight"):
        select_terms(np.ones((3, 2)), np.ones(3), np.zeros(3), "ard")
