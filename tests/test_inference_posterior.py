"""Posterior sampling end to end: NUTS vs DR-MH, coverage of true rates, netCDF, CLI, figures.

Tolerances are Monte-Carlo standard errors from ArviZ (``mcse_mean``, ESS-based).
"""

from __future__ import annotations

import json

import arviz as az
import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from meanclust_jax._io import save_netcdf
from meanclust_jax.closures import PairApproximation
from meanclust_jax.inference import (
    PairData,
    diagnostics,
    infer_sparse,
    load_posterior,
    make_problem,
    posterior_summary,
    rate_posterior_model,
    sample_posterior,
    save_posterior,
    sparse_posterior_model,
)
from meanclust_jax.ode import RATE_NAMES, solve_pairs, sparse_solution

C_SINGLE = jnp.array([2 / 3, 1 / 3])
C_PAIR0 = jnp.array([4 / 9, 1 / 9, 2 / 9])
TS = jnp.linspace(0.0, 3.0, 31)
K_TRUE = jnp.array([0.3, 0.2, 0.5, 0.4, 0.1, 0.2, 0.6, 0.3])
ALPHA_TRUE = jnp.array([0.083, 0.166])  # relaxing: concentrations stay in [0, 1]
FREE = ("k3", "k7")  # a well-identified pair (posterior correlation ≈ 0)


def _stats(idata, site):  # noqa: ANN001, ANN202
    s = az.summary(idata, var_names=[site], round_to="none")
    return s["mean"].to_numpy(), s["sd"].to_numpy(), s["mcse_mean"].to_numpy()


def _assert_consistent(a, b, site):  # noqa: ANN001
    ma, _, ea = _stats(a, site)
    mb, _, eb = _stats(b, site)
    assert np.all(np.abs(ma - mb) < 4 * np.sqrt(ea**2 + eb**2)), (ma, mb, ea, eb)


@pytest.fixture(scope="module")
def synthetic():  # noqa: ANN201
    """ODE-generated data with known rates; k3 and k7 free, the others fixed at the truth."""
    traj = solve_pairs(K_TRUE, PairApproximation(), C_SINGLE, C_PAIR0, TS,
                       solver=diffrax.Tsit5(), rtol=1e-10, atol=1e-12)
    data = PairData(TS, C_SINGLE, traj.C_pair)
    problem = make_problem(data, PairApproximation(), weight_a=0.0, solver=diffrax.Tsit5())
    pm = rate_posterior_model(problem, upper=1.5, beta=2e4, free=FREE, fixed=K_TRUE)
    init = np.array([0.52, 0.57])
    nuts = sample_posterior(pm, jax.random.key(0), sampler="nuts", num_samples=250,
                            num_warmup=200, num_chains=2, init=init)
    drmh = sample_posterior(pm, jax.random.key(1), sampler="drmh", num_samples=3000,
                            num_warmup=300, num_chains=2, init=init)
    return {"nuts": nuts, "drmh": drmh, "truth": np.asarray(K_TRUE)[[2, 6]], "pm": pm}


def test_posterior_covers_true_rates(synthetic):  # noqa: ANN001
    for sampler in ("nuts", "drmh"):
        mean, sd, _ = _stats(synthetic[sampler], "k")
        assert np.all(np.abs(mean - synthetic["truth"]) < 4 * sd), (sampler, mean, sd)
        assert np.all(sd < 0.2 * synthetic["truth"])  # and the problem is well identified


def test_nuts_and_drmh_agree_on_synthetic_problem(synthetic):  # noqa: ANN001
    _assert_consistent(synthetic["nuts"], synthetic["drmh"], "k")


