"""The closure interface shared by every closure (paper Section IV, docs/model.md §5).

A closure replaces each triplet concentration of the mean-cluster hierarchy by a function
``g_τ(C_+, C_-, C_++, C_--, C_+-)`` of singlet and pair concentrations (eq. (8)). Every closure of
the paper (pair, optimal and sparse approximation; Tables I and III) is a monomial

    g_τ = w_τ · Π_q C_q^{γ_{τ,q}} / Π_r C_r^{ξ_{τ,r}},

so `AbstractMonomialClosure` evaluates all of them from their exponent tables, and each can
print itself as a table of formulas.

Saving and loading: a closure class that can be written to JSON registers itself under its
``kind`` with `register_closure` (``@register_closure`` on the class); `load_closure` looks the
``"kind"`` of a file up in that registry, so a new closure family needs no edit elsewhere.
"""

from __future__ import annotations

import abc
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from .._custom_types import (
    Array,
    Float,
    PairConcentrations,
    SingletConcentrations,
    TripletConcentrations,
)
from .._io import write_text_atomic
from .._labels import PAIRS, SPECIES, TRIPLETS
from . import _structure as S


class AbstractClosure(eqx.Module):
    """A closure maps singlet and pair concentrations to the 16 triplet concentrations.

    Subclasses implement `__call__`. Any leading batch shape is allowed: ``C_single`` has shape
    ``(*batch, 2)`` ordered ``(C_+, C_-)``, ``C_pair`` has shape ``(*batch, 3)`` ordered
    ``(C_++, C_--, C_+-)``; the result has shape ``(*batch, 16)`` in the order of
    ``meanclust_jax.TRIPLETS`` (docs/model.md §4), already multiplied by the shape weight ``w``.
    The two batch shapes are broadcast against each other (so a constant ``C_single`` of shape
    ``(2,)`` may be combined with a time series ``C_pair`` of shape ``(times, 3)``).
    """

    @abc.abstractmethod
    def __call__(
        self, C_single: SingletConcentrations, C_pair: PairConcentrations
    ) -> TripletConcentrations:
        raise NotImplementedError

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON object written by `save`, with a ``"kind"`` key naming the registered class.

        Closures that can be saved override this (and `from_json_dict`) and are registered with
        `register_closure`.

        **Raises:**

        - `NotImplementedError` for a closure class that cannot be saved.
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot be saved: implement to_json_dict/from_json_dict and "
            "register the class with meanclust_jax.closures.register_closure"
        )

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> AbstractClosure:
        """Inverse of `to_json_dict` (called by `load_closure` for the file's ``"kind"``).

        **Raises:**

        - `ValueError` if `data` does not describe a closure of this class.
        """
        raise NotImplementedError(f"{cls.__name__} cannot be loaded from JSON")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the closure to ``path`` as JSON, atomically (see `load_closure`).

        **Raises:**

        - `ValueError` if the folder of ``path`` does not exist or is not writable, or the
          closure's class is not registered (`register_closure`).
        """
        data = self.to_json_dict()
        kind = data.get("kind")
        if _REGISTRY.get(kind) is not type(self):
            raise ValueError(
                f"{type(self).__name__} is not registered under kind={kind!r}; decorate it with "
                "@register_closure so that load_closure can read the file back"
            )
        write_text_atomic(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


#: The closure classes that can be saved and loaded, by ``kind`` (see `register_closure`).
_REGISTRY: dict[str, type[AbstractClosure]] = {}


def register_closure(cls: type[AbstractClosure]) -> type[AbstractClosure]:
    """Class decorator: register a closure class under its ``kind`` for `load_closure`.

    The class must be a concrete subclass of `AbstractClosure` with a class attribute ``kind``
    (a non-empty string, written as ``"kind"`` in the JSON file) and implement ``to_json_dict``
    and the class method ``from_json_dict``. `AbstractMonomialClosure` implements both for any
    closure given by its exponents and constructed without arguments.

    **Arguments:**

    - `cls`: the class.

    **Returns:**

    `cls`, unchanged.

    **Raises:**

    - `ValueError` if `cls` is not a subclass of `AbstractClosure`, has no string ``kind``, or
      another class is already registered under that ``kind``.
    """
    if not (isinstance(cls, type) and issubclass(cls, AbstractClosure)):
        raise ValueError(f"register_closure: {cls!r} is not a subclass of AbstractClosure")
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"register_closure: {cls.__name__} needs a class attribute kind (a non-empty str)")
    old = _REGISTRY.get(kind)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(
            f"register_closure: kind={kind!r} is already taken by {old.__module__}.{old.__qualname__}"
        )
    _REGISTRY[kind] = cls
    return cls


def closure_kinds() -> dict[str, type[AbstractClosure]]:
    """The registered closure classes by ``kind`` (a fresh dict), e.g. ``{"pair": PairApproximation, ...}``."""
    return dict(_REGISTRY)


def closure_class(kind: str) -> type[AbstractClosure]:
    """The closure class registered under ``kind``.

    **Raises:**

    - `ValueError` naming the registered kinds if ``kind`` is not one of them.
    """
    if not isinstance(kind, str) or kind not in _REGISTRY:
        raise ValueError(f'"kind" must be one of {sorted(_REGISTRY)}; got {kind!r}')
    return _REGISTRY[kind]


def _check_last_axis(C_single: ArrayLike, C_pair: ArrayLike) -> None:
    """Trace-time shape checks of the closure interface (raise `ValueError`)."""
    if jnp.ndim(C_single) < 1 or jnp.shape(C_single)[-1] != len(SPECIES):
        raise ValueError(
            f"C_single must have shape (..., 2) ordered (C_+, C_-); got shape {jnp.shape(C_single)}"
        )
    if jnp.ndim(C_pair) < 1 or jnp.shape(C_pair)[-1] != len(PAIRS):
        raise ValueError(
            f"C_pair must have shape (..., 3) ordered (C_++, C_--, C_+-); got shape {jnp.shape(C_pair)}"
        )
    try:
        np.broadcast_shapes(jnp.shape(C_single)[:-1], jnp.shape(C_pair)[:-1])
    except ValueError:
        raise ValueError(
            f"the batch shapes of C_single {jnp.shape(C_single)[:-1]} and C_pair "
            f"{jnp.shape(C_pair)[:-1]} do not broadcast"
        ) from None


def monomial_triplets(
    gamma: Float[Array, "16 3"],
    xi: Float[Array, "16 2"],
    C_single: SingletConcentrations,
    C_pair: PairConcentrations,
) -> TripletConcentrations:
    """Evaluate ``g_τ = w_τ Π_q C_q^{γ_τq} / Π_r C_r^{ξ_τr}`` for all 16 types (docs/model.md §5).

    **Arguments:**

    - `gamma`: float array of shape ``(16, 3)``, exponents on ``(C_++, C_--, C_+-)``.
    - `xi`: float array of shape ``(16, 2)``, exponents on ``(C_+, C_-)``.
    - `C_single`: float array of shape ``(*batch, 2)``, dimensionless probabilities.
    - `C_pair`: float array of shape ``(*batch, 3)``, dimensionless probabilities.

    **Returns:**

    Float array of shape ``(*batch, 16)`` (broadcast batch shape), docs/model.md §4 order, including
    the shape weight ``w_τ``.
    """
    _check_last_axis(C_single, C_pair)
    return _monomial_jit(jnp.asarray(gamma), jnp.asarray(xi), jnp.asarray(C_single), jnp.asarray(C_pair))


def _log_abs_and_factors(
    C: Float[Array, "*batch n"], e: Float[Array, "16 n"]
) -> tuple[Float[Array, "*batch n"], Float[Array, "*batch 16"]]:
    """For concentrations ``C (..., n)`` and exponents ``e (16, n)``: ``log|C|`` (0 where
    ``C = 0``), and the factors ``(..., 16)`` that turn ``exp(e·log|C|)`` into ``C**e`` where some
    ``C ≤ 0``: ``0**e`` at ``C = 0`` (with derivative in ``C`` of 1 for ``e = 1``, else 0), and
    the sign ``(-1)**e`` (NaN unless ``e`` is an integer) at ``C < 0``. Derivatives in ``e`` are
    taken through ``exp(e·log|C|)`` only (zero where ``C = 0``)."""
    nonzero = C != 0
    logC = jnp.log(jnp.where(nonzero, jnp.abs(C), 1.0))
    Cb = C[..., None, :]
    e = jax.lax.stop_gradient(e).reshape((1,) * (Cb.ndim - 2) + e.shape)
    is_zero = Cb == 0
    value0 = jnp.where(e == 0, 1.0, jnp.where(e > 0, 0.0, jnp.inf))
    # d(C**e)/dC at C = 0 is 1 for e = 1 and 0 for e > 1; it is infinite for 0 < e < 1, where we
    # return 0 instead (an infinite slope would turn every cotangent into NaN).
    at_zero = value0 + Cb * jnp.where(is_zero & (e == 1), 1.0, 0.0)
    integer = jnp.round(e) == e
    sign = jnp.where(integer, jnp.where(jnp.mod(jnp.round(e), 2) == 0, 1.0, -1.0), jnp.nan)
    factor = jnp.where(is_zero, at_zero, jnp.where(Cb < 0, sign, 1.0))
    return logC, jnp.prod(factor, axis=-1)


@jax.jit
def _monomial_jit(
    gamma: Float[Array, "16 3"], xi: Float[Array, "16 2"], C_single: SingletConcentrations, C_pair: PairConcentrations
) -> TripletConcentrations:
    # One compiled program per input shape (instead of ~20 eager operations); inlined when
    # called inside another jit (e.g. the mean-cluster ODE). The exponentials are taken of
    # ``log C @ exponents`` (one per output), not per factor.
    dtype = jnp.result_type(C_single.dtype, C_pair.dtype, gamma.dtype)
    C_single, C_pair = C_single.astype(dtype), C_pair.astype(dtype)
    gamma, xi = gamma.astype(dtype), xi.astype(dtype)
    log_p, f_p = _log_abs_and_factors(C_pair, gamma)
    log_s, f_s = _log_abs_and_factors(C_single, xi)
    # Pairs and singles may have different batch shapes: broadcast explicitly.
    pair_part, single_part = log_p @ gamma.T, log_s @ xi.T
    shape = jnp.broadcast_shapes(pair_part.shape, single_part.shape)
    exponent = jnp.broadcast_to(pair_part, shape) - jnp.broadcast_to(single_part, shape)
    weights = jnp.broadcast_to(jnp.asarray(S.WEIGHTS, dtype=dtype), shape)
    return weights * jnp.exp(exponent) * jnp.broadcast_to(f_p, shape) / jnp.broadcast_to(f_s, shape)


def monomial_triplets_numpy(
    gamma: ArrayLike, xi: ArrayLike, C_single: ArrayLike, C_pair: ArrayLike
) -> np.ndarray:
    """NumPy twin of `monomial_triplets` for checked, non-negative data (no JAX compilation)."""
    gamma = np.asarray(gamma, dtype=np.float64)
    xi = np.asarray(xi, dtype=np.float64)
    C_single = np.asarray(C_single, dtype=np.float64)
    C_pair = np.asarray(C_pair, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        num = np.prod(np.power(C_pair[..., None, :], gamma), axis=-1)
        den = np.prod(np.power(C_single[..., None, :], xi), axis=-1)
        return S.WEIGHTS * num / den


def _fmt_exponent(v: float, digits: int) -> str:
    s = f"{v:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def monomial_formula(label: str, gamma_row: ArrayLike, xi_row: ArrayLike, digits: int = 2) -> str:
    """Human-readable ``g_τ`` of one type, e.g. ``2/5 · C_++^0.72 C_+-^0.28 / (C_+^0 C_-^0)``."""
    t = TRIPLETS.index(label)

    def factors(names: Sequence[str], index: Mapping[str, int], row: ArrayLike) -> list[str]:
        out = []
        for name in names:
            v = float(row[index[name]])
            if round(v, digits) == 0.0:
                continue
            e = _fmt_exponent(v, digits)
            out.append(f"C_{name}" if e == "1" else f"C_{name}^{e}")
        return out

    from .._labels import PAIR_INDEX, SPECIES_INDEX

    num = factors(S.pair_types(label), PAIR_INDEX, gamma_row) or ["1"]
    den = factors(S.species_types(label), SPECIES_INDEX, xi_row)
    text = f"{S.WEIGHT_FRACTIONS[t]} · " + " ".join(num)
    if den:
        text += " / " + (den[0] if len(den) == 1 else "(" + " ".join(den) + ")")
    return text


class AbstractMonomialClosure(AbstractClosure):
    """A closure ``g_τ = w_τ Π_q C_q^{γ_τq} / Π_r C_r^{ξ_τr}`` given by its exponent tables.

    Subclasses implement `exponents`. The call, the formula table and JSON saving are shared.
    """

    #: Name used as ``"kind"`` in saved JSON files.
    kind: eqx.AbstractClassVar[str]

    @abc.abstractmethod
    def exponents(self) -> tuple[Float[Array, "16 3"], Float[Array, "16 2"]]:
        """Exponent tables ``(gamma, xi)`` of shapes ``(16, 3)`` (on ``C_++, C_--, C_+-``) and
        ``(16, 2)`` (on ``C_+, C_-``), rows in docs/model.md §4 order."""
        raise NotImplementedError

    def __call__(
        self, C_single: SingletConcentrations, C_pair: PairConcentrations
    ) -> TripletConcentrations:
        """Triplet concentrations ``g_τ`` of all 16 types (eq. (8); Tables I, III).

        **Arguments:**

        - `C_single`: float array of shape ``(*batch, 2)``, ``(C_+, C_-)``; probabilities.
        - `C_pair`: float array of shape ``(*batch, 3)``, ``(C_++, C_--, C_+-)``; probabilities
          (``C_+-`` of one oriented bond, so ``C_++ + C_-- + 2 C_+- = 1``).

        **Returns:**

        Float array of shape ``(*batch, 16)`` in docs/model.md §4 order, including the shape weight.
        No value checks are made here (this runs inside ODE solvers); use
        `meanclust_jax.closures.check_concentrations` on user data.

        **Raises:**

        - `ValueError` at trace time if the last axes are not of size 2 and 3 or the batch
          shapes do not broadcast.
        """
        gamma, xi = self.exponents()
        return monomial_triplets(jnp.asarray(gamma), jnp.asarray(xi), C_single, C_pair)

    def exponent_table(self) -> dict[str, dict[str, dict[str, float]]]:
        """Exponents per type as nested dicts: ``{"ang:++-": {"gamma": {"++": 1.0, "+-": 1.0},
        "xi": {"+": 1.0, "-": 0.0}}, ...}`` (the JSON layout; only the concentrations that occur
        in the type are listed)."""
        from .._labels import PAIR_INDEX, SPECIES_INDEX

        gamma, xi = (np.asarray(a, dtype=np.float64) for a in self.exponents())
        out = {}
        for t, label in enumerate(TRIPLETS):
            out[label] = {
                "gamma": {q: float(gamma[t, PAIR_INDEX[q]]) for q in S.pair_types(label)},
                "xi": {r: float(xi[t, SPECIES_INDEX[r]]) for r in S.species_types(label)},
            }
        return out

    def parameter_vectors(self) -> dict[str, np.ndarray]:
        """The paper's parameter vector ``V_τ`` per type (order of Table I; see `param_names`)."""
        gamma, xi = (np.asarray(a, dtype=np.float64) for a in self.exponents())
        return {label: S.to_vector(label, gamma[t], xi[t]) for t, label in enumerate(TRIPLETS)}

    def formulas(self, digits: int = 2) -> dict[str, str]:
        """``g_τ`` of each type as a readable formula (exponents rounded to ``digits``)."""
        gamma, xi = (np.asarray(a, dtype=np.float64) for a in self.exponents())
        return {
            label: monomial_formula(label, gamma[t], xi[t], digits)
            for t, label in enumerate(TRIPLETS)
        }

    def describe(self, digits: int = 2) -> str:
        """A table of ``g_τ`` per triplet type, in the layout of the paper's Tables I and III."""
        vectors = self.parameter_vectors()
        rows = [("type", "g_τ", "V_τ")]
        for label, formula in self.formulas(digits).items():
            names = ", ".join(
                f"{sym}={_fmt_exponent(v, digits)}"
                for sym, v in zip(S.param_symbols(label), vectors[label], strict=True)
            )
            rows.append((label, formula, f"[{names}]"))
        widths = [max(len(r[c]) for r in rows) for c in range(3)]
        lines = [f"{type(self).__name__}"]
        for n, r in enumerate(rows):
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON representation written by `save` (format of issue 3, deliverable 4)."""
        return {
            "kind": self.kind,
            "regularization": None,
            "bounds": None,
            "exponents": self.exponent_table(),
            "source": {},
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> AbstractMonomialClosure:
        """A closure without parameters (pair, sparse) from its JSON object; the exponents the
        file lists (for reference) must equal the closure's own.

        **Raises:**

        - `ValueError` if the listed exponents are malformed or differ from the closure's.
        """
        closure = cls()
        if data.get("exponents") is not None:
            gamma, xi = S.exponents_from_table(data["exponents"])
            g, x = closure.exponents()
            if not (np.allclose(gamma, np.asarray(g)) and np.allclose(xi, np.asarray(x))):
                raise ValueError(f'"exponents" of a {cls.kind!r} closure differ from that closure\'s own')
        return closure
