"""The shared keep-best descent loop (`meanclust_jax._optim.keep_best_descent`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from meanclust_jax._optim import keep_best_descent


def _quadratic(x):
    return jnp.sum((x - jnp.array([1.0, -2.0])) ** 2)


def test_reaches_minimum_of_quadratic():
    x, v = keep_best_descent(_quadratic, jax.value_and_grad(_quadratic), optax.adam(0.1),
                             jnp.zeros(2), 500)
    np.testing.assert_allclose(np.asarray(x), [1.0, -2.0], atol=1e-3)
    assert float(v) == float(_quadratic(x))


def test_keeps_best_iterate_not_last():
    # Plain gradient descent with too large a step diverges: the best iterate is the start.
    x0 = jnp.array([0.5, -1.5])
    x, v = keep_best_descent(_quadratic, jax.value_and_grad(_quadratic), optax.sgd(1.5), x0, 20)
    np.testing.assert_array_equal(np.asarray(x), np.asarray(x0))
    assert float(v) == float(_quadratic(x0))


def test_non_finite_step_not_taken():
    # F = +inf for x[0] > 0.5 (a failed solve): the walk never reports a point there and
    # restarts from the best point when it steps into that region.
    def f(x):
        return jnp.where(x[0] > 0.5, jnp.inf, _quadratic(x))

    x, v = keep_best_descent(f, jax.value_and_grad(f), optax.adam(0.05), jnp.zeros(2), 300)
    assert np.isfinite(float(v))
    assert float(x[0]) <= 0.5
    assert float(v) < float(f(jnp.zeros(2)))


def test_projection_keeps_iterates_feasible():
    project = lambda x: jnp.clip(x, 0.0, 0.25)  # noqa: E731
    x, _ = keep_best_descent(_quadratic, jax.value_and_grad(_quadratic), optax.adam(0.1),
                             jnp.zeros(2), 300, project=project)
    np.testing.assert_allclose(np.asarray(x), [0.25, 0.0], atol=1e-6)


def test_no_finite_value_returns_start_and_inf():
    f = lambda x: jnp.inf * jnp.sum(x**2 + 1.0)  # noqa: E731
    x0 = jnp.array([0.3, 0.4])
    x, v = keep_best_descent(f, jax.value_and_grad(f), optax.adam(0.1), x0, 10)
    np.testing.assert_array_equal(np.asarray(x), np.asarray(x0))
    assert float(v) == np.inf


def test_line_search_optimiser_gets_value():
    x, v = keep_best_descent(_quadratic, jax.value_and_grad(_quadratic), optax.lbfgs(),
                             jnp.zeros(2), 20, pass_value=True)
    np.testing.assert_allclose(np.asarray(x), [1.0, -2.0], atol=1e-6)
