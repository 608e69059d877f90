"""Cluster concentrations of configurations (docs/model.md §4): normalisation and a brute-force count."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import unchecked

from meanclust_jax._labels import SHAPE_WEIGHTS, TRIPLETS
from meanclust_jax.concentrations import concentrations
from meanclust_jax.lattice import NEIGHBOUR_VECTORS

SHAPE_OFFSET = {"lin": 3, "ang": 2, "tri": 1}


def brute_force_triplets(s):
    """Ordered triplets (i, j, k), centre j, counted one by one."""
    rows, cols = s.shape
    sym = np.where(s > 0, "+", "-")
    out = {}
    for shape, off in SHAPE_OFFSET.items():
        counts = {}
        total = 0
        for a in range(rows):
            for b in range(cols):
                for l1 in range(6):
                    l2 = (l1 + off) % 6
                    if shape == "lin" and l1 >= 3:
                        continue  # each unordered linear pair once
                    if shape != "lin" and False:
                        continue
                    (da1, db1), (da2, db2) = NEIGHBOUR_VECTORS[l1], NEIGHBOUR_VECTORS[l2]
                    i = sym[(a + da1) % rows, (b + db1) % cols]
                    j = sym[a, b]
                    k = sym[(a + da2) % rows, (b + db2) % cols]
                    for pat in (i + j + k, k + j + i):  # both orders
                        counts[pat] = counts.get(pat, 0) + 1
                        total += 1
        for label in TRIPLETS:
            sh, pat = label.split(":")
            if sh == shape:
                out[label] = SHAPE_WEIGHTS[shape] * counts.get(pat, 0) / total
    return np.array([out[t] for t in TRIPLETS])


@pytest.mark.parametrize("x", [0.25, 0.5, 0.7])
def test_triplets_match_brute_force(x):
    rng = np.random.default_rng(3)
    s = np.where(rng.random((6, 9)) < x, -1, 1).astype(np.int8)
    c = concentrations(s)
    np.testing.assert_allclose(c["C_triplet"], brute_force_triplets(s), atol=1e-12)


def test_normalisation_identities_batch():
    rng = np.random.default_rng(4)
    s = np.where(rng.random((5, 12, 12)) < 0.4, -1, 1).astype(np.int8)
    c = concentrations(s)
    np.testing.assert_allclose(c["C_single"].sum(-1), 1, atol=1e-12)
    p = c["C_pair"]
    np.testing.assert_allclose(p[:, 0] + p[:, 1] + 2 * p[:, 2], 1, atol=1e-12)
    t = c["C_triplet"]
    for o, w in ((0, 0.2), (6, 0.4)):
        total = t[:, o] + t[:, o + 1] + 2 * t[:, o + 2] + 2 * t[:, o + 3] + t[:, o + 4] + t[:, o + 5]
        np.testing.assert_allclose(total, w, atol=1e-12)
    np.testing.assert_allclose(t[:, 12] + t[:, 13] + 3 * t[:, 14] + 3 * t[:, 15], 0.4, atol=1e-12)


def test_bad_configuration_raises():
    with unchecked(), pytest.raises(ValueError, match=r"\+1"):
        concentrations(np.zeros((6, 6), np.int8))
    with unchecked(), pytest.raises(ValueError, match="shape"):
        concentrations(np.ones(6, np.int8))
