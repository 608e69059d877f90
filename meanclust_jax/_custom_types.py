"""jaxtyping aliases used across the package, so that shapes have names.

The public functions take JAX or NumPy arrays alike (`AnyArray`); under pytest the annotations
are checked at run time (shapes and dtypes, `pyproject.toml`'s ``--jaxtyping-packages``).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Array, Bool, Float, Int, Int8, PRNGKeyArray, Real, Shaped

#: A JAX or a NumPy array (the array type of the aliases below).
AnyArray = Array | np.ndarray
#: A configuration of the Li/Mn layer: ``sigma[a, b] = +1`` (Mn, ``+``) or ``-1`` (Li, ``-``).
Configuration = Int8[AnyArray, "*batch rows cols"]
#: Singlet concentrations ``(C_+, C_-)``.
SingletConcentrations = Float[AnyArray, "*#batch 2"]
#: Pair concentrations ``(C_++, C_--, C_+-)``.
PairConcentrations = Float[AnyArray, "*#batch 3"]
#: Triplet concentrations in the docs/model.md §4 order of ``meanclust_jax.TRIPLETS``.
TripletConcentrations = Float[AnyArray, "*#batch 16"]

__all__ = [
    "AnyArray",
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
