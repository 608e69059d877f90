"""Cluster labels and shape weights of docs/model.md §4 (paper eq. (4) and Fig. 7).

Everything that names a singlet, pair or triplet type comes from here, so that the
annealing engine, the closures and the mean-cluster ODE agree on one order.

* species ``+`` (Mn, ``sigma = +1``) and ``-`` (Li, ``sigma = -1``);
* pairs ``++ -- +-`` (``C_{+-}`` is the probability of one oriented mixed bond);
* the 16 triplet types Θ, written ``shape:pattern`` with the odd species last.
"""

from __future__ import annotations

SPECIES: tuple[str, ...] = ("+", "-")
PAIRS: tuple[str, ...] = ("++", "--", "+-")
SHAPES: tuple[str, ...] = ("lin", "ang", "tri")

#: Fraction of the 15 neighbour pairs around a site that have each shape:
#: 3 linear (180°), 6 angled (120°), 6 triangular (60°).
SHAPE_WEIGHTS: dict[str, float] = {"lin": 1.0 / 5.0, "ang": 2.0 / 5.0, "tri": 2.0 / 5.0}

_OPEN_PATTERNS = ("+++", "---", "++-", "--+", "+-+", "-+-")
_TRI_PATTERNS = ("+++", "---", "++-", "--+")

#: The 16 triplet labels in docs/model.md §4 order.
TRIPLETS: tuple[str, ...] = (
    tuple(f"lin:{p}" for p in _OPEN_PATTERNS)
    + tuple(f"ang:{p}" for p in _OPEN_PATTERNS)
    + tuple(f"tri:{p}" for p in _TRI_PATTERNS)
)

TRIPLET_INDEX: dict[str, int] = {t: i for i, t in enumerate(TRIPLETS)}
PAIR_INDEX: dict[str, int] = {p: i for i, p in enumerate(PAIRS)}
SPECIES_INDEX: dict[str, int] = {s: i for i, s in enumerate(SPECIES)}


def triplet_shape(label: str) -> str:
    """Shape (``lin``, ``ang`` or ``tri``) of a triplet label such as ``"ang:++-"``."""
    return label.split(":")[0]


def triplet_pattern(label: str) -> str:
    """Species pattern (``i j k``, centre ``j``) of a triplet label such as ``"ang:++-"``."""
    return label.split(":")[1]


def pair_label(a: str, b: str) -> str:
    """Canonical pair label of the bond between species ``a`` and ``b`` (``-+`` → ``+-``)."""
    return "+-" if a != b else a + b
