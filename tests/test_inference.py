"""The loss F(K) of eq. (17), its gradients, the data container and the multistart estimate."""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from helpers import C_PAIR0, C_SINGLE, K_TRUE, TS, clean_pairs, unchecked

from meanclust_jax.closures import OptimalApproximation, PairApproximation, SparseApproximation
from meanclust_jax.inference import PairData, make_problem, multistart
from meanclust_jax.ode import (
    closure_equilibrium_constants,
    equilibrium_constants,
    solve_pairs,
    trapezoid_misfit,
)


def _oa(key) -> OptimalApproximation:
    gamma, xi = PairApproximation().exponents()
    k1, k2 = jax.random.split(key)
    return OptimalApproximation(
        np.asarray(gamma) * (1 + 0.1 * np.asarray(jax.random.uniform(k1, gamma.shape, minval=-1))),
        np.asarray(xi) * (1 + 0.1 * np.asarray(jax.random.uniform(k2, xi.shape, minval=-1))),
    )


def _data(closure, K=K_TRUE, noise=0.0, key=None) -> PairData:
    C = clean_pairs(closure, K)
    if noise:
        C = C + noise * jax.random.normal(key, C.shape)
    return PairData(TS, C_SINGLE, C)


@pytest.mark.parametrize("closure_name", ["pa", "oa", "sa"])
def test_grad_matches_central_differences(closure_name, getkey):
    closure = {"pa": PairApproximation(), "sa": SparseApproximation()}.get(closure_name)
    if closure is None:
        closure = _oa(getkey())
    data = _data(PairApproximation(), noise=2e-3, key=getkey())
    problem = make_problem(data, closure, weight_a=0.3, solver=diffrax.Tsit5(), rtol=1e-11,
                           atol=1e-13)
    K = jax.random.uniform(getkey(), (8,), minval=0.1, maxval=1.0, dtype=jnp.float64)
    if closure_name == "sa":
        # α1, α2 > 0: the SA trajectory relaxes inside [0, 1] (outside it the closed system's
        # field is continued on the clipped state, which has a kink at the boundary).
        K = K.at[jnp.array([2, 3, 6, 7])].multiply(0.05)
    h = 1e-5

    @jax.jit
    def grad_and_fd(K):
        g = jax.grad(problem.loss)(K)
        eye = jnp.eye(8)
        fd = jax.vmap(lambda e: (problem.loss(K + h * e) - problem.loss(K - h * e)) / (2 * h))(eye)
        return g, fd

    g, fd = grad_and_fd(K)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8 * float(jnp.max(jnp.abs(fd))))
    if closure_name == "pa":
        # Forward mode (diffrax.ForwardMode + jax.jacfwd, used by NUTS and multistart) agrees.
        fwd = jax.jit(jax.jacfwd(problem.forward_mode().loss))(K)
        np.testing.assert_allclose(fwd, g, rtol=1e-8, atol=1e-12 * float(jnp.max(jnp.abs(g))))


def test_grad_in_closure_exponents_matches_central_differences(getkey):
    oa = _oa(getkey())
    data = _data(PairApproximation(), noise=2e-3, key=getkey())
    problem = make_problem(data, oa, weight_a=0.3, solver=diffrax.Tsit5(), rtol=1e-11, atol=1e-13)
    K = jax.random.uniform(getkey(), (8,), minval=0.1, maxval=1.0, dtype=jnp.float64)
    entries = (jnp.array([6, 10, 8]), jnp.array([0, 2, 2]))  # ang:+++ γ_++, ang:+-+ γ_+-, ang:++- γ_+-
    h = 1e-6

    def loss_of(gamma):
        return eqx.tree_at(lambda p: p.closure.gamma, problem, gamma).loss(K)

    @jax.jit
    def grad_and_fd(gamma):
        g = jax.grad(loss_of)(gamma)[entries]
        basis = jnp.zeros((3,) + gamma.shape).at[jnp.arange(3), entries[0], entries[1]].set(h)
        fd = jax.vmap(lambda d: (loss_of(gamma + d) - loss_of(gamma - d)) / (2 * h))(basis)
        return g, fd

    g, fd = grad_and_fd(problem.closure.gamma)
    np.testing.assert_allclose(g, fd, rtol=1e-5)


