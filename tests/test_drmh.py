"""The delayed-rejection MH kernel: the paper's Algorithm 1 and adaptive DRAM (issue 10).

Exactness of both stages, statistics on known targets for both variants, the adaptation (learned
and then frozen), and the NumPyro adapter. Statistical tolerances are 4 Monte-Carlo standard
errors computed from ArviZ's ESS.
"""

from __future__ import annotations

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from helpers import unchecked
from numpyro.infer import MCMC
from numpyro.infer.initialization import init_to_value
from numpyro.infer.mcmc import MCMCKernel

from meanclust_jax.inference import (
    DelayedRejectionMH,
    DRMHDraws,
    DRMHState,
    dram_transition,
    drmh_draw,
    drmh_init,
    drmh_step,
    drmh_transition,
    second_stage_log_accept,
)

MEAN = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.8], [0.8, 1.0]])


def _ess(x: np.ndarray) -> float:
    """Bulk ESS of a (chain, draw) array."""
    return float(az.ess(np.asarray(x)))


def _check_moments(x: np.ndarray, mean: float, var: float, n_se: float = 4.0) -> None:
    """Mean and variance of ``x`` (chain, draw) within ``n_se`` ESS-based MC standard errors."""
    x = np.asarray(x, dtype=np.float64)
    m = x.mean()
    se_mean = x.std() / np.sqrt(_ess(x))
    assert abs(m - mean) < n_se * se_mean, (m, mean, se_mean)
    sq = (x - mean) ** 2
    se_var = sq.std() / np.sqrt(_ess(sq))
    assert abs(sq.mean() - var) < n_se * se_var, (sq.mean(), var, se_var)


def _gauss_model() -> None:
    # numpyro 0.22's MultivariateNormal.sample adds loc (2,) to a (1, 2) draw (implicit rank
    # promotion) when the initial point is drawn; allowed for this site only.
    with jax.numpy_rank_promotion("allow"):
        numpyro.sample("x", dist.MultivariateNormal(jnp.asarray(MEAN), jnp.asarray(COV)))


def _bounded_model() -> None:
    numpyro.sample("rate", dist.Gamma(2.0, 1.0))  # positive: mean 2, variance 2
    numpyro.sample("p", dist.Beta(2.0, 5.0))  # (0, 1): mean 2/7, variance 10/392


def test_is_an_mcmc_kernel():
    kernel = DelayedRejectionMH(_gauss_model)
    assert isinstance(kernel, MCMCKernel)
    assert kernel.model is _gauss_model
    assert kernel.sample_field == "z"


#: The two variants on the known targets: the paper's fixed uniform scales, and DRAM from its
#: default (unadapted, diagonal) start.
PAPER = dict(variant="paper", first_scale=2.0, second_scale=0.4)
DRAM = dict(variant="dram")


@pytest.mark.parametrize("kwargs", [PAPER, DRAM], ids=["paper", "dram"])
def test_correlated_gaussian(kwargs):
    kernel = DelayedRejectionMH(_gauss_model, **kwargs)
    mcmc = MCMC(kernel, num_warmup=500, num_samples=20000, num_chains=4,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.key(0), extra_fields=("accept_prob_1", "accept_prob_2"))
    x = np.asarray(mcmc.get_samples(group_by_chain=True)["x"])  # (chain, draw, 2)
    for i in range(2):
        _check_moments(x[..., i], MEAN[i], COV[i, i])
    # Covariance: E[(x0 − μ0)(x1 − μ1)] = 0.8.
    prod = (x[..., 0] - MEAN[0]) * (x[..., 1] - MEAN[1])
    se = prod.std() / np.sqrt(_ess(prod))
    assert abs(prod.mean() - COV[0, 1]) < 4 * se
    stage = np.asarray(mcmc.get_extra_fields()["accept_stage"])
    assert 0.05 < np.mean(stage == 1) < 0.9 and np.mean(stage == 2) > 0.05
    idata = az.from_numpyro(mcmc, log_likelihood=False)
    for name in ("accept_stage", "accept_prob_1", "accept_prob_2", "lp"):
        assert name in idata.sample_stats


