"""Saving and loading closures as JSON (issue 3, deliverable 4).

Format (keys are the SPEC §4 triplet labels, pair labels ``++ -- +-`` and species ``+ -``;
only the concentrations that occur in a type are listed; unbounded bounds are ``null``)::

    {"kind": "optimal", "regularization": "hard",
     "bounds": {"beta1": 0.0, "beta2": 2.0, "delta": 2.0},
     "exponents": {"ang:++-": {"gamma": {"++": 0.72, "+-": 0.28}, "xi": {"+": 0.0, "-": 0.0}},
                   ...},
     "source": {...provenance of the calibration data...}}

``"kind"`` is ``"optimal"``, ``"pair"`` or ``"sparse"``; for the last two the exponents are
written for reference and checked on loading. The consistent closure (``"kind": "consistent"``)
stores its basis and coefficients instead::

    {"kind": "consistent", "features": ["1", "log(rho++)", ...],
     "coefficients": {"lin:+": {"1": 0.1, "log(rho++)": -2.0, ...}, ..., "tri": {...}},
     "source": {...}}
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from .._io import write_text_atomic
from ._base import AbstractClosure, AbstractMonomialClosure
from ._consistent import ConsistentClosure
from ._optimal import OptimalApproximation
from ._pair import PairApproximation
from ._sparse import SparseApproximation

_KINDS = {
    "pair": PairApproximation,
    "sparse": SparseApproximation,
    "optimal": OptimalApproximation,
    "consistent": ConsistentClosure,
}


def save_closure(closure: AbstractClosure, path: str | os.PathLike[str]) -> None:
    """Write ``closure`` as JSON to ``path`` atomically (temporary file, then rename).

    **Arguments:**

    - `closure`: a `PairApproximation`, `SparseApproximation`, `OptimalApproximation` or
      `ConsistentClosure`.
    - `path`: destination file.

    **Raises:**

    - `ValueError` if the closure cannot be saved or the folder of ``path`` is missing.
    """
    if not isinstance(closure, (AbstractMonomialClosure, ConsistentClosure)):
        raise ValueError(
            f"closure must be a pair, sparse, optimal or consistent closure; got {type(closure).__name__}"
        )
    text = json.dumps(closure.to_json_dict(), indent=2, allow_nan=False) + "\n"
    write_text_atomic(path, text)


def _bounds_from_json(b) -> tuple[float, float, float] | None:
    if b is None:
        return None
    if not isinstance(b, dict) or set(b) != {"beta1", "beta2", "delta"}:
        raise ValueError(f'"bounds" must be null or an object with keys beta1, beta2, delta; got {b!r}')
    b1 = -math.inf if b["beta1"] is None else float(b["beta1"])
    b2 = math.inf if b["beta2"] is None else float(b["beta2"])
    d = math.inf if b["delta"] is None else float(b["delta"])
    return (b1, b2, d)


def closure_from_json_dict(data: dict) -> AbstractClosure:
    """Inverse of ``closure.to_json_dict()``; see `load_closure`."""
    if not isinstance(data, dict) or "kind" not in data:
        raise ValueError('a closure JSON object must have a "kind" key')
    kind = data["kind"]
    if kind not in _KINDS:
        raise ValueError(f'"kind" must be one of {sorted(_KINDS)}; got {kind!r}')
    if kind == "consistent":
        return ConsistentClosure.from_json_dict(data)
    if kind == "optimal":
        if "exponents" not in data:
            raise ValueError('an "optimal" closure needs "exponents"')
        return OptimalApproximation.from_exponent_table(
            data["exponents"],
            regularization=data.get("regularization"),
            bounds=_bounds_from_json(data.get("bounds")),
            source=data.get("source") or {},
        )
    closure = _KINDS[kind]()
    if data.get("exponents") is not None:
        stored = OptimalApproximation.from_exponent_table(data["exponents"])
        g, x = closure.exponents()
        if not (np.allclose(stored.gamma, g) and np.allclose(stored.xi, x)):
            raise ValueError(f'"exponents" of a {kind!r} closure differ from that closure\'s own')
    return closure


def load_closure(path: str | os.PathLike[str]) -> AbstractClosure:
    """Load a closure written by ``closure.save(path)``.

    **Arguments:**

    - `path`: JSON file in the format of this module's docstring.

    **Returns:**

    A `PairApproximation`, `SparseApproximation`, `OptimalApproximation` or
    `ConsistentClosure`.

    **Raises:**

    - `FileNotFoundError` if ``path`` does not exist.
    - `ValueError` if the file is not valid JSON or not in the closure format (unknown
      ``"kind"``, missing triplet types, wrong pair or species keys).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"path={str(p)!r}: no such closure file")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"path={str(p)!r} is not valid JSON: {err}") from None
    return closure_from_json_dict(data)
