"""The convergence contract (issue 10, item 5): verdicts of `convergence` and `compare_posteriors`
on chains whose answer is known, including deliberately broken ones."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from helpers import unchecked

from meanclust_jax.inference import PROJECTION_MARGIN, compare_posteriors, convergence, projected_draws


def _idata(x: np.ndarray, name: str = "k"):
    """``x``: (chain, draw, n) draws of a vector quantity."""
    return az.from_dict(posterior={name: x}, coords={"rate": [f"k{i + 1}" for i in range(x.shape[-1])]},
                        dims={name: ["rate"]})


def test_independent_chains_converge():
    x = np.random.default_rng(0).normal(size=(4, 1000, 3))
    c = convergence(_idata(x))
    assert c.converged and not c.failures
    assert list(c.table.index) == ["k[k1]", "k[k2]", "k[k3]"]
    assert {"mean", "sd", "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat", "converged"} <= set(c.table)
    # MCSE of a mean of 4000 independent N(0, 1) draws: 1/sqrt(4000) within 10%.
    np.testing.assert_allclose(c.table["mcse_mean"], 1 / np.sqrt(4000), rtol=0.1)
    d = c.to_dict()
    assert d["converged"] and d["table"]["k[k1]"]["converged"] is True


def test_a_stuck_chain_a_sticky_chain_and_too_few_chains_are_flagged():
    rng = np.random.default_rng(1)
    shifted = rng.normal(size=(4, 1000, 2))
    shifted[3] += 3.0  # one chain elsewhere: R-hat ≫ 1.01
    c = convergence(_idata(shifted))
    assert not c.converged and any("R-hat" in f for f in c.failures)
    sticky = np.repeat(rng.normal(size=(4, 50, 2)), 20, axis=1)  # 1000 draws, ~50 independent
    c = convergence(_idata(sticky))
    assert not c.converged and any("bulk ESS" in f for f in c.failures)
    c = convergence(_idata(rng.normal(size=(2, 2000, 2))))
    assert not c.converged and c.failures[0].startswith("2 chain(s) < 4")
    with unchecked(), pytest.raises(ValueError, match="rhat_max must be a finite number >= 1"):
        convergence(_idata(shifted), rhat_max=0.9)
    with unchecked(), pytest.raises(ValueError, match="are not in the posterior"):
        convergence(_idata(shifted), ["sigma"])


def test_compare_posteriors_detects_a_shift_of_a_few_mcse():
    rng = np.random.default_rng(2)
    a = _idata(rng.normal(size=(4, 1000, 2)))
    b = _idata(rng.normal(size=(4, 1000, 2)))
    same = compare_posteriors(a, b)
    assert same.agree, same.disagreements
    # The MCSE of each mean is ~0.016: a shift of 0.2 in one component is ~9 combined MCSE.
    shifted = rng.normal(size=(4, 1000, 2))
    shifted[..., 1] += 0.2
    diff = compare_posteriors(a, _idata(shifted))
    assert not diff.agree and len(diff.disagreements) == 1 and "k[k2]" in diff.disagreements[0]
    assert diff.table.loc["k[k2]", "z"] > 4 and diff.table.loc["k[k1]", "z"] <= 4
    with unchecked(), pytest.raises(ValueError, match="tol must be a finite number > 0"):
        compare_posteriors(a, b, tol=0)


def test_projected_draws_scales_the_smallest_ess_to_the_bar():
    """``projected_draws``: draws × 400 / min ESS, never fewer than the draws already kept."""
    rng = np.random.default_rng(3)
    iid = convergence(_idata(rng.normal(size=(4, 200, 2))))  # ESS ≈ 800 ≥ 400: no further draws needed
    assert projected_draws(iid, 200) == 200
    sticky = convergence(_idata(np.repeat(rng.normal(size=(4, 10, 2)), 20, axis=1)))
    ess = float(min(sticky.table["ess_bulk"].min(), sticky.table["ess_tail"].min()))
    assert ess < 100
    np.testing.assert_allclose(projected_draws(sticky, 200), 200 * 400 / ess)
    # Chains in separate modes: an ESS of a few, a projection far beyond any budget.
    stuck = rng.normal(size=(4, 200, 2)) * 0.01 + np.arange(4)[:, None, None]
    assert projected_draws(convergence(_idata(stuck)), 200) > PROJECTION_MARGIN * 200 * 10
