"""Figures of the rate inference (paper Figs. 13 and 14), drawn with Matplotlib's Agg back end.

* `plot_posterior_rates` (Fig. 13): posterior samples with three rates as Cartesian axes
  (3-D scatter) and three more encoded as the red, green and blue channels of the symbols'
  colour; symbol size ∝ ``1/F``; optionally only samples with ``F`` below a threshold.
* `plot_loss_histograms` (Fig. 14): histograms of ``F`` along the chains, one panel per
  posterior, with the SA fit's ``F(α1*, α2*)`` as a vertical line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from .._io import atomic_path
from .style import DIMENSIONLESS, RATE_UNIT, TIME_UNIT, closure_colour, with_unit


def _pyplot():  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike[str]) -> None:  # noqa: ANN001
    suffix = os.path.splitext(str(path))[1].lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(str(tmp), format=suffix, dpi=150, bbox_inches="tight")


def _unit(da, default: str) -> str:  # noqa: ANN001
    """The CF ``units`` of a posterior variable for an axis label (``"1"`` → dimensionless)."""
    unit = str(da.attrs.get("units", default))
    return DIMENSIONLESS if unit in ("1", "") else unit


def _rate_samples(idata, names: Sequence[str]) -> dict[str, np.ndarray]:  # noqa: ANN001
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
    idata,  # noqa: ANN001
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


__all__ = ["plot_loss_histograms", "plot_posterior_rates"]
