"""jaxtyping aliases used across the package, so that shapes have names."""

from __future__ import annotations

from jaxtyping import Array, Bool, Float, Int, Int8, PRNGKeyArray, Real, Shaped

#: A configuration of the Li/Mn layer: ``sigma[a, b] = +1`` (Mn, ``+``) or ``-1`` (Li, ``-``).
Configuration = Int8[Array, "*batch rows cols"]
#: Singlet concentrations ``(C_+, C_-)``.
SingletConcentrations = Float[Array, "*batch 2"]
#: Pair concentrations ``(C_++, C_--, C_+-)``.
PairConcentrations = Float[Array, "*batch 3"]
#: Triplet concentrations in the docs/model.md §4 order of ``meanclust_jax.TRIPLETS``.
TripletConcentrations = Float[Array, "*batch 16"]

__all__ = [
    "Array",
    "Bool",
    "Configuration",
    "Float",
    "Int",
    "Int8",
    "PRNGKeyArray",
    "PairConcentrations",
    "Real",
    "Shaped",
    "SingletConcentrations",
    "TripletConcentrations",
]
