"""Coordinates of the rate vector adapted to what the pair data can identify (issue 10, item 2).

In the closed pair system (8) each pair of rates enters through one window pair with an angled
and a linear triplet, e.g. ``dC++/dt ∋ 4 k1 C∠(+-+) + 2 k2 C—(+-+)``. Under the pair
approximation the angled and linear triplets of one pattern are proportional,
``C∠ = 2 C—`` (shape weights 2/5 and 1/5 times the same ``C_ij C_jk / C_j``), so that term is
``(2/5)(4k1 + k2) P(+-+)``: the trajectory depends on the eight rates only through the four
combinations

    s1 = 4k1 + k2,   s2 = 4k3 + k4,   s3 = 4k5 + k6,   s4 = 4k7 + k8          (1/time)

(the equilibrium term of eq. (17) adds the ratios ``Q(K)``). For other closures the angled and
linear triplets differ and the split of each ``s_j`` is identified, but weakly. The samplers
therefore move in

    z = (log s1, …, log s4, u1, …, u4),    u_j = 4 k_{2j-1} / s_j ∈ (0, 1),

(the fraction of ``s_j`` carried by the angled reaction): the well-determined ``log s_j`` and
the poorly determined ``u_j`` are separate coordinates, so the posterior has no curved ridge in
these coordinates, whereas in ``log K`` the constraint ``4k1 + k2 = s1`` is an L-shaped valley.
The map is a bijection of ``(0, ∞)⁸`` onto ``ℝ⁴ × (0, 1)⁴``:
``k_{2j-1} = u_j s_j / 4``, ``k_{2j} = (1 − u_j) s_j``.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import AnyArray

#: Labels of the identifiable combinations ``s_j`` (the ``combination`` coordinate of posteriors).
IDENTIFIABLE_NAMES: tuple[str, ...] = ("4k1+k2", "4k3+k4", "4k5+k6", "4k7+k8")
#: Labels of the split fractions ``u_j = 4k_{2j-1}/s_j``.
SPLIT_NAMES: tuple[str, ...] = ("4k1/(4k1+k2)", "4k3/(4k3+k4)", "4k5/(4k5+k6)", "4k7/(4k7+k8)")


def identifiable_combinations(K: Float[AnyArray, "*batch 8"]) -> Float[Array, "*batch 4"]:
    """``s = (4k1 + k2, 4k3 + k4, 4k5 + k6, 4k7 + k8)`` of rates ``K``.

    **Arguments:**

    - `K`: rates ``(k1, …, k8)``, shape ``(*batch, 8)``, units 1 / model time.

    **Returns:**

    ``s``, shape ``(*batch, 4)``, units 1 / model time.
    """
    K = jnp.asarray(K)
    return 4.0 * K[..., 0::2] + K[..., 1::2]


def split_fractions(K: Float[AnyArray, "*batch 8"]) -> Float[Array, "*batch 4"]:
    """``u_j = 4 k_{2j-1} / s_j``, the angled reaction's share of each ``s_j`` (0 where ``s_j = 0``).

    **Arguments:**

    - `K`: rates, shape ``(*batch, 8)``, non-negative.

    **Returns:**

    ``u``, shape ``(*batch, 4)``, in ``[0, 1]``.
    """
    K = jnp.asarray(K)
    s = identifiable_combinations(K)
    safe = jnp.where(s > 0, s, 1.0)
    return jnp.where(s > 0, 4.0 * K[..., 0::2] / safe, 0.0)


def rates_from_combinations(
    s: Float[Array, "*batch 4"], u: Float[Array, "*batch 4"]
) -> Float[Array, "*batch 8"]:
    """The inverse map ``(s, u) ↦ K``: ``k_{2j-1} = u_j s_j / 4``, ``k_{2j} = (1 − u_j) s_j``.

    **Arguments:**

    - `s`: identifiable combinations, shape ``(*batch, 4)``, positive, 1 / model time.
    - `u`: split fractions, shape ``(*batch, 4)``, in ``[0, 1]``.

    **Returns:**

    ``K``, shape ``(*batch, 8)`` in the order ``k1, …, k8``.
    """
    s = jnp.asarray(s)
    u = jnp.asarray(u)
    odd = u * s / 4.0
    even = (1.0 - u) * s
    return jnp.stack([odd, even], axis=-1).reshape(*s.shape[:-1], 8)


__all__ = [
    "IDENTIFIABLE_NAMES",
    "SPLIT_NAMES",
    "identifiable_combinations",
    "rates_from_combinations",
    "split_fractions",
]
