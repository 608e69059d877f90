"""The optimal approximation: a closure with calibrated exponents (paper Section IV.B,
Table I, eq. (16); docs/model.md §5)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike

from .._custom_types import AnyArray, Float
from .._io import jsonable
from .._labels import PAIRS, SPECIES, TRIPLETS
from . import _structure as S
from ._base import AbstractMonomialClosure, register_closure

#: Regularisation presets of Section IV.B as ``(β1, β2, δ)``: ξ ∈ [β1, β2], γ ∈ [0, δ].
REGULARIZATIONS: dict[str, tuple[float, float, float]] = {
    "soft": (-math.inf, math.inf, 6.0),
    "hard": (0.0, 2.0, 2.0),
}


def resolve_bounds(
    regularization: str | None, bounds: Mapping[str, float | None] | Sequence[float | None] | None = None
) -> tuple[float, float, float]:
    """Bounds ``(β1, β2, δ)`` from a preset name, optionally overridden by user ``bounds``.

    **Arguments:**

    - `regularization`: ``"hard"``, ``"soft"`` or ``None`` (then `bounds` must give all three).
    - `bounds`: ``None``, a tuple ``(β1, β2, δ)``, or a mapping with any of the keys ``"beta1"``,
      ``"beta2"``, ``"delta"`` (``None`` or ``±inf`` means unbounded).

    **Returns:**

    ``(β1, β2, δ)`` as Python floats.

    **Raises:**

    - `ValueError` for an unknown preset, or bounds with ``β1 > β2``, ``δ < 0`` or NaN.
    """
    missing = object()
    if regularization is None:
        base: list = [missing, missing, missing]
    elif regularization in REGULARIZATIONS:
        base = list(REGULARIZATIONS[regularization])
    else:
        raise ValueError(
            f"regularization must be one of {sorted(REGULARIZATIONS)} or None; got {regularization!r}"
        )
    if bounds is not None:
        if isinstance(bounds, Mapping):
            unknown = set(bounds) - {"beta1", "beta2", "delta"}
            if unknown:
                raise ValueError(f"bounds has unknown keys {sorted(unknown)}; allowed: beta1, beta2, delta")
            for n, key in enumerate(("beta1", "beta2", "delta")):
                if key in bounds:
                    base[n] = bounds[key]
        else:
            if len(bounds) != 3:
                raise ValueError(f"bounds must be (beta1, beta2, delta); got {bounds!r}")
            base = list(bounds)
    if any(b is missing for b in base):
        raise ValueError("bounds must give beta1, beta2 and delta when regularization is None")
    b1 = -math.inf if base[0] is None else float(base[0])
    b2 = math.inf if base[1] is None else float(base[1])
    d = math.inf if base[2] is None else float(base[2])
    if any(math.isnan(v) for v in (b1, b2, d)):
        raise ValueError(f"bounds must not be NaN; got beta1={b1}, beta2={b2}, delta={d}")
    if not b1 <= b2:
        raise ValueError(f"bounds must have beta1 <= beta2; got beta1={b1}, beta2={b2}")
    if b1 == math.inf or b2 == -math.inf:
        raise ValueError(
            f"bounds must have beta1 < +inf and beta2 > -inf (unbounded is None, -inf for beta1, +inf for "
            f"beta2); got beta1={b1}, beta2={b2}"
        )
    if not d >= 0:
        raise ValueError(f"bounds must have delta >= 0 (0 <= gamma <= delta); got delta={d}")
    return (b1, b2, d)


#: Largest violation of the boxes of eq. (16) accepted when a closure file states its bounds
#: (the fit's projection meets them to rounding error).
BOUNDS_TOLERANCE = 1e-6


def bounds_to_json(bounds: tuple[float, float, float] | None) -> dict[str, float | None] | None:
    """``(β1, β2, δ)`` → ``{"beta1": ..., "beta2": ..., "delta": ...}`` (infinite → ``None``)."""
    if bounds is None:
        return None
    return {
        k: (None if math.isinf(v) else float(v))
        for k, v in zip(("beta1", "beta2", "delta"), bounds, strict=True)
    }


def bounds_from_json(b: Mapping[str, float | None] | None) -> tuple[float, float, float] | None:
    """Inverse of `bounds_to_json` (``None`` → unbounded).

    **Raises:**

    - `ValueError` unless `b` is ``None`` or a mapping with exactly the keys ``beta1, beta2, delta``.
    """
    if b is None:
        return None
    if not isinstance(b, Mapping) or set(b) != {"beta1", "beta2", "delta"}:
        raise ValueError(f'"bounds" must be null or an object with keys beta1, beta2, delta; got {b!r}')
    for key in ("beta1", "beta2", "delta"):
        v = b[key]
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ValueError(f'"bounds"["{key}"] must be a number or null (unbounded); got {v!r}')
    return resolve_bounds(None, dict(b))


def constraint_violation(
    gamma: ArrayLike, xi: ArrayLike, bounds: tuple[float, float, float]
) -> np.ndarray:
    """Largest violation of the constraints (16) per type, shape ``(16,)``; 0 when feasible.

    Includes the equality ``Σγ − Σξ = 1``, the boxes ``0 ≤ γ ≤ δ``, ``β1 ≤ ξ ≤ β2``, and
    structural zeros (an exponent on a concentration absent from τ).
    """
    b1, b2, d = bounds
    gamma, xi = np.asarray(gamma, np.float64), np.asarray(xi, np.float64)
    pm, sm = S.PAIR_MASK, S.SPECIES_MASK
    eq = np.abs((gamma * pm).sum(-1) - (xi * sm).sum(-1) - 1.0)
    box_g = np.where(pm, np.maximum(np.maximum(-gamma, gamma - d), 0.0), np.abs(gamma))
    box_x = np.where(sm, np.maximum(np.maximum(b1 - xi, xi - b2), 0.0), np.abs(xi))
    return np.maximum(eq, np.maximum(box_g.max(-1), box_x.max(-1)))


@register_closure
class OptimalApproximation(AbstractMonomialClosure):
    """Optimal approximation: ``g_τ = w Π_q C_q^{γ_q} / Π_r C_r^{ξ_r}`` with fitted exponents.

    ``q`` runs over the distinct pair types among the bonds of τ and ``r`` over the distinct
    species of τ (docs/model.md §5, Table I). The parameter vector ``V_τ`` of each type is
    ``[γ, ξ]`` (``+++``, ``---``), ``[γ, ξ1, ξ2]`` (``+-+``, ``-+-``) or ``[γ1, γ2, ξ1, ξ2]``
    (``++-``, ``--+`` and the mixed triangles); see `parameter_vectors` for the order. Exponents
    are usually obtained with `fit_optimal_closure`, subject to eq. (16): ``Σγ − Σξ = 1``,
    ``0 ≤ γ ≤ δ``, ``β1 ≤ ξ ≤ β2``. The constructor does not enforce (16) (so that, e.g., the
    pair approximation's exponents can be represented); `constraint_violation` measures it.

    **Fields:**

    - `gamma`: float64 array ``(16, 3)``, exponents on ``(C_++, C_--, C_+-)``; entries on pair
      types absent from τ are set to zero.
    - `xi`: float64 array ``(16, 2)``, exponents on ``(C_+, C_-)``; absent species set to zero.
    - `regularization`: ``"hard"``, ``"soft"``, ``"custom"`` or ``None`` (static metadata).
    - `bounds`: ``(β1, β2, δ)`` used in the fit, or ``None`` (static metadata).
    - `source_json`: JSON text describing the calibration data (static metadata; see `source`).
    """

    gamma: Float[AnyArray, "16 3"]
    xi: Float[AnyArray, "16 2"]
    regularization: str | None = eqx.field(static=True)
    bounds: tuple[float, float, float] | None = eqx.field(static=True)
    source_json: str = eqx.field(static=True)

    kind: ClassVar[str] = "optimal"

    def __init__(
        self,
        gamma: ArrayLike,
        xi: ArrayLike,
        *,
        regularization: str | None = None,
        bounds: tuple[float, float, float] | None = None,
        source: Mapping[str, Any] | None = None,
    ) -> None:
        """**Arguments:**

        - `gamma`: array-like of shape ``(16, 3)``, exponents on ``(C_++, C_--, C_+-)``.
        - `xi`: array-like of shape ``(16, 2)``, exponents on ``(C_+, C_-)``.
        - `regularization`, `bounds`: metadata of the fit (see class docstring).
        - `source`: JSON-serialisable mapping with the provenance of the calibration data.

        **Raises:**

        - `ValueError` if the shapes are wrong or an exponent is NaN or infinite.
        """
        concrete = _is_concrete(gamma, xi)
        xp = np if concrete else jnp
        gamma = xp.asarray(gamma, dtype=float)
        xi = xp.asarray(xi, dtype=float)
        if gamma.shape != (len(TRIPLETS), len(PAIRS)):
            raise ValueError(f"gamma must have shape (16, 3); got {gamma.shape}")
        if xi.shape != (len(TRIPLETS), len(SPECIES)):
            raise ValueError(f"xi must have shape (16, 2); got {xi.shape}")
        if concrete and not (np.all(np.isfinite(gamma)) and np.all(np.isfinite(xi))):
            raise ValueError("gamma and xi must be finite real numbers (no NaN or inf)")
        self.gamma = xp.where(S.PAIR_MASK, gamma, 0.0)
        self.xi = xp.where(S.SPECIES_MASK, xi, 0.0)
        self.regularization = regularization
        self.bounds = None if bounds is None else tuple(float(b) for b in bounds)
        self.source_json = json.dumps(jsonable(dict(source or {})), sort_keys=True, allow_nan=False)

    @property
    def source(self) -> dict[str, Any]:
        """Provenance of the calibration data (a fresh dict)."""
        return json.loads(self.source_json)

    def exponents(self) -> tuple[Float[AnyArray, "16 3"], Float[AnyArray, "16 2"]]:
        """``(gamma, xi)``, shapes ``(16, 3)`` and ``(16, 2)``."""
        return self.gamma, self.xi

    @classmethod
    def from_closure(cls, closure: AbstractMonomialClosure, **metadata: Any) -> OptimalApproximation:
        """The optimal-approximation form of any monomial closure (e.g. the pair approximation)."""
        gamma, xi = closure.exponents()
        return cls(gamma, xi, **metadata)

    @classmethod
    def from_exponent_table(
        cls, table: Mapping[str, Mapping[str, Mapping[str, float]]], **metadata: Any
    ) -> OptimalApproximation:
        """Build from ``{"ang:++-": {"gamma": {"++": .., "+-": ..}, "xi": {"+": .., "-": ..}}, ...}``.

        **Raises:**

        - `ValueError` if a type is missing, or a pair/species key is absent from, or does not
          occur in, that type.
        """
        gamma, xi = S.exponents_from_table(dict(table))
        return cls(gamma, xi, **metadata)

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> OptimalApproximation:
        """Inverse of `to_json_dict` (see `meanclust_jax.closures.load_closure`).

        **Raises:**

        - `ValueError` if ``"exponents"`` is missing or malformed (an exponent that is not a
          finite number), ``"bounds"`` is not ``null`` or an object with the keys
          ``beta1, beta2, delta`` holding numbers or ``null`` with ``beta1 <= beta2`` and
          ``delta >= 0``, or an exponent lies outside the file's own bounds
          (``0 <= gamma <= delta``, ``beta1 <= xi <= beta2``, to `BOUNDS_TOLERANCE`).
        """
        if "exponents" not in data:
            raise ValueError('an "optimal" closure needs "exponents"')
        bounds = bounds_from_json(data.get("bounds"))
        closure = cls.from_exponent_table(
            data["exponents"],
            regularization=data.get("regularization"),
            bounds=bounds,
            source=data.get("source") or {},
        )
        if bounds is not None:
            b1, b2, d = bounds
            g, x, tol = np.asarray(closure.gamma), np.asarray(closure.xi), BOUNDS_TOLERANCE
            bad = (S.PAIR_MASK & ((g < -tol) | (g > d + tol))).any(-1)
            bad |= (S.SPECIES_MASK & ((x < b1 - tol) | (x > b2 + tol))).any(-1)
            if bad.any():
                raise ValueError(
                    f'"exponents" break the file\'s own "bounds" (eq. 16: 0 <= gamma <= delta = {d:g}, '
                    f"beta1 = {b1:g} <= xi <= beta2 = {b2:g}) for the types "
                    f"{[TRIPLETS[t] for t in np.flatnonzero(bad)]}"
                )
        return closure

    def to_json_dict(self) -> dict:
        """JSON representation (issue 3, deliverable 4)."""
        return {
            "kind": self.kind,
            "regularization": self.regularization,
            "bounds": bounds_to_json(self.bounds),
            "exponents": self.exponent_table(),
            "source": self.source,
        }


def _is_concrete(*arrays: object) -> bool:
    import jax

    return not any(isinstance(a, jax.core.Tracer) for a in arrays)
