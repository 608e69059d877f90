"""Local (Kawasaki) phases and sweeps of the checkerboard engine (docs/model.md §3).

A local phase takes one direction ``v_k`` (``k = (sweep index) mod 3``) and one anchor class
``(p, q)`` and attempts the swaps of all bonds ``(i, i + v_k)`` with ``i ≡ (p, q) mod (s_a, s_b)``;
a sweep visits the ``s_a s_b`` classes in a fixed order, so every bond of direction ``v_k`` is
attempted once. The energy change comes from integer neighbour counts (see
`meanclust_jax.engine._checkerboard`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float, Int, Int8, PRNGKeyArray

from ..lattice import NEIGHBOUR_VECTORS
from ._engine import SweepCounts
from ._random import count_fields, count_fields_separately, materialise, phase_uniform
from ._reactions import chain_fields, sweep_count_names

if TYPE_CHECKING:
    from ._checkerboard import CheckerboardEngine

_V = np.asarray(NEIGHBOUR_VECTORS, dtype=np.int32)

State = Int8[Array, "sa sb R2 C2"]


def local_energy_field(engine: CheckerboardEngine, n: list, nj: dict) -> Float[Array, "R C"]:
    """``F_i - F_j`` of the module docstring for a local swap ``(i, j = i + v_k)``.

    `n[r]` holds ``m`` at ``i + v_{k+r}`` (``r = 1..5``), `nj[r]` at ``j + v_{k+r}``
    (``r = 4, 5, 0, 1, 2``); each is an ``(R, C)`` int8 array over the anchors of a phase.
    """
    b, c, g = engine.coefficients
    R, C = engine.layout.R, engine.layout.C
    # i's triangles without j: (v_{k+r}, v_{k+r+1}), r = 1..4; j's without i: r = 4, 5, 0, 1.
    tri_i = [(n[r], n[r + 1]) for r in (1, 2, 3, 4)]
    tri_j = [(nj[r], nj[(r + 1) % 6]) for r in (4, 5, 0, 1)]
    F = jnp.zeros((R, C), jnp.float32)
    if b:
        S1 = sum(x + z for x, z in tri_i) - sum(x + z for x, z in tri_j)
        F = F + b * S1.astype(jnp.float32)
    if c:
        S2 = sum(x * z for x, z in tri_i) - sum(x * z for x, z in tri_j)
        F = F + c * S2.astype(jnp.float32)
    if g:
        M = sum(n[1:6]) - sum(nj.values())
        F = F + g * M.astype(jnp.float32)
    return F


def local_phase(
    engine: CheckerboardEngine, y: State, key: PRNGKeyArray, T: Float[Array, ""],
    k: int | Int[Array, ""], p: int | Int[Array, ""], q: int | Int[Array, ""],
) -> tuple[State, SweepCounts]:
    """One local phase: Metropolis swaps of all bonds ``(i, i + v_k)``, ``i ≡ (p, q)``.

    With Python ints ``k, p, q`` every slice is static (the fast path for large lattices); with
    traced ones the same code uses dynamic slices (quick to compile, for small ones).

    **Returns:** the new state and the phase's int32 counts (`sweep_count_names`: accepted and
    attempted swaps of unequal species, then the observer's counts when `engine.reactions`).
    """
    lay = engine.layout
    R, C = lay.R, lay.C
    static = all(isinstance(z, int) for z in (k, p, q))
    if static:
        v = [tuple(int(x) for x in _V[(k + r) % 6]) for r in range(6)]  # v[r] = v_{k+r}
    else:
        V = jnp.asarray(_V)
        v = [V[(k + r) % 6] for r in range(6)]

    def at(off: tuple[int | Int[Array, ""], int | Int[Array, ""]] | Int[Array, " 2"]) -> Int8[Array, "R C"]:
        return lay.near(y, p, q, off[0], off[1])

    m_i = at((0, 0))
    if engine.fused_rng:  # tied to the current state: generated in this phase, not hoisted
        u = phase_uniform(key, (R, C), tie=m_i[0, 0])
    else:
        u = jax.random.uniform(key, (R, C), dtype=jnp.float32)
    n = [at(v[r]) for r in range(6)]  # n[r]: i + v_{k+r}; n[0] is j
    m_j = n[0]
    # Far neighbours of j = i + v_k: j + v_{k+5}, j + v_k, j + v_{k+1}
    # (j + v_{k+4} = i + v_{k+5}, j + v_{k+2} = i + v_{k+1}, j + v_{k+3} = i).
    f5, f0, f1 = (at((v[0][0] + v[r][0], v[0][1] + v[r][1])) for r in (5, 0, 1))
    nj = {4: n[5], 5: f5, 0: f0, 1: f1, 2: n[1]}
    dE = (m_j - m_i).astype(jnp.float32) * local_energy_field(engine, n, nj)
    unlike = m_i != m_j
    accept = unlike & (u < jnp.exp(-dE / T))
    if engine.fused_rng:
        accept = materialise(accept)
    # j's sublattice and block carry: write the partners' new values in their own frame.
    pa, qb = p + v[0][0], q + v[0][1]
    carry = (pa // lay.sa, qb // lay.sb)
    fields = [accept, unlike]
    if engine.reactions:
        # Relative to the bond (i, j): angled positions of i are i + v_{k+2}, i + v_{k+4}, its
        # linear one i + v_{k+3}; those of j are j + v_{k+1}, j + v_{k+5} and j + v_k.
        fields += chain_fields(m_i, m_j, accept, 2 - n[2] - n[4], 1 - n[3], 2 - f1 - f5, 1 - f0)
    count = count_fields if engine.fused_rng else count_fields_separately
    counts = count(fields)
    if static and engine.fused_rng:
        # An accepted swap of unequal species flips both sites, so each sublattice's new values
        # depend only on its own old values and the mask. The new j values and the counts are
        # tied into the i update (``x >> 7`` of an int8 0/1 is 0, ``n >> 31`` of a count too),
        # which orders the phase's reads before its writes: XLA then holds two copies of the
        # state at most (3.9 instead of 4.0 B/site at 1536², benchmarks/README.md).
        flip = accept.astype(jnp.int8)
        new_j = lay.wrap(jnp.roll(m_j ^ flip, carry, axis=(0, 1)))
        tie = (new_j[0, 0] >> 7) + (counts[0] >> 31).astype(jnp.int8)
        y = y.at[p, q].set(lay.wrap(m_i ^ flip) + tie)
        y = y.at[pa % lay.sa, qb % lay.sb].set(new_j)
    else:
        new_j = jnp.roll(jnp.where(accept, m_i, m_j), carry, axis=(0, 1))
        y = lay.write(y, p, q, jnp.where(accept, m_j, m_i))
        y = lay.write(y, pa % lay.sa, qb % lay.sb, new_j)
    return y, counts


def local_sweep(
    engine: CheckerboardEngine, key: PRNGKeyArray, y: State, T: Float[Array, ""], index: Int[Array, ""]
) -> tuple[State, SweepCounts]:
    """Direction ``k = index mod 3``, then every anchor class once (fixed order); returns the
    new state and the sweep's counts (the sums of its phases' counts)."""
    lay = engine.layout
    n_phases = lay.n_classes
    keys = jax.random.split(key, n_phases)
    zero = jnp.zeros(len(sweep_count_names(engine.reactions)), jnp.int32)
    if not engine.unroll:
        def body(carry: tuple[State, SweepCounts], idx: Int[Array, ""]) -> tuple[tuple[State, SweepCounts], None]:
            y, n = carry
            y, dn = local_phase(engine, y, keys[idx], T, index % 3, idx // lay.sb, idx % lay.sb)
            return (y, n + dn), None

        (y, n), _ = lax.scan(body, (y, zero), jnp.arange(n_phases, dtype=jnp.int32))
        return y, n

    def branch(k: int) -> Callable[[State], tuple[State, SweepCounts]]:
        def run(y: State) -> tuple[State, SweepCounts]:
            n = zero
            for idx in range(n_phases):
                y, dn = local_phase(engine, y, keys[idx], T, k, idx // lay.sb, idx % lay.sb)
                n = n + dn
            return y, n

        return run

    return lax.switch(index % 3, [branch(k) for k in range(3)], y)


__all__ = ["local_energy_field", "local_phase", "local_sweep"]