@pytest.mark.parametrize(
    "kwargs",
    # The flattened latent vector follows `jax.flatten_util.ravel_pytree`: sites sorted by name.
    [dict(variant="paper", first_scale=jnp.array([0.3, 2.5]), second_scale=jnp.array([0.05, 0.5])),
     dict(variant="dram"), dict(variant="dram", space="constrained")],
    ids=["paper-constrained", "dram-unconstrained", "dram-constrained"],
)
def test_bounded_positive_target(kwargs):
    """Constrained-space walk: proposals outside the support are rejected, no Jacobian; the
    unconstrained walk includes NumPyro's log-Jacobian."""
    kernel = DelayedRejectionMH(_bounded_model, **kwargs)
    mcmc = MCMC(kernel, num_warmup=500, num_samples=20000, num_chains=4,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.key(1))
    s = mcmc.get_samples(group_by_chain=True)
    assert float(jnp.min(s["rate"])) > 0 and 0 < float(jnp.min(s["p"])) <= float(jnp.max(s["p"])) < 1
    _check_moments(s["rate"], 2.0, 2.0)
    _check_moments(s["p"], 2 / 7, 10 / (49 * 8))


@pytest.mark.parametrize("kwargs", [dict(variant="paper", first_scale=1.0, second_scale=0.2), DRAM],
                         ids=["paper", "dram"])
def test_unconstrained_space_simplex(kwargs):
    """``space="unconstrained"`` handles supports without interior (a simplex)."""

    def model() -> None:
        numpyro.sample("w", dist.Dirichlet(jnp.array([2.0, 3.0, 5.0])))

    kernel = DelayedRejectionMH(model, space="unconstrained", **kwargs)
    mcmc = MCMC(kernel, num_warmup=500, num_samples=10000, num_chains=2,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.key(2))
    w = np.asarray(mcmc.get_samples(group_by_chain=True)["w"])
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-12)
    # Dirichlet(2, 3, 5): mean 0.5 and variance 0.5·0.5/11 for the last component.
    _check_moments(w[..., 2], 0.5, 0.25 / 11)


def test_first_stage_almost_always_rejects_but_second_stage_mixes():
    target_sd = 0.05

    def potential(z):
        return 0.5 * jnp.sum((z / target_sd) ** 2)

    kernel = DelayedRejectionMH(potential_fn=potential, first_scale=20.0, second_scale=0.1,
                                variant="paper")
    mcmc = MCMC(kernel, num_warmup=200, num_samples=20000, num_chains=4,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.key(3), init_params=jnp.zeros((4, 2)))
    stage = np.asarray(mcmc.get_extra_fields()["accept_stage"])
    assert np.mean(stage == 1) < 0.01  # first stage: essentially never
    assert np.mean(stage == 2) > 0.3  # the second stage carries the chain
    z = np.asarray(mcmc.get_samples(group_by_chain=True))
    for i in range(2):
        _check_moments(z[..., i], 0.0, target_sd**2)
        assert _ess(z[..., i]) > 500


def _hand_alpha2(x, y1, y2, s1, logp):
    """Eq. (24) written out with NumPy for uniform proposals."""
    def p(v):
        return np.exp(logp(v))
    a1_x = min(1.0, p(y1) / p(x))
    a1_y2 = min(1.0, p(y1) / p(y2))
    vol = np.prod(2 * s1)
    q1_y1_from_x = 1 / vol
    q1_y1_from_y2 = (1 / vol) if np.all(np.abs(y1 - y2) <= s1) else 0.0
    num = p(y2) * q1_y1_from_y2 * (1 - a1_y2)
    den = p(x) * q1_y1_from_x * (1 - a1_x)
    return min(1.0, num / den)


