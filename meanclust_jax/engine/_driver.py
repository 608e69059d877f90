"""The annealing driver: run a schedule with either engine and record cluster counts.

The run is split into *chunks* of records; each chunk is one compiled call (a ``lax.scan`` over
records, a ``lax.scan`` over the sweeps of a record, ``vmap`` over replicas), so the progress
bar and checkpoints cost nothing inside the hot loop. Sweeps past the end of the schedule
(padding to whole chunks) are inactive and leave the state untouched.

The pieces, each testable on its own: `AnnealSpec` (what is simulated, validated once),
`replica_key_batch` and `initial_configurations` (where each replica starts), `sweep_plan`
(temperatures and active flags per chunk), `compiled_chunk` (the compiled block of records),
`Checkpoint` (resumable state), and `run_anneal`, which strings them together and returns an
`AnnealResult` for `meanclust_jax.dataset.to_dataset`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int, Int8, PRNGKeyArray

from .._io import load_npz
from .._validate import check_int, seed_key
from ..concentrations import cluster_counts
from ..energy import TriangleBondHamiltonian
from ..lattice import TriangularLattice
from ..schedules import Schedule
from ._checkerboard import make_parallel_engine
from ._checks import (
    check_anneal_memory,
    check_callback,
    check_checkpoint_path,
    check_initial_values,
    check_records_per_chunk,
)
from ._engine import AbstractEngine, EngineState, SweepCounts
from ._moves import AbstractMoves, as_moves, check_reactions
from ._reactions import interval_moments, sweep_count_names
from ._sequential import make_sequential_engine

if TYPE_CHECKING:
    import xarray as xr

#: Engine names accepted by `anneal` and the CLI.
ENGINES: tuple[str, ...] = ("parallel", "sequential")
_ENGINE_FACTORIES: dict[str, Callable[..., AbstractEngine]] = {
    "parallel": make_parallel_engine,
    "sequential": make_sequential_engine,
}


@dataclasses.dataclass(frozen=True)
class AnnealSpec:
    """What an annealing run simulates and records, validated (build it with `create`).

    **Fields:**

    - `lattice`, `hamiltonian`: the lattice and energy table.
    - `schedules`: one `Schedule` per replica (equal total length).
    - `compositions`: one composition ``x`` per replica; `n_minus`: the ``round(x N)`` ``-`` sites.
    - `moves`: the move set; `engine`: ``"parallel"`` or ``"sequential"``.
    - `record_every`: sweeps between records; `snapshots`: lattice snapshots to keep.
    - `reactions`: record the reaction observer (`meanclust_jax.engine._reactions`).
    """

    lattice: TriangularLattice
    hamiltonian: TriangleBondHamiltonian
    schedules: tuple[Schedule, ...]
    compositions: tuple[float, ...]
    n_minus: tuple[int, ...]
    moves: AbstractMoves
    engine: str
    record_every: int
    snapshots: int
    reactions: bool = False

    @classmethod
    def create(
        cls,
        lattice: TriangularLattice,
        hamiltonian: TriangleBondHamiltonian,
        *,
        schedule: Schedule | list[Schedule],
        composition: float | list[float],
        moves: str | AbstractMoves = "local",
        record_every: int | None = None,
        replicas: int = 1,
        engine: str = "parallel",
        snapshots: int = 0,
        reactions: bool = False,
    ) -> AnnealSpec:
        """Validate the arguments of `meanclust_jax.engine.anneal` (same names and meanings).

        **Raises:** `ValueError` naming the offending argument and its allowed range.
        """
        if not isinstance(lattice, TriangularLattice):
            raise ValueError(f"lattice must be a TriangularLattice, got {type(lattice).__name__}")
        if not isinstance(hamiltonian, TriangleBondHamiltonian):
            raise ValueError(f"hamiltonian must be a TriangleBondHamiltonian, got {type(hamiltonian).__name__}")
        moves = as_moves(moves)
        moves.stride(lattice)  # raises for global moves on a 3x3-strided lattice
        if not isinstance(reactions, (bool, np.bool_)):
            raise ValueError(f"reactions={reactions!r} must be True or False")
        check_reactions(moves, bool(reactions))
        if engine not in ENGINES:
            raise ValueError(f"engine={engine!r} is unknown: use one of {ENGINES}")
        B = check_int(replicas, "replicas", minimum=1, allow_float=True)
        schedules = list(schedule) if isinstance(schedule, (list, tuple)) else [schedule] * B
        comps = list(composition) if isinstance(composition, (list, tuple, np.ndarray)) else [composition] * B
        if len(schedules) != B or len(comps) != B:
            raise ValueError(
                f"schedule and composition lists must have one entry per replica (replicas={B}), "
                f"got {len(schedules)} and {len(comps)}"
            )
        for s in schedules:
            if not isinstance(s, Schedule):
                raise ValueError(f"schedule must be a meanclust_jax.schedules.Schedule, got {type(s).__name__}")
        total = schedules[0].total_sweeps
        if any(s.total_sweeps != total for s in schedules):
            raise ValueError("all replicas' schedules must have the same total number of sweeps")
        n_minus = tuple(lattice.minority_count(x) for x in comps)
        if record_every is None:
            record_every = max(1, total // 200)
        record_every = check_int(record_every, "record_every (sweeps)", minimum=1, allow_float=True)
        snapshots = check_int(snapshots, "snapshots", minimum=0, allow_float=True)
        return cls(
            lattice=lattice, hamiltonian=hamiltonian, schedules=tuple(schedules),
            compositions=tuple(float(x) for x in comps), n_minus=n_minus, moves=moves, engine=engine,
            record_every=record_every, snapshots=snapshots, reactions=bool(reactions),
        )

    @property
    def replicas(self) -> int:
        """Number of replicas ``B``."""
        return len(self.schedules)

    @property
    def total_sweeps(self) -> int:
        """Sweeps of the schedule."""
        return self.schedules[0].total_sweeps

    @property
    def n_records(self) -> int:
        """Records after the initial one, ``ceil(total_sweeps / record_every)``."""
        return math.ceil(self.total_sweeps / self.record_every)

    def default_records_per_chunk(self) -> int:
        """Records per compiled call: about 50 calls per run, or one per snapshot interval."""
        if self.snapshots > 1:
            return max(1, math.ceil(self.n_records / (self.snapshots - 1)))
        return max(1, math.ceil(self.n_records / 50))

    def fingerprint_fields(self) -> dict[str, object]:
        """The fields as JSON-able values (for checkpoint fingerprints)."""
        return dict(
            lattice=self.lattice.shape, ham=self.hamiltonian.attrs(), sched=[s.steps for s in self.schedules],
            comps=list(self.n_minus), moves=self.moves.name, rec=self.record_every, B=self.replicas,
            engine=self.engine, snapshots=self.snapshots, reactions=self.reactions,
        )


@dataclasses.dataclass(frozen=True)
class AnnealResult:
    """Raw output of `run_anneal`, before it becomes a Dataset (`meanclust_jax.dataset.to_dataset`).

    Arrays have a leading replica axis ``B``: ``counts (B, n_records + 1, 32)`` int64,
    ``n_changed (B, n_records)`` int64, ``temperature (B, n_records + 1)`` float64,
    ``time (n_records + 1,)`` sweeps, ``final (B, rows, cols)`` int8, ``snapshots`` list of
    ``(time, (B, rows, cols) int8)``, ``key_data`` (``(B, ...)`` raw key data of each replica),
    the `spec` of the run and its `start_time` (sweeps; nonzero for a chained run). With the
    reaction observer, ``reaction_attempts`` and ``reaction_accepted`` ``(B, n_records, 8)``
    int64 and ``reaction_moments`` ``(B, n_records, 3, 8)`` float64 (`interval_moments`);
    otherwise None.
    """

    spec: AnnealSpec
    counts: np.ndarray
    n_changed: np.ndarray
    temperature: np.ndarray
    time: np.ndarray
    sweeps_per_record: np.ndarray
    final: np.ndarray
    snapshots: list[tuple[int, np.ndarray]]
    key_data: np.ndarray
    start_time: int = 0
    reaction_attempts: np.ndarray | None = None
    reaction_accepted: np.ndarray | None = None
    reaction_moments: np.ndarray | None = None

    @property
    def schedules(self) -> list[Schedule]:
        """The per-replica schedules."""
        return list(self.spec.schedules)

    @property
    def compositions(self) -> list[float]:
        """The per-replica compositions."""
        return list(self.spec.compositions)


def as_key(key: jax.Array | int) -> jax.Array:
    """Accept a typed key (``jax.random.key``), a raw ``PRNGKey`` array or an int seed in
    ``[0, 2**64 - 1]`` (`meanclust_jax._validate.seed_key`)."""
    key = _seed_or_array(key)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    if key.dtype == jnp.uint32 and key.shape[-1:] == (2,):
        return jax.random.wrap_key_data(key)
    raise ValueError(f"key must be a jax.random.key, a PRNGKey or an int seed, got {key!r}")


def replica_key_batch(key: jax.Array | int, replicas: int) -> jax.Array:
    """One key per replica: a batch of ``replicas`` keys is used as given; a single key is used
    as is for one replica and split into ``replicas`` keys otherwise.

    Replica ``b`` of a run depends only on its own key, so a batched run equals separate runs
    made with the same per-replica keys.

    **Raises:** `ValueError` if a batch of keys does not have ``replicas`` entries.
    """
    key = _seed_or_array(key)
    raw = key
    typed = jnp.issubdtype(raw.dtype, jax.dtypes.prng_key)
    batch_shape = raw.shape if typed else raw.shape[:-1]
    if len(batch_shape) == 0:
        k = as_key(key)
        return k[None] if replicas == 1 else jax.random.split(k, replicas)
    if batch_shape != (replicas,):
        raise ValueError(f"key holds {batch_shape[0]} keys but replicas={replicas}: give one key or one per replica")
    return raw if typed else jax.random.wrap_key_data(raw)


def _seed_or_array(key: object) -> jax.Array:
    """An int seed becomes a typed key (range checked); anything else must be a JAX/NumPy array."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return seed_key(key, "key")
    if isinstance(key, jax.Array):
        return key
    if isinstance(key, np.ndarray) and key.dtype == np.uint32:
        return jnp.asarray(key)
    raise ValueError(
        f"key must be a jax.random.key, a uint32 PRNGKey or an int seed in [0, 2**64 - 1], got {key!r}"
    )


