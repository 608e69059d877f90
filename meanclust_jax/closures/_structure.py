"""Which pair and singlet concentrations enter the closure of each triplet type (paper Table I).

Every closure of this package is a monomial in the singlet and pair concentrations,

    g_τ = w_τ · Π_q C_q^{γ_{τ,q}} / Π_r C_r^{ξ_{τ,r}}                       (docs/model.md §5)

with ``q`` over the *distinct* pair types among the bonds of τ (two bonds ``(i,j), (j,k)`` for
the linear and angled shapes, three for the triangle, which also has ``(i,k)``) and ``r`` over the
distinct species of τ. This module derives that structure from the labels of
`meanclust_jax._labels`, once, as NumPy constants:

* ``PAIR_MASK[τ, q]`` / ``SPECIES_MASK[τ, r]``: whether pair type ``q`` / species ``r`` occurs
  in τ (an exponent on an absent concentration is structurally zero);
* ``PARAM_NAMES[τ]``: the order of the paper's parameter vector ``V_τ``. The numerator
  exponents come first, over pair types in the order of first appearance among the bonds
  ``(i,j), (j,k), (i,k)`` (so ``ang:++-`` has ``γ1`` on ``++`` and ``γ2`` on ``+-``); then the
  denominator exponents, ``ξ1`` on the species of the centre ``j`` and ``ξ2`` on the other
  species. (The OCR of Table I does not show the species order; this is our reading of Table II,
  where the pair approximation has ``ξ1 = 1`` for both ``+-+`` and ``-+-``, i.e. ``ξ1`` sits on
  the centre species.) The result is ``[γ, ξ]`` for ``+++``/``---``, ``[γ, ξ1, ξ2]`` for
  ``+-+``/``-+-`` and ``[γ1, γ2, ξ1, ξ2]`` for ``++-``/``--+`` and the mixed triangles.
* ``PA_GAMMA``/``PA_XI`` and ``SA_GAMMA``/``SA_XI``: the exponents of the pair approximation
  (eq. (13), Table I) and of the sparse approximation (Table III, docs/model.md §5).

Exponent arrays of a whole closure have shape ``(16, 3)`` (γ on ``C_++, C_--, C_+-``) and
``(16, 2)`` (ξ on ``C_+, C_-``); a parameter vector of one type in the "packed" 5-vector form
used by the calibration is ``[γ_++, γ_--, γ_+-, ξ_+, ξ_-]``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .._labels import (
    PAIR_INDEX,
    PAIRS,
    SHAPE_WEIGHTS,
    SPECIES,
    SPECIES_INDEX,
    TRIPLETS,
    pair_label,
    triplet_pattern,
    triplet_shape,
)

NUM_TYPES = len(TRIPLETS)


def bonds(label: str) -> tuple[str, ...]:
    """Pair labels of the bonds of a triplet type: ``(i,j), (j,k)``, plus ``(i,k)`` for a triangle."""
    i, j, k = triplet_pattern(label)
    out = [pair_label(i, j), pair_label(j, k)]
    if triplet_shape(label) == "tri":
        out.append(pair_label(i, k))
    return tuple(out)


def pair_types(label: str) -> tuple[str, ...]:
    """Distinct pair types among the bonds of ``label``, in order of first appearance."""
    return tuple(dict.fromkeys(bonds(label)))


def species_types(label: str) -> tuple[str, ...]:
    """Distinct species of ``label``: the centre species first, then the other one."""
    i, j, k = triplet_pattern(label)
    return tuple(dict.fromkeys((j, i, k)))


def param_names(label: str) -> tuple[tuple[str, str], ...]:
    """The paper's parameter vector ``V_τ`` as ``(("gamma", pair), ..., ("xi", species), ...)``."""
    return tuple(("gamma", q) for q in pair_types(label)) + tuple(
        ("xi", r) for r in species_types(label)
    )


def param_symbols(label: str) -> tuple[str, ...]:
    """Symbols of ``V_τ``: ``("γ", "ξ")``, ``("γ", "ξ1", "ξ2")`` or ``("γ1", "γ2", "ξ1", "ξ2")``."""
    ng, nx = len(pair_types(label)), len(species_types(label))
    g = ("γ",) if ng == 1 else tuple(f"γ{n + 1}" for n in range(ng))
    x = ("ξ",) if nx == 1 else tuple(f"ξ{n + 1}" for n in range(nx))
    return g + x


def _masks() -> tuple[np.ndarray, np.ndarray]:
    pm = np.zeros((NUM_TYPES, len(PAIRS)), dtype=bool)
    sm = np.zeros((NUM_TYPES, len(SPECIES)), dtype=bool)
    for t, label in enumerate(TRIPLETS):
        for q in pair_types(label):
            pm[t, PAIR_INDEX[q]] = True
        for r in species_types(label):
            sm[t, SPECIES_INDEX[r]] = True
    return pm, sm