def test_loss_is_eq_17(getkey):
    closure = PairApproximation()
    data = _data(closure, noise=1e-3, key=getkey())
    K = K_TRUE * 1.3

    @jax.jit
    def parts(K):
        problem = make_problem(data, closure, weight_a=0.7, solver=diffrax.Tsit5())
        traj = solve_pairs(K, closure, C_SINGLE, data.C_pair[0], TS, solver=diffrax.Tsit5())
        return problem.loss(K), problem.loss_terms(K), traj.C_pair

    loss, (misfit_term, eq_term), C_model = parts(K)
    misfit = trapezoid_misfit(TS, C_model, data.C_pair)
    Q_hat = closure_equilibrium_constants(closure, C_SINGLE, data.C_pair[-1])
    expected_eq = 0.7 * jnp.sum((equilibrium_constants(K) - Q_hat) ** 2)
    np.testing.assert_allclose(loss, misfit + expected_eq, rtol=1e-12)
    np.testing.assert_allclose(misfit_term, misfit, rtol=1e-12)
    np.testing.assert_allclose(eq_term, expected_eq, rtol=1e-12)
    # The trapezoid rule against NumPy's.
    err = np.sum((np.asarray(C_model) - np.asarray(data.C_pair)) ** 2, axis=1)
    np.testing.assert_allclose(misfit, 0.5 * np.trapezoid(err, np.asarray(TS)), rtol=1e-12)


def test_failure_gives_inf_not_nan():
    closure = PairApproximation()
    data = _data(closure)
    problem = make_problem(data, closure, solver=diffrax.Tsit5(), max_steps=3)
    value_and_grad = jax.jit(jax.value_and_grad(lambda K: problem.loss(K)))
    value, grad = value_and_grad(K_TRUE)  # max_steps reached
    assert np.isposinf(float(value))
    assert not np.any(np.isnan(grad))
    # Invalid rates inside jit (no exception possible there) also give +inf, not NaN.
    for K in (K_TRUE.at[2].set(-0.1), K_TRUE.at[2].set(0.0), K_TRUE.at[2].set(jnp.nan)):
        value, grad = value_and_grad(K)
        assert np.isposinf(float(value)) and not np.any(np.isnan(grad))


def test_bad_input_raises():
    closure = PairApproximation()
    data = _data(closure)
    problem = make_problem(data, closure)
    with unchecked(), pytest.raises(ValueError, match=r"K must be non-negative rates in \[0, inf\)"):
        problem.loss(K_TRUE.at[0].set(-1.0))
    with unchecked(), pytest.raises(ValueError, match="K must be finite"):
        problem.loss(K_TRUE.at[0].set(jnp.nan))
    with unchecked(), pytest.raises(ValueError, match="mismatched"):
        PairData(TS, C_SINGLE, data.C_pair[:-1])
    with unchecked(), pytest.raises(ValueError, match="times must be strictly increasing"):
        PairData(TS[::-1], C_SINGLE, data.C_pair)
    with unchecked(), pytest.raises(ValueError,
                       match=r"C_pair contains NaN or infinite values; concentrations must lie in \[0, 1\]"):
        PairData(TS, C_SINGLE, data.C_pair.at[3, 1].set(jnp.inf))
    with unchecked(), pytest.raises(ValueError, match=r"weight_a must be a finite scalar in \[0, inf\)"):
        make_problem(data, closure, weight_a=-1.0)
    with unchecked(), pytest.raises(ValueError, match="num_starts must be >= 1"):
        multistart(problem, jax.random.key(0), num_starts=0)


def test_pair_data_from_dataset_averages_replicas():
    rng = np.random.default_rng(0)
    n_rep, n_t = 3, len(TS)
    base = np.asarray(_data(PairApproximation()).C_pair)
    C_pair = base[None] + 1e-3 * rng.standard_normal((n_rep, n_t, 3))
    C_single = np.broadcast_to(np.asarray(C_SINGLE), (n_rep, n_t, 2))
    ds = xr.Dataset(
        {
            "C_single": (("replica", "time", "species"), C_single),
            "C_pair": (("replica", "time", "pair"), C_pair),
            "temperature": (("time",), np.ones(n_t)),
        },
        coords={"time": np.asarray(TS) * 100, "species": ["+", "-"], "pair": ["++", "--", "+-"]},
    )
    data = PairData.from_dataset(ds, time_scale=0.01)
    np.testing.assert_allclose(data.times, TS, rtol=1e-12)
    np.testing.assert_allclose(data.C_pair, C_pair.mean(0), rtol=1e-12)
    one = PairData.from_dataset(ds, replica=1)
    np.testing.assert_allclose(one.C_pair, C_pair[1])
    np.testing.assert_allclose(one.times, np.asarray(TS) * 100)
    with unchecked(), pytest.raises(ValueError, match=r"replica must be 'mean' or an integer in \[0, 2\]"):
        PairData.from_dataset(ds, replica=5)
    with unchecked(), pytest.raises(ValueError, match="time_scale must be a finite number > 0"):
        PairData.from_dataset(ds, time_scale=0.0)


def test_multistart_finds_low_loss_and_is_deterministic():
    closure = PairApproximation()
    data = _data(closure)
    problem = make_problem(data, closure, weight_a=0.0, solver=diffrax.Tsit5())
    key = jax.random.key(3)
    res = multistart(problem, key, num_starts=4, num_steps=60)
    loss = jax.jit(jax.vmap(lambda K: problem.loss(K)))
    start_losses = loss(res.starts)
    assert np.all(np.asarray(res.losses) <= np.asarray(start_losses) + 1e-15)
    assert float(res.best_loss) <= float(jnp.min(res.losses)) * (1 + 1e-6) + 1e-15
    assert float(res.best_loss) < 0.1 * float(jnp.median(start_losses))
    assert res.best.shape == (8,) and np.all(np.asarray(res.best) > 0)
    assert res.spread.shape == (8,)
    again = multistart(problem, key, num_starts=4, num_steps=60)
    np.testing.assert_array_equal(np.asarray(again.minima), np.asarray(res.minima))


