"""Reading and checking concentration time series for the closures (SPEC §4–5).

An annealing trajectory is an `xarray.Dataset` with coordinates ``time`` (sweeps),
``species = ['+', '-']``, ``pair = ['++', '--', '+-']``, ``triplet`` (the 16 labels of SPEC §4)
and variables ``C_single(time, species)``, ``C_pair(time, pair)``, ``C_triplet(time, triplet)``.
Any further dimension (typically a leading ``replica``) is treated as a set of independent
trajectories: the closure errors are computed per trajectory and averaged (the closure acts on
each replica's own pair concentrations; averaging concentrations over replicas first would
evaluate the nonlinear closure at a mixture, which no replica ever visits).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._labels import PAIRS, SPECIES, TRIPLETS

_VARIABLES = {"C_single": ("species", SPECIES), "C_pair": ("pair", PAIRS), "C_triplet": ("triplet", TRIPLETS)}


def check_concentrations(name: str, values, *, last: int | None = None, positive: bool = False) -> np.ndarray:
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
    """Concentration time series of one dataset, flattened to ``R`` independent trajectories.

    - `times`: ``(n,)`` recorded times (sweeps).
    - `C_single`: ``(R, n, 2)``; `C_pair`: ``(R, n, 3)``; `C_triplet`: ``(R, n, 16)`` or ``None``.
    - `weights`: ``(n,)`` trapezoid weights of ``(1/T) ∫ dt``.
    - `batch_dims`, `batch_shape`, `batch_coords`: the dimensions flattened into ``R``.
    - `composition`: the nominal composition ``x`` (see `_composition`).
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


def read_trajectories(dataset, *, need_triplets: bool = True) -> Trajectories:
    """Extract and check the concentrations of an annealing dataset.

    **Arguments:**

    - `dataset`: `xarray.Dataset` following the data contract of the module docstring.
    - `need_triplets`: whether ``C_triplet`` is required.

    **Returns:**

    A `Trajectories` with float64 NumPy arrays.

    **Raises:**

    - `ValueError` if the dataset is not an `xarray.Dataset`, a variable or label is missing,
      ``time`` is not strictly increasing with at least two records, or a concentration is NaN
      or outside ``[0, 1]`` (singlets: ``(0, 1]``).
    """
    import xarray as xr

    if not isinstance(dataset, xr.Dataset):
        raise ValueError(f"dataset must be an xarray.Dataset; got {type(dataset).__name__}")
    names = ["C_single", "C_pair"] + (["C_triplet"] if need_triplets else [])
    for name in names:
        dim = _VARIABLES[name][0]
        if name not in dataset.data_vars:
            raise ValueError(f"dataset must contain the variable {name!r} with dims (..., time, {dim})")
    if "time" not in dataset.coords or dataset["time"].ndim != 1:
        raise ValueError("dataset must have a one-dimensional coordinate 'time' (sweeps)")
    times = np.asarray(dataset["time"].values, dtype=np.float64)
    if times.shape[0] < 2:
        raise ValueError(f"dataset 'time' must have at least 2 records; got {times.shape[0]}")
    if not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
        raise ValueError("dataset 'time' must be finite and strictly increasing")

    arrays: dict[str, np.ndarray | None] = {"C_triplet": None}
    batch_dims: tuple[str, ...] | None = None
    batch_shape: tuple[int, ...] = ()
    batch_coords: dict = {}
    for name in names:
        dim, labels = _VARIABLES[name]
        da = dataset[name]
        if "time" not in da.dims or dim not in da.dims:
            raise ValueError(f"dataset[{name!r}] must have dims (..., time, {dim}); got {da.dims}")
        if dim not in da.coords:
            raise ValueError(f"dataset[{name!r}] needs a coordinate {dim!r} with labels {list(labels)}")
        have = [str(v) for v in da[dim].values]
        if sorted(have) != sorted(labels) or len(have) != len(labels):
            raise ValueError(
                f"dataset coordinate {dim!r} must hold the labels {list(labels)}; got {have}"
            )
        da = da.sel({dim: list(labels)})
        others = tuple(d for d in da.dims if d not in ("time", dim))
        if batch_dims is None:
            batch_dims = others
            batch_shape = tuple(da.sizes[d] for d in others)
            batch_coords = {d: da[d].values for d in others if d in da.coords}
        elif set(others) != set(batch_dims):
            raise ValueError(
                f"dataset[{name!r}] has batch dims {others}, but C_single has {batch_dims}; "
                "all concentrations must share them"
            )
        da = da.transpose(*batch_dims, "time", dim)
        R = int(np.prod(batch_shape)) if batch_shape else 1
        arrays[name] = check_concentrations(
            f"dataset[{name!r}]", da.values, last=len(labels), positive=(name == "C_single")
        ).reshape(R, times.shape[0], len(labels))
    attrs = dict(dataset.attrs)
    composition = _composition(dataset, arrays["C_single"])
    return Trajectories(
        times=times,
        C_single=arrays["C_single"],
        C_pair=arrays["C_pair"],
        C_triplet=arrays["C_triplet"],
        weights=trapezoid_weights(times),
        batch_dims=batch_dims or (),
        batch_shape=batch_shape,
        batch_coords=batch_coords,
        composition=composition,
        attrs=attrs,
    )


def _composition(dataset, C_single: np.ndarray) -> float:
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


def _lattice_of(run: Trajectories) -> tuple[int, int] | None:
    """``(rows, cols)`` from a run's attributes, or ``None`` if it does not say."""
    rows, cols = run.attrs.get("rows"), run.attrs.get("cols")
    if rows is None or cols is None:
        return None
    try:
        return int(rows), int(cols)
    except (TypeError, ValueError):
        return None


def read_runs(datasets, *, need_triplets: bool = True, mixed_lattices: bool = False) -> list[Trajectories]:
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
        try:
            runs.append(read_trajectories(ds, need_triplets=need_triplets))
        except ValueError as err:
            raise ValueError(f"datasets[{i}]: {err}") from None
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
