"""Annealing trajectories as `xarray.Dataset` (SPEC §4), and their netCDF files.

Layout (a leading ``replica`` dimension when several replicas run):

* coordinates ``time`` (sweeps), ``species = ['+','-']``, ``pair = ['++','--','+-']``,
  ``triplet`` (the 16 labels of SPEC §4 in order), ``orientation = ['v0','v1','v2']``;
* ``temperature(time)`` (energy units, ``k_B = 1``), ``energy(time)`` (per site),
  ``acceptance(time)`` (fraction of the swaps attempted since the previous record that were
  accepted and changed the configuration; NaN at ``time = 0``), ``C_single(time, species)``,
  ``C_pair(time, pair)``, ``C_pair_orientation(time, orientation, pair)``,
  ``C_triplet(time, triplet)``, ``triangle_histogram(time, n_minus)`` (triangles holding
  0..3 ``-`` sites), ``final_configuration(row, col)`` (int8 ±1) and, when requested,
  ``snapshot(snapshot_time, row, col)``;
* attributes: composition, rows, cols, moves, engine, schedule, seed, Hamiltonian parameters,
  package version.
"""

from __future__ import annotations

import os

import numpy as np

from ._io import load_netcdf, save_netcdf
from ._labels import PAIRS, SPECIES, TRIPLETS
from ._version import __version__
from .concentrations import concentrations_from_counts


def to_dataset(result):  # noqa: ANN001, ANN201
    """Assemble an `xarray.Dataset` from a `meanclust_jax.engine.AnnealResult` (internal; see
    the module docstring)."""
    import xarray as xr

    spec = result.spec
    lattice, hamiltonian, schedules, compositions = spec.lattice, spec.hamiltonian, spec.schedules, spec.compositions
    key_data, stride = result.key_data, spec.moves.stride(lattice)
    N = lattice.n_sites
    B = result.counts.shape[0]
    conc = concentrations_from_counts(result.counts, N)
    eps, J = hamiltonian.tables()
    hist = result.counts[..., 1:5].astype(np.float64)
    bonds = result.counts[..., 5:14].reshape(B, -1, 3, 3).sum(axis=-2).astype(np.float64)
    energy = (hist @ eps + bonds @ J) / N
    acceptance = np.full(result.counts.shape[:2], np.nan)
    acceptance[:, 1:] = result.n_changed / (result.sweeps_per_record * N)
    dims = ("replica", "time")
    data = {
        "temperature": (dims, result.temperature),
        "energy": (dims, energy),
        "acceptance": (dims, acceptance),
        "C_single": (dims + ("species",), conc["C_single"]),
        "C_pair": (dims + ("pair",), conc["C_pair"]),
        "C_pair_orientation": (dims + ("orientation", "pair"), conc["C_pair_orientation"]),
        "C_triplet": (dims + ("triplet",), conc["C_triplet"]),
        "triangle_histogram": (dims + ("n_minus",), conc["triangle_histogram"].astype(np.int64)),
        "final_configuration": (("replica", "row", "col"), result.final.astype(np.int8)),
    }
    coords = {
        "replica": np.arange(B),
        "time": ("time", result.time.astype(np.float64), {"units": "sweeps"}),
        "species": list(SPECIES),
        "pair": list(PAIRS),
        "triplet": list(TRIPLETS),
        "orientation": ["v0", "v1", "v2"],
        "n_minus": np.arange(4),
    }
    if result.snapshots:
        data["snapshot"] = (
            ("replica", "snapshot_time", "row", "col"),
            np.stack([s for _, s in result.snapshots], axis=1).astype(np.int8),
        )
        coords["snapshot_time"] = ("snapshot_time", np.asarray([t for t, _ in result.snapshots], float), {"units": "sweeps"})
    comps = [float(x) for x in compositions]
    data["composition"] = (("replica",), np.asarray(comps))
    data["n_minus_sites"] = (("replica",), result.counts[:, 0, 0])
    ds = xr.Dataset(data, coords=coords)
    attrs = {
        "title": "meanclust_jax annealing trajectory",
        "composition": comps[0] if len(set(comps)) == 1 else comps,
        "rows": lattice.rows,
        "cols": lattice.cols,
        "n_sites": N,
        "moves": spec.moves.name,
        "engine": spec.engine,
        "checkerboard_stride": list(stride),
        "schedule": str(schedules[0]) if len({str(s) for s in schedules}) == 1 else [str(s) for s in schedules],
        "schedule_steps_T": [T for T, _ in schedules[0].steps],
        "schedule_steps_sweeps": [s for _, s in schedules[0].steps],
        "seed": list(np.asarray(key_data).reshape(-1).tolist()),
        "meanclust_jax_version": __version__,
        "time_units": "sweeps (one sweep = N attempted swaps)",
        "energy_units": "Hamiltonian units per site (k_B = 1)",
    }
    for k, v in hamiltonian.attrs().items():
        attrs[f"hamiltonian_{k}" if k != "hamiltonian" else k] = v
    ds.attrs.update(attrs)
    ds["temperature"].attrs["units"] = "energy units (k_B = 1)"
    ds["energy"].attrs["units"] = "energy units per site"
    if B == 1:
        ds = ds.isel(replica=0, drop=True)
    return ds


def save_trajectory(ds, path: str | os.PathLike[str]) -> None:  # noqa: ANN001
    """Write a trajectory Dataset to netCDF atomically.

    **Raises:** `ValueError` if the folder of `path` does not exist or is not writable.
    """
    save_netcdf(ds, path)


def load_trajectory(path: str | os.PathLike[str]):  # noqa: ANN201
    """Load a trajectory written by `save_trajectory` (fully into memory).

    **Raises:** `FileNotFoundError` if `path` does not exist; `ValueError` if it is not a
    meanclust_jax trajectory (no ``C_pair``).
    """
    ds = load_netcdf(path)
    if "C_pair" not in ds:
        raise ValueError(f"path={str(path)!r} is not a meanclust_jax trajectory: no C_pair variable")
    return ds
