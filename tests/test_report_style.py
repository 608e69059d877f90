"""Figures a referee accepts: one colour per closure everywhere, legends outside the data, units on
the axes, Fig. 3's magnified crop."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pytest
import xarray as xr
from helpers import unchecked

from meanclust_jax._labels import TRIPLETS
from meanclust_jax.reports import anneal_figures, closure_figures
from meanclust_jax.reports.style import CLOSURE_COLOURS, closure_colour, closure_name

STUDY_CLOSURES = ("PA", "SA", "OA-hard-1/3", "OA-hard-1/2", "OA-soft-1/3", "OA-soft-1/2")


def test_one_colour_per_closure_whatever_the_label():
    for name in STUDY_CLOSURES:
        for label in (name, f"{name} @ x=1/3", f"{name} NUTS", f"{name} DRMH", f"{name} (+3.0% vs PA)",
                      f"{name} x = 1/2"):
            assert closure_name(label) == name
            assert closure_colour(label) == closure_colour(name)
    colours = [closure_colour(n) for n in STUDY_CLOSURES]
    assert len(set(colours)) == len(colours), "the study's closures must be told apart"


def test_new_families_get_their_own_colour():
    consistent = closure_colour("consistent-all")
    assert consistent == closure_colour("consistent-1/3") and consistent not in CLOSURE_COLOURS.values()
    assert closure_colour("OA-hard-all") != closure_colour("PA")
    assert closure_colour("some new closure") == closure_colour("some new closure")  # stable


@pytest.fixture
def figures(monkeypatch):
    """Capture the figures the plotting functions save."""
    saved = []
    monkeypatch.setattr(closure_figures, "_save", lambda fig, path: saved.append(fig) or path)
    monkeypatch.setattr(anneal_figures, "_save", lambda fig, path: saved.append(fig) or path)
    return saved


def _study():
    names = ["PA", "SA", "OA-hard-1/3"]
    xs = np.array([0.25, 1 / 3, 0.5])
    e = np.random.default_rng(0).uniform(1e-4, 1e-2, (3, 3))
    return xr.Dataset(
        {"mean_error": (("closure", "composition"), e),
         "improvement_over_pa": (("closure",), 100 * (1 - e.mean(1) / e[0].mean()))},
        coords={"closure": names, "composition": xs},
    )


def test_mean_error_figure_colours_legend_and_units(figures, tmp_path):
    closure_figures.plot_mean_error_vs_composition(_study(), tmp_path / "f.png")
    (fig,) = figures
    ax = fig.axes[0]
    assert ax.get_legend() is None and len(fig.legends) == 1  # a figure legend beside the axes
    for line, name in zip(ax.get_lines(), ["PA", "SA", "OA-hard-1/3"], strict=True):
        assert mcolors.same_color(line.get_color(), closure_colour(name))
    assert "dimensionless" in ax.get_xlabel() and "dimensionless" in ax.get_ylabel()


def test_error_bars_colour_by_closure_hatch_by_composition(figures, tmp_path):
    errors = {"PA @ x=1/2": np.full(16, 1e-3), "SA @ x=1/2": np.full(16, 2e-3), "PA @ x=1/3": np.full(16, 3e-3)}
    closure_figures.plot_closure_errors(errors, tmp_path / "f.png")
    (fig,) = figures
    ax = fig.axes[0]
    assert ax.get_legend() is None and len(fig.legends) == 1
    bars = [c for c in ax.containers]
    assert mcolors.same_color(bars[0][0].get_facecolor(), closure_colour("PA"))
    assert mcolors.same_color(bars[2][0].get_facecolor(), closure_colour("PA"))
    assert bars[0][0].get_hatch() in (None, "") and bars[2][0].get_hatch()
    assert len(ax.get_xticklabels()) == len(TRIPLETS) and "dimensionless" in ax.get_ylabel()


def test_lattice_figure_zoom(figures, tmp_path):
    a, b = np.meshgrid(np.arange(12), np.arange(12), indexing="ij")
    ordered = np.where((a - b) % 3 == 0, -1, 1)
    anneal_figures.plot_lattice_snapshots([ordered, ordered], tmp_path / "f.png", labels=["i", "f"], zoom=6)
    (fig,) = figures
    assert len(fig.axes) == 3 and "6 × 6" in fig.axes[2].get_title()
    assert len(fig.axes[2].collections[0].get_paths()) == 36  # one hexagon per site of the crop
    for bad in (1, 13, 2.5, True):
        with unchecked(), pytest.raises(ValueError, match="zoom"):
            anneal_figures.plot_lattice_snapshots([ordered], tmp_path / "g.png", zoom=bad)
