"""Local (Kawasaki) phases and sweeps of the checkerboard engine (SPEC §3).

A local phase takes one direction ``v_k`` (``k = (sweep index) mod 3``) and one anchor class
``(p, q)`` and attempts the swaps of all bonds ``(i, i + v_k)`` with ``i ≡ (p, q) mod (s_a, s_b)``;
a sweep visits the ``s_a s_b`` classes in a fixed order, so every bond of direction ``v_k`` is
attempted once. The energy change comes from integer neighbour counts (see
`meanclust_jax.engine._checkerboard`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float, Int, Int8, PRNGKeyArray

from ..lattice import NEIGHBOUR_VECTORS
from ._engine import SweepCounts

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
) -> tuple[State, Int[Array, ""]]:
    """One local phase: Metropolis swaps of all bonds ``(i, i + v_k)``, ``i ≡ (p, q)``.

    With Python ints ``k, p, q`` every slice is static (the fast path for large lattices); with
    traced ones the same code uses dynamic slices (quick to compile, for small ones).

    **Returns:** the new state and the number of accepted swaps of unequal species (int32).
    """
    lay = engine.layout
    R, C = lay.R, lay.C
    static = all(isinstance(z, int) for z in (k, p, q))
    u = jax.random.uniform(key, (R, C), dtype=jnp.float32)
    if static:
        v = [tuple(int(x) for x in _V[(k + r) % 6]) for r in range(6)]  # v[r] = v_{k+r}
    else:
        V = jnp.asarray(_V)
        v = [V[(k + r) % 6] for r in range(6)]

    def at(off):  # noqa: ANN001, ANN202
        return lay.near(y, p, q, off[0], off[1])

    m_i = at((0, 0))
    n = [at(v[r]) for r in range(6)]  # n[r]: i + v_{k+r}; n[0] is j
    m_j = n[0]
    # Far neighbours of j = i + v_k: j + v_{k+5}, j + v_k, j + v_{k+1}
    # (j + v_{k+4} = i + v_{k+5}, j + v_{k+2} = i + v_{k+1}, j + v_{k+3} = i).
    f5, f0, f1 = (at((v[0][0] + v[r][0], v[0][1] + v[r][1])) for r in (5, 0, 1))
    nj = {4: n[5], 5: f5, 0: f0, 1: f1, 2: n[1]}
    dE = (m_j - m_i).astype(jnp.float32) * local_energy_field(engine, n, nj)
    accept = (m_i != m_j) & (u < jnp.exp(-dE / T))
    # j's sublattice and block carry: write the partners' new values in their own frame.
    pa, qb = p + v[0][0], q + v[0][1]
    new_j = jnp.roll(jnp.where(accept, m_i, m_j), (pa // lay.sa, qb // lay.sb), axis=(0, 1))
    y = lay.write(y, p, q, jnp.where(accept, m_j, m_i))
    y = lay.write(y, pa % lay.sa, qb % lay.sb, new_j)
    return y, jnp.sum(accept, dtype=jnp.int32)


def local_sweep(
    engine: CheckerboardEngine, key: PRNGKeyArray, y: State, T: Float[Array, ""], index: Int[Array, ""]
) -> tuple[State, SweepCounts]:
    """Direction ``k = index mod 3``, then every anchor class once (fixed order)."""
    lay = engine.layout
    n_phases = lay.n_classes
    keys = jax.random.split(key, n_phases)
    if not engine.unroll:
        def body(carry, idx):  # noqa: ANN001, ANN202
            y, n = carry
            y, dn = local_phase(engine, y, keys[idx], T, index % 3, idx // lay.sb, idx % lay.sb)
            return (y, n + dn), None

        (y, n), _ = lax.scan(body, (y, jnp.int32(0)), jnp.arange(n_phases))
        return y, n[None]

    def branch(k: int):  # noqa: ANN202
        def run(y):  # noqa: ANN001, ANN202
            n = jnp.int32(0)
            for idx in range(n_phases):
                y, dn = local_phase(engine, y, keys[idx], T, k, idx // lay.sb, idx % lay.sb)
                n = n + dn
            return y, n

        return run

    y, n = lax.switch(index % 3, [branch(k) for k in range(3)], y)
    return y, n[None]


__all__ = ["local_energy_field", "local_phase", "local_sweep"]
