"""The closed mean-cluster ODE (docs/model.md §6): conservation, SA closed form, Q(K), failures, input."""

from __future__ import annotations

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import unchecked

from meanclust_jax._labels import TRIPLET_INDEX
from meanclust_jax.closures import OptimalApproximation, PairApproximation, SparseApproximation
from meanclust_jax.ode import (
    AUTO_EXPLICIT_STEPS,
    closure_equilibrium_constants,
    equilibrium_constants,
    fit_sparse,
    pair_rhs,
    solve_pairs,
    sparse_alphas,
    sparse_misfit,
    sparse_solution,
)

C_SINGLE = jnp.array([2 / 3, 1 / 3])
C_PAIR0 = jnp.array([4 / 9, 1 / 9, 2 / 9])  # random lattice at x = 1/3
TS = jnp.linspace(0.0, 4.0, 41)


def _perturbed_oa(key) -> OptimalApproximation:
    """PA's exponents, randomly perturbed (a generic OA that is still well behaved)."""
    gamma, xi = PairApproximation().exponents()
    k1, k2 = jax.random.split(key)
    return OptimalApproximation(
        np.asarray(gamma) * (1 + 0.1 * np.asarray(jax.random.uniform(k1, gamma.shape, minval=-1))),
        np.asarray(xi) * (1 + 0.1 * np.asarray(jax.random.uniform(k2, xi.shape, minval=-1))),
    )


def _random_rates(key, scale=1.0):
    return scale * jax.random.uniform(key, (8,), minval=0.05, maxval=1.0, dtype=jnp.float64)


@pytest.mark.parametrize("closure_name", ["pa", "sa", "oa"])
def test_conservation(closure_name, getkey):
    closure = {"pa": PairApproximation(), "sa": SparseApproximation()}.get(closure_name)
    if closure is None:
        closure = _perturbed_oa(getkey())
    K = _random_rates(getkey())
    traj = jax.jit(
        lambda K: solve_pairs(K, closure, C_SINGLE, C_PAIR0, TS, solver=diffrax.Tsit5())
    )(K)
    assert bool(traj.ok)
    invariant = traj.C_pair @ jnp.array([1.0, 1.0, 2.0])
    # Explicit Runge–Kutta methods keep linear invariants to round-off.
    assert float(jnp.max(jnp.abs(invariant - 1.0))) < 1e-12


def test_rhs_is_paper_eq_5():
    """dC+-/dt of eq. (5c), term by term, equals −(dC++/dt + dC--/dt)/2 (normalisation (6))."""
    K = jnp.arange(1.0, 9.0) / 10
    Cp = jnp.array([0.4, 0.05, 0.275])
    closure = PairApproximation()
    g = closure(C_SINGLE, Cp)
    def ang(p):
        return g[TRIPLET_INDEX[f"ang:{p}"]]
    def lin(p):
        return g[TRIPLET_INDEX[f"lin:{p}"]]
    k1, k2, k3, k4, k5, k6, k7, k8 = K
    dpm_5c = (
        2 * k3 * ang("++-") + 2 * k7 * ang("--+") + k4 * lin("++-") + k8 * lin("--+")
        - 2 * k1 * ang("+-+") - 2 * k5 * ang("-+-") - k2 * lin("+-+") - k6 * lin("-+-")
    )
    dpp_5a = 4 * k1 * ang("+-+") + 2 * k2 * lin("+-+") - 4 * k3 * ang("++-") - 2 * k4 * lin("++-")
    rhs = pair_rhs(K, closure, C_SINGLE, Cp)
    np.testing.assert_allclose(rhs[2], dpm_5c, rtol=1e-12)
    np.testing.assert_allclose(rhs[0], dpp_5a, rtol=1e-12)


