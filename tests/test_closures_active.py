"""Active learning over compositions (issue 12, deliverable 4): bootstrap committee, query by
committee, learning curves of the held-out error."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import unchecked
from test_closures_discovery import TRUTH, synthetic_runs

from meanclust_jax.closures import ConsistentClosure, fit_consistent_closure, mean_closure_error
from meanclust_jax.closures._active import (
    active_learning_curve,
    bootstrap_runs,
    closure_committee,
    committee_disagreement,
    composition_states,
)
from meanclust_jax.closures._data import read_runs

POOL = {x: run for x, run in zip((0.25, 0.35, 0.45, 0.55, 0.65, 0.75), synthetic_runs(TRUTH, 5, n=30), strict=True)}


def test_bootstrap_over_replicas_and_time_windows():
    runs = [POOL[0.35], POOL[0.55]]
    sample = bootstrap_runs(runs, np.random.default_rng(0), windows=3)
    assert len(sample) == 2 * 1 * 3  # runs x replicas x windows
    for traj in sample:
        assert traj.C_pair.shape[0] == 1 and traj.weights.sum() == pytest.approx(1.0)
        assert traj.times.size in (10, 11)  # 30 records cut into 3 windows sharing boundaries
    whole = read_runs(runs)
    assert {t.composition for t in sample} <= {t.composition for t in whole}
    with unchecked(), pytest.raises(ValueError, match="windows"):
        bootstrap_runs(runs, np.random.default_rng(0), windows=0)


def test_committee_disagrees_more_where_it_extrapolates():
    committee = closure_committee([POOL[0.45], POOL[0.55]], members=4, windows=3, seed=1)
    assert len(committee) == 4 and all(isinstance(c, ConsistentClosure) for c in committee)
    d = committee_disagreement(committee, [0.5, 0.75])
    assert np.all(d >= 0) and d[1] > 10 * d[0]
    same = committee_disagreement([committee[0], committee[0]], [0.5, 0.75])
    assert np.all(same == 0)
    C_single, C_pair = composition_states(0.25, 5)
    np.testing.assert_allclose(C_pair[:, 2], np.linspace(0.1875, 0.25, 5))
    np.testing.assert_allclose(C_pair @ [1, 1, 2], 1.0)
    with unchecked(), pytest.raises(ValueError, match="members"):
        closure_committee([POOL[0.45]], members=1)


@pytest.mark.parametrize("strategy", ["qbc", "uniform", "random"])
def test_learning_curve(strategy):
    test = [POOL[0.35], POOL[0.65]]
    pool = {x: POOL[x] for x in (0.25, 0.45, 0.55, 0.75)}
    res = active_learning_curve(list(pool), pool, test, strategy=strategy, initial=2, budget=3,
                                members=3, windows=2, seed=0)
    assert res["n"] == [2, 3] and len(res["compositions"][-1]) == 3
    assert len(set(res["compositions"][-1])) == 3 and set(res["compositions"][-1]) <= set(pool)
    assert res["test_compositions"] == pytest.approx([0.35, 0.65])
    c, _ = fit_consistent_closure([pool[x] for x in res["compositions"][-1]])
    assert res["mean_error"][-1] == pytest.approx(np.mean([mean_closure_error(c, t) for t in test]), rel=1e-9)
    if strategy == "uniform":
        assert res["compositions"][0] == [0.25, 0.75]
    if strategy == "qbc":
        assert len(res["disagreement"]) == 1
    with unchecked(), pytest.raises(ValueError, match="strategy"):
        active_learning_curve(list(pool), pool, test, strategy="greedy")
