"""Checkerboard-parallel Metropolis sweeps on the sublattice tiling (docs/model.md §3).

A sweep is ``s_a * s_b`` phases (`meanclust_jax.engine._local`, `meanclust_jax.engine._global`,
run by the move set's `checkerboard_sweep`). Each phase draws its parameters at random (independently of the
configuration) and attempts ``N / (s_a s_b)`` mutually independent swaps at once:

* local (Kawasaki, `local_sweep`): a direction ``v_k``, ``k = (sweep index) mod 3`` (the same for
  all replicas, so that a vmapped run keeps one branch), and an anchor class ``(p, q)``; the
  swaps are the bonds ``(i, i + v_k)`` for all anchors ``i ≡ (p, q) mod (s_a, s_b)``. A sweep
  visits the ``s_a s_b`` classes in a fixed order (so every bond of direction ``v_k`` is
  attempted once); on large lattices the phases are unrolled with static indices, which XLA
  compiles to in-place slice updates (3-4x faster than dynamic indices);
* global (`global_sweep`): an anchor class ``(p, q)`` and a displacement ``Δ`` whose residue mod
  ``(s_a, s_b)`` is in `meanclust_jax.lattice.global_residues`; the swaps are ``(i, i + Δ)``.

Each phase is drawn independently of the configuration. The moves of a phase touch disjoint
neighbourhoods, so each is an independent Metropolis swap ``min(1, exp(-dE/T))``, reversible with
respect to the Boltzmann distribution; the phase (a product of commuting reversible kernels) and
the random mixture of phases keep it stationary. One sweep attempts exactly ``N`` swaps. The
state is held in the layout of `meanclust_jax.engine._layout.SublatticeLayout`. Each phase
generates its own uniforms (the Threefry numbers of ``jax.random.uniform``, fused into the phase:
`meanclust_jax.engine._random`) and returns its counts (accepted and attempted swaps of unequal
species, and with the reaction observer the counts of `meanclust_jax.engine._reactions`).

**Energy change from integer counts.** Write ``D(o) = ε(o+1) - ε(o)`` for a triangle whose two
other sites hold ``o`` ``-`` sites; on ``o ∈ {0,1,2}`` it is exactly ``a + b o + c o(o-1)/2``
with ``b = ε2 - 2ε1 + ε0`` and ``c = ε3 - 3ε2 + 3ε1 - ε0``; bond energies are bilinear,
``J(m, m') = J++ + β (m + m') + γ m m'`` with ``γ = J-- - 2J+- + J++``. Swapping ``i`` and ``j``
then changes the energy by

    dE = (m_j - m_i) (F_i - F_j),     F = b Σ_t o_t + c Σ_t [o_t = 2] + γ Σ_k m_k,

the sums running over the triangles and neighbours of each site that do not hold the other
(the ``a`` and ``β`` terms cancel: both sites have the same number of them). ``F`` is an integer
combination of neighbour indicators; for the default Hamiltonian ``c = γ = 0``.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, Int8, PRNGKeyArray

from ..energy import TriangleBondHamiltonian
from ..lattice import TriangularLattice
from ._engine import AbstractEngine, SweepCounts
from ._layout import SublatticeLayout
from ._moves import AbstractMoves, as_moves, check_reactions

State = Int8[Array, "sa sb R2 C2"]


def energy_coefficients(hamiltonian: TriangleBondHamiltonian) -> tuple[float, float, float]:
    """``(b, c, γ)`` of the module docstring for a triangle/bond table."""
    e, J = hamiltonian.tables()
    b = e[2] - 2 * e[1] + e[0]
    c = e[3] - 3 * e[2] + 3 * e[1] - e[0]
    g = J[1] - 2 * J[2] + J[0]
    return float(b), float(c), float(g)


#: Lattices with more sites than this use statically unrolled local phases (see `make_parallel_engine`).
UNROLL_MIN_SITES = 1024


class CheckerboardEngine(AbstractEngine):
    """The checkerboard-parallel engine (see the module docstring); build it with
    `make_parallel_engine`.

    **Fields:**

    - `layout`: the `SublatticeLayout` of the state (lattice shape and stride).
    - `coefficients`: ``(b, c, γ)`` of the Hamiltonian (`energy_coefficients`).
    - `moves`: the move set (`LocalSwaps` or `GlobalSwaps`), which runs the sweep.
    - `unroll`: local phases unrolled with static slices (True) or a ``lax.scan`` (False).
    - `reactions`: count the reactions of eq. (5) (`meanclust_jax.engine._reactions`).
    - `fused_rng`: each phase's random numbers generated inside the phase
      (`meanclust_jax.engine._random`; the default); False keeps the previous path
      (``jax.random.uniform``, which XLA hoists to the start of the sweep, and one reduction per
      count) for benchmarks. Both give the same Markov chain, bit for bit, for Threefry keys.
    """

    layout: SublatticeLayout
    coefficients: tuple[float, float, float] = eqx.field(static=True)
    moves: AbstractMoves
    unroll: bool = eqx.field(static=True)
    reactions: bool = eqx.field(static=True, default=False)
    fused_rng: bool = eqx.field(static=True, default=True)

    def encode(self, sigma: Int8[Array, "rows cols"]) -> State:
        return self.layout.encode(sigma)

    def decode(self, state: State) -> Int8[Array, "rows cols"]:
        return self.layout.decode(state)

    def sweep(
        self, key: PRNGKeyArray, state: State, temperature: Float[Array, ""], index: Int[Array, ""]
    ) -> tuple[State, SweepCounts]:
        T = jnp.asarray(temperature, jnp.float32)
        return self.moves.checkerboard_sweep(self, key, state, T, index)


def make_parallel_engine(
    lattice: TriangularLattice,
    hamiltonian: TriangleBondHamiltonian,
    moves: str | AbstractMoves,
    unroll: bool | None = None,
    *,
    reactions: bool = False,
    fused_rng: bool = True,
) -> CheckerboardEngine:
    """Build the checkerboard-parallel engine for a lattice, Hamiltonian and move set.

    **Arguments:**

    - `lattice`: the `TriangularLattice`.
    - `hamiltonian`: the `TriangleBondHamiltonian`.
    - `moves`: a move set (`LocalSwaps()`, `GlobalSwaps()`) or its name, ``"local"`` or
      ``"global"``.
    - `unroll`: how local phases are compiled: unrolled with static slices (3-4x faster per
      sweep, ~10 s to compile on a 2-core CPU) or as a ``lax.scan`` with dynamic slices (fast to
      compile). The default unrolls for lattices of more than `UNROLL_MIN_SITES` sites. Both
      give the same Markov chain in distribution (not bit for bit: the random streams differ).
    - `reactions`: count the reactions of eq. (5) in every sweep (local moves only; see
      `meanclust_jax.engine._reactions`).
    - `fused_rng`: see `CheckerboardEngine` (keep the default except to benchmark the old path).

    **Returns:** a `CheckerboardEngine`.

    **Raises:** `ValueError` for unknown moves, a lattice the move set's checkerboard cannot
    tile, or `reactions` with moves that are not nearest-neighbour swaps.
    """
    moves = as_moves(moves)
    check_reactions(moves, reactions)
    if unroll is None:
        unroll = lattice.n_sites > UNROLL_MIN_SITES
    sa, sb = moves.stride(lattice)
    layout = SublatticeLayout(rows=lattice.rows, cols=lattice.cols, sa=sa, sb=sb)
    return CheckerboardEngine(
        layout=layout, coefficients=energy_coefficients(hamiltonian), moves=moves, unroll=bool(unroll),
        reactions=bool(reactions), fused_rng=bool(fused_rng),
    )


__all__ = ["CheckerboardEngine", "UNROLL_MIN_SITES", "energy_coefficients", "make_parallel_engine"]