def test_equilibrium_rates_make_rhs_vanish():
    """Rates with Q(K) = Q̂(C*) (eq. 7) make C* a fixed point of the closed system."""
    closure = PairApproximation()
    Cp = jnp.array([0.38, 0.06, 0.28])
    Q_hat = closure_equilibrium_constants(closure, C_SINGLE, Cp)
    k_fwd = jnp.array([0.7, 0.3, 0.5, 0.2])  # k1, k2, k5, k6
    k_bwd = k_fwd / Q_hat  # k3, k4, k7, k8
    K = jnp.array([k_fwd[0], k_fwd[1], k_bwd[0], k_bwd[1], k_fwd[2], k_fwd[3], k_bwd[2], k_bwd[3]])
    np.testing.assert_allclose(equilibrium_constants(K), Q_hat, rtol=1e-12)
    np.testing.assert_allclose(pair_rhs(K, closure, C_SINGLE, Cp), 0.0, atol=1e-14)


def test_equilibrium_constants_edge_cases():
    K = jnp.array([1.0, 2.0, 4.0, 0.0, 1.0, 1.0, 2.0, 8.0])
    Q = equilibrium_constants(K)
    np.testing.assert_allclose(Q[jnp.array([0, 2, 3])], [0.25, 0.5, 0.125])
    assert np.isposinf(float(Q[1]))

    def finite_sum(K):
        q = equilibrium_constants(K)
        return jnp.sum(jnp.where(jnp.isfinite(q), q, 0.0))

    assert not np.any(np.isnan(jax.grad(finite_sum)(K)))
    # SA: every triplet is w C+-, so all four equilibrium constants are 1.
    np.testing.assert_allclose(
        closure_equilibrium_constants(SparseApproximation(), C_SINGLE, C_PAIR0), 1.0, rtol=1e-12
    )


def test_sparse_numeric_matches_closed_form(getkey):
    solve = jax.jit(lambda K: solve_pairs(K, SparseApproximation(), C_SINGLE, C_PAIR0, TS,
                                          solver=diffrax.Tsit5(), rtol=1e-10, atol=1e-12))
    for _ in range(3):
        # α1, α2 > 0: the trajectory relaxes inside the physical range [0, 1], where the closed
        # system is eq. (8) exactly (outside it the field is continued on the clipped state).
        K = _random_rates(getkey()).at[jnp.array([2, 3, 6, 7])].multiply(0.05)
        traj = solve(K)
        closed = sparse_solution(sparse_alphas(K), C_PAIR0, TS)
        assert float(jnp.min(closed)) > 0 and float(jnp.max(closed)) < 1
        np.testing.assert_allclose(traj.C_pair, closed, rtol=1e-8, atol=1e-10)


def test_sparse_closed_form_limit_and_gradient():
    """At α1 + α2 = 0 the closed form is the linear limit, with finite gradients."""
    alpha = jnp.array([0.3, -0.3])
    closed = sparse_solution(alpha, C_PAIR0, TS)
    np.testing.assert_allclose(closed[:, 2], C_PAIR0[2], rtol=1e-14)
    np.testing.assert_allclose(closed[:, 0], C_PAIR0[0] + 2 * 0.3 * C_PAIR0[2] * TS, rtol=1e-12)
    near = sparse_solution(alpha + jnp.array([1e-9, 0.0]), C_PAIR0, TS)
    np.testing.assert_allclose(near, closed, atol=1e-8)
    g = jax.grad(lambda a: jnp.sum(sparse_solution(a, C_PAIR0, TS) ** 2))(alpha)
    assert np.all(np.isfinite(g))
    invariant = closed @ jnp.array([1.0, 1.0, 2.0])
    np.testing.assert_allclose(invariant, 1.0, rtol=1e-12)


def test_fit_sparse_recovers_alpha(getkey):
    alpha_true = jnp.array([-0.083, -0.166])  # the paper's values (its own time unit)
    data = sparse_solution(alpha_true, C_PAIR0, TS)
    fit = fit_sparse(TS, data)
    np.testing.assert_allclose(fit.alpha, alpha_true, rtol=1e-5, atol=1e-7)
    assert float(fit.loss) < 1e-12
    noisy = data + 1e-3 * jax.random.normal(getkey(), data.shape)
    fit_noisy = fit_sparse(TS, noisy)
    assert float(fit_noisy.loss) <= float(sparse_misfit(alpha_true, TS, noisy)) + 1e-15
    np.testing.assert_allclose(fit_noisy.alpha, alpha_true, atol=0.01)


