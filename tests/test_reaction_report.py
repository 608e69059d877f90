"""Report pieces of the reaction observer (issue 11, item 5): time-dependent rates in the ODE,
time-averaged measured rates, the paper's PA statement, posterior files, figure and section."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import unchecked

from meanclust_jax import schedules
from meanclust_jax.closures import PairApproximation
from meanclust_jax.engine import INFINITE_TEMPERATURE_RATES, anneal
from meanclust_jax.lattice import TriangularLattice
from meanclust_jax.ode import PiecewiseConstantRates, solve_pairs, solve_pairs_with_rates
from meanclust_jax.reports.markup import to_markdown
from meanclust_jax.reports.reaction_rates import (
    check_pa_statement,
    closure_error,
    plot_measured_rates,
    pooled_rates,
    posterior_rates,
    reaction_rate_blocks,
    time_averaged_rates,
)

K1 = np.array([0.3, 0.6, 0.4, 0.5, 0.2, 0.1, 0.5, 0.3])
C_SINGLE = jnp.asarray([2 / 3, 1 / 3])
C0 = jnp.asarray([0.40, 0.06, 0.27])


@pytest.fixture(scope="module")
def trajectory():
    return anneal(3, TriangularLattice(12, 12), schedule=schedules.from_steps([(1.0, 30), (0.4, 30)]),
                  composition=1 / 3, replicas=2, record_every=3, reactions=True, progress=False)


def test_piecewise_constant_rates_lookup_and_fill():
    edges = jnp.asarray([0.0, 1.0, 3.0])
    rates = PiecewiseConstantRates(edges=edges, values=jnp.asarray(np.stack([K1, 2 * K1])))
    for t, want in ((0.0, K1), (0.5, K1), (1.0, K1), (1.0 + 1e-9, 2 * K1), (3.0, 2 * K1), (9.0, 2 * K1)):
        np.testing.assert_allclose(np.asarray(rates(jnp.asarray(t))), want)
    measured = np.full((4, 8), np.nan)
    measured[1, :] = 1.0
    measured[2, 0] = np.nan
    measured[3, 0] = 3.0
    measured[1:, 7] = np.nan  # never measured
    measured[1, 6], measured[2, 6] = np.nan, 2.0  # first interval takes the next value
    filled = np.asarray(PiecewiseConstantRates.from_measured(np.arange(4.0), measured).values)
    np.testing.assert_array_equal(filled[:, 0], [1.0, 1.0, 3.0])
    np.testing.assert_array_equal(filled[:, 7], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(filled[:, 6], [2.0, 2.0, 2.0])
    with unchecked(), pytest.raises(ValueError, match="one row per interval"):
        PiecewiseConstantRates(edges=edges, values=jnp.ones((3, 8)))
    with unchecked(), pytest.raises(ValueError, match="non-negative"):
        PiecewiseConstantRates(edges=edges, values=-jnp.ones((2, 8)))
    with unchecked(), pytest.raises(ValueError, match="strictly increasing"):
        PiecewiseConstantRates(edges=jnp.asarray([0.0, 0.0, 1.0]), values=jnp.ones((2, 8)))


def test_time_dependent_solve_matches_constant_pieces():
    """Constant values reproduce `solve_pairs`; one jump equals two chained constant solves."""
    pa = PairApproximation()
    ts = jnp.linspace(0.0, 4.0, 9)
    const = PiecewiseConstantRates(edges=ts, values=jnp.broadcast_to(jnp.asarray(K1), (8, 8)))
    a = solve_pairs_with_rates(const, pa, C_SINGLE, C0, ts)
    b = solve_pairs(jnp.asarray(K1), pa, C_SINGLE, C0, ts, rtol=1e-10, atol=1e-13)
    assert bool(a.ok) and bool(b.ok)
    np.testing.assert_allclose(np.asarray(a.C_pair), np.asarray(b.C_pair), atol=1e-7)
    values = np.stack([K1] * 4 + [3 * K1] * 4)
    jump = solve_pairs_with_rates(PiecewiseConstantRates(edges=ts, values=jnp.asarray(values)), pa, C_SINGLE, C0, ts)
    first = solve_pairs(jnp.asarray(K1), pa, C_SINGLE, C0, ts[:5], rtol=1e-10, atol=1e-13)
    second = solve_pairs(jnp.asarray(3 * K1), pa, C_SINGLE, first.C_pair[-1], ts[4:], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(np.asarray(jump.C_pair[:5]), np.asarray(first.C_pair), atol=1e-7)
    np.testing.assert_allclose(np.asarray(jump.C_pair[4:]), np.asarray(second.C_pair), atol=1e-7)
    C = np.asarray(jump.C_pair)
    np.testing.assert_allclose(C[:, 0] + C[:, 1] + 2 * C[:, 2], 1.0, atol=1e-9)


def test_pooled_and_time_averaged_rates(trajectory):
    k = pooled_rates(trajectory)
    A = trajectory.reaction_accepted.values.sum(0).astype(float)
    R = trajectory.reaction_attempts.values.sum(0).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.testing.assert_allclose(k[1:], np.asarray(INFINITE_TEMPERATURE_RATES) * A[1:] / R[1:])
    assert np.all(np.isnan(k[0]))
    avg = time_averaged_rates(trajectory, t_min=30, n_batches=5)
    assert avg["window"] == [30.0, 60.0] and avg["intervals"] == 10
    sl = slice(11, None)
    np.testing.assert_allclose(avg["rate"], np.asarray(INFINITE_TEMPERATURE_RATES) * A[sl].sum(0) / R[sl].sum(0))
    assert np.all(avg["se"] > 0) and np.all(avg["rate"] <= np.asarray(INFINITE_TEMPERATURE_RATES))
    assert avg["se_method"] == "replicas"
    Rb = trajectory.reaction_attempts.values[:, sl].astype(float)
    Ab = trajectory.reaction_accepted.values[:, sl].astype(float)
    p_n = A[sl] / R[sl]
    se = np.asarray(INFINITE_TEMPERATURE_RATES) * np.sqrt(((Ab - p_n * Rb) ** 2).sum((0, 1)) * 2) / R[sl].sum(0)
    np.testing.assert_allclose(avg["se"], se)
    single = time_averaged_rates(trajectory.isel(replica=0), t_min=30, n_batches=5)
    assert single["se_method"] == "batch means" and np.all(single["se"] > 0)
    with unchecked(), pytest.raises(ValueError, match="fewer than n_batches"):
        time_averaged_rates(trajectory, t_min=50, n_batches=5)
    with unchecked(), pytest.raises(ValueError, match="no reaction observer"):
        time_averaged_rates(trajectory.drop_vars(["reaction_attempts"]))


def test_paper_pa_statement_is_checked_both_ways():
    holds = check_pa_statement(np.array([1.0, 1.0, 1.0, 1.0, 0.5, 0.01, 0.9, 0.02]), se=np.full(8, 0.05))
    assert (holds["k6_close_to_zero"], holds["k8_close_to_zero"], holds["k7_gt_k5"]) == ("holds", "holds", "holds")
    fails = check_pa_statement(np.array([1.0, 1.0, 1.0, 1.0, 0.9, 0.5, 0.5, 0.8]), se=np.full(8, 0.05))
    assert (fails["k6_close_to_zero"], fails["k8_close_to_zero"], fails["k7_gt_k5"]) == ("fails", "fails", "fails")
    unsure = check_pa_statement(np.array([1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.55, 0.8]), se=np.full(8, 0.05))
    assert unsure["k7_gt_k5"] == "undecided"


def test_posterior_rates_from_netcdf(tmp_path):
    import arviz as az

    rng = np.random.default_rng(0)
    k = np.abs(rng.normal(K1, 0.05, size=(4, 500, 8)))
    idata = az.from_dict(posterior={"k": k}, coords={"rate": [f"k{i}" for i in range(1, 9)]}, dims={"k": ["rate"]})
    path = tmp_path / "PA.nuts.nc"
    idata.to_netcdf(str(path))
    post = posterior_rates(path)
    np.testing.assert_allclose(post["mean"], k.reshape(-1, 8).mean(0), rtol=1e-12)
    assert all(lo < m < hi for lo, m, hi in zip(post["hdi_low"], post["mean"], post["hdi_high"], strict=True))
    assert all(r < 1.01 for r in post["r_hat"]) and all(e > 400 for e in post["ess_bulk"])
    with pytest.raises(FileNotFoundError):
        posterior_rates(tmp_path / "none.nc")


def test_closure_error_and_section(trajectory, tmp_path):
    avg = time_averaged_rates(trajectory, n_batches=5)
    res = closure_error(trajectory, PairApproximation(), {"average": avg["rate"], "slow": 0.01 * avg["rate"]})
    for label in ("measured", "average", "slow"):
        assert res[label]["ok"] and np.isfinite(res[label]["half_integral"])
        assert res["models"][label].shape == (trajectory.sizes["time"], 3)
    np.testing.assert_allclose(res["models"]["measured"][0], trajectory.C_pair.mean("replica").values[0])
    # Rates 100x too slow leave the model near its start while the data moves: a larger error.
    assert res["measured"]["half_integral"] < res["slow"]["half_integral"]
    fig = plot_measured_rates(trajectory, tmp_path / "rates.png", averaged=avg,
                              posteriors={"PA NUTS": {"mean": list(avg["rate"]), "hdi_low": list(0.5 * avg["rate"]),
                                                      "hdi_high": list(2 * avg["rate"])}})
    assert fig.is_file() and fig.stat().st_size > 10_000
    summary = {"figure": "rates.png", "window": avg["window"], "intervals": avg["intervals"],
               "measured": {"rate": list(avg["rate"]), "se": list(avg["se"])},
               "posteriors": {"PA NUTS": {"mean": list(K1), "r_hat": [1.0] * 8, "ess_bulk": [500.0] * 8}},
               "pa_statement": {"measured": check_pa_statement(avg["rate"], avg["se"])},
               "ode": {"PA": {"measured": res["measured"], "fitted": res["average"]}}}
    text = to_markdown(reaction_rate_blocks(summary))
    assert "Measured reaction rates" in text and "k7 > k5" in text and "closure error alone" in text