def test_two_stage_acceptance_matches_hand_computation():
    def logp(v):
        v = np.asarray(v)
        return -0.5 * (v[0] ** 2 + 4 * v[1] ** 2 + v[0] * v[1])

    def logp_jax(v):

        return -0.5 * (v[0] ** 2 + 4 * v[1] ** 2 + v[0] * v[1])
    s1 = np.array([1.5, 1.0])
    s2 = np.array([0.3, 0.2])
    rng = np.random.default_rng(7)
    transition = jax.jit(lambda x, d: drmh_transition(drmh_init(x, logp_jax), d, logp_jax, s1, s2))
    checked = {"accept2": 0, "reject2": 0, "indicator_zero": 0}
    for _ in range(40):
        x = rng.normal(size=2) * 0.3
        draws = DRMHDraws(
            xi1=jnp.asarray(rng.uniform(-1, 1, 2)),
            u1=jnp.asarray(0.999999),  # forces the second stage unless α1 = 1
            xi2=jnp.asarray(rng.uniform(-1, 1, 2)),
            u2=jnp.asarray(rng.uniform()),
        )
        new, info = transition(jnp.asarray(x), draws)
        y1 = x + s1 * np.asarray(draws.xi1)
        y2 = x + s2 * np.asarray(draws.xi2)
        a1 = min(1.0, np.exp(logp(y1) - logp(x)))
        np.testing.assert_allclose(float(info.first_accept_prob), a1, rtol=1e-12)
        if a1 > 0.999999:
            assert int(info.stage) == 1
            continue
        a2 = _hand_alpha2(x, y1, y2, s1, logp)
        np.testing.assert_allclose(float(info.second_accept_prob), a2, rtol=1e-10, atol=1e-300)
        accepted = float(draws.u2) < a2
        assert int(info.stage) == (2 if accepted else 0)
        np.testing.assert_allclose(np.asarray(new.position), y2 if accepted else x, rtol=1e-15)
        checked["accept2" if accepted else "reject2"] += 1
        checked["indicator_zero"] += int(np.any(np.abs(y1 - y2) > s1))
    assert checked["accept2"] > 0 and checked["reject2"] > 0


def test_first_stage_proposal_density_ratio_is_included():
    """If y1 cannot be proposed from y2 (|y1 − y2| > σ1) the second stage must reject."""
    def logp(v):
        return -0.5 * jnp.sum(v**2)
    s1, s2 = jnp.array([1.0]), jnp.array([0.5])
    x = jnp.array([0.0])
    draws = DRMHDraws(xi1=jnp.array([0.99]), u1=jnp.asarray(0.9999),
                      xi2=jnp.array([-0.5]), u2=jnp.asarray(0.0))
    _, info = drmh_transition(drmh_init(x, logp), draws, logp, s1, s2)
    # y1 = 0.99, y2 = −0.25: |y1 − y2| = 1.24 > σ1, so q1(y1 | y2) = 0 and α2 = 0 even though
    # π(y2) > π(x)·(1 − α1) would otherwise give a positive acceptance.
    assert float(info.second_accept_prob) == 0.0 and int(info.stage) == 0
    log_a2_without_ratio = second_stage_log_accept(logp(x), logp(jnp.array([0.99])),
                                                   logp(jnp.array([-0.25])), 0.0, 0.0)
    assert float(jnp.exp(log_a2_without_ratio)) > 0.3


def test_same_key_same_chain_and_vectorized_equals_sequential():
    def run(chain_method):
        kernel = DelayedRejectionMH(_gauss_model, first_scale=2.0, second_scale=0.4, variant="paper",
                                    init_strategy=init_to_value(values={"x": jnp.zeros(2)}))
        mcmc = MCMC(kernel, num_warmup=10, num_samples=300, num_chains=2,
                    chain_method=chain_method, progress_bar=False)
        mcmc.run(jax.random.key(11))
        return np.asarray(mcmc.get_samples(group_by_chain=True)["x"])

    a, c = run("vectorized"), run("sequential")
    np.testing.assert_allclose(a, c, rtol=1e-13)
    # The pure core is deterministic too.
    def logp(v):
        return -0.5 * jnp.sum(v**2)
    st = drmh_init(jnp.ones(3), logp)
    s1 = drmh_step(jax.random.key(5), st, logp, 1.0, 0.1)
    s2 = drmh_step(jax.random.key(5), st, logp, 1.0, 0.1)
    np.testing.assert_array_equal(np.asarray(s1[0].position), np.asarray(s2[0].position))
    d = drmh_draw(jax.random.key(5), 3)
    assert float(jnp.max(jnp.abs(d.xi1))) <= 1 and 0 <= float(d.u1) < 1


