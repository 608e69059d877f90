"""Figures of the closure study (paper Figs. 8–12), drawn with matplotlib's Agg canvas.

* `plot_triplets_vs_pairs`: triplet concentrations against the corresponding pair
  concentration, data and closures (Fig. 8);
* `plot_closure_errors`: per-type errors ``J_τ`` of several closures as grouped bars (Figs. 9, 10);
* `plot_mean_error_vs_composition`: ``ℰ`` (eq. (30)) against composition (Figs. 11, 12).

Each function writes one file (format from the suffix: ``.png``, ``.pdf``, ``.svg``) atomically
and returns its path. No global matplotlib state is touched (no ``pyplot``). Closures keep one
colour in every figure (`meanclust_jax.reports.style.closure_colour`); legends sit outside the
data; every axis states its unit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._io import atomic_path
from .._labels import PAIR_INDEX, TRIPLETS, pair_label, triplet_pattern, triplet_shape
from .style import DATA_COLOURS, DIMENSIONLESS, closure_colour, closure_name, with_unit

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure as MplFigure

#: Types shown in Fig. 8 by default (one per panel).
FIG8_TYPES: tuple[str, ...] = ("lin:+++", "ang:-+-", "tri:++-", "ang:---")

_SHAPE_NAMES = {"lin": "linear", "ang": "angled", "tri": "triangle"}


def _new_figure(figsize: tuple[float, float]) -> MplFigure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: MplFigure, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=150)
    return path


def _legend_outside(fig: MplFigure, ax: Axes, *, ncol: int = 1) -> None:
    """One legend for the figure, to the right of the axes (never over the data)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper", fontsize=8, ncol=ncol, frameon=False)


def _axis_pair(label: str) -> str:
    """The pair concentration a type is plotted against: ``C_jk`` (open), ``C_ik`` (triangle)."""
    i, j, k = triplet_pattern(label)
    return pair_label(i, k) if triplet_shape(label) == "tri" else pair_label(j, k)


