"""Accuracy of a closure on a trajectory: ``J_τ`` (eq. (15)) and ``ℰ`` (eq. (30)); docs/model.md §5."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np

from .._labels import TRIPLETS
from ..dataset import Trajectories, read_trajectories
from ._base import AbstractClosure, AbstractMonomialClosure, monomial_triplets_numpy

if TYPE_CHECKING:
    import xarray as xr


def predict_triplets(closure: AbstractClosure, C_single: np.ndarray, C_pair: np.ndarray) -> np.ndarray:
    """The closure's triplet concentrations ``g_τ(C(t))`` on checked data, as a NumPy array.

    Monomial closures are evaluated in NumPy (no JAX compilation); any other closure is called.

    **Arguments:**

    - `closure`: any `AbstractClosure`.
    - `C_single`: float array ``(*batch, 2)``, ``(C_+, C_-)``, e.g. `Trajectories.C_single`.
    - `C_pair`: float array ``(*batch, 3)``, ``(C_++, C_--, C_+-)``, e.g. `Trajectories.C_pair`.

    **Returns:**

    Float64 array ``(*batch, 16)`` in docs/model.md §4 order, including the shape weight (NaN or inf
    where the closure is not finite on the data).

    **Raises:**

    - `ValueError` if `closure` is not an `AbstractClosure`.
    """
    if not isinstance(closure, AbstractClosure):
        raise ValueError(f"closure must be an AbstractClosure; got {type(closure).__name__}")
    if isinstance(closure, AbstractMonomialClosure):
        gamma, xi = closure.exponents()
        return monomial_triplets_numpy(gamma, xi, C_single, C_pair)
    return np.asarray(closure(jnp.asarray(C_single), jnp.asarray(C_pair)), dtype=np.float64)


def run_errors(closure: AbstractClosure, runs: Sequence[Trajectories]) -> np.ndarray:
    """``J_τ`` (eq. (15)) of a closure on checked runs (`Trajectories`), replica-averaged per run.

    **Returns:** float64 array ``(len(runs), 16)``; ``inf`` where the closure is not finite.
    """
    out = []
    for traj in runs:
        g = predict_triplets(closure, traj.C_single, traj.C_pair)
        with np.errstate(invalid="ignore", over="ignore"):
            J = np.einsum("t,rtk->rk", traj.weights, (g - traj.C_triplet) ** 2).mean(axis=0)
        out.append(np.where(np.isfinite(J), J, np.inf))
    return np.asarray(out, dtype=np.float64).reshape(len(runs), len(TRIPLETS))


def closure_errors(closure: AbstractClosure, dataset: xr.Dataset, *, average_replicas: bool = True) -> xr.DataArray:
    """Mean-square reconstruction error ``J_τ`` of each triplet type (eq. (15)).

    ``J_τ = (1/T) ∫_0^T (g_τ(C(t)) − Ĉ_τ(t))² dt`` with the trapezoid rule over the recorded
    times, ``g_τ`` the closure evaluated on the trajectory's own singlet and pair concentrations
    and ``Ĉ_τ`` its recorded triplet concentrations (both including the shape weight ``w``).

    **Arguments:**

    - `closure`: any `AbstractClosure`.
    - `dataset`: `xarray.Dataset` with ``C_single(time, species)``, ``C_pair(time, pair)``,
      ``C_triplet(time, triplet)`` and optional extra dims (e.g. ``replica``), which are
      independent trajectories.
    - `average_replicas`: average ``J_τ`` over the extra dims (default) or keep them.

    **Returns:**

    `xarray.DataArray` of float64 over ``triplet`` (docs/model.md §4 order), or over
    ``(*extra_dims, triplet)``; dimensionless (squared concentration). A closure that returns
    NaN or infinite values on the data gets ``J_τ = inf`` for those types, with a warning.

    **Raises:**

    - `ValueError` if a variable or label is missing, ``time`` has fewer than two records or is
      not strictly increasing, or a concentration is NaN or outside ``[0, 1]`` (singlets ``(0, 1]``).
    """
    import xarray as xr

    traj = read_trajectories(dataset, need_triplets=True)
    g = predict_triplets(closure, traj.C_single, traj.C_pair)  # (R, n, 16)
    bad = ~np.all(np.isfinite(g), axis=(0, 1))
    if np.any(bad):
        warnings.warn(
            f"{type(closure).__name__} gives NaN or infinite concentrations for "
            f"{[TRIPLETS[t] for t in np.flatnonzero(bad)]}; their error is set to inf",
            RuntimeWarning,
            stacklevel=2,
        )
    with np.errstate(invalid="ignore", over="ignore"):
        J = np.einsum("t,rtk->rk", traj.weights, (g - traj.C_triplet) ** 2)
    J = np.where(np.isfinite(J), J, np.inf)
    attrs = {
        "long_name": "closure error J_tau (eq. 15)",
        "closure": type(closure).__name__,
        "composition": traj.composition,
    }
    if average_replicas or not traj.batch_dims:
        return xr.DataArray(J.mean(axis=0), dims=("triplet",), coords={"triplet": list(TRIPLETS)}, attrs=attrs)
    coords = {"triplet": list(TRIPLETS), **traj.batch_coords}
    return xr.DataArray(
        J.reshape(*traj.batch_shape, len(TRIPLETS)),
        dims=(*traj.batch_dims, "triplet"),
        coords=coords,
        attrs=attrs,
    )


def mean_closure_error(closure: AbstractClosure, dataset: xr.Dataset) -> float:
    """Mean closure error ``ℰ = (1/16) Σ_τ J_τ`` over the 16 triplet types (eq. (30)).

    **Arguments:**

    - `closure`: any `AbstractClosure`.
    - `dataset`: annealing trajectory (see `closure_errors`); replicas are averaged.

    **Returns:**

    ``ℰ`` as a Python float (dimensionless).

    **Raises:**

    - `ValueError` as `closure_errors`.
    """
    return float(np.mean(closure_errors(closure, dataset).values))