def test_default_scales_are_paper_fractions_of_init():
    init = jnp.array([0.5, 2.0])
    kernel = DelayedRejectionMH(lambda: numpyro.sample("k", dist.Uniform(0.0, 10.0).expand([2]).to_event(1)),
                                init_strategy=init_to_value(values={"k": init}), variant="paper")
    state = kernel.init(jax.random.key(0), 0, None, (), {})
    np.testing.assert_allclose(state.first_scale, 0.1 * init, rtol=1e-12)
    np.testing.assert_allclose(state.second_scale, 0.01 * init, rtol=1e-12)
    np.testing.assert_allclose(state.z["k"], init, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(first_scale=-1.0), r"first_scale must be finite and > 0"),
        (dict(second_scale=jnp.array([0.1, jnp.nan])), r"second_scale must be finite and > 0"),
        (dict(space="logit"), r"space must be 'constrained' or 'unconstrained'"),
        (dict(variant="mala"), r"variant must be one of \('dram', 'paper'\)"),
        (dict(second_scale=0.1), r"second_scale is the paper variant's"),
        (dict(second_stage_factor=0.0), r"second_stage_factor must be in \(0, 1\]"),
        (dict(second_stage_factor=1.5), r"second_stage_factor must be in \(0, 1\]"),
        (dict(initial_covariance=np.array([[1.0, 2.0], [2.0, 1.0]])), "positive definite"),
        (dict(initial_covariance=np.eye(2), first_scale=1.0), "either first_scale or initial_covariance"),
        (dict(initial_covariance=np.eye(2), variant="paper"), "applies to variant='dram' only"),
    ],
)
def test_bad_kernel_arguments(kwargs, match):
    with unchecked(), pytest.raises(ValueError, match=match):
        DelayedRejectionMH(_gauss_model, **kwargs)


def test_bad_kernel_usage():
    with unchecked(), pytest.raises(ValueError, match="exactly one of model and potential_fn"):
        DelayedRejectionMH()
    kernel = DelayedRejectionMH(_gauss_model, first_scale=jnp.ones(3))
    with unchecked(), pytest.raises(ValueError, match=r"first_scale must be a float or an array over the flattened"):
        kernel.init(jax.random.key(0), 0, None, (), {})
    kernel = DelayedRejectionMH(_gauss_model, initial_covariance=np.eye(3))
    with unchecked(), pytest.raises(ValueError, match=r"initial_covariance must have shape \(2, 2\)"):
        kernel.init(jax.random.key(0), 0, None, (), {})
    with unchecked(), pytest.raises(ValueError, match="init_params must be given"):
        DelayedRejectionMH(potential_fn=lambda z: jnp.sum(z**2)).init(jax.random.key(0), 0, None, (), {})

    def discrete() -> None:
        numpyro.sample("n", dist.Poisson(3.0))

    with unchecked(), pytest.raises(ValueError, match="continuous latent sites"):
        DelayedRejectionMH(discrete).init(jax.random.key(0), 0, None, (), {})


def test_core_state_is_a_namedtuple():
    st = drmh_init(jnp.zeros(2), lambda v: -jnp.sum(v**2))
    assert isinstance(st, DRMHState) and st._fields == ("position", "logdensity")


