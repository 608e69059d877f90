"""Move sets: which pairs of sites a Metropolis swap may exchange (docs/model.md §3).

`AbstractMoves` is the interface both engines use; `LocalSwaps` (nearest-neighbour, Kawasaki:
the "reactions" of the mean-cluster model) and `GlobalSwaps` (any two sites, as in the simulated
annealing the paper takes its data from) are its final implementations. A move set knows

* the checkerboard stride its parallel phases need (`stride`),
* how the checkerboard engine runs one sweep of it (`checkerboard_sweep`), and
* how the sequential reference engine draws the partner of a uniformly drawn site
  (`draw_partners`).

Strings ``"local"`` / ``"global"`` stay accepted wherever a move set is (`as_moves`).
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..lattice import TriangularLattice, check_moves
from . import _global, _local
from ._engine import SweepCounts

if TYPE_CHECKING:
    from ._checkerboard import CheckerboardEngine


class AbstractMoves(eqx.Module):
    """A move set of the Metropolis engines.

    **Class variables:**

    - `name`: ``"local"`` or ``"global"`` (recorded in the trajectory's attributes).
    - `reactions`: whether the reaction observer applies (nearest-neighbour swaps only).
    """

    name: eqx.AbstractClassVar[str]
    #: Whether every swap of this move set is one reaction event of eq. (5) (observer allowed).
    reactions: eqx.AbstractClassVar[bool]

    @abc.abstractmethod
    def stride(self, lattice: TriangularLattice) -> tuple[int, int]:
        """Checkerboard stride ``(s_a, s_b)`` of this move set on `lattice`.

        **Raises:** `ValueError` if the checkerboard cannot tile `lattice` for these moves.
        """

    @abc.abstractmethod
    def checkerboard_sweep(
        self, engine: CheckerboardEngine, key: PRNGKeyArray, state: Array, T: Float[Array, ""],
        index: Int[Array, ""],
    ) -> tuple[Array, SweepCounts]:
        """One sweep of the checkerboard engine (see `meanclust_jax.engine.AbstractEngine.sweep`)."""

    @abc.abstractmethod
    def draw_partners(
        self, key: PRNGKeyArray, sites: Int[Array, " n"], neighbours: Int[Array, "N 6"]
    ) -> tuple[Int[Array, " n"], Int[Array, " n"]]:
        """Partners of uniformly drawn sites, for the sequential engine.

        **Arguments:**

        - `key`: a `jax.random.key`.
        - `sites`: flat site indices ``i``, int32 ``(n,)``.
        - `neighbours`: the lattice's ``(N, 6)`` neighbour table (``i + v_l``, ``l = 0..5``).

        **Returns:** ``(j, l)``: the partner of each site and, for a neighbour, the direction
        ``l`` with ``j = i + v_l`` (``-1`` for partners that are not neighbours).
        """

    def __str__(self) -> str:
        return self.name


class LocalSwaps(AbstractMoves):
    """Nearest-neighbour (Kawasaki) swaps: the reactions of the mean-cluster model (docs/model.md §3, §6)."""

    name: ClassVar[str] = "local"
    reactions: ClassVar[bool] = True

    def stride(self, lattice: TriangularLattice) -> tuple[int, int]:
        return lattice.local_stride()

    def checkerboard_sweep(
        self, engine: CheckerboardEngine, key: PRNGKeyArray, state: Array, T: Float[Array, ""],
        index: Int[Array, ""],
    ) -> tuple[Array, SweepCounts]:
        return _local.local_sweep(engine, key, state, T, index)

    def draw_partners(
        self, key: PRNGKeyArray, sites: Int[Array, " n"], neighbours: Int[Array, "N 6"]
    ) -> tuple[Int[Array, " n"], Int[Array, " n"]]:
        direction = jax.random.randint(key, sites.shape, 0, 6, dtype=jnp.int32)
        return neighbours[sites, direction], direction


class GlobalSwaps(AbstractMoves):
    """Swaps between any two sites (the simulated annealing of the paper's data, docs/model.md §3)."""

    name: ClassVar[str] = "global"
    reactions: ClassVar[bool] = False

    def stride(self, lattice: TriangularLattice) -> tuple[int, int]:
        return lattice.global_stride()

    def checkerboard_sweep(
        self, engine: CheckerboardEngine, key: PRNGKeyArray, state: Array, T: Float[Array, ""],
        index: Int[Array, ""],
    ) -> tuple[Array, SweepCounts]:
        return _global.global_sweep(engine, key, state, T, index)

    def draw_partners(
        self, key: PRNGKeyArray, sites: Int[Array, " n"], neighbours: Int[Array, "N 6"]
    ) -> tuple[Int[Array, " n"], Int[Array, " n"]]:
        n_sites = neighbours.shape[0]
        partners = (sites + jax.random.randint(key, sites.shape, 1, n_sites, dtype=jnp.int32)) % n_sites
        return partners, jnp.full(sites.shape, -1, jnp.int32)


#: The move sets by name (the CLI's ``--moves`` and the ``moves=`` strings of `anneal`).
MOVE_SETS: dict[str, AbstractMoves] = {"local": LocalSwaps(), "global": GlobalSwaps()}


def check_reactions(moves: AbstractMoves, reactions: bool) -> None:
    """Refuse the reaction observer for move sets whose swaps are not reactions of eq. (5).

    **Raises:** `ValueError` for ``reactions=True`` with `GlobalSwaps`.
    """
    if reactions and not moves.reactions:
        raise ValueError(
            f"reactions=True needs moves='local': a {moves.name} swap of two non-neighbouring "
            "sites is not a reaction of the mean-cluster equations (eq. 5), so its rates cannot be "
            "measured; anneal with moves='local' (Kawasaki swaps) to record reactions"
        )


def as_moves(moves: str | AbstractMoves) -> AbstractMoves:
    """The move set named by `moves` (``"local"``, ``"global"``), or `moves` itself.

    **Raises:** `ValueError` for anything else.
    """
    if isinstance(moves, AbstractMoves):
        return moves
    return MOVE_SETS[check_moves(moves)]


__all__ = ["AbstractMoves", "GlobalSwaps", "LocalSwaps", "MOVE_SETS", "as_moves", "check_reactions"]
