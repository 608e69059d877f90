"""Global phases and sweeps of the checkerboard engine: swaps of any two sites (docs/model.md §3).

A global phase draws an anchor class ``(p, q)`` and a displacement ``Δ`` whose residue mod
``(s_a, s_b)`` is in `meanclust_jax.lattice.global_residues` (so that all sites of the phase are
pairwise at distance ≥ 2), and attempts the swaps ``(i, i + Δ)`` for all anchors ``i`` of the
class; a sweep is ``s_a s_b`` such phases, each drawn independently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float, Int, Int8, PRNGKeyArray

from ..lattice import NEIGHBOUR_VECTORS, global_residues
from ._engine import SweepCounts
from ._random import count_fields, count_fields_separately, materialise, phase_uniform
from ._reactions import SWEEP_COUNTS

if TYPE_CHECKING:
    from ._checkerboard import CheckerboardEngine

_V = np.asarray(NEIGHBOUR_VECTORS, dtype=np.int32)

State = Int8[Array, "sa sb R2 C2"]


def site_field(
    engine: CheckerboardEngine, y: State, p: Int[Array, ""], q: Int[Array, ""]
) -> tuple[Int8[Array, "R C"], Float[Array, "R C"]]:
    """``(m, F)`` for every site of class ``(p, q)``: ``F`` over all 6 triangles and neighbours."""
    b, c, g = engine.coefficients
    lay = engine.layout
    m = lay.near(y, p, q, jnp.int32(0), jnp.int32(0))
    n = [lay.near(y, p, q, *jnp.asarray(_V[r])) for r in range(6)]
    F = jnp.zeros((lay.R, lay.C), jnp.float32)
    if b or g:
        F = F + (2 * b + g) * sum(n).astype(jnp.float32)
    if c:
        F = F + c * sum(n[r] * n[(r + 1) % 6] for r in range(6)).astype(jnp.float32)
    return m, F


def global_phase(
    engine: CheckerboardEngine, y: State, key: PRNGKeyArray, T: Float[Array, ""]
) -> tuple[State, SweepCounts]:
    """One global phase: a random anchor class and displacement ``Δ``, all pairs ``(i, i + Δ)``;
    returns the new state and the phase's counts (accepted, attempted swaps of unequal species)."""
    lay = engine.layout
    sa, sb, R, C = lay.sa, lay.sb, lay.R, lay.C
    residues = jnp.asarray(global_residues(sa, sb) or ((0, 0),), dtype=jnp.int32)
    kp, kq, kr, km, kn, ku = jax.random.split(key, 6)
    p = jax.random.randint(kp, (), 0, sa, dtype=jnp.int32)
    q = jax.random.randint(kq, (), 0, sb, dtype=jnp.int32)
    delta = residues[jax.random.randint(kr, (), 0, residues.shape[0], dtype=jnp.int32)]
    pa = p + delta[0] + sa * jax.random.randint(km, (), 0, R, dtype=jnp.int32)
    qb = q + delta[1] + sb * jax.random.randint(kn, (), 0, C, dtype=jnp.int32)
    if engine.fused_rng:
        u = phase_uniform(ku, (R, C), tie=y[0, 0, 0, 0])
    else:
        u = jax.random.uniform(ku, (R, C), dtype=jnp.float32)
    pj, qj, carry = pa % sa, qb % sb, (pa // sa, qb // sb)
    m_i, F_i = site_field(engine, y, p, q)
    m_j, F_j = site_field(engine, y, pj, qj)
    m_j = jnp.roll(m_j, (-carry[0], -carry[1]), axis=(0, 1))
    F_j = jnp.roll(F_j, (-carry[0], -carry[1]), axis=(0, 1))
    dE = (m_j - m_i).astype(jnp.float32) * (F_i - F_j)
    unlike = m_i != m_j
    accept = unlike & (u < jnp.exp(-dE / T))
    if engine.fused_rng:
        accept = materialise(accept)
    y = lay.write_interior(y, p, q, jnp.where(accept, m_j, m_i))
    y = lay.write_interior(y, pj, qj, jnp.roll(jnp.where(accept, m_i, m_j), carry, axis=(0, 1)))
    count = count_fields if engine.fused_rng else count_fields_separately
    return lay.refresh_halo(y), count([accept, unlike])


def global_sweep(
    engine: CheckerboardEngine, key: PRNGKeyArray, y: State, T: Float[Array, ""], index: Int[Array, ""]  # noqa: ARG001 - interface
) -> tuple[State, SweepCounts]:
    """``s_a s_b`` global phases, each with its own random class and displacement."""
    keys = jax.random.split(key, engine.layout.n_classes)

    def body(carry: tuple[State, SweepCounts], k: PRNGKeyArray) -> tuple[tuple[State, SweepCounts], None]:
        y, n = carry
        y, dn = global_phase(engine, y, k, T)
        return (y, n + dn), None

    (y, n), _ = lax.scan(body, (y, jnp.zeros(len(SWEEP_COUNTS), jnp.int32)), keys)
    return y, n


__all__ = ["global_phase", "global_sweep", "site_field"]
