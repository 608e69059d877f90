"""The sparse-approximation (SA) closed system and its two-parameter fit (eqs. 28–29; docs/model.md §6).

With the SA closure every triplet in the rate equations becomes ``w C+-`` and the closed system
(8) is linear:

    dC++/dt = 2 α1 C+-,   dC--/dt = 2 α2 C+-,   dC+-/dt = −(α1 + α2) C+-,

    α1 = (4/5) k1 + (1/5) k2 − (4/5) k3 − (1/5) k4,
    α2 = (4/5) k5 + (1/5) k6 − (4/5) k7 − (1/5) k8.

Its solution (eq. 29) with ``s = α1 + α2`` and ``τ = t − t0`` is

    C+-(t) = C+-0 e^{−sτ},   C++(t) = C++0 + 2α1 C+-0 φ(τ),   C--(t) = C--0 + 2α2 C+-0 φ(τ),

with ``φ(τ) = (1 − e^{−sτ})/s`` (→ ``τ`` as ``s → 0``). This is the paper's eq. (29) rewritten
so that it stays finite at ``α1 + α2 = 0``. The paper reports ``(α1, α2) = (−0.083, −0.166)``
in its own (unstated) time unit.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float

from .._custom_types import AnyArray
from .._optim import keep_best_descent
from .._precision import require_float64
from .._validate import check_float, check_int
from ._misfit import trapezoid_misfit
from ._system import check_times


def sparse_alphas(K: Float[Array, "*batch 8"]) -> Float[Array, "*batch 2"]:
    """``(α1, α2)`` of eq. (28) from the eight rates.

    **Arguments:**

    - `K`: rates ``(k1, ..., k8)``, shape ``(*batch, 8)``, units 1 / time.

    **Returns:**

    ``(α1, α2)``, shape ``(*batch, 2)``, units 1 / time.
    """
    K = jnp.asarray(K)
    a1 = 0.8 * K[..., 0] + 0.2 * K[..., 1] - 0.8 * K[..., 2] - 0.2 * K[..., 3]
    a2 = 0.8 * K[..., 4] + 0.2 * K[..., 5] - 0.8 * K[..., 6] - 0.2 * K[..., 7]
    return jnp.stack([a1, a2], axis=-1)


def _phi(s: Array, tau: Array) -> Array:
    """``(1 − e^{−s τ}) / s`` with its ``s → 0`` limit, differentiable everywhere."""
    x = s * tau
    small = jnp.abs(x) < 1e-6
    s_safe = jnp.where(small, 1.0, s)
    x_safe = jnp.where(small, 1.0, x)
    exact = -jnp.expm1(-x_safe) / s_safe
    series = tau * (1.0 - 0.5 * x + x * x / 6.0)
    return jnp.where(small, series, exact)


def sparse_solution(
    alpha: Float[Array, "*batch 2"],
    C_pair0: Float[Array, " 3"],
    ts: Float[Array, " times"],
    t0: float | Float[Array, ""] | None = None,
) -> Float[Array, "*batch times 3"]:
    """Closed-form solution (29) of the SA-closed system (28).

    **Arguments:**

    - `alpha`: ``(α1, α2)``, shape ``(*batch, 2)``, units 1 / time.
    - `C_pair0`: ``(C_++, C_--, C_+-)`` at ``t0``, shape ``(3,)``.
    - `ts`: output times, shape ``(times,)``.
    - `t0`: initial time; default ``ts[0]``.

    **Returns:**

    ``(C_++, C_--, C_+-)`` at ``ts``, shape ``(*batch, times, 3)``, float64. ``+inf`` may appear
    where ``−(α1+α2)(t−t0)`` overflows.

    **Raises:**

    - `RuntimeError` if float64 is off (call `meanclust_jax.enable_float64()` first).
    """
    require_float64("sparse_solution")
    alpha = jnp.asarray(alpha, dtype=jnp.float64)
    ts = jnp.asarray(ts, dtype=jnp.float64)
    C_pair0 = jnp.asarray(C_pair0, dtype=jnp.float64)
    t0 = ts[0] if t0 is None else jnp.asarray(t0, dtype=jnp.float64)
    a1 = alpha[..., 0, None]
    a2 = alpha[..., 1, None]
    s = a1 + a2
    tau = (ts - t0).reshape((1,) * (s.ndim - 1) + ts.shape)
    phi = _phi(s, tau)
    cpm = C_pair0[2] * jnp.exp(-s * tau)
    cpp = C_pair0[0] + 2.0 * a1 * C_pair0[2] * phi
    cmm = C_pair0[1] + 2.0 * a2 * C_pair0[2] * phi
    return jnp.stack([cpp, cmm, cpm], axis=-1)


def sparse_misfit(
    alpha: Float[Array, "*batch 2"],
    ts: Float[Array, " times"],
    C_data: Float[Array, "times 3"],
    C_pair0: Float[Array, " 3"] | None = None,
) -> Float[Array, " *batch"]:
    """The loss (17) of the SA model as a function of ``(α1, α2)`` (the problem of eq. 28).

    Only the trajectory term ``½ ∫ |C(t; α) − Ĉ(t)|² dt`` enters: for SA every equilibrium
    constant predicted by the closure is 1, and ``Q(K)`` is not a function of ``(α1, α2)``.
    Non-finite predictions give ``+inf``.

    **Arguments:**

    - `alpha`: shape ``(*batch, 2)``.
    - `ts`: data times, shape ``(times,)``.
    - `C_data`: data pairs, shape ``(times, 3)``.
    - `C_pair0`: initial pairs at ``ts[0]``; default ``C_data[0]``.

    **Returns:**

    The misfit, shape ``(*batch,)``.
    """
    C_data = jnp.asarray(C_data, dtype=jnp.float64)
    C0 = C_data[0] if C_pair0 is None else jnp.asarray(C_pair0, dtype=jnp.float64)
    pred = sparse_solution(alpha, C0, ts)
    ok = jnp.all(jnp.isfinite(pred), axis=(-2, -1))
    pred = jnp.where(ok[..., None, None], pred, C_data)
    value = trapezoid_misfit(jnp.asarray(ts, dtype=jnp.float64), pred, C_data)
    return jnp.where(ok & jnp.isfinite(value), value, jnp.inf)


class SparseFit(eqx.Module):
    """Result of `fit_sparse`.

    **Fields:**

    - `alpha`: the best ``(α1, α2)``, shape ``(2,)``, units 1 / time.
    - `loss`: its misfit ``F(α1, α2)``, scalar.
    - `C_pair`: the fitted trajectory on the data times, shape ``(times, 3)``.
    - `candidates`: the polished minima from every start, shape ``(starts, 2)``.
    - `candidate_losses`: their misfits, shape ``(starts,)``.
    """

    alpha: Float[Array, " 2"]
    loss: Float[Array, ""]
    C_pair: Float[Array, "times 3"]
    candidates: Float[Array, "starts 2"]
    candidate_losses: Float[Array, " starts"]


def fit_sparse(
    ts: Float[AnyArray, " times"],
    C_data: Float[AnyArray, "times 3"],
    *,
    C_pair0: Float[Array, " 3"] | None = None,
    alpha_range: float | None = None,
    grid_size: int = 41,
    num_starts: int = 4,
    num_steps: int = 100,
) -> SparseFit:
    """Fit ``(α1, α2)`` of the SA model by direct minimisation (paper Section VI.D, eq. 28).

    A ``grid_size × grid_size`` grid over ``[−alpha_range, alpha_range]²`` locates the basins; the
    ``num_starts`` best grid points are polished with L-BFGS (optax), vectorised over starts;
    the best minimum wins.

    **Arguments:**

    - `ts`: data times, shape ``(times,)``, strictly increasing.
    - `C_data`: data ``(C_++, C_--, C_+-)``, shape ``(times, 3)``.
    - `C_pair0`: initial pairs; default ``C_data[0]``.
    - `alpha_range`: half-width of the search grid, units 1 / time; default
      ``10 / (ts[-1] − ts[0])``.
    - `grid_size`: points per axis of the grid, ``>= 2``.
    - `num_starts`: grid points polished, ``>= 1``.
    - `num_steps`: L-BFGS iterations per start, ``>= 0``.

    **Returns:**

    A `SparseFit`.

    **Raises:**

    - `ValueError` for a bad time grid, mismatched shapes or out-of-range settings.
    - `RuntimeError` if float64 is off (call `meanclust_jax.enable_float64()` first).
    """
    require_float64("fit_sparse")
    check_times(ts, "ts")
    if np.shape(C_data) != (np.shape(ts)[0], 3):
        raise ValueError(
            f"C_data must have shape (len(ts), 3) = ({np.shape(ts)[0]}, 3) on the same time "
            f"grid as ts, got {np.shape(C_data)}"
        )
    grid_size = check_int(grid_size, "grid_size", minimum=2)
    num_starts = check_int(num_starts, "num_starts", minimum=1)
    num_steps = check_int(num_steps, "num_steps", minimum=0)
    ts = jnp.asarray(ts, dtype=jnp.float64)
    C_data = jnp.asarray(C_data, dtype=jnp.float64)
    if alpha_range is None:
        alpha_range = 10.0 / float(ts[-1] - ts[0])
    alpha_range = check_float(alpha_range, "alpha_range", minimum=0.0, open_min=True)
    return _fit_sparse(
        ts, C_data, C_pair0, float(alpha_range), int(grid_size), int(num_starts), int(num_steps)
    )


@eqx.filter_jit
def _fit_sparse(ts, C_data, C_pair0, alpha_range, grid_size, num_starts, num_steps):  # noqa: ANN001, ANN202
    def f(alpha):  # noqa: ANN001, ANN202
        return sparse_misfit(alpha, ts, C_data, C_pair0)

    axis = jnp.linspace(-alpha_range, alpha_range, grid_size)
    grid = jnp.stack(jnp.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    values = f(grid)
    order = jnp.argsort(jnp.where(jnp.isfinite(values), values, jnp.inf))
    starts = grid[order[:num_starts]]

    opt = optax.lbfgs()
    value_and_grad = jax.value_and_grad(f)

    def polish(x0):  # noqa: ANN001, ANN202
        return keep_best_descent(f, value_and_grad, opt, x0, num_steps, pass_value=True)

    cands, cand_losses = jax.vmap(polish)(starts)
    best = jnp.argmin(jnp.where(jnp.isfinite(cand_losses), cand_losses, jnp.inf))
    alpha = cands[best]
    C0 = C_data[0] if C_pair0 is None else C_pair0
    return SparseFit(
        alpha=alpha,
        loss=cand_losses[best],
        C_pair=sparse_solution(alpha, C0, ts),
        candidates=cands,
        candidate_losses=cand_losses,
    )


__all__ = ["SparseFit", "fit_sparse", "sparse_alphas", "sparse_misfit", "sparse_solution"]
