"""Posterior sampling end to end: NUTS vs DR-MH, coverage of true rates, netCDF, CLI, figures.

Both likelihoods (the paper's ``exp(−βF)`` and the Gaussian noise model) and both DR-MH variants.
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
from helpers import C_PAIR0, C_SINGLE, K_TRUE, TS, unchecked

from meanclust_jax._io import save_netcdf
from meanclust_jax.closures import PairApproximation
from meanclust_jax.inference import (
    PairData,
    compare_posteriors,
    convergence,
    diagnostics,
    infer_rates,
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

# The paper's |α| (its signs would drive C-- below 0 within this window, an unphysical trajectory
# that PairData refuses).
ALPHA_TRUE = jnp.array([0.083, 0.166])
FREE = ("k3", "k7")  # a well-identified pair (posterior correlation ≈ 0)


def _stats(idata, site):
    s = az.summary(idata, var_names=[site], round_to="none")
    return s["mean"].to_numpy(), s["sd"].to_numpy(), s["mcse_mean"].to_numpy()


def _assert_consistent(a, b, site):
    ma, _, ea = _stats(a, site)
    mb, _, eb = _stats(b, site)
    assert np.all(np.abs(ma - mb) < 4 * np.sqrt(ea**2 + eb**2)), (ma, mb, ea, eb)


@pytest.fixture(scope="module")
def synthetic():
    """ODE-generated data with known rates; k3 and k7 free, the others fixed at the truth."""
    traj = solve_pairs(K_TRUE, PairApproximation(), C_SINGLE, C_PAIR0, TS,
                       solver=diffrax.Tsit5(), rtol=1e-10, atol=1e-12)
    data = PairData(TS, C_SINGLE, traj.C_pair)
    problem = make_problem(data, PairApproximation(), weight_a=0.0, solver=diffrax.Tsit5())
    pm = rate_posterior_model(problem, likelihood="paper", upper=1.5, beta=2e4, free=FREE, fixed=K_TRUE)
    init = np.array([0.52, 0.57])
    nuts = sample_posterior(pm, jax.random.key(0), sampler="nuts", num_samples=250,
                            num_warmup=200, num_chains=2, init=init)
    drmh = sample_posterior(pm, jax.random.key(1), sampler="drmh", num_samples=3000,
                            num_warmup=600, num_chains=2, init=init, thinning=1)
    paper = sample_posterior(pm, jax.random.key(2), sampler="drmh", drmh_variant="paper",
                             num_samples=3000, num_warmup=300, num_chains=2, init=init, thinning=1)
    return {"nuts": nuts, "drmh": drmh, "paper": paper, "truth": np.asarray(K_TRUE)[[2, 6]], "pm": pm}


def test_posterior_covers_true_rates(synthetic):
    for sampler in ("nuts", "drmh", "paper"):
        mean, sd, _ = _stats(synthetic[sampler], "k")
        assert np.all(np.abs(mean - synthetic["truth"]) < 4 * sd), (sampler, mean, sd)
        assert np.all(sd < 0.2 * synthetic["truth"])  # and the problem is well identified


def test_nuts_and_drmh_agree_on_synthetic_problem(synthetic):
    _assert_consistent(synthetic["nuts"], synthetic["drmh"], "k")
    _assert_consistent(synthetic["nuts"], synthetic["paper"], "k")
    agreement = compare_posteriors(synthetic["nuts"], synthetic["drmh"], ["k"])
    assert agreement.agree, agreement.disagreements


def test_inference_data_contents(synthetic, tmp_path):
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
    table = d["convergence"]["table"]
    assert set(table) == {f"k[{n}]" for n in FREE}
    assert all(row["r_hat"] < 1.1 for row in table.values())
    assert {"mcse_mean", "ess_bulk", "ess_tail", "r_hat", "converged"} <= set(table["k[k3]"])
    assert drmh.posterior.attrs["likelihood"] == "paper" and "log_likelihood" not in drmh.groups()
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
    pm = sparse_posterior_model(_sa_data(), lower=-1.0, upper=1.0)
    a = sample_posterior(pm, jax.random.key(4), num_samples=50, init=np.asarray(ALPHA_TRUE))
    b = sample_posterior(pm, jax.random.key(4), num_samples=50, init=np.asarray(ALPHA_TRUE))
    np.testing.assert_array_equal(a.posterior["alpha"].values, b.posterior["alpha"].values)


def test_until_converged_stops_at_the_budget_or_when_it_is_hopeless():
    """The stop rules of ``until_converged`` (docs/model.md §7.4), each named in ``stop_reason``."""
    pm = sparse_posterior_model(_sa_data(), lower=-1.0, upper=1.0)
    # Two chains never meet the standard (it needs 4), whatever the draws.
    kw = {"num_samples": 30, "num_warmup": 30, "init": np.asarray(ALPHA_TRUE), "until_converged": True,
          "max_samples": 90, "num_chains": 2, "thinning": 1}
    # An unreachable ESS bar projects far beyond twice the budget: one round only.
    hopeless = sample_posterior(pm, jax.random.key(4), ess_min=1e9, **kw)
    assert hopeless.posterior.attrs["rounds"] == 1 and hopeless.posterior.sizes["draw"] == 30
    assert "projects to" in hopeless.posterior.attrs["stop_reason"]
    assert hopeless.posterior.attrs["projected_draws"] > 2 * 90
    assert not hopeless.posterior.attrs["converged"]
    # A reachable ESS bar: rounds until the budget is spent.
    spent = sample_posterior(pm, jax.random.key(4), ess_min=1.0, **kw)
    assert spent.posterior.attrs["rounds"] == 3 and spent.posterior.sizes["draw"] == 90
    assert spent.posterior.attrs["stop_reason"] == "draw budget (90 per chain) spent"
    # The first round is the same draws whatever the stop rule.
    np.testing.assert_array_equal(hopeless.posterior["alpha"].values, spent.posterior["alpha"].values[:, :30])


NOISE = 1e-3


def _sa_data() -> PairData:
    clean = sparse_solution(ALPHA_TRUE, C_PAIR0, TS)
    noisy = clean + NOISE * jax.random.normal(jax.random.key(42), clean.shape)
    return PairData(TS, C_SINGLE, noisy.at[0].set(clean[0]))


@pytest.mark.parametrize("likelihood", ["gaussian", "paper"])
def test_sparse_posterior_nuts_and_drmh_agree(likelihood):
    data = _sa_data()
    _, fit = infer_sparse(data, jax.random.key(5), samplers=())
    np.testing.assert_allclose(fit.alpha, ALPHA_TRUE, atol=5e-3)
    extra = {"beta": 1e5} if likelihood == "paper" else {}
    pm = sparse_posterior_model(data, lower=-1.0, upper=1.0, likelihood=likelihood, **extra)
    init = np.asarray(fit.alpha)
    nuts = sample_posterior(pm, jax.random.key(6), sampler="nuts", num_samples=500,
                            num_warmup=300, init=init)
    drmh = sample_posterior(pm, jax.random.key(7), sampler="drmh", num_samples=8000, init=init)
    agreement = compare_posteriors(nuts, drmh)
    assert agreement.agree, agreement.disagreements
    for idata in (nuts, drmh):
        mean, sd, _ = _stats(idata, "alpha")
        assert np.all(np.abs(mean - init) < 4 * sd)
        assert np.all(np.abs(mean - np.asarray(ALPHA_TRUE)) < 4 * sd + 5e-3)
    if likelihood == "gaussian":
        # The noise level is learned: the data were made with σ = 1e-3 (a single draw of 60
        # residuals per pair: 4 posterior sd covers the sampling error of that estimate).
        mean, sd, _ = _stats(nuts, "sigma")
        assert np.all(np.abs(mean - NOISE) < 4 * sd), (mean, sd)
        assert nuts.log_likelihood["C_pair"].shape == (4, 500, TS.shape[0] - 1, 2)
        loo = az.loo(nuts)
        assert np.isfinite(loo.elpd_loo)


def test_bad_sampling_input_raises(synthetic):
    pm = synthetic["pm"]
    with unchecked(), pytest.raises(ValueError, match="num_samples must be an integer >= 1"):
        sample_posterior(pm, jax.random.key(0), num_samples=0)
    with unchecked(), pytest.raises(ValueError, match=r"num_samples must be >= thinning \(10"):
        sample_posterior(pm, jax.random.key(0), sampler="drmh", num_samples=5)
    with unchecked(), pytest.raises(ValueError, match="num_chains must be an integer >= 1"):
        sample_posterior(pm, jax.random.key(0), num_chains=0)
    with unchecked(), pytest.raises(ValueError, match="sampler must be one of"):
        sample_posterior(pm, jax.random.key(0), sampler="hmc")
    with unchecked(), pytest.raises(ValueError, match=r"init must lie strictly inside the prior box"):
        sample_posterior(pm, jax.random.key(0), init=np.array([-0.1, 0.5]))
    with unchecked(), pytest.raises(ValueError, match=r"init must be finite"):
        sample_posterior(pm, jax.random.key(0), init=np.array([np.nan, 0.5]))
    with unchecked(), pytest.raises(ValueError, match=r"drmh_variant must be one of"):
        sample_posterior(pm, jax.random.key(0), drmh_variant="dr")
    problem = make_problem(_sa_data(), PairApproximation())
    for likelihood in ("paper", "gaussian"):
        with unchecked(), pytest.raises(ValueError, match=r"lower must be >= 0 for rates"):
            rate_posterior_model(problem, likelihood=likelihood, lower=-1.0, upper=1.0)
        with unchecked(), pytest.raises(ValueError, match="upper must exceed lower"):
            rate_posterior_model(problem, likelihood=likelihood, lower=1.0, upper=0.5)
        with unchecked(), pytest.raises(ValueError, match="lower and upper must be finite"):
            rate_posterior_model(problem, likelihood=likelihood, lower=0.0, upper=np.inf)
    with unchecked(), pytest.raises(ValueError, match="beta must be a finite number > 0"):
        rate_posterior_model(problem, likelihood="paper", upper=1.0, beta=0.0)
    with unchecked(), pytest.raises(ValueError, match="free must be distinct names"):
        rate_posterior_model(problem, likelihood="paper", upper=1.0, free=("k9",))
    with unchecked(), pytest.raises(ValueError, match=r"likelihood must be one of \('gaussian', 'paper'\)"):
        rate_posterior_model(problem, likelihood="poisson")
    with unchecked(), pytest.raises(ValueError, match="beta applies to likelihood='paper' only"):
        rate_posterior_model(problem, beta=2.0)
    with unchecked(), pytest.raises(ValueError, match="sigma_scale must be a finite number > 0"):
        rate_posterior_model(problem, sigma_scale=-1.0)
    with unchecked(), pytest.raises(ValueError, match="replicas must be 'mean' or 'separate'"):
        rate_posterior_model(problem, replicas="all")
    with unchecked(), pytest.raises(ValueError, match="needs the per-replica trajectories"):
        rate_posterior_model(problem, replicas="separate")
    with unchecked(), pytest.raises(ValueError, match=r"fixed_split must have shape \(4,\)"):
        rate_posterior_model(problem, fixed_split=[0.5, 0.5, 1.2, 0.5])
    with unchecked(), pytest.raises(ValueError, match="C_pair contains NaN"):
        PairData(TS, C_SINGLE, np.full((TS.shape[0], 3), np.nan))
    with unchecked(), pytest.raises(ValueError, match=r"C_pair must lie in \[0, 1\]"):
        PairData(TS, C_SINGLE, np.full((TS.shape[0], 3), 1.7))


def _run_dataset(alpha=ALPHA_TRUE) -> xr.Dataset:
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


def test_cli_infer_rates_sa(tmp_path, capsys):
    from meanclust_jax.cli import main

    run = tmp_path / "run.nc"
    save_netcdf(_run_dataset(), run)
    out = tmp_path / "post.nc"
    code = main(["infer-rates", str(run), "--closure", "sa", "--sampler", "both", "--samples",
                 "200", "--out", str(out), "--time-scale", "0.1", "--likelihood", "paper",
                 "--beta", "1e5", "--figures", str(tmp_path / "figs")])
    assert code == 0
    text = capsys.readouterr().out
    assert "SA fit" in text and "r_hat" in text and "acceptance: first stage" in text
    assert "divergences" in text
    for s in ("nuts", "drmh"):
        idata = load_posterior(tmp_path / f"post.{s}.nc")
        assert idata.posterior.attrs["sampler"] == s
        assert idata.posterior.attrs["likelihood"] == "paper"
    assert (tmp_path / "figs" / "loss_histograms_sa.png").stat().st_size > 0
    # The default: Gaussian likelihood, 4 chains, a verdict for each sampler and their agreement.
    out_g = tmp_path / "gauss.nc"
    assert main(["infer-rates", str(run), "--closure", "sa", "--sampler", "both", "--samples",
                 "300", "--out", str(out_g), "--time-scale", "0.1"]) == 0
    text = capsys.readouterr().out
    assert "gaussian likelihood" in text and "sigma[++]" in text
    assert text.lower().count("converged") >= 2
    # An agreement verdict only when both converged; otherwise it says the comparison is not made.
    assert ("NOT CONVERGED" in text) == ("NUTS vs DR-MH: not assessed" in text)
    assert ("NUTS and DR-MH" in text) != ("NUTS vs DR-MH: not assessed" in text)
    g = load_posterior(tmp_path / "gauss.drmh.nc")
    assert g.posterior.sizes["chain"] == 4 and "sigma" in g.posterior and "log_likelihood" in g.groups()
    code = main(["infer-rates", str(run), "--closure", "sa", "--beta", "2", "--out", str(out)])
    assert code == 2
    assert "--beta applies to --likelihood paper only" in capsys.readouterr().err
    code = main(["infer-rates", str(run), "--closure", "sa", "--samples", "0", "--out", str(out)])
    assert code == 2
    assert "--samples must be an integer >= 1" in capsys.readouterr().err
    code = main(["infer-rates", str(run), "--closure", "nope.json", "--out", str(out)])
    assert code == 2
    save_netcdf(_run_dataset(-ALPHA_TRUE), run)  # C_-- < 0: not a trajectory
    code = main(["infer-rates", str(run), "--closure", "sa", "--out", str(out)])
    assert code == 2
    assert "dataset['C_pair'] must lie in [0, 1]" in capsys.readouterr().err


def test_figures(tmp_path):
    from meanclust_jax.reports.inference_figures import plot_loss_histograms, plot_posterior_rates

    rng = np.random.default_rng(0)
    k = rng.uniform(0.1, 1.0, (2, 300, 8))
    idata = az.from_dict(posterior={"k": k, "F": rng.uniform(0.01, 1, (2, 300))},
                         coords={"rate": list(RATE_NAMES)}, dims={"k": ["rate"]})
    idata.posterior.attrs["site"] = "k"
    plot_posterior_rates(idata, tmp_path / "fig13.png", loss_threshold=0.5)
    plot_loss_histograms({"PA": idata, "OA": idata}, tmp_path / "fig14.png", sa_loss=0.3)
    assert (tmp_path / "fig13.png").stat().st_size > 0 and (tmp_path / "fig14.png").stat().st_size > 0
    with unchecked(), pytest.raises(ValueError, match="is not in the posterior"):
        plot_posterior_rates(idata, tmp_path / "x.png", axes_rates=("k1", "k2", "k9"))
    with unchecked(), pytest.raises(ValueError, match="no posterior sample"):
        plot_posterior_rates(idata, tmp_path / "x.png", loss_threshold=1e-9)


@pytest.fixture(scope="module")
def engine_data() -> PairData:
    """A real trajectory from the engine: 12×12, x = 1/3, the paper's schedule (short), 4 replicas."""
    import meanclust_jax as mc

    ds = mc.anneal(jax.random.key(3), mc.TriangularLattice(12, 12), schedule=mc.schedules.paper(sweeps_per_step=100),
                   composition=1 / 3, replicas=4, record_every=20, progress=False)
    return PairData.from_dataset(ds)


