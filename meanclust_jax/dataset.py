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
* with the reaction observer (``anneal(..., reactions=True)``, local moves; see
  `meanclust_jax.engine._reactions` for the derivation), per record interval and coordinate
  ``reaction = ['k1', …, 'k8']`` (non-index coordinates ``reactant(reaction)``, the reactant
  triplet type, and ``coefficient(reaction)``, 4 angled / 2 linear):
  ``reaction_flux(time, reaction)`` (concentration per sweep; exactly
  ``ΔC_++ = (f1 + f2 − f3 − f4)·Δt`` and ``ΔC_−− = (f5 + f6 − f7 − f8)·Δt`` over each interval;
  0 at the first record, which has no interval), ``rate_measured(time, reaction)`` and
  ``rate_measured_se(time, reaction)`` (the effective rate constant of eq. (5) and its standard
  error, per sweep; NaN at the first record and where a class had no attempt),
  ``reactant_concentration(time, reaction)`` (the reactant triplet concentration over the
  interval, estimated from the attempted swaps), and the counts it comes from,
  ``reaction_attempts(time, reaction)`` (reactant chains present at attempted swaps) and
  ``reaction_accepted(time, reaction)`` (reaction events), int64;
* attributes: composition, rows, cols, moves, engine, schedule, seed, Hamiltonian parameters,
  package version, ``reactions`` (1 with the observer) and ``start_time`` (the sweep the run
  started at: nonzero for a run chained to a previous one with ``initial=``, whose ``time``
  continues the previous clock).
"""

from __future__ import annotations

import os

import numpy as np

from ._io import load_netcdf, save_netcdf
from ._labels import PAIRS, SPECIES, TRIPLETS
from ._version import __version__
from .concentrations import concentrations_from_counts
from .engine._reactions import COEFFICIENTS, REACTANTS, REACTIONS, reaction_statistics


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
    if result.reaction_attempts is not None:
        data.update(_reaction_variables(result, N))
        coords.update(
            reaction=list(REACTIONS), reactant=("reaction", list(REACTANTS)),
            coefficient=("reaction", np.asarray(COEFFICIENTS, dtype=np.int64)),
        )
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
        "start_time": int(result.start_time),
        "reactions": int(spec.reactions),
        "energy_units": "Hamiltonian units per site (k_B = 1)",
    }
    for k, v in hamiltonian.attrs().items():
        attrs[f"hamiltonian_{k}" if k != "hamiltonian" else k] = v
    ds.attrs.update(attrs)
    ds["temperature"].attrs["units"] = "energy units (k_B = 1)"
    ds["energy"].attrs["units"] = "energy units per site"
    for name, attrs in _REACTION_ATTRS.items():
        if name in ds:
            ds[name].attrs.update(attrs)
    if B == 1:
        ds = ds.isel(replica=0, drop=True)
    return ds


_REACTION_ATTRS = {
    "reaction_flux": {"units": "concentration per sweep",
                      "long_name": "reaction flux f_r: dC++ = (f1+f2-f3-f4) dt, dC-- = (f5+f6-f7-f8) dt"},
    "rate_measured": {"units": "1/sweep", "long_name": "measured rate constant k_r of eq. (5)"},
    "rate_measured_se": {"units": "1/sweep", "long_name": "standard error of rate_measured (sweeps as clusters)"},
    "reactant_concentration": {"units": "1", "long_name": "reactant triplet concentration over the interval, "
                                                          "from the attempted swaps"},
    "reaction_attempts": {"units": "1", "long_name": "reactant chains present at attempted swaps"},
    "reaction_accepted": {"units": "1", "long_name": "reaction events (reactant chains at accepted swaps)"},
}


def _reaction_variables(result, n_sites: int) -> dict:  # noqa: ANN001
    """The observer's variables (see `meanclust_jax.engine._reactions`); the first record, which
    has no interval, holds 0 (counts, flux) or NaN (rates, concentration)."""
    stats = reaction_statistics(result.reaction_attempts, result.reaction_accepted, result.reaction_moments,
                                result.sweeps_per_record, n_sites)

    def first(a: np.ndarray, fill: float) -> np.ndarray:
        return np.concatenate([np.full_like(a[:, :1], fill), a], axis=1)

    dims = ("replica", "time", "reaction")
    out = {name: (dims, first(stats[name], 0.0 if name == "reaction_flux" else np.nan)) for name in stats}
    out["reaction_attempts"] = (dims, first(result.reaction_attempts, 0))
    out["reaction_accepted"] = (dims, first(result.reaction_accepted, 0))
    return out


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
