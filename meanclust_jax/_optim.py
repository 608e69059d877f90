"""The keep-best descent loop shared by every fit in the package: the rate multistart
(`inference._optimise`), the sparse closure's polish (`ode._sparse`) and the projected Adam of the
optimal closure's calibration (`closures._calibration`).

An optax optimiser runs for a fixed number of steps inside `jax.lax.scan` (so it compiles once and
vectorises over starts with `jax.vmap`). Every start keeps the best point it visited, and a step
whose value or gradient is not finite (an ODE solve that failed, ``F = +inf``) is not taken: the
walk restarts from the best point so far with the optimiser state of before. The returned point is
the best of all iterates including the last.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float

__all__ = ["keep_best_descent"]


def keep_best_descent(
    value_fn: Callable[[Float[Array, " n"]], Float[Array, ""]],
    value_and_grad: Callable[[Float[Array, " n"]], tuple[Float[Array, ""], Float[Array, " n"]]],
    optimizer: optax.GradientTransformation,
    x0: Float[Array, " n"],
    num_steps: int,
    *,
    project: Callable[[Float[Array, " n"]], Float[Array, " n"]] | None = None,
    pass_value: bool = False,
    on_step: Callable[[Array], None] | None = None,
) -> tuple[Float[Array, " n"], Float[Array, ""]]:
    """Run ``num_steps`` steps of ``optimizer`` from ``x0`` and return the best point visited.

    **Arguments:**

    - `value_fn`: the objective, ``(n,) float -> () float``; evaluated once at the end.
    - `value_and_grad`: ``x -> (value, gradient)`` of the same objective (reverse or forward
      mode, the caller's choice).
    - `optimizer`: an optax gradient transformation (Adam, L-BFGS, ...).
    - `x0`: the start, shape ``(n,)``, float.
    - `num_steps`: number of steps (a static Python int).
    - `project`: optional projection applied after every step (projected gradient methods).
    - `pass_value`: pass ``value``, ``grad`` and ``value_fn`` to ``optimizer.update`` (needed by
      optax's line-search optimisers such as `optax.lbfgs`).
    - `on_step`: optional host function ``on_step(i)`` called through `jax.debug.callback` after
      step ``i`` (0-based int32 scalar); under `jax.vmap` it may be called once per step or once
      per step and batch element, so count with ``i + 1``, not by calls. Used for progress bars.

    **Returns:** ``(x_best, value_best)``: the iterate with the smallest finite value (``x0`` and
    ``+inf`` if no value was finite).

    Pure JAX, no checks: callers validate their inputs before compiling.
    """

    def body(carry, i):  # noqa: ANN001, ANN202
        x, state, best_x, best_v = carry
        v, g = value_and_grad(x)
        good = jnp.isfinite(v) & jnp.all(jnp.isfinite(g))
        better = good & (v < best_v)
        best_x = jnp.where(better, x, best_x)
        best_v = jnp.where(better, v, best_v)
        g = jnp.where(good, g, 0.0)
        extra = {"value": v, "grad": g, "value_fn": value_fn} if pass_value else {}
        # optax.lbfgs's update mixes int32 and int64 indices (`memory_idx + jnp.arange(...)`),
        # which JAX's strict dtype promotion refuses; standard promotion for this call only.
        with jax.numpy_dtype_promotion("standard"):
            updates, new_state = optimizer.update(g, state, x, **extra)
        new_x = optax.apply_updates(x, updates)
        if project is not None:
            new_x = project(new_x)
        # A failed evaluation restarts the walk from the best point visited so far.
        x = jnp.where(good, new_x, best_x)
        state = jax.tree.map(lambda a, b: jnp.where(good, a, b), new_state, state)
        if on_step is not None:
            jax.debug.callback(on_step, i)
        return (x, state, best_x, best_v), None

    init = (x0, optimizer.init(x0), x0, jnp.asarray(jnp.inf, dtype=x0.dtype))
    (x, _, best_x, best_v), _ = jax.lax.scan(body, init, jnp.arange(num_steps, dtype=jnp.int32))
    v = value_fn(x)
    better = jnp.isfinite(v) & (v < best_v)
    return jnp.where(better, x, best_x), jnp.where(better, v, best_v)