def test_nuts_and_drmh_agree_on_a_real_sa_posterior(engine_data):
    """Issue 10: both samplers on the same small real posterior converge and agree within 4
    combined MCSE (SA, Gaussian likelihood, on engine data)."""
    posteriors, fit = infer_sparse(engine_data, jax.random.key(8), num_samples=1000,
                                   sampler_kwargs={"drmh": {"num_samples": 10000, "num_warmup": 3000}})
    for idata in posteriors.values():
        conv = convergence(idata)
        assert conv.converged, conv.failures
    agreement = compare_posteriors(posteriors["nuts"], posteriors["drmh"])
    assert agreement.agree, agreement.disagreements
    assert np.all(np.isfinite(posteriors["drmh"].posterior["F"].values))


@pytest.mark.slow
def test_nuts_and_drmh_agree_on_a_real_pa_posterior(engine_data):
    """The same for PA's eight rates (log s_j, splits u_j) and the noise levels."""
    problem = make_problem(engine_data, PairApproximation(), rtol=1e-6, atol=1e-9)
    posteriors, _ = infer_rates(problem, jax.random.key(9), num_samples=400, until_converged=True, max_samples=1200,
                                sampler_kwargs={"nuts": {"num_warmup": 300, "max_tree_depth": 6},
                                                "drmh": {"num_samples": 20000, "num_warmup": 5000,
                                                         "max_samples": 60000}})
    for idata in posteriors.values():
        conv = convergence(idata)
        assert conv.converged, conv.failures
        # Every kept draw has a finite F and log-likelihood (the likelihood and F solve alike).
        assert np.all(np.isfinite(idata.posterior["F"].values))
        assert np.all(np.isfinite(idata.log_likelihood["C_pair"].values))
    agreement = compare_posteriors(posteriors["nuts"], posteriors["drmh"])
    assert agreement.agree, agreement.disagreements