def test_dram_second_stage_matches_hand_computation():
    """Tierney–Mira with Gaussian first-stage densities ``q1(y1 | ·) = N(y1; ·, C)``."""
    def logp(v):
        return -0.5 * (v[0] ** 2 + 4 * v[1] ** 2 + v[0] * v[1])
    C = np.array([[2.0, 0.6], [0.6, 1.0]])
    L = np.linalg.cholesky(C)
    gamma = 0.2
    rng = np.random.default_rng(3)
    step = jax.jit(lambda x, d: dram_transition(drmh_init(x, logp), d, logp, jnp.asarray(L), gamma))

    def q1(y, center):
        d = y - center
        return np.exp(-0.5 * d @ np.linalg.solve(C, d)) / (2 * np.pi * np.sqrt(np.linalg.det(C)))

    def p(v):

        return float(np.exp(logp(v)))
    seen = {2: 0, 0: 0}
    for _ in range(40):
        x = rng.normal(size=2) * 0.3
        d = DRMHDraws(xi1=jnp.asarray(rng.normal(size=2)), u1=jnp.asarray(0.999999),
                      xi2=jnp.asarray(rng.normal(size=2)), u2=jnp.asarray(rng.uniform()))
        new, info = step(jnp.asarray(x), d)
        y1 = x + L @ np.asarray(d.xi1)
        y2 = x + gamma * L @ np.asarray(d.xi2)
        a1_x, a1_y2 = min(1, p(y1) / p(x)), min(1, p(y1) / p(y2))
        np.testing.assert_allclose(float(info.first_accept_prob), a1_x, rtol=1e-12)
        if a1_x > 0.999999:
            continue
        a2 = min(1.0, p(y2) * q1(y1, y2) * (1 - a1_y2) / (p(x) * q1(y1, x) * (1 - a1_x)))
        np.testing.assert_allclose(float(info.second_accept_prob), a2, rtol=1e-10, atol=1e-300)
        stage = int(info.stage)
        assert stage == (2 if float(d.u2) < a2 else 0)
        np.testing.assert_allclose(np.asarray(new.position), y2 if stage == 2 else x, rtol=1e-13, atol=1e-15)
        seen[stage] += 1
    assert seen[2] > 0 and seen[0] > 0


def test_dram_adapts_during_warmup_then_freezes():
    """The proposal covariance is learned in the warm-up (≈ s_d Σ) and frozen afterwards."""
    kernel = DelayedRejectionMH(_gauss_model)
    mcmc = MCMC(kernel, num_warmup=4000, num_samples=2000, num_chains=2,
                chain_method="vectorized", progress_bar=False)
    mcmc.warmup(jax.random.key(8))
    chol_warm = np.asarray(mcmc.post_warmup_state.proposal_chol)
    mcmc.run(jax.random.key(9))
    chol_end = np.asarray(mcmc.last_state.proposal_chol)
    np.testing.assert_array_equal(chol_end, chol_warm)  # frozen: the kept chain is Markov
    learned = chol_warm[0] @ chol_warm[0].T
    target = (2.38**2 / 2) * COV
    # A covariance estimated from ~2000 correlated warm-up draws: 25% on each entry is a
    # loose bound that an unadapted (diagonal 0.1) proposal misses by a factor ~30.
    np.testing.assert_allclose(learned, target, rtol=0.25, atol=0.25 * target[0, 1])
    np.testing.assert_array_equal(np.asarray(mcmc.last_state.adapt_count),
                                  np.asarray(mcmc.post_warmup_state.adapt_count))


def test_dram_vectorized_equals_sequential():
    def run(chain_method):
        kernel = DelayedRejectionMH(_gauss_model, init_strategy=init_to_value(values={"x": jnp.zeros(2)}))
        mcmc = MCMC(kernel, num_warmup=300, num_samples=300, num_chains=2,
                    chain_method=chain_method, progress_bar=False)
        mcmc.run(jax.random.key(12))
        return np.asarray(mcmc.get_samples(group_by_chain=True)["x"])

    np.testing.assert_allclose(run("vectorized"), run("sequential"), rtol=1e-12)