def random_configuration(key: jax.Array, lattice: TriangularLattice, n_minus: int) -> jax.Array:
    """A uniformly random ``(rows, cols)`` int8 configuration with exactly `n_minus` ``-`` sites."""
    flat = jnp.where(jnp.arange(lattice.n_sites) < n_minus, -1, 1).astype(jnp.int8)
    return jax.random.permutation(key, flat).reshape(lattice.shape)


def initial_configurations(spec: AnnealSpec, init_keys: jax.Array, initial: np.ndarray | None) -> jax.Array:
    """Starting configurations ``(B, rows, cols)`` int8: random ones (one key per replica) or
    `initial` (one configuration for all replicas, or one per replica), checked against `spec`.

    **Raises:** `ValueError` if `initial` has the wrong shape, values other than ±1, or a number
    of ``-`` sites other than the composition's.
    """
    lattice, B = spec.lattice, spec.replicas
    if initial is None:
        return jnp.stack([random_configuration(init_keys[b], lattice, spec.n_minus[b]) for b in range(B)])
    sigma = jnp.asarray(initial, dtype=jnp.int8)
    if sigma.shape == lattice.shape:
        sigma = jnp.broadcast_to(sigma, (B, *lattice.shape))
    if sigma.shape != (B, *lattice.shape) or not bool(jnp.all(jnp.abs(sigma) == 1)):
        raise ValueError(
            f"initial must be a ±1 array of shape {lattice.shape} or {(B, *lattice.shape)}, "
            f"got shape {tuple(np.shape(initial))}"
        )
    counts_minus = np.asarray(jnp.sum(sigma < 0, axis=(1, 2)))
    if any(int(c) != n for c, n in zip(counts_minus, spec.n_minus, strict=True)):
        raise ValueError(
            f"initial holds {counts_minus.tolist()} '-' sites but composition asks for {list(spec.n_minus)}"
        )
    return sigma


