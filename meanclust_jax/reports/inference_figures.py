"""Figures of the rate inference (paper Figs. 13 and 14), drawn with Matplotlib's Agg back end.

* `plot_posterior_rates` (Fig. 13): posterior samples with three rates as Cartesian axes
  (3-D scatter) and three more encoded as the red, green and blue channels of the symbols'
  colour; symbol size ∝ ``1/F``; optionally only samples with ``F`` below a threshold.
* `plot_loss_histograms` (Fig. 14, as in the paper): histograms of ``F`` along the chains, one
  panel per posterior, with the SA fit's ``F(α1*, α2*)`` as a vertical line.
* `plot_loss_densities` (Fig. 14, the study's): densities of ``F`` for NUTS and DR-MH on shared
  axes, one panel per closure — two samplers of one posterior should give one density.
* `plot_rate_marginals`: posterior medians and 50%/90% intervals of the rates and of the
  identifiable combinations, NUTS and DR-MH side by side.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from .._io import atomic_path
from .style import DIMENSIONLESS, RATE_UNIT, TIME_UNIT, closure_colour, with_unit

if TYPE_CHECKING:
    import arviz as az
    import xarray as xr
    from matplotlib.figure import Figure as MplFigure


def _pyplot() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: MplFigure, path: str | os.PathLike[str]) -> None:
    suffix = os.path.splitext(str(path))[1].lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(str(tmp), format=suffix, dpi=150, bbox_inches="tight")


def _unit(da: xr.DataArray, default: str) -> str:
    """The CF ``units`` of a posterior variable for an axis label (``"1"`` → dimensionless)."""
    unit = str(da.attrs.get("units", default))
    return DIMENSIONLESS if unit in ("1", "") else unit


def _rate_samples(idata: az.InferenceData, names: Sequence[str]) -> dict[str, np.ndarray]:
    post = idata.posterior
    site = post.attrs.get("site", "k")
    da = post[site]
    dim = [d for d in da.dims if d not in ("chain", "draw")][0]
    labels = [str(v) for v in da[dim].values]
    out = {}
    for n in names:
        if n not in labels:
            raise ValueError(f"rate {n!r} is not in the posterior; available: {labels}")
        out[n] = np.asarray(da.sel({dim: n}).values).reshape(-1)
    return out


def plot_posterior_rates(
    idata: az.InferenceData,
    path: str | os.PathLike[str],
    *,
    axes_rates: Sequence[str] = ("k1", "k2", "k3"),
    colour_rates: Sequence[str] = ("k4", "k5", "k7"),
    loss_threshold: float | None = None,
    max_points: int = 5000,
    title: str | None = None,
    seed: int = 0,
) -> None:
    """Posterior samples in the style of paper Fig. 13, written to ``path``.

    **Arguments:**

    - `idata`: an ``InferenceData`` from `meanclust_jax.inference.sample_posterior` (with
      ``posterior.F``).
    - `path`: output image (``.png``, ``.pdf``, ``.svg``); written atomically.
    - `axes_rates`: three rate names for the x, y, z axes.
    - `colour_rates`: three rate names mapped (min–max normalised) to red, green, blue.
    - `loss_threshold`: keep only samples with ``F`` below it (the paper filters this way);
      default all finite ``F``.
    - `max_points`: at most this many samples are drawn (uniformly thinned, seeded).
    - `title`: figure title.
    - `seed`: seed of the thinning.

    **Raises:**

    - `ValueError` if a rate is not in the posterior, the name lists are not of length 3, or
      no sample passes the threshold.
    """
    if len(axes_rates) != 3 or len(colour_rates) != 3:
        raise ValueError("axes_rates and colour_rates must each name exactly 3 rates")
    plt = _pyplot()
    samples = _rate_samples(idata, list(axes_rates) + list(colour_rates))
    F = np.asarray(idata.posterior["F"].values).reshape(-1)
    keep = np.isfinite(F)
    if loss_threshold is not None:
        keep &= F <= loss_threshold
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        raise ValueError("no posterior sample has a finite F below loss_threshold")
    if idx.size > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_points, replace=False))
    rgb = np.stack([samples[n][idx] for n in colour_rates], axis=-1)
    lo, hi = rgb.min(0), rgb.max(0)
    rgb = (rgb - lo) / np.where(hi > lo, hi - lo, 1.0)
    inv = 1.0 / np.maximum(F[idx], np.finfo(float).tiny)
    size = 4.0 + 40.0 * (inv - inv.min()) / max(float(np.ptp(inv)), 1e-300)

    fig = plt.figure(figsize=(10, 4.8))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    x, y, z = (samples[n][idx] for n in axes_rates)
    ax.scatter(x, y, z, c=np.clip(rgb, 0, 1), s=size, depthshade=False, linewidths=0)
    rate_unit = _unit(idata.posterior[idata.posterior.attrs.get("site", "k")], RATE_UNIT)
    ax.set_xlabel(with_unit(axes_rates[0], rate_unit))
    ax.set_ylabel(with_unit(axes_rates[1], rate_unit))
    ax.set_zlabel(with_unit(axes_rates[2], rate_unit))
    if title:
        ax.set_title(title)
    # Colour key (paper Fig. 13b, d): one bar per channel, from the channel's min to max.
    key = fig.add_subplot(1, 2, 2)
    ramp = np.linspace(0, 1, 256)
    for c, name in enumerate(colour_rates):
        img = np.zeros((1, 256, 3))
        img[0, :, c] = ramp
        key.imshow(img, extent=(0.0, 1.0, 2 - c, 2.6 - c), aspect="auto")
        key.text(0.0, 2.65 - c, f"{name} ({'RGB'[c]}): {lo[c]:.3g} → {hi[c]:.3g} {rate_unit}", fontsize=9)
    key.set_xlim(0, 1)
    key.set_ylim(-0.1, 3.1)
    key.set_yticks([])
    key.set_xlabel(with_unit("normalised rate, min → max over the samples shown", DIMENSIONLESS))
    key.set_title("colour key")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_loss_histograms(
    posteriors: Mapping[str, object],
    path: str | os.PathLike[str],
    *,
    sa_loss: float | None = None,
    bins: int = 50,
    log_x: bool = False,
) -> None:
    """Histograms of ``F`` along the chains (paper Fig. 14), one panel per posterior.

    **Arguments:**

    - `posteriors`: ``{label: InferenceData}`` (e.g. ``{"PA": ..., "OA-1/2": ...}``).
    - `path`: output image; written atomically.
    - `sa_loss`: the SA fit's ``F(α1*, α2*)``, drawn as a black vertical line.
    - `bins`: histogram bins.
    - `log_x`: logarithmic ``F`` axis (log-spaced bins).

    **Raises:**

    - `ValueError` if `posteriors` is empty or a posterior has no finite ``F``.
    """
    if not posteriors:
        raise ValueError("posteriors must contain at least one InferenceData")
    plt = _pyplot()
    n = len(posteriors)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4), squeeze=False)
    for ax, (label, idata) in zip(axes[0], posteriors.items(), strict=True):
        F = np.asarray(idata.posterior["F"].values).reshape(-1)
        F = F[np.isfinite(F)]
        if F.size == 0:
            raise ValueError(f"posterior {label!r} has no finite F")
        if log_x:
            lo = max(float(F[F > 0].min()) if np.any(F > 0) else 1e-300, 1e-300)
            edges = np.geomspace(lo, max(float(F.max()), lo * 10), bins + 1)
            ax.set_xscale("log")
        else:
            edges = bins
        ax.hist(F, bins=edges, color=closure_colour(str(label)), alpha=0.8)
        if sa_loss is not None and np.isfinite(sa_loss):
            ax.axvline(sa_loss, color="black", lw=1.5, label="SA fit")
            ax.legend()
        ax.set_xlabel(with_unit("F(K), eq. (17)", _unit(idata.posterior["F"], TIME_UNIT)))
        ax.set_ylabel("number of draws")
        ax.set_title(str(label))
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


_SAMPLER_STYLE = {"nuts": ("NUTS", "-"), "drmh": ("DR-MH", "--")}


def plot_loss_densities(
    posteriors: Mapping[str, Mapping[str, object]],
    path: str | os.PathLike[str],
    *,
    bins: int = 60,
) -> None:
    """Densities of ``F`` along the chains of two samplers per closure, on shared axes (Fig. 14).

    **Arguments:**

    - `posteriors`: ``{closure: {sampler: InferenceData}}`` (samplers ``"nuts"``, ``"drmh"``).
    - `path`: output image; written atomically.
    - `bins`: number of log-spaced bins over the common range of all ``F``.

    **Raises:**

    - `ValueError` if `posteriors` is empty or a posterior has no finite positive ``F``.
    """
    if not posteriors:
        raise ValueError("posteriors must contain at least one closure")
    plt = _pyplot()
    values = {}
    for name, by_sampler in posteriors.items():
        for sampler, idata in by_sampler.items():
            F = np.asarray(idata.posterior["F"].values).reshape(-1)
            F = F[np.isfinite(F) & (F > 0)]
            if F.size == 0:
                raise ValueError(f"posterior {name!r} ({sampler}) has no finite positive F")
            values[(name, sampler)] = F
    lo = min(float(v.min()) for v in values.values())
    hi = max(float(v.max()) for v in values.values())
    edges = np.geomspace(lo, hi * 1.0001 if hi > lo else lo * 10, bins + 1)
    n = len(posteriors)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4), squeeze=False, sharex=True)
    some = next(iter(next(iter(posteriors.values())).values()))
    unit = _unit(some.posterior["F"], TIME_UNIT)
    for ax, (name, by_sampler) in zip(axes[0], posteriors.items(), strict=True):
        for sampler in by_sampler:
            label, ls = _SAMPLER_STYLE.get(sampler, (sampler, ":"))
            ax.hist(values[(name, sampler)], bins=edges, density=True, histtype="step", lw=1.6,
                    ls=ls, color=closure_colour(str(name)), label=label)
        ax.set_xscale("log")
        ax.set_xlabel(with_unit("F(K), eq. (17)", unit))
        ax.set_ylabel(with_unit("density", f"1/{unit}" if unit != DIMENSIONLESS else DIMENSIONLESS))
        ax.set_title(str(name))
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_rate_marginals(
    posteriors: Mapping[str, Mapping[str, object]],
    path: str | os.PathLike[str],
) -> None:
    """Medians and 50%/90% intervals of ``k`` and ``k_identifiable`` for each sampler and closure.

    **Arguments:**

    - `posteriors`: ``{closure: {sampler: InferenceData}}`` with ``posterior.k`` (8 rates) and,
      where present, ``posterior.k_identifiable``.
    - `path`: output image; written atomically.

    **Raises:**

    - `ValueError` if `posteriors` is empty or a posterior has no ``k``.
    """
    if not posteriors:
        raise ValueError("posteriors must contain at least one closure")
    plt = _pyplot()
    fig, axes = plt.subplots(len(posteriors), 2, figsize=(11, 3.3 * len(posteriors)), squeeze=False,
                             gridspec_kw={"width_ratios": [2, 1]})
    for row, (name, by_sampler) in zip(axes, posteriors.items(), strict=True):
        for ax, var in zip(row, ("k", "k_identifiable"), strict=True):
            offsets = np.linspace(-0.15, 0.15, max(len(by_sampler), 1))
            for off, (sampler, idata) in zip(offsets, by_sampler.items(), strict=True):
                if var not in idata.posterior:
                    if var == "k":
                        raise ValueError(f"posterior {name!r} ({sampler}) has no variable 'k'")
                    continue
                da = idata.posterior[var]
                dim = [d for d in da.dims if d not in ("chain", "draw")][0]
                labels = [str(v) for v in da[dim].values]
                x = np.asarray(da.values).reshape(-1, len(labels))
                q = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
                pos = np.arange(len(labels)) + off
                label, ls = _SAMPLER_STYLE.get(sampler, (sampler, ":"))
                colour = closure_colour(str(name))
                ax.vlines(pos, q[0], q[4], color=colour, lw=1.0, ls=ls)
                ax.vlines(pos, q[1], q[3], color=colour, lw=4.0, alpha=0.6)
                ax.plot(pos, q[2], "o" if sampler == "nuts" else "s", color=colour, ms=4,
                        mfc="white" if sampler == "drmh" else colour, label=label)
                ax.set_xticks(np.arange(len(labels)), labels)
                unit = _unit(da, RATE_UNIT)
            ax.set_yscale("log")
            ax.set_ylabel(with_unit("rate" if var == "k" else "rate combination", unit))
            ax.set_title(f"{name}: {'rates' if var == 'k' else 'identifiable combinations'}")
        row[1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


__all__ = ["plot_loss_densities", "plot_loss_histograms", "plot_posterior_rates", "plot_rate_marginals"]
