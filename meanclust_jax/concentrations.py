"""Cluster concentrations of a configuration: singlets, pairs and the 16 triplet types (docs/model.md §4).

Concentrations are lattice averages over every position and every orientation. The engine
records exact integer *cluster counts* on the device (`cluster_counts`), and converts them to
concentrations in float64 on the host (`concentrations_from_counts`), so the normalisation
identities of docs/model.md §4 hold to rounding (`cluster_concentrations` does both for any
configuration array, in float64 whatever JAX's precision setting):

* ``C_+ + C_- = 1``; ``C_++ + C_-- + 2 C_+- = 1`` (``C_+-`` is one oriented mixed bond);
* per open shape ``C_+++ + C_--- + 2C_++- + 2C_--+ + C_+-+ + C_-+- = w``;
  triangular ``C_+++ + C_--- + 3C_++- + 3C_--+ = w``, with ``w = 1/5, 2/5, 2/5``.

The package exports `cluster_concentrations` as ``meanclust_jax.cluster_concentrations``;
``meanclust_jax.concentrations`` is this module (``meanclust_jax.concentrations.cluster_counts``).
Calling the module, ``meanclust_jax.concentrations(sigma)``, still works for code written when
the package exported the function under that name, with a `DeprecationWarning`.

Counting: for each centre ``j`` and each unordered pair ``{i, k}`` of its neighbours of a given
shape, classify by the centre's species ``m_j`` (0 for ``+``, 1 for ``-``) and the number
``s = m_i + m_k`` of ``-`` ends. With ``c[m_j, s]`` the number of such (centre, pair) and
``n`` the number of unordered pairs of the shape (3N, 6N, 6N), the ordered-pattern
probabilities are ``P(+++) = c[0,0]/n``, ``P(++-) = c[0,1]/(2n)``, ``P(-+-) = c[0,2]/n``,
``P(+-+) = c[1,0]/n``, ``P(--+) = c[1,1]/(2n)``, ``P(---) = c[1,2]/n``; the triplet
concentration is ``w`` times that.
"""

from __future__ import annotations

import sys
import types
import warnings
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from ._custom_types import Array, Configuration, Int
from ._labels import SHAPE_WEIGHTS, TRIPLETS
from .energy import bond_counts, triangle_histogram

#: Layout of the int32 count vector returned by `cluster_counts`.
N_TRI_HIST, N_BONDS, N_TRIPLET_CLASSES = 4, 9, 18
N_COUNTS = 1 + N_TRI_HIST + N_BONDS + N_TRIPLET_CLASSES

_SHAPE_PAIRS = {
    "lin": [(i, i + 3) for i in range(3)],
    "ang": [(i, (i + 2) % 6) for i in range(6)],
    "tri": [(i, (i + 1) % 6) for i in range(6)],
}
_UNORDERED_PER_SITE = {"lin": 3, "ang": 6, "tri": 6}


def cluster_counts(sigma: Configuration) -> Int[Array, "*batch 32"]:
    """Exact integer cluster counts of configurations (jit- and vmap-able).

    **Arguments:**

    - `sigma`: int8 array ``(*batch, rows, cols)`` of ±1.

    **Returns:** int32 array ``(*batch, 32)``: ``[n_-, triangle histogram (4), bond counts
    (3 orientations x [++, --, +-]), triplet classes (3 shapes [lin, ang, tri] x m_j (2) x s (3))]``.
    """
    from .lattice import NEIGHBOUR_VECTORS

    m = (sigma < 0).astype(jnp.int32)
    nb = [jnp.roll(m, (-da, -db), axis=(-2, -1)) for da, db in NEIGHBOUR_VECTORS]
    M = sum(nb)
    parts = [jnp.sum(m, axis=(-2, -1), dtype=jnp.int32)[..., None]]
    parts.append(triangle_histogram(sigma))
    parts.append(bond_counts(sigma).reshape(*sigma.shape[:-2], 9))
    for shape in ("lin", "ang", "tri"):
        pairs = _SHAPE_PAIRS[shape]
        n_pairs = len(pairs)
        A = M if shape == "lin" else 2 * M  # Σ over pairs of (m_i + m_k)
        B = sum(nb[l1] * nb[l2] for l1, l2 in pairs)  # pairs with both ends '-'
        per_s = [n_pairs - A + B, A - 2 * B, B]  # pairs with s = 0, 1, 2 '-' ends
        for mj in (0, 1):
            mask = m if mj else 1 - m
            for cnt in per_s:
                parts.append(jnp.sum(mask * cnt, axis=(-2, -1), dtype=jnp.int32)[..., None])
    return jnp.concatenate(parts, axis=-1)


class CountParts(NamedTuple):
    """The parts of a `cluster_counts` vector, as int64 NumPy arrays (see `split_counts`)."""

    #: ``(*batch,)`` number of ``-`` sites.
    n_minus: np.ndarray
    #: ``(*batch, 4)`` triangles holding 0..3 ``-`` sites.
    triangle_histogram: np.ndarray
    #: ``(*batch, 3, 3)`` bonds ``[orientation v0..v2, type ++/--/+-]``.
    bonds: np.ndarray
    #: ``(*batch, 3, 2, 3)`` triplet classes ``[shape lin/ang/tri, m_j, s]``.
    triplet_classes: np.ndarray


