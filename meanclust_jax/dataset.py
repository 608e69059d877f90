"""Annealing trajectories as `xarray.Dataset` (docs/model.md §4), their netCDF files, and the one
validated reader of their concentrations (`read_trajectories`, `Trajectories`) used by the
closures, the inference, the reports and the command line.

Layout (a leading ``replica`` dimension when several replicas run):

* coordinates ``time`` (sweeps), ``species = ['+','-']``, ``pair = ['++','--','+-']``,
  ``triplet`` (the 16 labels of docs/model.md §4 in order), ``orientation = ['v0','v1','v2']``;
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
* coordinates ``row``, ``col`` (axial coordinates ``a``, ``b`` of the sites);
* attributes: composition, rows, cols, moves, engine, schedule, seed, Hamiltonian parameters,
  package version, ``reactions`` (1 with the observer), ``start_time`` (the sweep the run
  started at: nonzero for a run chained to a previous one with ``initial=``, whose ``time``
  continues the previous clock), ``Conventions = "CF-1.10"``. Every variable and coordinate has a CF
  ``long_name`` and ``units`` (`meanclust_jax._cf.TRAJECTORY`): concentrations ``"1"``, times
  ``"sweep"``, temperature and energy in the Hamiltonian's ``energy_units``.

Any dimension of a concentration variable besides ``time`` and its label dimension (typically a
leading ``replica``) is a set of independent trajectories; `read_trajectories` flattens them to
``R`` trajectories and leaves averaging to the caller (the closures evaluate each replica on its
own pair concentrations; the inference averages replicas to one observed trajectory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ._cf import CONFIGURATION_FLAGS, REFERENCES, apply_cf, trajectory_table
from ._io import load_netcdf, save_netcdf
from ._labels import PAIRS, SPECIES, TRIPLETS
from ._version import __version__
from .concentrations import concentrations_from_counts, split_counts
from .energy import energy_from_counts
from .engine import COEFFICIENTS, REACTANTS, REACTIONS, AnnealResult, reaction_statistics

if TYPE_CHECKING:
    import xarray as xr


def to_dataset(result: AnnealResult) -> xr.Dataset:
    """Assemble an `xarray.Dataset` from a `meanclust_jax.engine.AnnealResult` (internal; see
    the module docstring)."""
    import xarray as xr

    spec = result.spec
    lattice, hamiltonian, schedules, compositions = spec.lattice, spec.hamiltonian, spec.schedules, spec.compositions
    key_data, stride = result.key_data, spec.moves.stride(lattice)
    N = lattice.n_sites
    B = result.counts.shape[0]
    conc = concentrations_from_counts(result.counts, N)
    parts = split_counts(result.counts)
    energy = energy_from_counts(parts.triangle_histogram, parts.bonds, hamiltonian) / N
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
        "time": ("time", result.time.astype(np.float64)),
        "species": list(SPECIES),
        "pair": list(PAIRS),
        "triplet": list(TRIPLETS),
        "orientation": ["v0", "v1", "v2"],
        "n_minus": np.arange(4),
        "row": np.arange(lattice.rows),
        "col": np.arange(lattice.cols),
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
        coords["snapshot_time"] = ("snapshot_time", np.asarray([t for t, _ in result.snapshots], float))
    comps = [float(x) for x in compositions]
    data["composition"] = (("replica",), np.asarray(comps))
    data["n_minus_sites"] = (("replica",), parts.n_minus[:, 0])
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
    apply_cf(ds, trajectory_table(hamiltonian.energy_units), source=f"meanclust_jax {__version__}",
             references=REFERENCES)
    for name in ("final_configuration", "snapshot"):
        if name in ds:
            ds[name].attrs.update(CONFIGURATION_FLAGS)
    if B == 1:
        ds = ds.isel(replica=0, drop=True)
    return ds


def _reaction_variables(result: AnnealResult, n_sites: int) -> dict:
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


def save_trajectory(ds: xr.Dataset, path: str | os.PathLike[str]) -> None:
    """Write a trajectory Dataset to netCDF atomically.

    **Raises:** `ValueError` if the folder of `path` does not exist or is not writable.
    """
    save_netcdf(ds, path)


def load_trajectory(path: str | os.PathLike[str], *, need_triplets: bool = False) -> xr.Dataset:
    """Load a trajectory written by `save_trajectory` (fully into memory) and validate it.

    **Arguments:**

    - `path`: netCDF file.
    - `need_triplets`: also require ``C_triplet`` (the closures need it; the inference does not).

    **Returns:**

    The `xarray.Dataset`, checked by `read_trajectories`.

    **Raises:**

    - `FileNotFoundError` if `path` does not exist.
    - `ValueError` naming `path` if it is not a valid meanclust_jax trajectory (a variable,
      coordinate or label missing, fewer than two records, ``time`` not strictly increasing, a
      concentration NaN or outside ``[0, 1]``; see `read_trajectories`).
    """
    ds = load_netcdf(path)
    try:
        read_trajectories(ds, need_triplets=need_triplets)
    except ValueError as err:
        raise ValueError(f"path={str(path)!r} is not a valid meanclust_jax trajectory: {err}") from None
    return ds


# --------------------------------------------------------------------------- validated reader

_VARIABLES = {"C_single": ("species", SPECIES), "C_pair": ("pair", PAIRS), "C_triplet": ("triplet", TRIPLETS)}


def check_concentrations(
    name: str, values: ArrayLike, *, last: int | None = None, positive: bool = False
) -> np.ndarray:
    """Check that ``values`` are finite concentrations in ``[0, 1]`` (``(0, 1]`` if ``positive``).

    **Arguments:**

    - `name`: the parameter name used in error messages.
    - `values`: array-like of floats.
    - `last`: required size of the last axis, or ``None``.
    - `positive`: require strictly positive values (singlets, which appear in denominators).

    **Returns:**

    The values as a float64 NumPy array.

    **Raises:**

    - `ValueError` naming ``name`` and the allowed range or shape.
    """
    arr = np.asarray(values, dtype=np.float64)
    if last is not None and (arr.ndim < 1 or arr.shape[-1] != last):
        raise ValueError(f"{name} must have shape (..., {last}); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; concentrations must lie in [0, 1]")
    if positive:
        if np.any(arr <= 0) or np.any(arr > 1):
            raise ValueError(
                f"{name} must lie in (0, 1] (singlet concentrations appear in denominators); "
                f"got values in [{arr.min():.6g}, {arr.max():.6g}]"
            )
    elif np.any(arr < 0) or np.any(arr > 1):
        raise ValueError(
            f"{name} must lie in [0, 1]; got values in [{arr.min():.6g}, {arr.max():.6g}]"
        )
    return arr


def trapezoid_weights(times: np.ndarray) -> np.ndarray:
    """Weights ``ω`` with ``Σ_t ω_t f(t) = (1/T) ∫ f dt`` by the trapezoid rule (eq. (15)).

    **Arguments:**

    - `times`: float array of shape ``(n,)``, strictly increasing, ``n ≥ 2`` (sweeps).

    **Returns:**

    Float64 array of shape ``(n,)`` summing to one.
    """
    t = np.asarray(times, dtype=np.float64)
    dt = np.diff(t)
    w = np.zeros_like(t)
    w[:-1] += dt / 2
    w[1:] += dt / 2
    return w / (t[-1] - t[0])


@dataclass(frozen=True)
class Trajectories:
    """Checked concentration time series of one dataset, flattened to ``R`` independent
    trajectories (float64 NumPy arrays; made by `read_trajectories`).

    **Fields:**

    - `times`: ``(n,)`` recorded times (sweeps), strictly increasing, ``n ≥ 2``.
    - `C_single`: ``(R, n, 2)`` ordered ``(C_+, C_-)``, in ``(0, 1]``.
    - `C_pair`: ``(R, n, 3)`` ordered ``(C_++, C_--, C_+-)``, in ``[0, 1]``.
    - `C_triplet`: ``(R, n, 16)`` in docs/model.md §4 order, in ``[0, 1]``, or ``None`` when not read.
    - `weights`: ``(n,)`` trapezoid weights of ``(1/T) ∫ dt`` (`trapezoid_weights`).
    - `batch_dims`, `batch_shape`, `batch_coords`: the dimensions flattened into ``R`` (e.g.
      ``("replica",)``), their sizes and coordinate values; empty for a single trajectory.
    - `composition`: the nominal composition ``x`` (a ``composition`` variable, else a scalar
      ``composition`` attribute, else the mean recorded ``C_-``).
    - `attrs`: the dataset's attributes.
    """

    times: np.ndarray
    C_single: np.ndarray
    C_pair: np.ndarray
    C_triplet: np.ndarray | None
    weights: np.ndarray
    batch_dims: tuple[str, ...] = ()
    batch_shape: tuple[int, ...] = ()
    batch_coords: dict = field(default_factory=dict)
    composition: float = float("nan")
    attrs: dict = field(default_factory=dict)

    @property
    def num_trajectories(self) -> int:
        """``R``, the number of independent trajectories."""
        return int(self.C_pair.shape[0])


def read_trajectories(dataset: xr.Dataset, *, need_triplets: bool = True, name: str = "dataset") -> Trajectories:
    """Extract and check the concentrations of an annealing trajectory (the one reader).

    The dataset has a one-dimensional coordinate ``time`` (sweeps) and variables
    ``C_single(..., time, species)``, ``C_pair(..., time, pair)`` and, if needed,
    ``C_triplet(..., time, triplet)`` with the label coordinates of the module docstring (in any
    order); further dimensions (e.g. ``replica``) must be shared by all three and become the
    ``R`` trajectories of the result. Other variables are ignored.

    **Arguments:**

    - `dataset`: the `xarray.Dataset`.
    - `need_triplets`: whether ``C_triplet`` is required (and read).
    - `name`: how the dataset is called in error messages (the caller's parameter name).

    **Returns:**

    A `Trajectories` of float64 NumPy arrays, labels in the order of `meanclust_jax.SPECIES`,
    `meanclust_jax.PAIRS` and `meanclust_jax.TRIPLETS`.

    **Raises:**

    - `ValueError` naming the variable if the dataset is not an `xarray.Dataset`, a variable or
      label is missing, ``time`` is not strictly increasing with at least two records, or a
      concentration is NaN or outside ``[0, 1]`` (singlets: ``(0, 1]``).
    """
    import xarray as xr

    if not isinstance(dataset, xr.Dataset):
        raise ValueError(f"{name} must be an xarray.Dataset; got {type(dataset).__name__}")
    names = ["C_single", "C_pair"] + (["C_triplet"] if need_triplets else [])
    for var in names:
        dim = _VARIABLES[var][0]
        if var not in dataset.data_vars:
            raise ValueError(f"{name} must contain the variable {var!r} with dims (..., time, {dim})")
    if "time" not in dataset.coords or dataset["time"].ndim != 1:
        raise ValueError(f"{name} must have a one-dimensional coordinate 'time' (sweeps)")
    times = np.asarray(dataset["time"].values, dtype=np.float64)
    if times.shape[0] < 2:
        raise ValueError(f"{name} 'time' must have at least 2 records; got {times.shape[0]}")
    if not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
        raise ValueError(f"{name} 'time' must be finite and strictly increasing")

    arrays: dict[str, np.ndarray | None] = {"C_triplet": None}
    batch_dims: tuple[str, ...] | None = None
    batch_shape: tuple[int, ...] = ()
    batch_coords: dict = {}
    for var in names:
        dim, labels = _VARIABLES[var]
        da = dataset[var]
        if "time" not in da.dims or dim not in da.dims:
            raise ValueError(f"{name}[{var!r}] must have dims (..., time, {dim}); got {da.dims}")
        if dim not in da.coords:
            raise ValueError(f"{name}[{var!r}] needs a coordinate {dim!r} with labels {list(labels)}")
        have = [str(v) for v in da[dim].values]
        if sorted(have) != sorted(labels) or len(have) != len(labels):
            raise ValueError(f"{name} coordinate {dim!r} must hold the labels {list(labels)}; got {have}")
        da = da.sel({dim: list(labels)})
        others = tuple(d for d in da.dims if d not in ("time", dim))
        if batch_dims is None:
            batch_dims = others
            batch_shape = tuple(da.sizes[d] for d in others)
            batch_coords = {d: da[d].values for d in others if d in da.coords}
        elif set(others) != set(batch_dims):
            raise ValueError(
                f"{name}[{var!r}] has batch dims {others}, but C_single has {batch_dims}; "
                "all concentrations must share them"
            )
        da = da.transpose(*batch_dims, "time", dim)
        R = int(np.prod(batch_shape)) if batch_shape else 1
        arrays[var] = check_concentrations(
            f"{name}[{var!r}]", da.values, last=len(labels), positive=(var == "C_single")
        ).reshape(R, times.shape[0], len(labels))
    return Trajectories(
        times=times,
        C_single=arrays["C_single"],
        C_pair=arrays["C_pair"],
        C_triplet=arrays["C_triplet"],
        weights=trapezoid_weights(times),
        batch_dims=batch_dims or (),
        batch_shape=batch_shape,
        batch_coords=batch_coords,
        composition=_composition(dataset, arrays["C_single"]),
        attrs=dict(dataset.attrs),
    )


def _composition(dataset: xr.Dataset, C_single: np.ndarray) -> float:
    """Nominal composition: the mean of a ``composition`` data variable (the engine stores one
    per replica), else a scalar ``attrs["composition"]``, else the mean recorded ``C_-``."""
    if "composition" in dataset.data_vars:
        try:
            return float(np.mean(np.asarray(dataset["composition"].values, dtype=float)))
        except (TypeError, ValueError):
            pass
    comp = dataset.attrs.get("composition", None)
    if comp is not None and np.ndim(comp) == 0:
        try:
            return float(comp)
        except (TypeError, ValueError):
            pass
    return float(np.mean(C_single[..., 1]))


__all__ = [
    "Trajectories",
    "check_concentrations",
    "load_trajectory",
    "read_trajectories",
    "save_trajectory",
    "to_dataset",
    "trapezoid_weights",
]
