"""The closures read trajectories with the package's one validated reader.

`read_trajectories`, `Trajectories`, `check_concentrations` and `trapezoid_weights` live in
`meanclust_jax.dataset`; they are imported here only so that code written against the earlier
layout (``meanclust_jax.closures._data``) keeps working. `read_runs` reads the several runs of
a joint calibration with that reader and checks that they belong together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

from ..dataset import (
    Trajectories as Trajectories,
    check_concentrations as check_concentrations,
    read_trajectories as read_trajectories,
    trapezoid_weights as trapezoid_weights,
)

if TYPE_CHECKING:
    import xarray as xr

    #: One annealing run or several (each an `xarray.Dataset` or already read), see `read_runs`.
    Runs: TypeAlias = xr.Dataset | Trajectories | Sequence[xr.Dataset | Trajectories]


def _lattice_of(run: Trajectories) -> tuple[int, int] | None:
    """``(rows, cols)`` from a run's attributes, or ``None`` if it does not say."""
    rows, cols = run.attrs.get("rows"), run.attrs.get("cols")
    if rows is None or cols is None:
        return None
    try:
        return int(rows), int(cols)
    except (TypeError, ValueError):
        return None


def read_runs(datasets: Runs, *, need_triplets: bool = True, mixed_lattices: bool = False) -> list[Trajectories]:
    """Read and check several annealing runs for a joint calibration.

    **Arguments:**

    - `datasets`: an `xarray.Dataset` (one run) or a non-empty sequence of them (e.g. one per
      composition); already-read `Trajectories` are accepted as they are. Each run's extra
      dims (``replica``) are independent trajectories.
    - `need_triplets`: whether ``C_triplet`` is required.
    - `mixed_lattices`: allow runs whose ``rows``/``cols`` attributes differ. Runs on different
      lattices have different finite-size effects, so mixing them must be asked for.

    **Returns:**

    A list of `Trajectories`, one per run, in the given order.

    **Raises:**

    - `ValueError` naming ``datasets[i]`` for an invalid run (e.g. one without ``C_triplet``),
      an empty sequence, or runs on different lattices without ``mixed_lattices=True``.
    """
    import xarray as xr

    if isinstance(datasets, xr.Dataset):
        datasets = [datasets]
    if isinstance(datasets, (str, bytes)) or not hasattr(datasets, "__iter__"):
        raise ValueError(f"datasets must be an xarray.Dataset or a sequence of them; got {type(datasets).__name__}")
    datasets = list(datasets)
    if not datasets:
        raise ValueError("datasets must hold at least one annealing run")
    runs = []
    for i, ds in enumerate(datasets):
        if isinstance(ds, Trajectories):  # already read and checked (e.g. a bootstrap sample)
            if need_triplets and ds.C_triplet is None:
                raise ValueError(f"datasets[{i}]: the trajectory has no triplet concentrations (C_triplet)")
            runs.append(ds)
            continue
        runs.append(read_trajectories(ds, need_triplets=need_triplets, name=f"datasets[{i}]"))
    if not mixed_lattices:
        lattices = [_lattice_of(r) for r in runs]
        known = {lat for lat in lattices if lat is not None}
        if len(known) > 1:
            desc = ", ".join(f"datasets[{i}] {lat[0]}x{lat[1]}" for i, lat in enumerate(lattices) if lat is not None)
            raise ValueError(
                f"datasets: the runs are on different lattices ({desc}); pass mixed_lattices=True "
                "(CLI: --mixed-lattices) to calibrate on all of them together"
            )
    return runs