def resolve_initial(spec: AnnealSpec, initial: object) -> tuple[np.ndarray | None, int]:
    """Starting configuration(s) and clock of a run.

    `initial` is None (random starts at time 0), an int8 ±1 array (time 0), or a previous
    trajectory (an `xarray.Dataset` from `anneal` or `meanclust_jax.load_trajectory`): then the
    run starts from its ``final_configuration`` and its clock continues from its last ``time``.

    **Returns:** ``(configurations or None, start_time in sweeps)``.

    **Raises:** `ValueError` if a previous trajectory has another lattice size, another number
    of ``-`` sites than `spec`'s compositions, or a number of replicas other than 1 or `spec`'s.
    """
    if initial is None:
        return None, 0
    if not hasattr(initial, "data_vars"):
        return check_initial_values(initial), 0
    ds = initial
    if "final_configuration" not in ds or "time" not in ds.coords:
        raise ValueError("initial: the dataset is not a meanclust_jax trajectory (no final_configuration or time)")
    final = np.asarray(ds["final_configuration"].values)
    rows, cols = final.shape[-2:]
    if (rows, cols) != spec.lattice.shape:
        raise ValueError(
            f"initial: the previous run is a {rows}x{cols} lattice but lattice is "
            f"{spec.lattice.rows}x{spec.lattice.cols}; a chained run continues on the same lattice"
        )
    if final.ndim == 3 and final.shape[0] not in (1, spec.replicas):
        raise ValueError(
            f"initial: the previous run has {final.shape[0]} replicas but replicas={spec.replicas}; "
            "chain with as many replicas (or from a single-replica run)"
        )
    if final.ndim == 3 and final.shape[0] == 1:
        final = final[0]
    n_prev = np.atleast_1d((final < 0).sum(axis=(-2, -1)))
    n_prev = np.broadcast_to(n_prev, (spec.replicas,))
    if any(int(a) != b for a, b in zip(n_prev, spec.n_minus, strict=True)):
        x_prev = sorted({round(int(a) / spec.lattice.n_sites, 4) for a in n_prev})
        raise ValueError(
            f"initial: the previous run has composition x = {x_prev} ({sorted(set(n_prev.tolist()))} '-' "
            f"sites) but composition asks for x = {sorted(set(spec.compositions))} "
            f"({sorted(set(spec.n_minus))} '-' sites); a chained run keeps the composition"
        )
    start = float(np.asarray(ds["time"].values)[-1])
    if start != round(start) or start < 0:
        raise ValueError(f"initial: the previous run ends at time {start}, not a whole number of sweeps")
    return final.astype(np.int8), int(start)