def test_inference_data_contents(synthetic, tmp_path):  # noqa: ANN001
    drmh, nuts = synthetic["drmh"], synthetic["nuts"]
    assert list(drmh.posterior["k"].coords["rate"].values) == list(FREE)
    assert drmh.posterior["k"].shape == (2, 3000, 2)
    F = drmh.posterior["F"].values
    assert np.all(np.isfinite(F)) and np.all(F >= 0)
    # F recovered from the potential energy equals a direct evaluation (both samplers).
    loss = jax.jit(jax.vmap(synthetic["pm"].loss_fn))
    for idata in (drmh, nuts):
        direct = loss(jnp.asarray(idata.posterior["k"].values[0, :50]))
        np.testing.assert_allclose(idata.posterior["F"].values[0, :50], direct, rtol=1e-6)
    d = diagnostics(drmh)
    assert 0 <= d["acceptance_rate_first_stage"] <= 1 and 0 < d["acceptance_rate_second_stage"] <= 1
    assert set(d["ess_bulk"]) == set(FREE) and set(d["r_hat"]) == set(FREE)
    assert all(r < 1.1 for r in d["r_hat"].values())
    for name in ("accept_stage", "accept_prob_1", "accept_prob_2", "num_evals", "lp"):
        assert name in drmh.sample_stats
    dn = diagnostics(nuts)
    assert dn["num_divergences"] == 0 and "diverging" in nuts.sample_stats
    assert nuts.posterior.attrs["num_divergences"] == 0
    summary = posterior_summary(drmh)
    assert {"ess_bulk", "r_hat", "mcse_mean"} <= set(summary.columns)
    path = tmp_path / "posterior.nc"
    save_posterior(drmh, path)
    back = load_posterior(path)
    np.testing.assert_array_equal(back.posterior["k"].values, drmh.posterior["k"].values)
    assert json.loads(back.posterior.attrs["diagnostics"]) == d
    np.testing.assert_allclose(back.posterior.attrs["acceptance_rate_first_stage"],
                               d["acceptance_rate_first_stage"])


def test_same_key_same_posterior():
    pm = sparse_posterior_model(_sa_data(), lower=-1.0, upper=1.0, beta=1e5)
    a = sample_posterior(pm, jax.random.key(4), num_samples=50, init=np.asarray(ALPHA_TRUE))
    b = sample_posterior(pm, jax.random.key(4), num_samples=50, init=np.asarray(ALPHA_TRUE))
    np.testing.assert_array_equal(a.posterior["alpha"].values, b.posterior["alpha"].values)


def _sa_data() -> PairData:
    clean = sparse_solution(ALPHA_TRUE, C_PAIR0, TS)
    noisy = clean + 1e-3 * jax.random.normal(jax.random.key(42), clean.shape)
    return PairData(TS, C_SINGLE, noisy)


def test_sparse_posterior_nuts_and_drmh_agree():
    data = _sa_data()
    _, fit = infer_sparse(data, jax.random.key(5), samplers=())
    np.testing.assert_allclose(fit.alpha, ALPHA_TRUE, atol=5e-3)
    pm = sparse_posterior_model(data, lower=-1.0, upper=1.0, beta=1e5)
    init = np.asarray(fit.alpha)
    nuts = sample_posterior(pm, jax.random.key(6), sampler="nuts", num_samples=500,
                            num_warmup=300, num_chains=2, init=init)
    drmh = sample_posterior(pm, jax.random.key(7), sampler="drmh", num_samples=4000,
                            num_chains=2, init=init)
    _assert_consistent(nuts, drmh, "alpha")
    for idata in (nuts, drmh):
        mean, sd, _ = _stats(idata, "alpha")
        assert np.all(np.abs(mean - init) < 4 * sd)
        assert np.all(np.abs(mean - np.asarray(ALPHA_TRUE)) < 4 * sd + 5e-3)


def test_bad_sampling_input_raises(synthetic):  # noqa: ANN001
    pm = synthetic["pm"]
    with pytest.raises(ValueError, match="num_samples must be an integer >= 1"):
        sample_posterior(pm, jax.random.key(0), num_samples=0)
    with pytest.raises(ValueError, match="num_chains must be an integer >= 1"):
        sample_posterior(pm, jax.random.key(0), num_chains=0)
    with pytest.raises(ValueError, match="sampler must be one of"):
        sample_posterior(pm, jax.random.key(0), sampler="hmc")
    with pytest.raises(ValueError, match=r"init must lie strictly inside the prior box"):
        sample_posterior(pm, jax.random.key(0), init=np.array([-0.1, 0.5]))
    problem = make_problem(_sa_data(), PairApproximation())
    with pytest.raises(ValueError, match=r"lower must be >= 0 for rates"):
        rate_posterior_model(problem, lower=-1.0, upper=1.0)
    with pytest.raises(ValueError, match="upper must exceed lower"):
        rate_posterior_model(problem, lower=1.0, upper=1.0)
    with pytest.raises(ValueError, match="beta must be a finite number > 0"):
        rate_posterior_model(problem, upper=1.0, beta=0.0)
    with pytest.raises(ValueError, match="free must be distinct names"):
        rate_posterior_model(problem, upper=1.0, free=("k9",))


