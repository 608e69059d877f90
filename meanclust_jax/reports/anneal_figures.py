"""Figures of the annealing runs (paper Figs. 2 and 3), drawn with Matplotlib's Agg canvas.

* `plot_anneal_history` (Fig. 2): temperature ``T``, energy per site and the pair
  concentrations ``C_++``, ``C_--``, ``C_+-`` against time (sweeps);
* `plot_lattice_snapshots` (Fig. 3): lattice configurations (e.g. the initial random and the
  final ordered state) drawn on the triangular geometry.

Each function writes one file (format from the suffix) atomically and returns its path; no
global Matplotlib state is touched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._labels import PAIRS
from .closure_figures import _new_figure, _save

#: Colours of the two species: ``+`` (Mn) and ``-`` (Li).
SPECIES_COLOURS: dict[int, str] = {1: "#6a3d9a", -1: "#f1c232"}


def _replica_mean(da) -> np.ndarray:  # noqa: ANN001 - xarray.DataArray
    return np.asarray(da.mean("replica").values if "replica" in da.dims else da.values, dtype=float)


def plot_anneal_history(ds, path: str | os.PathLike[str], *, title: str | None = None) -> Path:  # noqa: ANN001
    """Temperature, energy and pair concentrations against time (paper Fig. 2).

    **Arguments:**

    - `ds`: an annealing trajectory (`xarray.Dataset` of `meanclust_jax.anneal`); replicas are
      averaged, and their range is shaded.
    - `path`: output file (``.png``, ``.pdf``, ``.svg``); written atomically.
    - `title`: optional figure title.

    **Returns:** the path written.

    **Raises:** `ValueError` if `ds` lacks ``temperature``, ``energy`` or ``C_pair``.
    """
    for var in ("temperature", "energy", "C_pair"):
        if var not in ds:
            raise ValueError(f"ds must be an annealing trajectory with {var!r}; got {list(ds.data_vars)}")
    t = np.asarray(ds["time"].values, dtype=float)
    fig = _new_figure((11, 3.4))
    axes = fig.subplots(1, 3)
    axes[0].plot(t, _replica_mean(ds["temperature"]), color="black")
    axes[0].set_ylabel("T (energy units, $k_B = 1$)")
    e = ds["energy"]
    axes[1].plot(t, _replica_mean(e), color="tab:red")
    if "replica" in e.dims:
        axes[1].fill_between(t, e.min("replica").values, e.max("replica").values, color="tab:red", alpha=0.2)
    axes[1].set_ylabel("energy per site")
    for p, label in enumerate(PAIRS):
        c = ds["C_pair"].isel(pair=p)
        axes[2].plot(t, _replica_mean(c), label=f"$C_{{{label}}}$")
        if "replica" in c.dims:
            axes[2].fill_between(t, c.min("replica").values, c.max("replica").values, alpha=0.2)
    axes[2].set_ylabel("pair concentration")
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("time (sweeps)")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def site_positions(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian positions of the sites of a ``rows × cols`` triangular lattice.

    Site ``(a, b)`` sits at ``b·(1, 0) + a·(1/2, √3/2)`` (unit nearest-neighbour distance),
    consistent with the neighbour vectors of `meanclust_jax.lattice`.

    **Returns:** ``(x, y)``, float64 arrays of shape ``(rows, cols)``.
    """
    a, b = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return b + 0.5 * a, a * (np.sqrt(3.0) / 2.0)


def plot_lattice_snapshots(
    configurations: Sequence[np.ndarray],
    path: str | os.PathLike[str],
    *,
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Lattice configurations on the triangular geometry (paper Fig. 3).

    **Arguments:**

    - `configurations`: arrays of shape ``(rows, cols)`` with entries ±1 (``+1`` = Mn,
      ``-1`` = Li), one panel each.
    - `path`: output file; written atomically.
    - `labels`: optional panel titles (same length as `configurations`).
    - `title`: optional figure title.

    **Returns:** the path written.

    **Raises:** `ValueError` for an empty list, a non-2-D array, entries other than ±1, or a
    `labels` of the wrong length.
    """
    if not configurations:
        raise ValueError("configurations must hold at least one lattice")
    if labels is not None and len(labels) != len(configurations):
        raise ValueError(f"labels has {len(labels)} entries for {len(configurations)} configurations")
    n = len(configurations)
    fig = _new_figure((4.6 * n, 4.2))
    axes = np.atleast_1d(fig.subplots(1, n))
    for k, (ax, sigma) in enumerate(zip(axes, configurations, strict=True)):
        s = np.asarray(sigma)
        if s.ndim != 2 or not np.all(np.isin(s, (-1, 1))):
            raise ValueError(f"configurations[{k}] must be a 2-D array of ±1; got shape {s.shape}")
        x, y = site_positions(*s.shape)
        size = max(2.0, 9000.0 / s.size)
        for value, colour in SPECIES_COLOURS.items():
            m = s == value
            ax.scatter(x[m], y[m], s=size, c=colour, marker="h", linewidths=0,
                       label="Mn (+)" if value == 1 else "Li (−)")
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        if labels is not None:
            ax.set_title(labels[k], fontsize=10)
    axes[0].legend(loc="upper left", fontsize=8, markerscale=2)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


__all__ = ["SPECIES_COLOURS", "plot_anneal_history", "plot_lattice_snapshots", "site_positions"]
