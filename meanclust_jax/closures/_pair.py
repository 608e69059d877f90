"""The classical pair approximation (paper Section IV.A, eq. (13), Table I; docs/model.md §5)."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

from .._custom_types import Array, Float
from . import _structure as S
from ._base import AbstractMonomialClosure, register_closure


@register_closure
class PairApproximation(AbstractMonomialClosure):
    """Pair approximation with the Keeling/Morris clustering correction for triangles.

    Linear and angled triplets (eq. (13a, b)):

        g_ijk = w C_ij C_jk / C_j,

    triangles (eq. (13c)):

        g_ijk = w C_ij C_jk C_ik / (C_i C_j C_k),

    with ``w = 1/5, 2/5, 2/5`` for linear, angled and triangular triplets. It is exact on an
    uncorrelated (infinite-temperature) lattice. As exponents (Table II, "PA" columns):
    ``γ = 2, ξ = 1`` for ``+++`` (open); ``γ = 3, ξ = 3`` for ``tri:+++``;
    ``γ1 = 1, γ2 = 2, ξ1 = 2, ξ2 = 1`` for ``tri:++-``. Note that the triangular exponents have
    ``Σγ − Σξ = 0``, so PA is *not* a feasible point of the optimal approximation's constraint
    (16) for triangles; it is feasible (under both presets) for every linear and angled type.

    **Example:**

    ```python
    closure = PairApproximation()
    g = closure(jnp.array([2 / 3, 1 / 3]), jnp.array([0.4, 0.0667, 0.2667]))  # shape (16,)
    ```
    """

    kind: ClassVar[str] = "pair"

    def exponents(self) -> tuple[Float[Array, "16 3"], Float[Array, "16 2"]]:
        """``(gamma, xi)`` of eq. (13): shapes ``(16, 3)`` and ``(16, 2)``."""
        return jnp.asarray(S.PA_GAMMA), jnp.asarray(S.PA_XI)