def _ordered_data() -> PairData:
    """Pairs of an ordering run at x = 1/3 whose C-- reaches exactly 0 (as the engine's data do)."""
    traj = solve_pairs(jnp.array([0.3, 0.2, 0.05, 0.04, 1e-6, 1e-6, 0.6, 0.3]), PairApproximation(),
                       C_SINGLE, C_PAIR0, TS, solver=diffrax.Tsit5(), rtol=1e-10, atol=1e-12)
    C = np.array(traj.C_pair)
    C[-5:, 1] = 0.0  # C-- = 0 at the last records
    C[-5:, 2] = (1 - C[-5:, 0]) / 2
    return PairData(TS, C_SINGLE, C)


EXTREME_RATES = [
    np.tile([1e-12, 1e6], 4),
    np.full(8, 1e6),
    np.full(8, 1e12),
    np.full(8, 1e-12),
    np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]),
    np.array([1e3, 1e-9, 5.0, 1e-9, 1e3, 1e-9, 5.0, 1e-9]),
]


@pytest.mark.parametrize("which", ["pa-smooth", "pa-ordered", "oa-ordered"])
def test_loss_and_gradients_finite_at_extreme_rates(which, getkey):
    """Regression (issue 14): ``jax.grad(problem.loss)`` was NaN where F was finite and raised
    ``JaxRuntimeError`` (lineax, non-finite linear systems of the implicit fallback) at K = 1e12,
    on data with C-- = 0 and K = 1e6. Now: F finite ⇒ both gradients finite; F = +inf ⇒ zero
    gradient; never an exception."""
    closure = _oa(getkey()) if which.startswith("oa") else PairApproximation()
    data = _data(PairApproximation()) if which == "pa-smooth" else _ordered_data()
    problem = make_problem(data, closure)
    rng = np.random.default_rng(0)
    rates = EXTREME_RATES + [np.exp(rng.uniform(np.log(1e-12), np.log(1e12), 8)) for _ in range(6)]
    fwd = problem.forward_mode()
    value = jax.jit(lambda k: problem.loss(k))
    grad_rev = jax.jit(jax.grad(lambda k: problem.loss(k)))
    grad_fwd = jax.jit(jax.jacfwd(lambda k: fwd.loss(k)))
    for K in rates:
        F = float(value(K))
        for g in (np.asarray(grad_rev(K)), np.asarray(grad_fwd(K))):
            assert not np.any(np.isnan(g)), (K, F, g)
            if np.isfinite(F):
                assert np.all(np.isfinite(g)), (K, F, g)
            else:
                assert F == np.inf and np.all(g == 0), (K, F, g)


def test_loss_does_not_depend_on_how_it_is_compiled():
    """Regression (issue 14): F(1e6) was +inf eagerly and under filter_jit but finite under
    ``jax.jit(lambda k: p.loss(k))`` (which solver branch ran depended on the compilation)."""
    problem = make_problem(_ordered_data(), PairApproximation())
    for K in EXTREME_RATES[:3] + [np.asarray(K_TRUE)]:
        K = jnp.asarray(K)
        eager = float(problem.loss(K))
        filtered = float(eqx.filter_jit(problem.loss)(K))
        closed = float(jax.jit(lambda k: problem.loss(k))(K))
        np.testing.assert_allclose([filtered, closed], eager, rtol=1e-9)


@pytest.mark.parametrize("bad", [dict(rtol=-1.0), dict(atol=-1.0), dict(rtol=0.0), dict(atol=np.nan),
                                 dict(rtol=2.0), dict(solver="kvaerno")])
def test_bad_solver_settings_are_refused(bad):
    """Regression (issue 14): ``rtol=-1`` gave F = 826.8 and ``atol=-1`` F = 448.9, silently."""
    data = _data(PairApproximation())
    name = next(iter(bad))
    with unchecked(), pytest.raises(ValueError, match=name):
        make_problem(data, PairApproximation(), **bad)
    if name != "solver":
        with unchecked(), pytest.raises(ValueError, match=name):
            solve_pairs(K_TRUE, PairApproximation(), C_SINGLE, C_PAIR0, TS, **bad)


def test_pure_phase_data_refused():
    n = TS.shape[0]
    with unchecked(), pytest.raises(ValueError, match=r"C_single must lie in \(0, 1\]"):
        PairData(TS, jnp.array([1.0, 0.0]), np.tile([1.0, 0.0, 0.0], (n, 1)))
