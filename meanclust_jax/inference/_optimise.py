"""Multistart point estimate of the rates (problem (18); the initial point ``Y1`` of Algorithm 1).

Each start is a random positive ``K``; the minimisation runs in ``θ = log K`` (so rates stay
positive) with Adam (optax) and a cosine-decayed learning rate, vectorised over starts with
`jax.vmap`; gradients are forward-mode (`jax.jacfwd` with `diffrax.ForwardMode`). Evaluations that fail (``F = +inf``) are not taken as steps; every start keeps the
best point it visited. The best over the starts is ``Y1``; the spread of the minima shows how
ill-posed the problem is (paper Section V).
"""

from __future__ import annotations

import dataclasses

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PRNGKeyArray

from .._precision import require_float64
from ._loss import RateProblem


class MultistartResult(eqx.Module):
    """Result of `multistart`.

    **Fields:**

    - `best`: ``Y1``, the best rates found, shape ``(8,)``, units 1 / model time.
    - `best_loss`: ``F(Y1)``, scalar.
    - `minima`: the best point of every start, shape ``(starts, 8)``.
    - `losses`: their ``F``, shape ``(starts,)`` (``+inf`` for starts that never left a failing
      region).
    - `starts`: the initial points, shape ``(starts, 8)``.
    - `spread`: per-rate relative spread (standard deviation / |mean|) of the minima whose ``F``
      is within a factor ``1 + spread_rtol`` of the best, shape ``(8,)``; 0 if only one.
    """

    best: Float[Array, " 8"]
    best_loss: Float[Array, ""]
    minima: Float[Array, "starts 8"]
    losses: Float[Array, " starts"]
    starts: Float[Array, "starts 8"]
    spread: Float[Array, " 8"]


def multistart(
    problem: RateProblem,
    key: PRNGKeyArray,
    *,
    num_starts: int = 16,
    num_steps: int = 300,
    learning_rate: float = 0.05,
    start_low: float | None = None,
    start_high: float | None = None,
    solver: str | diffrax.AbstractSolver | None = None,
    spread_rtol: float = 0.1,
) -> MultistartResult:
    """Minimise ``F(K)`` from ``num_starts`` random positive starts, vectorised over starts.

    **Arguments:**

    - `problem`: the `RateProblem`.
    - `key`: a JAX PRNG key; the same key gives identical results.
    - `num_starts`: number of starts, ``>= 1``.
    - `num_steps`: Adam steps per start, ``>= 1``.
    - `learning_rate`: initial Adam learning rate in ``log K``, ``> 0``.
    - `start_low`, `start_high`: starts are log-uniform in ``[start_low, start_high]`` (units
      1 / model time); defaults ``0.01 / span`` and ``10 / span`` with ``span`` the data's
      time span.
    - `solver`: solver used during the minimisation; default ``diffrax.Tsit5()`` because under
      `jax.vmap` the ``"auto"`` solver evaluates its implicit fallback for every start (a start
      that wanders into a stiff region then simply counts as failed). Pass ``"auto"`` to keep
      the problem's solver.
    - `spread_rtol`: tolerance defining the near-optimal minima of `MultistartResult.spread`.

    **Returns:**

    A `MultistartResult`; ``best_loss`` is re-evaluated with the problem's own solver.

    **Raises:**

    - `ValueError` for out-of-range settings.
    - `RuntimeError` if float64 is off (call `meanclust_jax.enable_float64()` first).
    """
    require_float64("multistart")
    if int(num_starts) < 1:
        raise ValueError(f"num_starts must be >= 1, got {num_starts}")
    if int(num_steps) < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate}")
    span = float(problem.data.times[-1] - problem.data.times[0])
    low = 0.01 / span if start_low is None else float(start_low)
    high = 10.0 / span if start_high is None else float(start_high)
    if not (np.isfinite(low) and np.isfinite(high) and 0 < low <= high):
        raise ValueError(
            f"start_low and start_high must satisfy 0 < start_low <= start_high < inf, "
            f"got ({low}, {high})"
        )
    if solver is None:
        solver = diffrax.Tsit5()
    if isinstance(solver, str) and solver != "auto":
        raise ValueError(f"solver must be None, 'auto' or a diffrax solver, got {solver!r}")
    opt_problem = problem if isinstance(solver, str) else dataclasses.replace(problem, solver=solver)
    # Eight parameters: forward-mode derivatives are cheaper to run and to compile.
    opt_problem = opt_problem.forward_mode()
    u = jax.random.uniform(key, (int(num_starts), 8), dtype=jnp.float64)
    starts = jnp.exp(jnp.log(low) + u * (jnp.log(high) - jnp.log(low)))
    minima, losses = _run(opt_problem, starts, int(num_steps), float(learning_rate))
    finite = jnp.isfinite(losses)
    idx = jnp.argmin(jnp.where(finite, losses, jnp.inf))
    best = minima[idx]
    best_loss = _loss(problem, best)
    near = finite & (losses <= losses[idx] * (1.0 + spread_rtol) + 1e-300)
    w = near.astype(jnp.float64)[:, None]
    n = jnp.maximum(jnp.sum(w), 1.0)
    mean = jnp.sum(w * minima, axis=0) / n
    var = jnp.sum(w * (minima - mean) ** 2, axis=0) / n
    spread = jnp.where(jnp.abs(mean) > 0, jnp.sqrt(var) / jnp.abs(mean), 0.0)
    return MultistartResult(
        best=best, best_loss=best_loss, minima=minima, losses=losses, starts=starts, spread=spread
    )


@eqx.filter_jit
def _loss(problem, K):  # noqa: ANN001, ANN202
    return problem.loss(K)


@eqx.filter_jit
def _run(problem, starts, num_steps, learning_rate):  # noqa: ANN001, ANN202
    schedule = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.05)
    opt = optax.adam(schedule)

    def f(theta):  # noqa: ANN001, ANN202
        return problem.loss(jnp.exp(theta))

    # Forward mode (jvp over the 8 directions); the primal value comes out once as aux.
    grad_and_value = jax.jacfwd(lambda th: (f(th), f(th)), has_aux=True)

    def one(K0):  # noqa: ANN001, ANN202
        theta0 = jnp.log(K0)

        def body(carry, _):  # noqa: ANN001, ANN202
            theta, state, best_theta, best_v = carry
            g, v = grad_and_value(theta)
            good = jnp.isfinite(v) & jnp.all(jnp.isfinite(g))
            better = good & (v < best_v)
            best_theta = jnp.where(better, theta, best_theta)
            best_v = jnp.where(better, v, best_v)
            g = jnp.where(good, g, 0.0)
            updates, new_state = opt.update(g, state, theta)
            new_theta = optax.apply_updates(theta, updates)
            # A failed evaluation restarts the walk from the best point visited so far.
            theta = jnp.where(good, new_theta, best_theta)
            state = jax.tree.map(lambda a, b: jnp.where(good, a, b), new_state, state)
            return (theta, state, best_theta, best_v), None

        init = (theta0, opt.init(theta0), theta0, jnp.asarray(jnp.inf, dtype=jnp.float64))
        (theta, _, best_theta, best_v), _ = jax.lax.scan(body, init, None, length=num_steps)
        v = f(theta)
        better = jnp.isfinite(v) & (v < best_v)
        return jnp.exp(jnp.where(better, theta, best_theta)), jnp.where(better, v, best_v)

    return jax.vmap(one)(starts)


__all__ = ["MultistartResult", "multistart"]
