"""Time-integrated squared misfit of pair trajectories: the first term of the loss (17)."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float


def trapezoid_misfit(
    ts: Float[Array, " times"],
    C_model: Float[Array, "*batch times 3"],
    C_data: Float[Array, "times 3"],
) -> Float[Array, " *batch"]:
    """``½ ∫ |C(t) − Ĉ(t)|² dt`` over the grid ``ts`` by the trapezoid rule (eq. 17, first term).

    **Arguments:**

    - `ts`: time grid, shape ``(times,)``, strictly increasing, model time units.
    - `C_model`: model pair concentrations on ``ts``, shape ``(*batch, times, 3)``.
    - `C_data`: data pair concentrations on ``ts``, shape ``(times, 3)``.

    **Returns:**

    The misfit, shape ``(*batch,)``, units of concentration² × time.
    """
    C_model, C_data = jnp.asarray(C_model), jnp.asarray(C_data)
    sq = jnp.sum((C_model - jnp.broadcast_to(C_data, C_model.shape)) ** 2, axis=-1)
    dt = jnp.broadcast_to(jnp.diff(ts), sq[..., 1:].shape)
    return 0.5 * jnp.sum(0.5 * dt * (sq[..., 1:] + sq[..., :-1]), axis=-1)


__all__ = ["trapezoid_misfit"]