def sweep_plan(spec: AnnealSpec, records_per_chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Temperatures and active flags of every sweep, padded to whole chunks.

    **Returns:** ``T (B, n_chunks, records_per_chunk, record_every)`` float32 and
    ``active (n_chunks, records_per_chunk, record_every)`` bool (False on the padding).
    """
    total, rec = spec.total_sweeps, spec.record_every
    n_chunks = math.ceil(spec.n_records / records_per_chunk)
    padded = n_chunks * records_per_chunk * rec
    T = np.stack([np.pad(s.temperatures(), (0, padded - total), mode="edge") for s in spec.schedules])
    active = np.arange(padded) < total
    return T.reshape(spec.replicas, n_chunks, records_per_chunk, rec), active.reshape(n_chunks, records_per_chunk, rec)


@functools.lru_cache(maxsize=32)
def compiled_chunk(
    lattice: TriangularLattice, hamiltonian: TriangleBondHamiltonian, moves: AbstractMoves, engine: str,
    reactions: bool = False,
) -> Callable[..., tuple[jax.Array, jax.Array, jax.Array, jax.Array]]:
    """The jitted, replica-vmapped block of records for one engine configuration (cached).

    The returned function maps ``(keys (B,), sigma (B, rows, cols), T (B, n_rec, per_record),
    active (n_rec, per_record), sweep0)`` to ``(keys, sigma, counts (B, n_rec, 32),
    sweep_counts (B, n_rec, per_record, n_counts))``: the cluster counts after each record and
    the engine's counts of every sweep (zero for inactive sweeps). ``sweep0`` is the global
    index of the chunk's first sweep; `sigma` is donated.
    """
    eng = _ENGINE_FACTORIES[engine](lattice, hamiltonian, moves, reactions=reactions)

    def one_replica(
        key: PRNGKeyArray,
        sigma: Int8[Array, "rows cols"],
        T: Float[Array, "n_rec per_record"],
        active: Bool[Array, "n_rec per_record"],
        sweep0: Int[Array, ""],
    ) -> tuple[PRNGKeyArray, Int8[Array, "rows cols"], Int[Array, "n_rec 32"], Int[Array, "n_rec per_record n"]]:
        per_record = T.shape[1]

        def record(
            carry: tuple[PRNGKeyArray, Int8[Array, "rows cols"]],
            xs: tuple[Float[Array, " per_record"], Bool[Array, " per_record"], Int[Array, ""]],
        ) -> tuple[tuple[PRNGKeyArray, Int8[Array, "rows cols"]], tuple[Int[Array, " 32"], Int[Array, "per_record n"]]]:
            key, sigma = carry
            T_rec, act_rec, r = xs
            key, sub = jax.random.split(key)
            sweep_keys = jax.random.split(sub, per_record)

            def body(state: EngineState, t: Int[Array, ""]) -> tuple[EngineState, SweepCounts]:
                new, dn = eng.sweep(sweep_keys[t], state, T_rec[t], sweep0 + r * per_record + t)
                state = jnp.where(act_rec[t], new, state)
                return state, jnp.where(act_rec[t], dn, 0)

            state, per_sweep = jax.lax.scan(body, eng.encode(sigma), jnp.arange(per_record, dtype=jnp.int32))
            sigma = eng.decode(state)
            return (key, sigma), (cluster_counts(sigma), per_sweep)

        records = jnp.arange(T.shape[0], dtype=jnp.int32)
        (key, sigma), (counts, per_sweep) = jax.lax.scan(record, (key, sigma), (T, active, records))
        return key, sigma, counts, per_sweep

    return jax.jit(jax.vmap(one_replica, in_axes=(0, 0, 0, None, None)), donate_argnums=(1,))


def _digest(array: np.ndarray | None) -> str | None:
    return None if array is None else hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def fingerprint(
    spec: AnnealSpec, replica_keys: jax.Array, initial: np.ndarray | None, records_per_chunk: int,
    start_time: int = 0,
) -> str:
    """A short hash of everything that determines a run's data and its chunking: the spec,
    the replica keys, the starting configurations (``None`` for random ones) and clock."""
    kw = dict(
        spec.fingerprint_fields(), chunk=records_per_chunk, start=start_time,
        key=np.asarray(jax.random.key_data(replica_keys)).tolist(),
        initial=_digest(None if initial is None else np.asarray(initial, dtype=np.int8)),
    )
    return hashlib.sha256(json.dumps(kw, sort_keys=True, default=str).encode()).hexdigest()[:16]


#: Per-chunk arrays of a run (also the checkpoint's keys).
_CHUNK_ARRAYS = ("counts", "n_changed", "reaction_attempts", "reaction_accepted", "reaction_moments")


@dataclasses.dataclass
class Checkpoint:
    """A run's resumable state in an ``.npz`` file, saved atomically after every chunk.

    **Fields:** `path` (or None: no checkpointing) and the run's `fingerprint`.
    """

    path: Path | None
    fingerprint: str

    def load(self, keys: tuple[str, ...]) -> dict[str, np.ndarray] | None:
        """The saved arrays `keys` (besides the fingerprint), or None when there is no file.

        **Raises:** `ValueError` if the file is unreadable (empty, truncated, not an ``.npz``
        file, lacking one of `keys`) or belongs to another run (another fingerprint).
        """
        if self.path is None or not self.path.is_file():
            return None
        z = load_npz(self.path, ("fingerprint", *keys), what="checkpoint")
        if str(z["fingerprint"]) != self.fingerprint:
            raise ValueError(
                f"checkpoint={str(self.path)!r} belongs to a different run (other arguments, key "
                "or starting configuration); delete it or choose another path"
            )
        return z

    def save(self, **arrays: np.ndarray | jax.Array | int) -> None:
        """Write the arrays and the fingerprint atomically (nothing without a path)."""
        if self.path is None:
            return
        from .._io import atomic_path

        with atomic_path(self.path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, fingerprint=self.fingerprint, **arrays)


def run_anneal(
    spec: AnnealSpec,
    key: jax.Array | int,
    initial: ArrayLike | xr.Dataset | None = None,
    *,
    records_per_chunk: int | None = None,
    progress: bool = True,
    checkpoint: str | os.PathLike[str] | None = None,
    sharding: jax.sharding.Sharding | None = None,
    callback: Callable[[int, int], None] | None = None,
) -> AnnealResult:
    """Run the annealing described by `spec`; see `meanclust_jax.engine.anneal` for the
    meaning of `key`, `initial` (arrays or a previous trajectory, `resolve_initial`) and the
    keyword arguments.

    **Returns:** an `AnnealResult`.
    """
    B, total, rec = spec.replicas, spec.total_sweeps, spec.record_every
    # Every check before any work.
    records_per_chunk = check_records_per_chunk(records_per_chunk)
    callback = check_callback(callback)
    check_checkpoint_path(checkpoint)
    initial, t0 = resolve_initial(spec, initial)
    rpc = spec.default_records_per_chunk() if records_per_chunk is None else records_per_chunk
    check_anneal_memory(spec.lattice.rows, spec.lattice.cols, B, total, rec, spec.snapshots, rpc,
                        counts_per_sweep=len(sweep_count_names(spec.reactions)))
    replica_keys = replica_key_batch(key, B)
    init_keys, keys = (jnp.stack(k) for k in zip(*(jax.random.split(k) for k in replica_keys), strict=True))
    sigma = initial_configurations(spec, init_keys, initial)
    T_all, active = sweep_plan(spec, rpc)
    n_chunks = active.shape[0]

    fn = compiled_chunk(spec.lattice, spec.hamiltonian, spec.moves, spec.engine, spec.reactions)
    counts0 = np.asarray(cluster_counts(sigma), dtype=np.int64)
    # Per chunk: cluster counts, accepted swaps and, with the observer, attempts, accepted
    # events and moments per record.
    chunks: dict[str, list[np.ndarray]] = {k: [] for k in _CHUNK_ARRAYS}
    snaps: list[tuple[int, np.ndarray]] = [(t0, np.asarray(sigma))] if spec.snapshots else []
    ckpt = Checkpoint(None if checkpoint is None else Path(checkpoint),
                      fingerprint(spec, replica_keys, initial, rpc, t0))
    start = 0
    saved = ckpt.load(("chunks_done", "sigma", "keys", "snap_times", "snap_sigma", "counts", "n_changed")
                      + (_CHUNK_ARRAYS[2:] if spec.reactions else ()))
    if saved is not None:
        start = int(saved["chunks_done"])
        sigma = jnp.asarray(saved["sigma"])
        keys = jax.random.wrap_key_data(jnp.asarray(saved["keys"]))
        for k in chunks:
            chunks[k] = list(saved[k]) if start and k in saved else []
        if spec.snapshots:
            snaps = [(int(t), s) for t, s in zip(saved["snap_times"], saved["snap_sigma"], strict=True)]
    if sharding is not None:
        sigma = jax.device_put(sigma, sharding)
        keys = jax.device_put(keys, sharding)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=min(total, start * rpc * rec), unit="sweep",
                   desc=f"anneal {spec.lattice.rows}x{spec.lattice.cols} {spec.moves.name}", leave=False)
    for c in range(start, n_chunks):
        T_c = jnp.asarray(T_all[:, c])
        if sharding is not None:
            T_c = jax.device_put(T_c, sharding)
        keys, sigma, counts, per_sweep = fn(
            keys, sigma, T_c, jnp.asarray(active[c]), jnp.int32(t0 + c * rpc * rec))
        per_sweep = np.asarray(per_sweep, dtype=np.int64)
        chunks["counts"].append(np.asarray(counts, dtype=np.int64))
        chunks["n_changed"].append(per_sweep[..., 0].sum(axis=-1))
        if spec.reactions:
            for k, a in zip(_CHUNK_ARRAYS[2:], interval_moments(per_sweep), strict=True):
                chunks[k].append(a)
        done = min(total, (c + 1) * rpc * rec)
        if spec.snapshots:
            snaps.append((t0 + done, np.asarray(sigma)))
        if bar is not None:
            bar.update(done - bar.n)
        ckpt.save(
            chunks_done=c + 1, sigma=np.asarray(sigma), keys=np.asarray(jax.random.key_data(keys)),
            snap_times=np.asarray([t for t, _ in snaps], dtype=np.int64),
            snap_sigma=np.stack([s for _, s in snaps]) if snaps else np.zeros((0,)),
            **{k: np.stack(v) for k, v in chunks.items() if v},
        )
        if callback is not None:
            callback(c + 1, n_chunks)
    if bar is not None:
        bar.close()

    n_rec = spec.n_records

    def joined(name: str) -> np.ndarray | None:
        return np.concatenate(chunks[name], axis=1)[:, :n_rec] if chunks[name] else None

    counts = np.concatenate([counts0[:, None]] + list(chunks["counts"]), axis=1)[:, : n_rec + 1]
    ends = np.minimum(np.arange(1, n_rec + 1) * rec, total)
    time = t0 + np.concatenate([[0], ends]).astype(np.int64)
    temps = np.stack([s.temperatures() for s in spec.schedules]).astype(np.float64)
    temperature = np.concatenate([temps[:, :1], temps[:, ends - 1]], axis=1)
    if spec.snapshots:
        idx = np.unique(np.linspace(0, len(snaps) - 1, spec.snapshots).round().astype(int))
        snaps = [snaps[i] for i in idx]
    return AnnealResult(
        spec=spec, counts=counts, n_changed=joined("n_changed"), temperature=temperature, time=time,
        sweeps_per_record=np.diff(time), final=np.asarray(sigma), snapshots=snaps,
        key_data=np.asarray(jax.random.key_data(replica_keys)), start_time=t0,
        reaction_attempts=joined("reaction_attempts"), reaction_accepted=joined("reaction_accepted"),
        reaction_moments=joined("reaction_moments"),
    )


__all__ = [
    "AnnealResult",
    "AnnealSpec",
    "Checkpoint",
    "ENGINES",
    "as_key",
    "compiled_chunk",
    "fingerprint",
    "initial_configurations",
    "random_configuration",
    "replica_key_batch",
    "resolve_initial",
    "run_anneal",
    "sweep_plan",
]
