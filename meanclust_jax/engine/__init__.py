"""Metropolis annealing of the Li/Mn layer: checkerboard-parallel and sequential engines (docs/model.md §3).

Modules: `_engine` (the `AbstractEngine` interface), `_moves` (move sets `LocalSwaps`,
`GlobalSwaps`), `_layout` (the checkerboard state), `_local` / `_global` (checkerboard phases),
`_checkerboard` and `_sequential` (the two engines), `_driver` (`AnnealSpec`, `run_anneal`),
`_random` (per-phase random numbers), `_reactions` (the reaction observer of eq. (5)).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import jax
from numpy.typing import ArrayLike

from ..energy import ChargeNeutralityHamiltonian, TriangleBondHamiltonian
from ..lattice import TriangularLattice
from ..schedules import Schedule
from ._checkerboard import CheckerboardEngine as CheckerboardEngine, make_parallel_engine as make_parallel_engine
from ._checks import anneal_memory_bytes as anneal_memory_bytes, check_anneal_memory as check_anneal_memory
from ._driver import (
    ENGINES as ENGINES,
    AnnealResult as AnnealResult,
    AnnealSpec as AnnealSpec,
    random_configuration as random_configuration,
    run_anneal as run_anneal,
)
from ._engine import AbstractEngine as AbstractEngine, Engine as Engine
from ._moves import (
    MOVE_SETS as MOVE_SETS,
    AbstractMoves as AbstractMoves,
    GlobalSwaps as GlobalSwaps,
    LocalSwaps as LocalSwaps,
    as_moves as as_moves,
)
from ._reactions import (
    COEFFICIENTS as COEFFICIENTS,
    INFINITE_TEMPERATURE_RATES as INFINITE_TEMPERATURE_RATES,
    REACTANTS as REACTANTS,
    REACTIONS as REACTIONS,
    reaction_statistics as reaction_statistics,
)
from ._sequential import SequentialEngine as SequentialEngine, make_sequential_engine as make_sequential_engine

if TYPE_CHECKING:
    import xarray as xr


def anneal(
    key: jax.Array | int,
    lattice: TriangularLattice,
    hamiltonian: TriangleBondHamiltonian | None = None,
    *,
    schedule: Schedule | list[Schedule],
    composition: float | list[float],
    moves: str | AbstractMoves = "local",
    record_every: int | None = None,
    replicas: int = 1,
    engine: str = "parallel",
    snapshots: int = 0,
    initial: ArrayLike | xr.Dataset | str | os.PathLike[str] | None = None,
    progress: bool = True,
    checkpoint: str | os.PathLike[str] | None = None,
    records_per_chunk: int | None = None,
    sharding: jax.sharding.Sharding | None = None,
    callback: Callable[[int, int], object] | None = None,
    reactions: bool = False,
) -> xr.Dataset:
    """Metropolis annealing of a binary Li/Mn layer, recording cluster concentrations.

    Implements the simulated annealing of the paper's Section II (Harris et al.'s model) with
    the swap moves and checkerboard parallelism of docs/model.md §3, recording the concentrations of
    docs/model.md §4 every `record_every` sweeps.

    **Arguments:**

    - `key`: a `jax.random.key` (or legacy ``PRNGKey``, or an int seed), or a batch of
      ``replicas`` keys (one per replica: then replica ``b`` equals a single-replica run with
      key ``b``). Same key, same backend → identical dataset.
    - `lattice`: a `TriangularLattice`.
    - `hamiltonian`: energy table; default `ChargeNeutralityHamiltonian()`.
    - `schedule`: a `meanclust_jax.schedules.Schedule` (temperatures in energy units,
      ``k_B = 1``; durations in sweeps), or one per replica (same total length).
    - `composition`: fraction ``x`` of ``-`` (Li) sites, in (0, 1); ``round(x N)`` sites are
      ``-`` and the count is conserved exactly. A list gives one composition per replica
      (a composition sweep in one compiled run).
    - `moves`: a move set, `LocalSwaps()` (nearest-neighbour Kawasaki swaps) or `GlobalSwaps()`
      (any two sites), or its name ``"local"`` / ``"global"``.
    - `record_every`: sweeps between records (default: ``total_sweeps // 200``, at least 1).
    - `replicas`: independent replicas run together (``vmap``).
    - `engine`: ``"parallel"`` (checkerboard, the default) or ``"sequential"`` (the slow
      one-swap-at-a-time reference used to validate it).
    - `snapshots`: number of lattice snapshots to keep (evenly spaced, initial and final
      included); 0 keeps none.
    - `initial`: optional start. A previous run — its trajectory `xarray.Dataset` or the path
      of its netCDF file — chains this run to it: it starts from the previous
      ``final_configuration`` and its clock continues (``time`` and the sweep index go on from
      the previous run's last time, as in mchammer); the lattice size and composition must be
      the same. Or starting configuration(s), int8 ±1 of shape ``(rows, cols)`` or
      ``(replicas, rows, cols)``, with the clock at 0.
    - `progress`: show a progress bar.
    - `checkpoint`: optional ``.npz`` path; the state is saved atomically after every chunk,
      and a run started with the same arguments, key and starting configuration resumes from
      it, giving exactly the dataset of an uninterrupted run (a different one is refused). A
      link is followed when reading; saving replaces the link by a file (the link's target is
      never written).
    - `records_per_chunk`: records per compiled call (progress/checkpoint granularity), ``>= 1``.
    - `callback`: optional function ``callback(chunks_done, n_chunks)`` called after every chunk
      (after its checkpoint is saved).
    - `reactions`: record the reaction observer (local moves only): per record interval the
      reaction fluxes, measured rate constants ``k1 … k8`` of eq. (5) with standard errors, and
      the per-class attempt and acceptance counts (`meanclust_jax.engine._reactions`, whose
      docstring derives them and their infinite-temperature values).
    - `sharding`: optional `jax.sharding.Sharding` over the replica axis (e.g.
      ``NamedSharding(Mesh(jax.devices(), ("replica",)), PartitionSpec("replica"))``) to
      spread replicas across devices; ``replicas`` must be a multiple of the number of
      devices. Replicas are independent, so this needs no communication during a run, and the
      dataset is bit-identical to the unsharded run (``tests/test_sharding.py``). A single
      lattice is deliberately *not* split into strips across devices: one 16384² lattice is
      268 MB of int8 state (about 3 GB with the sweep's temporaries, see
      ``benchmarks/README.md``), which fits one GPU; the science wants many replicas and
      compositions, which this replica sharding already spreads perfectly; and a strip
      decomposition would need a halo exchange (a round of collective permutes) after every
      one of the 9–16 phases of each local sweep, while a global-swap phase pairs sites at a
      random displacement anywhere on the lattice, so it would move a whole sublattice
      between devices every phase.

    **Returns:** an `xarray.Dataset` laid out as in `meanclust_jax.dataset`.

    **Raises:**

    - `ValueError` for a composition outside (0, 1) or leaving no site of a species, a lattice
      the checkerboard cannot tile, a temperature ≤ 0 or non-finite, fewer than 1 sweep, an
      unknown schedule, moves or engine, mismatched per-replica lists, `reactions` with global
      moves, a seed outside ``[0, 2**64 - 1]`` or a key of another type, an `initial` value
      other than ±1 or an `initial` run of another lattice size or composition,
      ``records_per_chunk < 1``, a `callback` that is not callable, a `checkpoint` that is a
      folder, unreadable (empty, truncated) or from another run, or a run whose estimated
      memory (`check_anneal_memory`) exceeds what is available — all before any sweep.
    """
    from ..dataset import to_dataset

    hamiltonian = ChargeNeutralityHamiltonian() if hamiltonian is None else hamiltonian
    spec = AnnealSpec.create(
        lattice, hamiltonian, schedule=schedule, composition=composition, moves=moves,
        record_every=record_every, replicas=replicas, engine=engine, snapshots=snapshots,
        reactions=reactions,
    )
    if isinstance(initial, (str, os.PathLike)):
        from ..dataset import load_trajectory

        initial = load_trajectory(initial)
    result = run_anneal(
        spec, key, initial, records_per_chunk=records_per_chunk, progress=progress,
        checkpoint=checkpoint, sharding=sharding, callback=callback,
    )
    return to_dataset(result)


__all__ = [
    "COEFFICIENTS",
    "ENGINES",
    "INFINITE_TEMPERATURE_RATES",
    "MOVE_SETS",
    "REACTANTS",
    "REACTIONS",
    "AbstractEngine",
    "AbstractMoves",
    "AnnealResult",
    "AnnealSpec",
    "CheckerboardEngine",
    "Engine",
    "GlobalSwaps",
    "LocalSwaps",
    "SequentialEngine",
    "anneal",
    "anneal_memory_bytes",
    "as_moves",
    "check_anneal_memory",
    "make_parallel_engine",
    "make_sequential_engine",
    "random_configuration",
    "reaction_statistics",
    "run_anneal",
]
