"""Figures of the annealing runs (paper Figs. 2 and 3), drawn with Matplotlib's Agg canvas.

* `plot_anneal_history` (Fig. 2): temperature ``T``, energy per site and the pair
  concentrations ``C_++``, ``C_--``, ``C_+-`` against time (sweeps);
* `plot_lattice_snapshots` (Fig. 3): lattice configurations (e.g. the initial random and the
  final ordered state) drawn on the triangular geometry, each site its hexagonal (Voronoi) cell,
  with an optional magnified crop of the last one so that the √3×√3 order is visible.

Each function writes one file (format from the suffix) atomically and returns its path; no
global Matplotlib state is touched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._labels import PAIRS
from .closure_figures import _new_figure, _save
from .style import DIMENSIONLESS, PAIR_COLOURS, SPECIES_COLOURS, TIME_UNIT, with_unit

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes


def _replica_mean(da: xr.DataArray) -> np.ndarray:
    return np.asarray(da.mean("replica").values if "replica" in da.dims else da.values, dtype=float)


def plot_anneal_history(ds: xr.Dataset, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
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
    energy_unit = _energy_unit(ds)
    fig = _new_figure((12, 3.4))
    axes = fig.subplots(1, 3)
    axes[0].plot(t, _replica_mean(ds["temperature"]), color="black")
    axes[0].set_ylabel(with_unit("temperature $k_B T$", energy_unit))
    e = ds["energy"]
    axes[1].plot(t, _replica_mean(e), color="black")
    if "replica" in e.dims:
        axes[1].fill_between(t, e.min("replica").values, e.max("replica").values, color="black", alpha=0.2)
    axes[1].set_ylabel(with_unit("energy per site", energy_unit))
    for p, label in enumerate(PAIRS):
        c = ds["C_pair"].isel(pair=p)
        axes[2].plot(t, _replica_mean(c), label=f"$C_{{{label}}}$", color=PAIR_COLOURS[label])
        if "replica" in c.dims:
            axes[2].fill_between(t, c.min("replica").values, c.max("replica").values, alpha=0.2,
                                 color=PAIR_COLOURS[label])
    axes[2].set_ylabel(with_unit("pair concentration", DIMENSIONLESS))
    fig.legend(*axes[2].get_legend_handles_labels(), loc="outside right upper", fontsize=8, frameon=False)
    for ax in axes:
        ax.set_xlabel(with_unit("time", TIME_UNIT))
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _energy_unit(ds: xr.Dataset) -> str:
    """The energy unit of a trajectory, for axis labels (CF ``units`` of ``energy``; ``"1"`` is
    shown as "energy units")."""
    unit = str(ds["energy"].attrs.get("units", "1"))
    return "energy units, $k_B = 1$" if unit in ("1", "") else unit


def site_positions(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian positions of the sites of a ``rows × cols`` triangular lattice.

    Site ``(a, b)`` sits at ``b·(1, 0) + a·(1/2, √3/2)`` (unit nearest-neighbour distance),
    consistent with the neighbour vectors of `meanclust_jax.lattice`.

    **Returns:** ``(x, y)``, float64 arrays of shape ``(rows, cols)``.
    """
    a, b = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return b + 0.5 * a, a * (np.sqrt(3.0) / 2.0)


def _hexagons(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vertices ``(n, 6, 2)`` of the hexagonal Voronoi cells of sites at ``(x, y)`` (unit bonds)."""
    angles = np.deg2rad(30.0 + 60.0 * np.arange(6))
    corners = np.stack([np.cos(angles), np.sin(angles)], axis=-1) / np.sqrt(3.0)
    return np.stack([x.ravel(), y.ravel()], axis=-1)[:, None, :] + corners[None]


def _draw_lattice(ax: Axes, s: np.ndarray) -> None:
    from matplotlib.collections import PolyCollection

    x, y = site_positions(*s.shape)
    colours = np.where(s.ravel() > 0, SPECIES_COLOURS[1], SPECIES_COLOURS[-1])
    ax.add_collection(PolyCollection(_hexagons(x, y), facecolors=colours, edgecolors="none", antialiased=False))
    ax.set_xlim(x.min() - 1, x.max() + 1)
    ax.set_ylim(y.min() - 1, y.max() + 1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_lattice_snapshots(
    configurations: Sequence[np.ndarray],
    path: str | os.PathLike[str],
    *,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    zoom: int | None = None,
) -> Path:
    """Lattice configurations on the triangular geometry (paper Fig. 3).

    Each site is drawn as its hexagonal cell, so the lattice is tiled without gaps at any size.

    **Arguments:**

    - `configurations`: arrays of shape ``(rows, cols)`` with entries ±1 (``+1`` = Mn,
      ``-1`` = Li), one panel each.
    - `path`: output file; written atomically.
    - `labels`: optional panel titles (same length as `configurations`).
    - `title`: optional figure title.
    - `zoom`: if given, add a panel with the top-left ``zoom × zoom`` sites of the last
      configuration, magnified (its region is outlined on the full panel); ``2 ≤ zoom``, at most
      the lattice's smaller side.

    **Returns:** the path written.

    **Raises:** `ValueError` for an empty list, a non-2-D array, entries other than ±1, a
    `labels` of the wrong length, or a `zoom` out of range.
    """
    from matplotlib.patches import Patch, Polygon

    if not configurations:
        raise ValueError("configurations must hold at least one lattice")
    if labels is not None and len(labels) != len(configurations):
        raise ValueError(f"labels has {len(labels)} entries for {len(configurations)} configurations")
    arrays = []
    for k, sigma in enumerate(configurations):
        s = np.asarray(sigma)
        if s.ndim != 2 or not np.all(np.isin(s, (-1, 1))):
            raise ValueError(f"configurations[{k}] must be a 2-D array of ±1; got shape {s.shape}")
        arrays.append(s)
    if zoom is not None:
        side = min(arrays[-1].shape)
        if isinstance(zoom, bool) or not isinstance(zoom, (int, np.integer)) or not 2 <= zoom <= side:
            raise ValueError(f"zoom must be an integer in [2, {side}] (sites per side of the crop), got {zoom!r}")
    n = len(arrays) + (zoom is not None)
    fig = _new_figure((4.6 * n, 3.6))
    axes = np.atleast_1d(fig.subplots(1, n))
    for k, s in enumerate(arrays):
        _draw_lattice(axes[k], s)
        if labels is not None:
            axes[k].set_title(labels[k], fontsize=10)
    if zoom is not None:
        crop = arrays[-1][:zoom, :zoom]
        _draw_lattice(axes[-1], crop)
        corners = np.array([[0, 0], [0, zoom - 1], [zoom - 1, zoom - 1], [zoom - 1, 0]], dtype=float)
        cx, cy = site_positions(*arrays[-1].shape)
        pts = [(cx[int(a), int(b)], cy[int(a), int(b)]) for a, b in corners]
        axes[len(arrays) - 1].add_patch(Polygon(pts, closed=True, fill=False, edgecolor="black", lw=1.2))
        name = labels[-1].split(" (")[0] if labels is not None else "last"
        axes[-1].set_title(f"{name}: {zoom} × {zoom} sites (outlined), magnified", fontsize=10)
    handles = [Patch(color=SPECIES_COLOURS[1], label="Mn (+)"), Patch(color=SPECIES_COLOURS[-1], label="Li (−)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=9, frameon=False)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


__all__ = ["SPECIES_COLOURS", "plot_anneal_history", "plot_lattice_snapshots", "site_positions"]