def _run_dataset(alpha=ALPHA_TRUE) -> xr.Dataset:  # noqa: ANN001
    """A trajectory file of the SA model. With the default (positive) ``α`` the concentrations
    relax and stay in [0, 1]; the paper's negative ``α`` drive ``C_--`` below 0 by t ≈ 1.3, which
    the trajectory reader refuses."""
    clean = sparse_solution(alpha, C_PAIR0, TS)
    C_pair = np.asarray(clean + 1e-3 * jax.random.normal(jax.random.key(42), clean.shape))
    n = C_pair.shape[0]
    return xr.Dataset(
        {
            "C_single": (("time", "species"), np.broadcast_to(np.asarray(C_SINGLE), (n, 2))),
            "C_pair": (("time", "pair"), C_pair),
            "temperature": (("time",), np.linspace(2.0, 0.1, n)),
        },
        coords={"time": np.asarray(TS) * 10, "species": ["+", "-"], "pair": ["++", "--", "+-"]},
    )


def test_cli_infer_rates_sa(tmp_path, capsys):  # noqa: ANN001
    from meanclust_jax.cli import main

    run = tmp_path / "run.nc"
    save_netcdf(_run_dataset(), run)
    out = tmp_path / "post.nc"
    code = main(["infer-rates", str(run), "--closure", "sa", "--sampler", "both", "--samples",
                 "200", "--chains", "2", "--out", str(out), "--time-scale", "0.1", "--beta", "1e5",
                 "--figures", str(tmp_path / "figs")])
    assert code == 0
    text = capsys.readouterr().out
    assert "SA fit" in text and "r_hat" in text and "acceptance: first stage" in text
    assert "divergences" in text
    for s in ("nuts", "drmh"):
        idata = load_posterior(tmp_path / f"post.{s}.nc")
        assert idata.posterior.attrs["sampler"] == s
    assert (tmp_path / "figs" / "loss_histograms_sa.png").stat().st_size > 0
    code = main(["infer-rates", str(run), "--closure", "sa", "--samples", "0", "--out", str(out)])
    assert code == 2
    assert "--samples must be an integer >= 1" in capsys.readouterr().err
    code = main(["infer-rates", str(run), "--closure", "nope.json", "--out", str(out)])
    assert code == 2
    save_netcdf(_run_dataset(-ALPHA_TRUE), run)  # C_-- < 0: not a trajectory
    code = main(["infer-rates", str(run), "--closure", "sa", "--out", str(out)])
    assert code == 2
    assert "dataset['C_pair'] must lie in [0, 1]" in capsys.readouterr().err


def test_figures(tmp_path):  # noqa: ANN001
    from meanclust_jax.reports.inference_figures import plot_loss_histograms, plot_posterior_rates

    rng = np.random.default_rng(0)
    k = rng.uniform(0.1, 1.0, (2, 300, 8))
    idata = az.from_dict(posterior={"k": k, "F": rng.uniform(0.01, 1, (2, 300))},
                         coords={"rate": list(RATE_NAMES)}, dims={"k": ["rate"]})
    idata.posterior.attrs["site"] = "k"
    plot_posterior_rates(idata, tmp_path / "fig13.png", loss_threshold=0.5)
    plot_loss_histograms({"PA": idata, "OA": idata}, tmp_path / "fig14.png", sa_loss=0.3)
    assert (tmp_path / "fig13.png").stat().st_size > 0 and (tmp_path / "fig14.png").stat().st_size > 0
    with pytest.raises(ValueError, match="is not in the posterior"):
        plot_posterior_rates(idata, tmp_path / "x.png", axes_rates=("k1", "k2", "k9"))
    with pytest.raises(ValueError, match="no posterior sample"):
        plot_posterior_rates(idata, tmp_path / "x.png", loss_threshold=1e-9)
