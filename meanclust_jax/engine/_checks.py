"""Checks of `run_anneal`'s arguments made before any work: the starting configuration, the
API hooks (``records_per_chunk``, ``callback``) and the memory the run will need."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from .._memory import check_memory
from .._validate import check_int

#: Estimated peak accelerator bytes per lattice site and replica inside a compiled sweep: the
#: int8 state in its halo-padded layout, one phase's random numbers and XLA's temporaries. With
#: the random numbers generated phase by phase (issue 11) XLA's memory analysis gives 3.9 B/site
#: at 1536², 4.0 at 384² and 4.7 at 96² for local moves, with or without the reaction observer
#: (before, 12 B/site, 18 on 96²; global moves 4.1–5.9, ``benchmarks/README.md``); rounded up to
#: twice that.
DEVICE_BYTES_PER_SITE = 8
#: Estimated host bytes per record and replica: the int64 cluster counts (kept per chunk and
#: concatenated) and the float64 concentrations, energy, temperature and acceptance of the
#: dataset, plus the copy made when writing netCDF.
HOST_BYTES_PER_RECORD = 1200
#: Host bytes per sweep and replica: the float32 temperature of every sweep (schedule, padded
#: copy) and its float64 copy when the records are assembled.
HOST_BYTES_PER_SWEEP = 20


def anneal_memory_bytes(
    n_sites: int, replicas: int, total_sweeps: int, n_records: int, snapshots: int, sweeps_per_chunk: int,
    counts_per_sweep: int = 2,
) -> tuple[float, float]:
    """Estimated peak ``(host, device)`` bytes of an annealing run (see the constants above);
    `counts_per_sweep` int32 counts come back per sweep of a chunk (2; 10 with the reaction
    observer), and the observer's per-record statistics (8 classes: two int64 counts and three
    float64 moments) are kept on the host."""
    B = float(replicas)
    device = B * n_sites * DEVICE_BYTES_PER_SITE + B * sweeps_per_chunk * (1.0 + 4.0 * counts_per_sweep)
    host = (
        B * total_sweeps * HOST_BYTES_PER_SWEEP
        + float(total_sweeps)  # the active flags
        + B * (n_records + 1) * HOST_BYTES_PER_RECORD
        + B * n_sites * (4.0 + 2.0 * max(snapshots, 1))  # initial/final lattices and snapshots
        + B * sweeps_per_chunk * 12.0 * counts_per_sweep  # a chunk's per-sweep counts, int32 and int64
        + (B * (n_records + 1) * 8 * 8 * 6.0 if counts_per_sweep > 2 else 0.0)  # observer per record
    )
    return host, device


def check_anneal_memory(
    rows: int, cols: int, replicas: int, total_sweeps: int, record_every: int, snapshots: int,
    records_per_chunk: int, counts_per_sweep: int = 2,
) -> None:
    """Refuse an annealing run whose estimated memory does not fit (`anneal_memory_bytes`).

    **Raises:** `ValueError` ``"anneal of ... needs about X GiB of memory, Y GiB available; ..."``.
    """
    n_records = math.ceil(total_sweeps / record_every)
    host, device = anneal_memory_bytes(
        rows * cols, replicas, total_sweeps, n_records, snapshots, records_per_chunk * record_every,
        counts_per_sweep,
    )
    check_memory(
        f"anneal of {replicas} replica(s) of {rows}x{cols} sites (rows x cols), {total_sweeps} sweeps, "
        f"{n_records} records (record_every={record_every})",
        host, device,
        hint="use fewer replicas or sites, fewer sweeps, or a larger record_every (--record-every)",
    )


def check_records_per_chunk(records_per_chunk: object) -> int | None:
    """``None`` or an integer ``>= 1`` (larger than the run's records is allowed: one chunk)."""
    if records_per_chunk is None:
        return None
    return check_int(records_per_chunk, "records_per_chunk", minimum=1, allow_float=True)


def check_callback(callback: object) -> Callable[[int, int], object] | None:
    """``None`` or a callable ``callback(chunks_done, n_chunks)``."""
    if callback is not None and not callable(callback):
        raise ValueError(
            f"callback must be None or a function callback(chunks_done, n_chunks), got "
            f"{type(callback).__name__} {callback!r}"
        )
    return callback


def check_checkpoint_path(checkpoint: object) -> None:
    """``None``, or a file path whose folder exists and is writable (the file may exist: it is
    resumed from). A link is followed for reading and replaced, not written through, on saving.

    **Raises:** `ValueError` naming ``checkpoint``.
    """
    import os
    from pathlib import Path

    if checkpoint is None:
        return
    if not isinstance(checkpoint, (str, os.PathLike)) or not str(checkpoint):
        raise ValueError(f"checkpoint must be None or a file path, got {checkpoint!r}")
    p = Path(checkpoint)
    if p.is_dir():
        raise ValueError(f"checkpoint={str(p)!r} is a folder; give a file path such as run.ckpt.npz")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ValueError(f"checkpoint={str(p)!r}: folder {str(parent)!r} does not exist or is not writable")


def check_initial_values(initial: ArrayLike) -> np.ndarray:
    """The starting configuration(s) as int8, refusing any value other than ``+1`` and ``-1``
    *before* the cast (an unsigned ``255`` would otherwise wrap to ``-1``).

    **Raises:** `ValueError` naming ``initial`` and the allowed values.
    """
    arr = np.asarray(initial)
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"initial must be a numeric array of +1/-1 site values, got dtype {arr.dtype}")
    ok = (arr == 1) | (arr == -1)
    if not np.all(ok):
        raise ValueError(
            "initial must hold only the site values +1 ('+', Mn) and -1 ('-', Li); got "
            f"{np.unique(arr[~ok])[:3].tolist()}"
        )
    return arr.astype(np.int8)


__all__ = [
    "anneal_memory_bytes",
    "check_anneal_memory",
    "check_callback",
    "check_checkpoint_path",
    "check_initial_values",
    "check_records_per_chunk",
]
