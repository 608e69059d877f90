"""A closure that is consistent by construction (beyond the paper; docs/model.md §4, §5.5, §5.6, §9).

A triplet distribution must sum back to the pairs it contains. With two species, the chain
triplets ``(i, j, k)`` of one open shape (linear or angled) given their centre ``j`` form a 2×2
table of the two ends whose margins are fixed by the pairs: ``a = C_{+j}`` ends ``+`` and
``b = C_{-j}`` ends ``-`` (so ``a + b = C_j``). Such a table has exactly one free number, the
association of the two ends given the centre; we use its log odds ratio

    η = log( C(a-end, j, a-end) · C(b-end, j, b-end) / C(a-end, j, b-end)² ),

and fill the table with Plackett's construction (the 2×2 table with fixed margins and a given
odds ratio; Plackett 1965). ``η = 0`` (odds ratio 1) is the pair approximation
``C_ijk = w C_ij C_jk / C_j``. A triangle ``(t0, t1, t2, t3) = P(+++), P(++-), P(+--), P(---)``
(one ordered pattern each, rotation symmetric) with its three pair marginals fixed,
``t0 + t1 = C_++``, ``t1 + t2 = C_+-``, ``t2 + t3 = C_--``, also has one free number, its
three-body part; we use Bartlett's three-factor interaction, the log ratio of the triangle's
two conditional odds ratios

    κ = log( (t0 t2 / t1²) / (t1 t3 / t2²) ) = log( t0 t2³ / (t1³ t3) ),

which is ``8K`` for a triangle distribution ``∝ exp(h Σσ + J Σσσ + K σσσ)``. ``κ = 0`` is the
maximum-entropy triangle with the given pairs (exact on an uncorrelated lattice). The triangle
is the root of a monotone equation in ``t1`` on the interval allowed by the pairs, solved by
bisection to float64 resolution and differentiated implicitly.

The five free quantities ``(η_lin,+ , η_lin,- , η_ang,+ , η_ang,- , κ)`` (`QUANTITIES`) are
functions of the pair state, linear in learned coefficients over a basis of log-space features
(products of at most a few of ``log C_+, log C_-, log ρ_++, log ρ_--, log ρ_+-`` with the
nearest-neighbour correlations ``ρ_ij = C_ij / (C_i C_j)``). For *any* coefficients and any
pair state a triangular lattice can hold the result is exactly consistent with the pairs (per open shape
``Σ_i C_ijk = w C_jk``, per triangle its three pair marginals), normalised to ``w`` per shape
when the pairs are normalised, and between 0 and ``w``.

A triangle with given pairs exists only if ``C_+- ≤ C_++ + C_--`` (every triangle of a
two-species lattice has a like bond; for normalised pairs ``C_+- ≤ 1/3``), which every lattice
state satisfies. Beyond it the closure returns the boundary triangle ``t1 = C_+- − C_--`` with
negative cells set to 0 (finite, but no longer consistent); the chains stay consistent for any
pairs.

Singlets: the closure uses the singlets implied by its pairs, ``C_+ = C_++ + C_+-`` and
``C_- = C_-- + C_+-`` (docs/model.md §9; identical to the recorded singlets on any lattice data). So it is
a function of the pair state alone, and stays consistent inside the mean-cluster ODE, where the
pairs evolve. The ``C_single`` argument of the closure interface only sets the batch shape.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from itertools import combinations_with_replacement
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike

from .._custom_types import (
    AnyArray,
    Array,
    Float,
    Int,
    PairConcentrations,
    SingletConcentrations,
    TripletConcentrations,
)
from .._labels import SHAPE_WEIGHTS, TRIPLET_INDEX, TRIPLETS
from ._base import AbstractClosure, _check_last_axis, register_closure

#: The five free quantities: log odds ratio of the two chain ends given the centre species,
#: per open shape and centre (``"ang:+"``: angled chains centred on ``+``), and the triangle's
#: three-factor interaction ``κ`` (``"tri"``).
QUANTITIES: tuple[str, ...] = ("lin:+", "lin:-", "ang:+", "ang:-", "tri")
#: The log quantities the features are built from (``rho_ij = C_ij / (C_i C_j)``; singlets
#: implied by the pairs).
BASE_LOGS: tuple[str, ...] = ("C+", "C-", "rho++", "rho--", "rho+-")
#: Default basis: a constant and the logs of the three nearest-neighbour correlations.
DEFAULT_BASIS: tuple[str, ...] = ("1", "log(rho++)", "log(rho--)", "log(rho+-)")
#: Concentrations below this are treated as this value inside the logarithms of the features
#: (finite features and gradients at ``C = 0``; far below ``1/(6N)`` for any lattice that fits
#: in memory, so lattice data never reach it unless a concentration is exactly zero).
LOG_FLOOR: float = 1e-12

_BISECTION_STEPS = 64
_TINY = 1e-300

# Output positions of the cells, per quantity: (aa, ab, bb) with a = "+" ends, b = "-" ends.
_CHAIN_CELLS = {
    "lin:+": ("lin:+++", "lin:++-", "lin:-+-"),
    "lin:-": ("lin:+-+", "lin:--+", "lin:---"),
    "ang:+": ("ang:+++", "ang:++-", "ang:-+-"),
    "ang:-": ("ang:+-+", "ang:--+", "ang:---"),
}
_TRI_CELLS = ("tri:+++", "tri:++-", "tri:--+", "tri:---")


# --------------------------------------------------------------------------- features


def parse_feature(name: str) -> tuple[int, ...]:
    """Indices into `BASE_LOGS` of a feature name: ``"1"`` → ``()``, ``"log(rho+-)"`` → ``(4,)``,
    ``"log(C+)*log(rho++)"`` → ``(0, 2)`` (sorted).

    **Raises:**

    - `ValueError` for a name that is not ``"1"`` or a ``*``-product of ``log(<base>)`` with
      ``<base>`` one of `BASE_LOGS`.
    """
    if not isinstance(name, str):
        raise ValueError(f"features: a feature name must be a string; got {name!r}")
    text = name.replace(" ", "")
    if text == "1":
        return ()
    out = []
    for part in text.split("*"):
        if not (part.startswith("log(") and part.endswith(")")) or part[4:-1] not in BASE_LOGS:
            raise ValueError(
                f"features: unknown feature {name!r}; use '1' or products like 'log(rho++)*log(C+)' "
                f"of log(X) with X in {list(BASE_LOGS)}"
            )
        out.append(BASE_LOGS.index(part[4:-1]))
    return tuple(sorted(out))


def feature_name(indices: Sequence[int]) -> str:
    """Inverse of `parse_feature`: ``(0, 2)`` → ``"log(C+)*log(rho++)"``; ``()`` → ``"1"``."""
    if not indices:
        return "1"
    return "*".join(f"log({BASE_LOGS[i]})" for i in sorted(indices))


def feature_library(order: int = 2) -> tuple[str, ...]:
    """All features up to products of ``order`` base logs: the constant, the 5 logs, and for
    ``order = 2`` their 15 pairwise products (21 in all), in a fixed order.

    **Raises:** `ValueError` if ``order`` is not 0, 1, 2 or 3.
    """
    if order not in (0, 1, 2, 3):
        raise ValueError(f"order must be 0, 1, 2 or 3; got {order!r}")
    names = ["1"]
    for k in range(1, order + 1):
        names += [feature_name(c) for c in combinations_with_replacement(range(len(BASE_LOGS)), k)]
    return tuple(names)


def _safe_log(c: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
    return jnp.log(jnp.maximum(c, LOG_FLOOR))


def base_logs(C_pair: PairConcentrations) -> Float[Array, "*batch 5"]:
    """``(log C_+, log C_-, log ρ_++, log ρ_--, log ρ_+-)`` of pair states (singlets implied by
    the pairs; concentrations floored at `LOG_FLOOR` inside the logarithms).

    **Arguments:**

    - `C_pair`: float array ``(*batch, 3)``, ``(C_++, C_--, C_+-)``.

    **Returns:**

    Float array ``(*batch, 5)`` in the order of `BASE_LOGS`.
    """
    C_pair = jnp.maximum(jnp.asarray(C_pair), 0.0)
    cpp, cmm, cpm = C_pair[..., 0], C_pair[..., 1], C_pair[..., 2]
    lp, lm = _safe_log(cpp + cpm), _safe_log(cmm + cpm)
    return jnp.stack(
        [lp, lm, _safe_log(cpp) - 2 * lp, _safe_log(cmm) - 2 * lm, _safe_log(cpm) - lp - lm], axis=-1
    )


def evaluate_features(C_pair: PairConcentrations, features: Sequence[str]) -> Float[Array, "*batch F"]:
    """The basis functions named ``features`` (see `parse_feature`) at pair states.

    **Arguments:**

    - `C_pair`: float array ``(*batch, 3)``.
    - `features`: feature names.

    **Returns:**

    Float array ``(*batch, F)``.
    """
    logs = base_logs(C_pair)
    ones = jnp.ones(logs.shape[:-1], logs.dtype)
    cols = []
    for name in features:
        v = ones
        for i in parse_feature(name):
            v = v * logs[..., i]
        cols.append(v)
    return jnp.stack(cols, axis=-1)


# --------------------------------------------------------------------------- the 2x2 table

#: Float arrays of one (broadcast) shape.
_Float = Float[Array, "*shape"]


def plackett_table(a: ArrayLike, b: ArrayLike, eta: ArrayLike) -> tuple[_Float, _Float, _Float]:
    """Cells ``(aa, ab, bb)`` of a symmetric 2×2 table with margins ``a``, ``b`` and log odds
    ratio ``eta`` (Plackett's construction).

    The table of the two ends of a chain given its centre: ``aa + ab = a``, ``ab + bb = b``,
    ``aa · bb / ab² = exp(eta)``. The cell of the two minority ends solves a quadratic; we take
    its root in the cancellation-free form ``Y = 2 r s² / (q d + 2 r s + √(q² d² + 4 r q s (s + d)))``
    with ``s`` the smaller margin, ``d = |a − b|``, ``r = σ(η)``, ``q = σ(−η)``, which is defined for
    every ``eta`` in ``[−∞, ∞]`` (Fréchet bounds at the ends) and every ``a, b ≥ 0``.

    **Arguments:**

    - `a`, `b`: float arrays (broadcastable), the margins (≥ 0).
    - `eta`: float array, the log odds ratio; ``0`` gives the independent table ``aa = a²/(a+b)``.

    **Returns:**

    ``(aa, ab, bb)``, each ≥ 0, with ``aa + ab = a`` and ``ab + bb = b`` to rounding.
    """
    r, q = jax.nn.sigmoid(eta), jax.nn.sigmoid(-eta)
    s, big = jnp.minimum(a, b), jnp.maximum(a, b)
    d = big - s
    disc = (q * d) ** 2 + 4.0 * r * q * s * big
    root = jnp.sqrt(jnp.where(disc > 0, disc, 1.0)) * (disc > 0).astype(disc.dtype)
    den = q * d + 2.0 * r * s + root
    ok = (s > 0) & (den > 0)
    Y = jnp.where(ok, 2.0 * r * s * s / jnp.where(ok, den, 1.0), 0.0)
    a_small = a <= b
    aa = jnp.where(a_small, Y, a - b + Y)
    bb = jnp.where(a_small, b - a + Y, Y)
    ab = jnp.where(a_small, a - Y, b - Y)
    return jnp.maximum(aa, 0.0), jnp.maximum(ab, 0.0), jnp.maximum(bb, 0.0)


# --------------------------------------------------------------------------- the triangle


def _triangle_log_ratio(t1: _Float, cpp: _Float, cmm: _Float, cpm: _Float) -> _Float:
    """``log(t0 t2³ / (t1³ t3))`` of the triangle with pair marginals ``cpp, cmm, cpm``."""

    def lg(v: _Float) -> _Float:
        return jnp.log(jnp.maximum(v, _TINY))

    return lg(cpp - t1) + 3.0 * lg(cpm - t1) - 3.0 * lg(t1) - lg(cmm - cpm + t1)


def _triangle_bounds(cpp: _Float, cmm: _Float, cpm: _Float) -> tuple[_Float, _Float]:
    return jnp.maximum(0.0, cpm - cmm), jnp.minimum(cpp, cpm)


@jax.custom_jvp
def triangle_t1(cpp: ArrayLike, cmm: ArrayLike, cpm: ArrayLike, kappa: ArrayLike) -> _Float:
    """``t1 = P(++-)`` of the rotation-symmetric triangle with pair marginals ``(cpp, cmm, cpm)``
    and three-factor interaction ``kappa`` (see the module docstring).

    The left side ``log(t0 t2³/(t1³ t3))`` decreases strictly from ``+∞`` to ``−∞`` over the
    interval ``[max(0, C_+- − C_--), min(C_++, C_+-)]`` allowed by the pairs, so the root is
    unique for every finite ``kappa``; it is found by 64 bisection steps (float64 resolution of
    the interval) and differentiated by the implicit-function theorem (a custom JVP, which also
    serves reverse mode). Inputs must be non-negative; all arrays broadcast.
    """
    cpp, cmm, cpm, kappa = jnp.broadcast_arrays(cpp, cmm, cpm, kappa)
    lo, hi = _triangle_bounds(cpp, cmm, cpm)

    def body(_: Int[Array, ""], bracket: tuple[_Float, _Float]) -> tuple[_Float, _Float]:
        a, b = bracket
        mid = 0.5 * (a + b)
        right = _triangle_log_ratio(mid, cpp, cmm, cpm) > kappa
        return jnp.where(right, mid, a), jnp.where(right, b, mid)

    a, b = jax.lax.fori_loop(0, _BISECTION_STEPS, body, (lo, jnp.maximum(hi, lo)))
    return jnp.clip(0.5 * (a + b), lo, jnp.maximum(hi, lo))


@triangle_t1.defjvp
def _triangle_t1_jvp(
    primals: tuple[ArrayLike, ...], tangents: tuple[ArrayLike, ...]
) -> tuple[_Float, _Float]:
    cpp, cmm, cpm, kappa = jnp.broadcast_arrays(*primals)
    dpp, dmm, dpm, dk = (jnp.broadcast_to(t, cpp.shape) for t in tangents)
    t1 = triangle_t1(cpp, cmm, cpm, kappa)
    t0 = jnp.maximum(cpp - t1, 0.0)
    t2 = jnp.maximum(cpm - t1, 0.0)
    t3 = jnp.maximum(cmm - cpm + t1, 0.0)
    # F(t1; C, κ) = log t0 + 3 log t2 − 3 log t1 − log t3 − κ = 0, multiplied through by t0 t1 t2 t3
    # so that no division by a vanishing cell occurs.
    p0, p1, p2, p3 = t1 * t2 * t3, 3.0 * t0 * t2 * t3, 3.0 * t0 * t1 * t3, t0 * t1 * t2
    P = p0 + p1 + p2 + p3
    ok = P > 0
    implicit = (p0 * dpp + (p2 + p3) * dpm - p3 * dmm - t0 * t1 * t2 * t3 * dk) / jnp.where(ok, P, 1.0)
    # At a corner (two cells zero) t1 sits on a bound of its interval; follow that bound.
    lo, hi = _triangle_bounds(cpp, cmm, cpm)
    d_lo = jnp.where(cpm - cmm > 0, dpm - dmm, 0.0)
    d_hi = jnp.where(cpp < cpm, dpp, dpm)
    fallback = jnp.where(t1 - lo <= hi - t1, d_lo, d_hi)
    return t1, jnp.where(ok, implicit, fallback)


def triangle_from_pairs(C_pair: PairConcentrations, kappa: ArrayLike) -> Float[Array, "*batch 4"]:
    """The triangle ``(t0, t1, t2, t3) = P(+++), P(++-), P(+--), P(---)`` (one ordered pattern
    each, no shape weight) with the given pair marginals and three-factor interaction.

    **Arguments:**

    - `C_pair`: float array ``(*batch, 3)``, ``(C_++, C_--, C_+-)`` (negative entries are
      treated as 0).
    - `kappa`: float array broadcastable to ``batch``, ``log(t0 t2³ / (t1³ t3))``; 0 is the
      maximum-entropy triangle.

    **Returns:**

    Float array ``(*batch, 4)``, non-negative, with ``t0 + t1 = C_++``, ``t1 + t2 = C_+-``,
    ``t2 + t3 = C_--`` to rounding.
    """
    C_pair = jnp.maximum(jnp.asarray(C_pair), 0.0)
    cpp, cmm, cpm = C_pair[..., 0], C_pair[..., 1], C_pair[..., 2]
    t1 = triangle_t1(cpp, cmm, cpm, kappa)
    t0 = jnp.maximum(cpp - t1, 0.0)
    t2 = jnp.maximum(cpm - t1, 0.0)
    t3 = jnp.maximum(cmm - cpm + t1, 0.0)
    return jnp.stack([t0, t1, t2, t3], axis=-1)


def consistent_triplets(C_pair: PairConcentrations, eta: Float[Array, "*batch 5"]) -> TripletConcentrations:
    """The 16 triplet concentrations (docs/model.md §4 order, shape weights included) of pair states and
    given free quantities ``eta`` (order of `QUANTITIES`).

    **Arguments:**

    - `C_pair`: float array ``(*batch, 3)``; negative entries are treated as 0.
    - `eta`: float array ``(*batch, 5)``: the four chain log odds ratios and the triangle's ``κ``.

    **Returns:**

    Float array ``(*batch, 16)``.
    """
    C_pair = jnp.maximum(jnp.asarray(C_pair), 0.0)
    eta = jnp.asarray(eta)
    shape = jnp.broadcast_shapes(C_pair.shape[:-1], eta.shape[:-1])
    C_pair = jnp.broadcast_to(C_pair, shape + (3,))
    eta = jnp.broadcast_to(eta, shape + (len(QUANTITIES),))
    cpp, cmm, cpm = C_pair[..., 0], C_pair[..., 1], C_pair[..., 2]
    margins = {"+": (cpp, cpm), "-": (cpm, cmm)}  # ends "+" and "-" given the centre
    cols: list = [None] * len(TRIPLETS)
    for q, name in enumerate(QUANTITIES[:4]):
        shape_name, centre = name.split(":")
        w = SHAPE_WEIGHTS[shape_name]
        for label, cell in zip(_CHAIN_CELLS[name], plackett_table(*margins[centre], eta[..., q]), strict=True):
            cols[TRIPLET_INDEX[label]] = w * cell
    tri = triangle_from_pairs(C_pair, eta[..., 4])
    for n, label in enumerate(_TRI_CELLS):
        cols[TRIPLET_INDEX[label]] = SHAPE_WEIGHTS["tri"] * tri[..., n]
    return jnp.stack(cols, axis=-1)


def empirical_quantities(C_triplet: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The free quantities of recorded triplets and their sensitivities (NumPy, float64).

    For each record: the chain log odds ratios ``log(aa·bb/ab²)`` and the triangle's
    ``κ = log(t0 t2³/(t1³ t3))`` (order of `QUANTITIES`), and the weight ``s`` with which an
    error in that quantity shows in the triplets to first order,
    ``Σ_τ (∂g_τ/∂η)² = 3 w² V²`` with ``V = 1/(1/aa + 2/ab + 1/bb)`` for a chain table and
    ``4 w² / (1/t0 + 3/t1 + 3/t2 + 1/t3)²`` for the triangle. Where a cell is zero the quantity
    is infinite and its sensitivity zero; it is returned as 0 with weight 0.

    **Arguments:**

    - `C_triplet`: float array ``(*batch, 16)``, docs/model.md §4 order (shape weights included).

    **Returns:**

    ``(eta, weight)``, float64 arrays of shape ``(*batch, 5)``.
    """
    C = np.asarray(C_triplet, dtype=np.float64)
    etas, weights = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for name in QUANTITIES[:4]:
            w = SHAPE_WEIGHTS[name.split(":")[0]]
            aa, ab, bb = (C[..., TRIPLET_INDEX[lab]] / w for lab in _CHAIN_CELLS[name])
            ok = (aa > 0) & (ab > 0) & (bb > 0)
            etas.append(np.where(ok, np.log(np.where(ok, aa * bb / ab**2, 1.0)), 0.0))
            V = np.where(ok, 1.0 / (1.0 / aa + 2.0 / ab + 1.0 / bb), 0.0)
            weights.append(3.0 * w * w * V * V)
        w = SHAPE_WEIGHTS["tri"]
        t0, t1, t2, t3 = (C[..., TRIPLET_INDEX[lab]] / w for lab in _TRI_CELLS)
        ok = (t0 > 0) & (t1 > 0) & (t2 > 0) & (t3 > 0)
        etas.append(np.where(ok, np.log(np.where(ok, t0 * t2**3 / (t1**3 * t3), 1.0)), 0.0))
        D = np.where(ok, 1.0 / (1.0 / t0 + 3.0 / t1 + 3.0 / t2 + 1.0 / t3), 0.0)
        weights.append(4.0 * w * w * D * D)
    return np.stack(etas, axis=-1), np.stack(weights, axis=-1)


# --------------------------------------------------------------------------- the closure


@functools.partial(jax.jit, static_argnums=1)
def _call_jit(
    coefficients: Float[Array, "5 F"], features: tuple[str, ...], C_pair: PairConcentrations
) -> TripletConcentrations:
    # One compiled program per shape and basis (the bisection loop would otherwise be traced on
    # every eager call); inlined when called inside another jit (e.g. the mean-cluster ODE).
    return consistent_triplets(C_pair, evaluate_features(C_pair, features) @ coefficients.T)


def _coefficient_array(
    coefficients: ArrayLike | Mapping[str, Mapping[str, float]] | None, features: tuple[str, ...]
) -> np.ndarray:
    F = len(features)
    if coefficients is None:
        return np.zeros((len(QUANTITIES), F))
    if isinstance(coefficients, Mapping):
        unknown = set(coefficients) - set(QUANTITIES)
        if unknown:
            raise ValueError(f"coefficients: unknown quantities {sorted(unknown)}; allowed {list(QUANTITIES)}")
        out = np.zeros((len(QUANTITIES), F))
        for q, name in enumerate(QUANTITIES):
            row = dict(coefficients.get(name, {}))
            extra = set(row) - set(features)
            if extra:
                raise ValueError(
                    f"coefficients[{name!r}] names features {sorted(extra)} that are not in features {list(features)}"
                )
            for f, feat in enumerate(features):
                out[q, f] = float(row.get(feat, 0.0))
        return out
    arr = np.asarray(coefficients, dtype=np.float64)
    if arr.shape != (len(QUANTITIES), F):
        raise ValueError(f"coefficients must have shape (5, {F}) = (quantities, features); got {arr.shape}")
    return arr


@register_closure
class ConsistentClosure(AbstractClosure):
    """Closure consistent with its pairs by construction, with learned association (see the
    module docstring for the construction).

    For every coefficient value: per open shape ``Σ_i C_ijk = w C_jk`` and per triangle its three
    pair marginals hold exactly (to rounding), so the triplets of each shape sum to ``w`` for
    normalised pairs, and ``0 ≤ g_τ ≤ w``. The free quantities (`QUANTITIES`: the log odds ratio
    of the ends of linear and angled chains given a ``+`` or ``-`` centre, and the triangle's
    three-factor interaction ``κ``) are ``coefficients @ features(C)``. With zero coefficients
    (the default) the chains are the pair approximation's and the triangles the maximum-entropy
    triangles of their pairs; both are exact on an uncorrelated lattice.

    **Fields:**

    - `coefficients`: float64 array ``(5, F)``, rows in the order of `QUANTITIES`.
    - `features`: tuple of ``F`` feature names (static; see `parse_feature`), default
      `DEFAULT_BASIS` ``("1", "log(rho++)", "log(rho--)", "log(rho+-)")``.
    - `source_json`: JSON text with the provenance of a calibration (static; see `source`).

    **Example:**

    ```python
    closure = ConsistentClosure()                       # PA chains, max-entropy triangles
    g = closure(jnp.array([2 / 3, 1 / 3]), jnp.array([0.4, 0.0667, 0.2667]))  # shape (16,)
    ```
    """

    coefficients: Float[AnyArray, "5 F"]
    features: tuple[str, ...] = eqx.field(static=True)
    source_json: str = eqx.field(static=True)

    kind: ClassVar[str] = "consistent"

    def __init__(
        self,
        coefficients: ArrayLike | Mapping[str, Mapping[str, float]] | None = None,
        features: Sequence[str] = DEFAULT_BASIS,
        *,
        source: Mapping[str, Any] | None = None,
    ) -> None:
        """**Arguments:**

        - `coefficients`: array ``(5, F)``, or ``{quantity: {feature: value}}`` (missing entries
          0), or ``None`` (all zero).
        - `features`: the ``F`` feature names (`parse_feature`), no duplicates.
        - `source`: JSON-serialisable provenance of the calibration.

        **Raises:**

        - `ValueError` for an unknown or repeated feature, a wrong shape, or a non-finite
          coefficient.
        """
        features = tuple(str(f) for f in features)
        if not features:
            raise ValueError("features must name at least one basis function, e.g. ('1',)")
        canon = [parse_feature(f) for f in features]
        if len(set(canon)) != len(canon):
            raise ValueError(f"features must not repeat a basis function; got {list(features)}")
        if isinstance(coefficients, jax.core.Tracer):
            coef = coefficients
        else:
            coef = _coefficient_array(coefficients, features)
            if not np.all(np.isfinite(coef)):
                raise ValueError("coefficients must be finite (no NaN or inf)")
            coef = jnp.asarray(coef, dtype=jnp.float64)
        self.coefficients = coef
        self.features = features
        self.source_json = json.dumps(dict(source or {}), sort_keys=True, default=str)

    @property
    def source(self) -> dict[str, Any]:
        """Provenance of the calibration data (a fresh dict)."""
        return json.loads(self.source_json)

    def free_quantities(self, C_pair: PairConcentrations) -> Float[Array, "*batch 5"]:
        """The five free quantities (order of `QUANTITIES`) at pair states ``(*batch, 3)``."""
        return evaluate_features(C_pair, self.features) @ self.coefficients.T

    def __call__(self, C_single: SingletConcentrations, C_pair: PairConcentrations) -> TripletConcentrations:
        """Triplet concentrations ``g_τ`` of all 16 types, consistent with the pairs.

        **Arguments:**

        - `C_single`: float array ``(*batch, 2)``; only its batch shape is used (the singlets
          implied by the pairs enter; see the module docstring).
        - `C_pair`: float array ``(*batch, 3)``, ``(C_++, C_--, C_+-)``; negative entries (a
          solver's overshoot) are treated as 0.

        **Returns:**

        Float array ``(*batch, 16)`` in docs/model.md §4 order, shape weights included.

        **Raises:**

        - `ValueError` at trace time if the last axes are not of size 2 and 3 or the batch
          shapes do not broadcast.
        """
        _check_last_axis(C_single, C_pair)
        C_pair = jnp.asarray(C_pair, dtype=jnp.result_type(float))
        shape = jnp.broadcast_shapes(jnp.shape(C_single)[:-1], C_pair.shape[:-1])
        return _call_jit(self.coefficients, self.features, jnp.broadcast_to(C_pair, shape + (3,)))

    def coefficient_table(self) -> dict[str, dict[str, float]]:
        """``{quantity: {feature: coefficient}}`` (the JSON layout)."""
        c = np.asarray(self.coefficients, dtype=np.float64)
        return {q: {f: float(c[i, j]) for j, f in enumerate(self.features)} for i, q in enumerate(QUANTITIES)}

    def formulas(self, digits: int = 3) -> dict[str, str]:
        """Each free quantity as a readable formula, e.g. ``η(ang:+) = 0.41 − 2.1 log(rho--)``;
        terms whose coefficient rounds to zero are left out."""
        out = {}
        c = np.asarray(self.coefficients, dtype=np.float64)
        for i, q in enumerate(QUANTITIES):
            symbol = "κ(tri)" if q == "tri" else f"η({q})"
            terms = []
            for j, f in enumerate(self.features):
                v = round(float(c[i, j]), digits)
                if v == 0:
                    continue
                mag = f"{abs(v):.{digits}g}"
                body = mag if f == "1" else f"{mag} {f}"
                terms.append(("− " if v < 0 else "+ ") + body)
            text = " ".join(terms) if terms else "0"
            out[q] = f"{symbol} = " + (text[2:] if text.startswith("+ ") else text)
        return out

    def describe(self, digits: int = 3) -> str:
        """The free quantities as formulas, one line each."""
        lines = ["ConsistentClosure (chain log odds ratios η given the centre; triangle three-factor κ)"]
        lines += [f"  {v}" for v in self.formulas(digits).values()]
        return "\n".join(lines)

    def to_json_dict(self) -> dict:
        """JSON representation: ``{"kind": "consistent", "features": [...], "coefficients":
        {quantity: {feature: value}}, "source": {...}}``."""
        return {
            "kind": self.kind,
            "features": list(self.features),
            "coefficients": self.coefficient_table(),
            "source": self.source,
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> ConsistentClosure:
        """Inverse of `to_json_dict`.

        **Raises:** `ValueError` if ``"features"`` or ``"coefficients"`` is missing or invalid.
        """
        if "features" not in data or "coefficients" not in data:
            raise ValueError('a "consistent" closure needs "features" and "coefficients"')
        if not isinstance(data["coefficients"], Mapping):
            raise ValueError('"coefficients" must be an object {quantity: {feature: value}}')
        return cls(data["coefficients"], data["features"], source=data.get("source") or {})


__all__ = [
    "BASE_LOGS",
    "DEFAULT_BASIS",
    "LOG_FLOOR",
    "QUANTITIES",
    "ConsistentClosure",
    "base_logs",
    "consistent_triplets",
    "empirical_quantities",
    "evaluate_features",
    "feature_library",
    "feature_name",
    "parse_feature",
    "plackett_table",
    "triangle_from_pairs",
    "triangle_t1",
]