PAIR_MASK, SPECIES_MASK = _masks()
#: ``(16, 5)`` mask of the packed parameter vector ``[γ_++, γ_--, γ_+-, ξ_+, ξ_-]``.
PACKED_MASK: np.ndarray = np.concatenate([PAIR_MASK, SPECIES_MASK], axis=1)
#: ``(16, 5)`` coefficients of the equality constraint ``Σγ − Σξ = 1`` (eq. (16)) per type.
PACKED_SIGN: np.ndarray = np.concatenate(
    [PAIR_MASK.astype(np.float64), -SPECIES_MASK.astype(np.float64)], axis=1
)
#: ``(16,)`` shape weights ``w_τ`` (docs/model.md §4).
WEIGHTS: np.ndarray = np.array([SHAPE_WEIGHTS[triplet_shape(t)] for t in TRIPLETS])
WEIGHT_FRACTIONS: tuple[str, ...] = tuple(
    str(Fraction(SHAPE_WEIGHTS[triplet_shape(t)]).limit_denominator(100)) for t in TRIPLETS
)


def _pa_exponents() -> tuple[np.ndarray, np.ndarray]:
    """Pair approximation, eq. (13): ``w C_ij C_jk / C_j`` (open) and
    ``w C_ij C_jk C_ik / (C_i C_j C_k)`` (triangles)."""
    gamma = np.zeros((NUM_TYPES, len(PAIRS)))
    xi = np.zeros((NUM_TYPES, len(SPECIES)))
    for t, label in enumerate(TRIPLETS):
        i, j, k = triplet_pattern(label)
        for q in bonds(label):
            gamma[t, PAIR_INDEX[q]] += 1.0
        denominators = (i, j, k) if triplet_shape(label) == "tri" else (j,)
        for r in denominators:
            xi[t, SPECIES_INDEX[r]] += 1.0
    return gamma, xi


def _sa_exponents() -> tuple[np.ndarray, np.ndarray]:
    """Sparse approximation, Table III as read in docs/model.md §5: ``w C_jk`` (open), ``w C_ik`` (triangles)."""
    gamma = np.zeros((NUM_TYPES, len(PAIRS)))
    xi = np.zeros((NUM_TYPES, len(SPECIES)))
    for t, label in enumerate(TRIPLETS):
        i, j, k = triplet_pattern(label)
        q = pair_label(i, k) if triplet_shape(label) == "tri" else pair_label(j, k)
        gamma[t, PAIR_INDEX[q]] = 1.0
    return gamma, xi


PA_GAMMA, PA_XI = _pa_exponents()
SA_GAMMA, SA_XI = _sa_exponents()
for _a in (PAIR_MASK, SPECIES_MASK, PACKED_MASK, PACKED_SIGN, WEIGHTS, PA_GAMMA, PA_XI, SA_GAMMA, SA_XI):
    _a.setflags(write=False)
del _a


def pack(gamma: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """``(..., 3)`` and ``(..., 2)`` exponents → packed ``(..., 5)`` vector."""
    return np.concatenate([np.asarray(gamma), np.asarray(xi)], axis=-1)


def to_vector(label: str, gamma_row: np.ndarray, xi_row: np.ndarray) -> np.ndarray:
    """The paper's parameter vector ``V_τ`` (order of `param_names`) from one type's exponents."""
    out = []
    for kind, name in param_names(label):
        if kind == "gamma":
            out.append(float(gamma_row[PAIR_INDEX[name]]))
        else:
            out.append(float(xi_row[SPECIES_INDEX[name]]))
    return np.array(out)


def exponents_from_table(table: object) -> tuple[np.ndarray, np.ndarray]:
    """Exponent arrays from the JSON layout ``{"ang:++-": {"gamma": {"++": .., "+-": ..},
    "xi": {"+": .., "-": ..}}, ...}`` (only the concentrations that occur in a type are listed).

    **Returns:**

    ``(gamma, xi)``: float64 arrays of shapes ``(16, 3)`` and ``(16, 2)``.

    **Raises:**

    - `ValueError` if `table` is not a mapping, a type is missing or unknown, or a pair/species
      key is absent from, or does not occur in, that type.
    """
    if not isinstance(table, dict):
        raise ValueError(f"exponents must be an object keyed by triplet type; got {type(table).__name__}")
    gamma = np.zeros((NUM_TYPES, len(PAIRS)))
    xi = np.zeros((NUM_TYPES, len(SPECIES)))
    missing = [t for t in TRIPLETS if t not in table]
    if missing:
        raise ValueError(f"exponents: missing triplet types {missing}")
    extra = [t for t in table if t not in TRIPLETS]
    if extra:
        raise ValueError(f"exponents: unknown triplet types {extra}; allowed: {list(TRIPLETS)}")
    for t, label in enumerate(TRIPLETS):
        entry = table[label]
        if not isinstance(entry, dict):
            raise ValueError(f"exponents[{label!r}] must be an object with keys 'gamma' and 'xi'; got {entry!r}")
        for kind, names, index, out in (
            ("gamma", pair_types(label), PAIR_INDEX, gamma),
            ("xi", species_types(label), SPECIES_INDEX, xi),
        ):
            given = entry.get(kind, {})
            if not isinstance(given, dict):
                raise ValueError(
                    f"exponents[{label!r}][{kind!r}] must be an object keyed by {list(names)}; got {given!r}")
            if set(given) != set(names):
                raise ValueError(
                    f"exponents[{label!r}][{kind!r}] must have exactly the keys {list(names)}; "
                    f"got {sorted(given)}"
                )
            for name in names:
                value = given[name]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise ValueError(
                        f"exponents[{label!r}][{kind!r}][{name!r}] must be a finite number; got {value!r}"
                    )
                out[t, index[name]] = float(value)
    return gamma, xi
