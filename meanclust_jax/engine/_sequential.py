"""The plain sequential reference engine: one random swap at a time (docs/model.md §3).

Used only to validate the checkerboard-parallel engine. Each step draws a site ``i`` uniformly and
a partner ``j`` from the move set (`AbstractMoves.draw_partners`: a uniformly random neighbour for
`LocalSwaps`, a uniformly random other site for `GlobalSwaps`), computes ``dE`` from the triangles
and bonds holding ``i`` or ``j`` (index tables, no sublattices), and accepts with probability
``min(1, exp(-dE/T))``. A sweep is ``N`` such steps.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Bool, Float, Int, Int8, PRNGKeyArray

from ..energy import TriangleBondHamiltonian
from ..lattice import TriangularLattice
from ._engine import AbstractEngine, SweepCounts
from ._moves import AbstractMoves, as_moves, check_reactions
from ._reactions import chain_fields, sweep_count_names

State = Int[Array, " N"]


class SequentialEngine(AbstractEngine):
    """The sequential reference engine; build it with `make_sequential_engine`. The state is
    the flat int32 minus-indicator vector ``m = (σ == -1)``.

    **Fields:**

    - `shape`: ``(rows, cols)``.
    - `neighbours`, `triangles`, `site_triangles`: the lattice's index tables (int32).
    - `triangle_energy`: ``ε[n]`` (float32 ``(4,)``); `bond_energy`: ``J`` as a 2x2 table
      indexed by the two minus-indicators (float32).
    - `moves`: the move set.
    - `reactions`: count the reactions of eq. (5) (local moves only).
    """

    shape: tuple[int, int] = eqx.field(static=True)
    neighbours: Int[Array, "N 6"]
    triangles: Int[Array, "T 3"]
    site_triangles: Int[Array, "N 6"]
    triangle_energy: Float[Array, " 4"]
    bond_energy: Float[Array, "2 2"]
    moves: AbstractMoves
    reactions: bool = eqx.field(static=True, default=False)

    def encode(self, sigma: Int8[Array, "rows cols"]) -> State:
        return (sigma.reshape(-1) < 0).astype(jnp.int32)

    def decode(self, state: State) -> Int8[Array, "rows cols"]:
        return (1 - 2 * state).astype(jnp.int8).reshape(self.shape)

    def step(
        self, m: State, i: Int[Array, ""], j: Int[Array, ""], u: Float[Array, ""], T: Float[Array, ""]
    ) -> tuple[State, Bool[Array, ""]]:
        """One Metropolis swap of sites ``i`` and ``j`` with uniform number ``u``; returns the
        new state and whether a swap of unequal species was accepted (bool)."""
        nbr, tri, eps, J2 = self.neighbours, self.triangles, self.triangle_energy, self.bond_energy
        mi, mj = m[i], m[j]

        def value_after(s: Int[Array, "*shape"]) -> Int[Array, "*shape"]:
            return jnp.where(s == i, mj, jnp.where(s == j, mi, m[s]))

        ti, tj = self.site_triangles[i], self.site_triangles[j]
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

    def sweep(
        self, key: PRNGKeyArray, state: State, temperature: Float[Array, ""], index: Int[Array, ""]  # noqa: ARG002 - interface
    ) -> tuple[State, SweepCounts]:
        # index is unused: the sequential engine draws every move at random.
        N = self.neighbours.shape[0]
        T = jnp.asarray(temperature, jnp.float32)
        ki, kj, ku = jax.random.split(key, 3)
        i_all = jax.random.randint(ki, (N,), 0, N, dtype=jnp.int32)
        j_all, d_all = self.moves.draw_partners(kj, i_all, self.neighbours)
        u_all = jax.random.uniform(ku, (N,), dtype=jnp.float32)

        def body(t: Int[Array, ""], carry: tuple[State, SweepCounts]) -> tuple[State, SweepCounts]:
            m, n = carry
            i, j = i_all[t], j_all[t]
            new, acc = self.step(m, i, j, u_all[t], T)
            fields = [acc, m[i] != m[j]]
            if self.reactions:
                fields += self.chains(m, i, j, d_all[t], acc)
            return new, n + jnp.stack([jnp.asarray(f, jnp.int32) for f in fields])

        zero = jnp.zeros(len(sweep_count_names(self.reactions)), jnp.int32)
        return lax.fori_loop(0, N, body, (state, zero))

    def chains(
        self, m: State, i: Int[Array, ""], j: Int[Array, ""], d: Int[Array, ""], accept: Bool[Array, ""]
    ) -> list[Int[Array, ""]]:
        """The observer's numbers (`chain_fields`) for the swap of ``i`` and ``j = i + v_d``.

        Relative to the bond, the angled positions of ``i`` are ``i + v_{d±2}`` and its linear
        one ``i + v_{d+3}``; those of ``j`` are ``j + v_{d±1}`` and ``j + v_d``.
        """
        nb = self.neighbours
        plus = 1 - m
        return chain_fields(
            m[i], m[j], accept,
            plus[nb[i, (d + 2) % 6]] + plus[nb[i, (d + 4) % 6]], plus[nb[i, (d + 3) % 6]],
            plus[nb[j, (d + 1) % 6]] + plus[nb[j, (d + 5) % 6]], plus[nb[j, d]],
        )


def make_sequential_engine(
    lattice: TriangularLattice,
    hamiltonian: TriangleBondHamiltonian,
    moves: str | AbstractMoves,
    *,
    reactions: bool = False,
) -> SequentialEngine:
    """Build the sequential reference engine for a lattice, Hamiltonian and move set.

    **Arguments:** as `meanclust_jax.engine.make_parallel_engine` (without `unroll` and
    `fused_rng`: the sequential engine draws the ``3N`` random numbers of a sweep up front).

    **Returns:** a `SequentialEngine`.

    **Raises:** `ValueError` for unknown moves or `reactions` with non-local moves.
    """
    moves = as_moves(moves)
    check_reactions(moves, reactions)
    eps_np, J_np = hamiltonian.tables()
    return SequentialEngine(
        shape=lattice.shape,
        neighbours=jnp.asarray(lattice.neighbour_table()),
        triangles=jnp.asarray(lattice.triangle_table()),
        site_triangles=jnp.asarray(lattice.site_triangles()),
        triangle_energy=jnp.asarray(eps_np, dtype=jnp.float32),
        bond_energy=jnp.asarray([[J_np[0], J_np[2]], [J_np[2], J_np[1]]], dtype=jnp.float32),
        moves=moves,
        reactions=bool(reactions),
    )


__all__ = ["SequentialEngine", "make_sequential_engine"]
