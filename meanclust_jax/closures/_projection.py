"""Exact Euclidean projection onto the feasible set of eq. (16) (paper Section IV.B; docs/model.md §5).

For one triplet type, in the packed form ``z = [γ_++, γ_--, γ_+-, ξ_+, ξ_-]`` with sign vector
``a`` (``+1`` on the γ of the pair types of τ, ``−1`` on its ξ, ``0`` elsewhere), the feasible set is

    { z : l ≤ z ≤ u,  a·z = 1 },   l, u = (0, δ) on γ, (β1, β2) on ξ, (0, 0) on absent entries.

Its projection is ``z(λ) = clip(y + λ a, l, u)`` where the multiplier ``λ`` solves
``φ(λ) = a·z(λ) − 1 = 0``; ``φ`` is continuous, piecewise linear and non-decreasing. We bracket
the root, bisect to float64 resolution, and finish with one exact solve of the linear piece
(the active set at the bisection point), so the result satisfies ``a·z = 1`` to round-off.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import AnyArray, Array, Float, Int
from . import _structure as S

_BISECTION_STEPS = 80


def packed_bounds(bounds: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds, shape ``(16, 5)`` each, of the packed vectors of all types."""
    b1, b2, d = bounds
    lower = np.where(S.PACKED_MASK, np.array([0.0, 0.0, 0.0, b1, b1]), 0.0)
    upper = np.where(S.PACKED_MASK, np.array([d, d, d, b2, b2]), 0.0)
    return lower, upper


def infeasible_types(lower: np.ndarray, upper: np.ndarray) -> list[str]:
    """Labels of the types whose box ``[lower, upper]`` (shape ``(16, 5)`` each) contains no
    point with ``sign·z = 1``: the set is non-empty iff ``min a·z ≤ 1 ≤ max a·z`` over the box."""
    from .._labels import TRIPLETS

    sign = S.PACKED_SIGN
    hi = np.where(sign > 0, upper, np.where(sign < 0, lower, 0.0)) * sign
    lo = np.where(sign > 0, lower, np.where(sign < 0, upper, 0.0)) * sign
    with np.errstate(invalid="ignore"):
        hi, lo = np.nansum(hi, axis=1), np.nansum(lo, axis=1)
    return [TRIPLETS[t] for t in range(len(TRIPLETS)) if not (lo[t] <= 1.0 <= hi[t])]


def check_feasible(bounds: tuple[float, float, float]) -> None:
    """Raise `ValueError` if some type has an empty feasible set under ``bounds = (β1, β2, δ)``."""
    bad = infeasible_types(*packed_bounds(bounds))
    if bad:
        b1, b2, d = bounds
        raise ValueError(
            f"bounds (beta1={b1}, beta2={b2}, delta={d}) leave no exponents with "
            f"sum(gamma) - sum(xi) = 1 for the types {bad}; widen delta or lower beta1"
        )


def project_packed(
    y: Float[Array, " 5"],
    sign: Float[Array, " 5"],
    lower: Float[Array, " 5"],
    upper: Float[Array, " 5"],
) -> Float[Array, " 5"]:
    """Euclidean projection of ``y`` onto ``{l ≤ z ≤ u, sign·z = 1}`` (one type; vmap for more).

    **Arguments:**

    - `y`: float64 array ``(5,)``, packed exponents ``[γ_++, γ_--, γ_+-, ξ_+, ξ_-]``.
    - `sign`: float64 array ``(5,)``, ``+1`` (γ of τ), ``−1`` (ξ of τ) or ``0`` (absent).
    - `lower`, `upper`: float64 arrays ``(5,)``, box bounds (may be ``±inf``; ``0`` where absent).

    **Returns:**

    The projection, float64 array ``(5,)``. The feasible set must be non-empty
    (`check_feasible`); otherwise the result violates the equality constraint.
    """
    y = jnp.where(sign != 0, y, 0.0)

    def phi(lam: Float[Array, ""]) -> Float[Array, ""]:
        return jnp.dot(sign, jnp.clip(y + lam * sign, lower, upper)) - 1.0

    def finite(b: Float[Array, " 5"]) -> Float[Array, " 5"]:
        return jnp.where(jnp.isfinite(b), jnp.abs(b), 0.0)

    L = jnp.max(jnp.abs(y)) + jnp.max(finite(lower)) + jnp.max(finite(upper)) + 2.0

    Bracket = tuple[Float[Array, ""], Float[Array, ""]]

    def body(_: Int[Array, ""], bracket: Bracket) -> Bracket:
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        below = phi(mid) < 0
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = jax.lax.fori_loop(0, _BISECTION_STEPS, body, (-L, L))
    lam = 0.5 * (lo + hi)
    # Exact solve on the linear piece of φ that contains lam: free coordinates move with λ.
    v = y + lam * sign
    free = (sign != 0) & (v > lower) & (v < upper)
    clipped = jnp.clip(v, lower, upper)
    nfree = jnp.sum(free, dtype=y.dtype)
    rest = jnp.sum(jnp.where(free, sign * y, sign * clipped))
    lam_exact = (1.0 - rest) / jnp.maximum(nfree, 1)
    lam = jnp.where(nfree > 0, lam_exact, lam)
    return jnp.clip(y + lam * sign, lower, upper)


def project_exponents(
    gamma: Float[AnyArray, "16 3"],
    xi: Float[AnyArray, "16 2"],
    bounds: tuple[float, float, float],
) -> tuple[Float[Array, "16 3"], Float[Array, "16 2"]]:
    """Project the exponent tables of all 16 types onto the feasible set of eq. (16).

    **Arguments:**

    - `gamma`: array ``(16, 3)``; `xi`: array ``(16, 2)`` (exponents as in `OptimalApproximation`).
    - `bounds`: ``(β1, β2, δ)``; ``±inf`` allowed for the β's.

    **Returns:**

    ``(gamma, xi)`` projected: for each type the nearest point (Euclidean, in the packed
    exponents) with ``Σγ − Σξ = 1``, ``0 ≤ γ ≤ δ``, ``β1 ≤ ξ ≤ β2``, absent entries zero.

    **Raises:**

    - `ValueError` if the bounds leave some type with no feasible point.
    """
    bounds = tuple(float(b) for b in bounds)
    if any(math.isnan(b) for b in bounds):
        raise ValueError(f"bounds must not be NaN; got {bounds}")
    check_feasible(bounds)
    lower, upper = packed_bounds(bounds)
    z = jnp.concatenate([jnp.asarray(gamma, float), jnp.asarray(xi, float)], axis=-1)
    p = jax.vmap(project_packed)(z, jnp.asarray(S.PACKED_SIGN), jnp.asarray(lower), jnp.asarray(upper))
    return p[:, :3], p[:, 3:]