def test_stiff_rates_fall_back_to_implicit(getkey):
    K = _random_rates(getkey(), scale=2000.0)
    solve = jax.jit(lambda K, solver: solve_pairs(K, PairApproximation(), C_SINGLE, C_PAIR0, TS,
                                                  solver=solver), static_argnums=1)
    auto = solve(K, "auto")
    assert bool(auto.ok)
    assert int(auto.num_steps) > AUTO_EXPLICIT_STEPS  # the explicit attempt gave up
    ref = solve(K, diffrax.Kvaerno5())
    np.testing.assert_allclose(auto.C_pair, ref.C_pair, rtol=1e-10)
    # Conservation with the implicit solver: its stages are solved to the controller's
    # tolerance (rtol = 1e-7), so the invariant holds to that tolerance.
    invariant = auto.C_pair @ jnp.array([1.0, 1.0, 2.0])
    assert float(jnp.max(jnp.abs(invariant - 1.0))) < 1e-8


def test_failure_is_reported_not_raised(getkey):
    K = _random_rates(getkey())
    traj = solve_pairs(K, PairApproximation(), C_SINGLE, C_PAIR0, TS,
                       solver=diffrax.Tsit5(), max_steps=2)
    assert not bool(traj.ok)
    assert traj.result == diffrax.RESULTS.max_steps_reached


@pytest.mark.parametrize(
    "K, match",
    [
        (jnp.array([0.1, 0.2, -0.3, 0.1, 0.1, 0.1, 0.1, 0.1]), r"K must be non-negative.*\[0, inf\)"),
        (jnp.array([0.1, jnp.nan, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1]), r"K must be finite.*\[0, inf\)"),
        (jnp.array([0.1, jnp.inf, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1]), r"K must be finite"),
        (jnp.ones(7), r"K must have shape \(8,\)"),
    ],
)
def test_bad_rates_raise(K, match):
    with unchecked(), pytest.raises(ValueError, match=match):
        solve_pairs(K, PairApproximation(), C_SINGLE, C_PAIR0, TS)


def test_bad_time_grids_raise():
    K = jnp.full(8, 0.1)
    with unchecked(), pytest.raises(ValueError, match="ts must be strictly increasing"):
        solve_pairs(K, PairApproximation(), C_SINGLE, C_PAIR0, jnp.array([0.0, 2.0, 1.0]))
    with unchecked(), pytest.raises(ValueError, match="ts must be a 1-D grid of at least 2"):
        solve_pairs(K, PairApproximation(), C_SINGLE, C_PAIR0, jnp.array([0.0]))
    with unchecked(), pytest.raises(ValueError, match="C_data must have shape"):
        fit_sparse(TS, jnp.zeros((TS.shape[0] - 1, 3)))
    with unchecked(), pytest.raises(ValueError, match="max_steps must be an integer >= 1"):
        solve_pairs(K, PairApproximation(), C_SINGLE, C_PAIR0, TS, max_steps=0)


def test_vector_field_is_finite_off_the_physical_range(getkey):
    """Regression: a fractional-exponent closure at a negative or infinite trial state gave NaN,
    and an implicit solver's linear solve raised on it (seen with NUTS and solver="auto")."""
    from meanclust_jax.ode._system import _vector_field

    oa = _perturbed_oa(getkey())
    K = _random_rates(getkey())
    for y in (jnp.array([-0.1, 0.5, 0.3]), jnp.array([jnp.inf, 0.1, 0.2]), jnp.array([0.0, 0.0, 2.0])):
        dy = _vector_field(0.0, y, (K, oa, C_SINGLE))
        assert bool(jnp.all(jnp.isfinite(dy))), y
        J = jax.jacfwd(lambda v: _vector_field(0.0, v, (K, oa, C_SINGLE)))(y)
        assert bool(jnp.all(jnp.isfinite(J))), y
    # inside the physical range it is exactly eq. (8)
    y = C_PAIR0
    np.testing.assert_array_equal(_vector_field(0.0, y, (K, oa, C_SINGLE)), pair_rhs(K, oa, C_SINGLE, y))