def plot_triplets_vs_pairs(
    datasets: Mapping[str, object],
    closures: Mapping[str, object],
    path: str | os.PathLike[str],
    *,
    types: Sequence[str] = FIG8_TYPES,
) -> Path:
    """Triplet concentrations against a pair concentration: data and closures (paper Fig. 8).

    **Arguments:**

    - `datasets`: mapping from a legend label (e.g. ``"x = 1/3"``) to an annealing trajectory
      (`xarray.Dataset`; replicas are averaged for display).
    - `closures`: mapping from a legend label to an `AbstractClosure`; each is evaluated on
      each trajectory's own pair concentrations.
    - `path`: output file.
    - `types`: triplet labels, one panel each.

    **Returns:**

    The path written.

    **Raises:**

    - `ValueError` for an unknown triplet label or an invalid dataset.
    """
    from ..closures import predict_triplets
    from ..dataset import read_trajectories

    for t in types:
        if t not in TRIPLETS:
            raise ValueError(f"types: unknown triplet label {t!r}; allowed {list(TRIPLETS)}")
    ncols = min(len(types), 2)
    nrows = -(-len(types) // ncols)
    fig = _new_figure((4.2 * ncols + 2.2, 3.4 * nrows))
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    markers = "os^Dv<>"
    styles = ["-", "--", ":", "-."]  # one line style per dataset; the colour is the closure's
    trajs = {dname: read_trajectories(ds) for dname, ds in datasets.items()}
    for p, label in enumerate(types):
        ax = axes[p]
        t = TRIPLETS.index(label)
        q = _axis_pair(label)
        for d, (dname, traj) in enumerate(trajs.items()):
            x = traj.C_pair[..., PAIR_INDEX[q]].mean(0)
            y = traj.C_triplet[..., t].mean(0)
            order = np.argsort(x)
            ax.plot(x, y, markers[d % len(markers)], ms=3, alpha=0.45, color=DATA_COLOURS[d % len(DATA_COLOURS)],
                    label=f"data {dname}")
            for cname, closure in closures.items():
                g = predict_triplets(closure, traj.C_single, traj.C_pair)[..., t].mean(0)
                ax.plot(x[order], g[order], styles[d % len(styles)], lw=1.5, color=closure_colour(cname),
                        label=f"{cname}, {dname}")
        ax.set_xlabel(with_unit(f"pair concentration $C_{{{q}}}$", DIMENSIONLESS))
        ax.set_ylabel(with_unit(f"triplet concentration {label}", DIMENSIONLESS))
        ax.set_title(f"{_SHAPE_NAMES[triplet_shape(label)]} {triplet_pattern(label)}")
    for ax in axes[len(types):]:
        ax.set_visible(False)
    _legend_outside(fig, axes[0])
    return _save(fig, path)


def plot_closure_errors(
    errors: Mapping[str, object],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
) -> Path:
    """Per-type closure errors ``J_τ`` (eq. (15)) as grouped bars, log scale (Figs. 9, 10).

    **Arguments:**

    - `errors`: mapping from a closure label to 16 values of ``J_τ`` (docs/model.md §4 order), e.g. the
      `xarray.DataArray` of `closure_errors`.
    - `path`: output file.
    - `title`: optional title.

    **Returns:**

    The path written.
    """
    fig = _new_figure((12, 3.8))
    ax = fig.subplots()
    n = len(errors)
    width = 0.8 / max(n, 1)
    xs = np.arange(len(TRIPLETS))
    # the colour is the closure's; what follows the closure's name (e.g. "@ x=1/3") gets a hatch
    suffixes = list(dict.fromkeys(name[len(closure_name(name)):].strip() for name in errors))
    hatches = ["", "////", "....", "xxxx", "\\\\"]
    for k, (name, values) in enumerate(errors.items()):
        v = np.asarray(values, dtype=float)
        if v.shape != (len(TRIPLETS),):
            raise ValueError(f"errors[{name!r}] must hold 16 values; got shape {v.shape}")
        v = np.where(v > 0, v, np.nan)
        hatch = hatches[suffixes.index(name[len(closure_name(name)):].strip()) % len(hatches)]
        ax.bar(xs + (k - (n - 1) / 2) * width, v, width, label=name, color=closure_colour(name),
               hatch=hatch, edgecolor="white" if hatch else None, linewidth=0)
    ax.set_yscale("log")
    ax.set_xticks(xs, list(TRIPLETS), rotation=60, fontsize=8)
    ax.set_xlabel("triplet type τ")
    ax.set_ylabel(with_unit(r"closure error $J_\tau$ (eq. 15)", DIMENSIONLESS))
    if title:
        ax.set_title(title)
    _legend_outside(fig, ax)
    return _save(fig, path)


def plot_mean_error_vs_composition(
    study: xr.Dataset,
    path: str | os.PathLike[str],
    *,
    closures: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Mean closure error ``ℰ`` (eq. (30)) against composition (Figs. 11, 12).

    **Arguments:**

    - `study`: the `xarray.Dataset` of `cross_stoichiometry_study` (``mean_error(closure,
      composition)``).
    - `path`: output file.
    - `closures`: which closures to draw (default all).
    - `title`: optional title.

    **Returns:**

    The path written.
    """
    names = list(study["closure"].values) if closures is None else list(closures)
    fig = _new_figure((8, 4))
    ax = fig.subplots()
    x = study["composition"].values
    for name in names:
        e = study["mean_error"].sel(closure=name).values
        imp = float(study["improvement_over_pa"].sel(closure=name))
        lab = name if name == "PA" else f"{name} ({imp:+.1f}% vs PA)"
        ax.plot(x, e, "o-", label=lab, color=closure_colour(name))
    ax.set_yscale("log")
    ax.set_xlabel(with_unit("composition $x$ of Li$_x$Mn$_{1-x}$, fraction of Li", DIMENSIONLESS))
    ax.set_ylabel(with_unit(r"mean closure error $\mathcal{E}$ (eq. 30)", DIMENSIONLESS))
    if title:
        ax.set_title(title)
    _legend_outside(fig, ax)
    return _save(fig, path)
