"""The plain sequential reference engine: one random swap at a time (docs/model.md §3).

Used only to validate the checkerboard-parallel engine. Each step draws a site ``i`` uniformly and
a partner ``j``: a uniformly random neighbour (``moves="local"``, Kawasaki) or a uniformly random
other site (``moves="global"``), computes ``dE`` from the triangles and bonds holding ``i`` or
``j`` (index tables, no sublattices), and accepts with probability ``min(1, exp(-dE/T))``.
A sweep is ``N`` such steps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from ..energy import TriangleBondHamiltonian
from ..lattice import TriangularLattice
from ._checkerboard import Engine


def make_sequential_engine(
    lattice: TriangularLattice, hamiltonian: TriangleBondHamiltonian, moves: str
) -> Engine:
    """Build the sequential reference `Engine`: state is the flat int32 minus-indicator vector."""
    N = lattice.n_sites
    rows, cols = lattice.shape
    nbr = jnp.asarray(lattice.neighbour_table())
    tri = jnp.asarray(lattice.triangle_table())
    site_tri = jnp.asarray(lattice.site_triangles())
    eps_np, J_np = hamiltonian.tables()
    eps = jnp.asarray(eps_np, dtype=jnp.float32)
    J2 = jnp.asarray([[J_np[0], J_np[2]], [J_np[2], J_np[1]]], dtype=jnp.float32)

    def step(m, i, j, u, T):
        mi, mj = m[i], m[j]

        def value_after(s):
            return jnp.where(s == i, mj, jnp.where(s == j, mi, m[s]))

        ti, tj = site_tri[i], site_tri[j]
        tj_new = ~jnp.any(tj[:, None] == ti[None, :], axis=1)  # skip triangles holding both
        ts = jnp.concatenate([ti, tj])
        keep = jnp.concatenate([jnp.ones(6, bool), tj_new])
        sites = tri[ts]  # (12, 3)
        before = jnp.sum(m[sites], axis=1)
        after = jnp.sum(value_after(sites), axis=1)
        dE = jnp.sum(jnp.where(keep, eps[after] - eps[before], 0.0))
        ends = jnp.concatenate([nbr[i], nbr[j]])
        centres = jnp.concatenate([jnp.full(6, i), jnp.full(6, j)])
        keep_b = jnp.concatenate([jnp.ones(6, bool), nbr[j] != i])  # bond (i, j) once
        db = J2[value_after(centres), value_after(ends)] - J2[m[centres], m[ends]]
        dE = dE + jnp.sum(jnp.where(keep_b, db, 0.0))
        accept = (mi != mj) & (jnp.exp(-dE / T) > u)
        m = m.at[i].set(jnp.where(accept, mj, mi))
        m = m.at[j].set(jnp.where(accept, mi, mj))
        return m, accept

    def encode(sigma):
        return (sigma.reshape(-1) < 0).astype(jnp.int32)

    def decode(m):
        return (1 - 2 * m).astype(jnp.int8).reshape(rows, cols)

    def sweep(key, m, T, index):  # noqa: ARG001 - index unused: moves are drawn at random
        ki, kj, ku = jax.random.split(key, 3)
        i_all = jax.random.randint(ki, (N,), 0, N)
        if moves == "local":
            j_all = nbr[i_all, jax.random.randint(kj, (N,), 0, 6)]
        else:
            j_all = (i_all + jax.random.randint(kj, (N,), 1, N)) % N
        u_all = jax.random.uniform(ku, (N,), dtype=jnp.float32)
        def body(t, carry):
            m, n = carry
            m, acc = step(m, i_all[t], j_all[t], u_all[t], T.astype(jnp.float32))
            return m, n + acc.astype(jnp.int32)

        m, n = lax.fori_loop(0, N, body, (m, jnp.int32(0)))
        return m, n

    return Engine(encode=encode, decode=decode, sweep=sweep)