def split_counts(counts: np.ndarray) -> CountParts:
    """Split `cluster_counts` output ``(*batch, 32)`` into its named parts (the one place that
    knows the layout of the count vector)."""
    c = np.asarray(counts, dtype=np.int64)
    if c.ndim < 1 or c.shape[-1] != N_COUNTS:
        raise ValueError(f"counts must have shape (..., {N_COUNTS}); got {c.shape}")
    batch = c.shape[:-1]
    a = 1 + N_TRI_HIST
    b = a + N_BONDS
    return CountParts(
        n_minus=c[..., 0],
        triangle_histogram=c[..., 1:a],
        bonds=c[..., a:b].reshape(*batch, 3, 3),
        triplet_classes=c[..., b:].reshape(*batch, 3, 2, 3),
    )


def concentrations_from_counts(counts: np.ndarray, n_sites: int) -> dict[str, np.ndarray]:
    """Convert `cluster_counts` output to float64 concentrations.

    **Arguments:**

    - `counts`: int array ``(*batch, 32)`` from `cluster_counts`.
    - `n_sites`: ``N = rows * cols``.

    **Returns:** a dict of float64 numpy arrays: ``C_single (*batch, 2)`` (``+, -``),
    ``C_pair (*batch, 3)`` (``++, --, +-``), ``C_pair_orientation (*batch, 3, 3)`` (per bond
    orientation ``v0, v1, v2``), ``C_triplet (*batch, 16)`` (docs/model.md §4 order), and
    ``triangle_histogram (*batch, 4)`` (int).
    """
    parts = split_counts(counts)
    N = float(n_sites)
    n_minus = parts.n_minus.astype(np.float64)
    C_single = np.stack([(N - n_minus) / N, n_minus / N], axis=-1)
    bonds = parts.bonds.astype(np.float64)
    orient = bonds / N
    orient[..., 2] /= 2.0  # one oriented mixed bond
    tot = bonds.sum(axis=-2) / (3 * N)
    tot[..., 2] /= 2.0
    cls = parts.triplet_classes.astype(np.float64)
    trip = {}
    for si, shape in enumerate(("lin", "ang", "tri")):
        n = _UNORDERED_PER_SITE[shape] * N
        w = SHAPE_WEIGHTS[shape]
        k = cls[..., si, :, :]
        trip[f"{shape}:+++"] = w * k[..., 0, 0] / n
        trip[f"{shape}:---"] = w * k[..., 1, 2] / n
        trip[f"{shape}:++-"] = w * k[..., 0, 1] / (2 * n)
        trip[f"{shape}:--+"] = w * k[..., 1, 1] / (2 * n)
        trip[f"{shape}:+-+"] = w * k[..., 1, 0] / n
        trip[f"{shape}:-+-"] = w * k[..., 0, 2] / n
    C_triplet = np.stack([trip[t] for t in TRIPLETS], axis=-1)
    return {
        "C_single": C_single,
        "C_pair": tot,
        "C_pair_orientation": orient,
        "C_triplet": C_triplet,
        "triangle_histogram": parts.triangle_histogram,
    }


def cluster_concentrations(sigma: Configuration) -> dict[str, np.ndarray]:
    """Singlet, pair and triplet concentrations of any configuration array (docs/model.md §4).

    **Arguments:**

    - `sigma`: int8 (or any integer) array ``(*batch, rows, cols)`` of ±1.

    **Returns:** the dict of `concentrations_from_counts` (float64 numpy arrays).

    **Raises:**

    - `ValueError` if `sigma` has fewer than 2 dimensions or holds values other than ±1.
    """
    s = jnp.asarray(sigma)
    if s.ndim < 2:
        raise ValueError(f"sigma must have shape (*batch, rows, cols), got {s.shape}")
    if not bool(jnp.all(jnp.abs(s) == 1)):
        raise ValueError("sigma must hold only +1 (Mn, '+') and -1 (Li, '-')")
    counts = np.asarray(cluster_counts(s.astype(jnp.int8)))
    return concentrations_from_counts(counts, s.shape[-2] * s.shape[-1])


#: The earlier name of `cluster_concentrations` (``from meanclust_jax.concentrations import
#: concentrations`` keeps working).
concentrations = cluster_concentrations


class _CallableModule(types.ModuleType):
    """This module, callable as ``meanclust_jax.concentrations(sigma)`` for code written when the
    package exported a function of that name (which hid the module)."""

    def __call__(self, sigma: Configuration) -> dict[str, np.ndarray]:
        warnings.warn(
            "calling the module meanclust_jax.concentrations is deprecated; call "
            "meanclust_jax.cluster_concentrations(sigma) instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return cluster_concentrations(sigma)


sys.modules[__name__].__class__ = _CallableModule
