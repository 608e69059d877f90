"""`anneal`: run a schedule with either engine, record cluster counts, return an xarray Dataset.

The run is split into *chunks* of records; each chunk is one compiled call (a ``lax.scan`` over
records, a ``fori_loop`` over the sweeps of a record, ``vmap`` over replicas), so the progress
bar and checkpoints cost nothing inside the hot loop. Sweeps past the end of the schedule (padding
to whole chunks) are inactive and leave the state untouched.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .._io import load_npz
from .._validate import check_int, seed_key
from ._checks import (
    check_anneal_memory,
    check_callback,
    check_checkpoint_path,
    check_initial_values,
    check_records_per_chunk,
)
from ..concentrations import cluster_counts
from ..energy import TriangleBondHamiltonian
from ..lattice import TriangularLattice, check_moves
from ..schedules import Schedule
from ._checkerboard import make_parallel_engine
from ._sequential import make_sequential_engine

ENGINES = ("parallel", "sequential")


@dataclasses.dataclass(frozen=True)
class AnnealResult:
    """Raw output of `run_anneal`, before it becomes a Dataset.

    Arrays have a leading replica axis ``B``: ``counts (B, n_records + 1, 32)`` int64,
    ``n_changed (B, n_records)`` int64, ``temperature (B, n_records + 1)`` float64,
    ``time (n_records + 1,)`` sweeps, ``final (B, rows, cols)`` int8, ``snapshots`` list of
    ``(time, (B, rows, cols) int8)``, and the per-replica ``schedules``, ``compositions`` and
    ``key_data`` (``(B, ...)`` raw key data) the run used.
    """

    counts: np.ndarray
    n_changed: np.ndarray
    temperature: np.ndarray
    time: np.ndarray
    sweeps_per_record: np.ndarray
    final: np.ndarray
    snapshots: list[tuple[int, np.ndarray]]
    schedules: list[Schedule]
    compositions: list[float]
    key_data: np.ndarray


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


def _seed_or_array(key):  # noqa: ANN001, ANN202
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


@functools.lru_cache(maxsize=32)
def _compiled_chunk(lattice: TriangularLattice, hamiltonian: TriangleBondHamiltonian, moves: str, engine: str):
    make = make_parallel_engine if engine == "parallel" else make_sequential_engine
    eng = make(lattice, hamiltonian, moves)

    def one_replica(key, sigma, T, active, sweep0):
        # T, active: (n_rec, per_record); sweep0: global index of the chunk's first sweep.
        per_record = T.shape[1]

        def record(carry, xs):
            key, sigma = carry
            T_rec, act_rec, r = xs
            key, sub = jax.random.split(key)
            sweep_keys = jax.random.split(sub, T_rec.shape[0])

            def body(t, c):
                state, n = c
                new, dn = eng.sweep(sweep_keys[t], state, T_rec[t], sweep0 + r * per_record + t)
                state = jnp.where(act_rec[t], new, state)
                return state, n + jnp.where(act_rec[t], dn, 0)

            state, n = jax.lax.fori_loop(0, T_rec.shape[0], body, (eng.encode(sigma), jnp.int32(0)))
            sigma = eng.decode(state)
            return (key, sigma), (cluster_counts(sigma), n)

        (key, sigma), (counts, n) = jax.lax.scan(record, (key, sigma), (T, active, jnp.arange(T.shape[0])))
        return key, sigma, counts, n

    return jax.jit(jax.vmap(one_replica, in_axes=(0, 0, 0, None, None)), donate_argnums=(1,))


def _fingerprint(**kw) -> str:
    return hashlib.sha256(json.dumps(kw, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_anneal(
    key: jax.Array | int,
    lattice: TriangularLattice,
    hamiltonian: TriangleBondHamiltonian,
    schedule: Schedule | list[Schedule],
    composition: float | list[float],
    moves: str = "local",
    record_every: int | None = None,
    replicas: int = 1,
    engine: str = "parallel",
    snapshots: int = 0,
    initial: np.ndarray | None = None,
    progress: bool = True,
    checkpoint: str | os.PathLike[str] | None = None,
    records_per_chunk: int | None = None,
    sharding: jax.sharding.Sharding | None = None,
    callback=None,  # noqa: ANN001
) -> AnnealResult:
    """Run the annealing and return raw arrays; see `meanclust_jax.anneal` for the arguments."""
    from .._io import atomic_path

    if not isinstance(lattice, TriangularLattice):
        raise ValueError(f"lattice must be a TriangularLattice, got {type(lattice).__name__}")
    if not isinstance(hamiltonian, TriangleBondHamiltonian):
        raise ValueError(f"hamiltonian must be a TriangleBondHamiltonian, got {type(hamiltonian).__name__}")
    check_moves(moves)
    lattice.stride(moves)  # raises for global moves on a 3x3-strided lattice
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
    n_minus = [lattice.minority_count(x) for x in comps]
    if record_every is None:
        record_every = max(1, total // 200)
    record_every = check_int(record_every, "record_every (sweeps)", minimum=1, allow_float=True)
    snapshots = check_int(snapshots, "snapshots", minimum=0, allow_float=True)
    records_per_chunk = check_records_per_chunk(records_per_chunk)
    callback = check_callback(callback)
    check_checkpoint_path(checkpoint)
    if initial is not None:
        initial = check_initial_values(initial)
    check_anneal_memory(lattice.rows, lattice.cols, B, total, record_every, snapshots,
                        records_per_chunk or max(1, math.ceil(total / record_every / 50)))

    replica_keys = replica_key_batch(key, B)
    init_keys, keys = (jnp.stack(k) for k in zip(*(jax.random.split(k) for k in replica_keys)))
    if initial is None:
        sigma = jnp.stack([random_configuration(init_keys[b], lattice, n_minus[b]) for b in range(B)])
    else:
        sigma = jnp.asarray(initial, dtype=jnp.int8)
        if sigma.shape == lattice.shape:
            sigma = jnp.broadcast_to(sigma, (B, *lattice.shape))
        if sigma.shape != (B, *lattice.shape) or not bool(jnp.all(jnp.abs(sigma) == 1)):
            raise ValueError(
                f"initial must be a ±1 array of shape {lattice.shape} or {(B, *lattice.shape)}, "
                f"got shape {tuple(sigma.shape)}"
            )
        counts_minus = np.asarray(jnp.sum(sigma < 0, axis=(1, 2)))
        if any(int(c) != n for c, n in zip(counts_minus, n_minus)):
            raise ValueError(
                f"initial holds {counts_minus.tolist()} '-' sites but composition asks for {n_minus}"
            )
    n_rec = math.ceil(total / record_every)
    if records_per_chunk is None:
        records_per_chunk = max(1, math.ceil(n_rec / 50))
        if snapshots > 1:
            records_per_chunk = max(1, math.ceil(n_rec / (snapshots - 1)))
    n_chunks = math.ceil(n_rec / records_per_chunk)
    padded = n_chunks * records_per_chunk * record_every
    T_all = np.stack([np.pad(s.temperatures(), (0, padded - total), mode="edge") for s in schedules])
    active = np.arange(padded) < total
    T_all = T_all.reshape(B, n_chunks, records_per_chunk, record_every)
    active = active.reshape(n_chunks, records_per_chunk, record_every)

    fn = _compiled_chunk(lattice, hamiltonian, moves, engine)
    counts0 = np.asarray(cluster_counts(sigma), dtype=np.int64)
    counts_chunks: list[np.ndarray] = []
    n_chunks_done: list[np.ndarray] = []
    snaps: list[tuple[int, np.ndarray]] = [(0, np.asarray(sigma))] if snapshots else []
    start = 0
    fingerprint = _fingerprint(
        lattice=lattice.shape, ham=hamiltonian.attrs(), sched=[s.steps for s in schedules],
        comps=n_minus, moves=moves, rec=record_every, B=B, engine=engine, chunk=records_per_chunk,
        key=np.asarray(jax.random.key_data(replica_keys)).tolist(), snapshots=snapshots,
    )
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.is_file():
        z = load_npz(ckpt, ("fingerprint", "chunks_done", "sigma", "keys", "counts", "n_changed",
                            "snap_times", "snap_sigma"), what="checkpoint")
        if str(z["fingerprint"]) != fingerprint:
            raise ValueError(
                f"checkpoint={str(ckpt)!r} belongs to a different run (other arguments or key); "
                "delete it or choose another path"
            )
        start = int(z["chunks_done"])
        sigma = jnp.asarray(z["sigma"])
        keys = jax.random.wrap_key_data(jnp.asarray(z["keys"]))
        counts_chunks = list(z["counts"]) if start else []
        n_chunks_done = list(z["n_changed"]) if start else []
        snaps = [(int(t), s) for t, s in zip(z["snap_times"], z["snap_sigma"])] if snapshots else []
    if sharding is not None:
        sigma = jax.device_put(sigma, sharding)
        keys = jax.device_put(keys, sharding)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=min(total, start * records_per_chunk * record_every),
                   unit="sweep", desc=f"anneal {lattice.rows}x{lattice.cols} {moves}", leave=False)
    for c in range(start, n_chunks):
        T_c = jnp.asarray(T_all[:, c])
        if sharding is not None:
            T_c = jax.device_put(T_c, sharding)
        keys, sigma, counts, n = fn(
            keys, sigma, T_c, jnp.asarray(active[c]), jnp.int32(c * records_per_chunk * record_every)
        )
        counts_chunks.append(np.asarray(counts, dtype=np.int64))
        n_chunks_done.append(np.asarray(n, dtype=np.int64))
        done = min(total, (c + 1) * records_per_chunk * record_every)
        if snapshots:
            snaps.append((done, np.asarray(sigma)))
        if bar is not None:
            bar.update(done - bar.n)
        if ckpt is not None:
            with atomic_path(ckpt) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(
                        fh, fingerprint=fingerprint, chunks_done=c + 1, sigma=np.asarray(sigma),
                        keys=np.asarray(jax.random.key_data(keys)),
                        counts=np.stack(counts_chunks), n_changed=np.stack(n_chunks_done),
                        snap_times=np.asarray([t for t, _ in snaps], dtype=np.int64),
                        snap_sigma=np.stack([s for _, s in snaps]) if snaps else np.zeros((0,)),
                    )
        if callback is not None:
            callback(c + 1, n_chunks)
    if bar is not None:
        bar.close()

    counts = np.concatenate([counts0[:, None]] + [np.asarray(x) for x in counts_chunks], axis=1)[:, : n_rec + 1]
    n_changed = np.concatenate([np.asarray(x) for x in n_chunks_done], axis=1)[:, :n_rec]
    ends = np.minimum(np.arange(1, n_rec + 1) * record_every, total)
    time = np.concatenate([[0], ends]).astype(np.int64)
    per_record = np.diff(time)
    temps = np.stack([s.temperatures() for s in schedules]).astype(np.float64)
    temperature = np.concatenate([temps[:, :1], temps[:, ends - 1]], axis=1)
    if snapshots:
        idx = np.unique(np.linspace(0, len(snaps) - 1, snapshots).round().astype(int))
        snaps = [snaps[i] for i in idx]
    return AnnealResult(
        counts=counts, n_changed=n_changed, temperature=temperature, time=time,
        sweeps_per_record=per_record, final=np.asarray(sigma), snapshots=snaps,
        schedules=schedules, compositions=[float(x) for x in comps],
        key_data=np.asarray(jax.random.key_data(replica_keys)),
    )
