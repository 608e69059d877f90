"""Saving and loading closures as JSON (issue 3, deliverable 4).

Format (keys are the docs/model.md §4 triplet labels, pair labels ``++ -- +-`` and species ``+ -``;
only the concentrations that occur in a type are listed; unbounded bounds are ``null``)::

    {"kind": "optimal", "regularization": "hard",
     "bounds": {"beta1": 0.0, "beta2": 2.0, "delta": 2.0},
     "exponents": {"ang:++-": {"gamma": {"++": 0.72, "+-": 0.28}, "xi": {"+": 0.0, "-": 0.0}},
                   ...},
     "source": {...provenance of the calibration data...}}

``"kind"`` is ``"optimal"``, ``"pair"``, ``"sparse"`` or that of another registered closure class
(`register_closure`); for ``"pair"`` and ``"sparse"`` the exponents are written for reference and
checked on loading. The class registered under ``"kind"`` reads the rest of the object.
"""

from __future__ import annotations

import json
import os

from .._io import existing_file
from ._base import AbstractClosure, closure_class


def save_closure(closure: AbstractClosure, path: str | os.PathLike[str]) -> None:
    """Write ``closure`` as JSON to ``path`` atomically (temporary file, then rename).

    **Arguments:**

    - `closure`: a closure of a registered kind (`PairApproximation`, `SparseApproximation`,
      `OptimalApproximation`, or any class decorated with `register_closure`).
    - `path`: destination file.

    **Raises:**

    - `ValueError` if the closure cannot be saved or the folder of ``path`` is missing.
    """
    if not isinstance(closure, AbstractClosure):
        raise ValueError(f"closure must be an AbstractClosure; got {type(closure).__name__}")
    try:
        closure.save(path)
    except NotImplementedError as err:
        raise ValueError(str(err)) from None


def closure_from_json_dict(data: dict) -> AbstractClosure:
    """Inverse of ``closure.to_json_dict()``: the class registered under ``data["kind"]`` reads
    the rest (see `load_closure`)."""
    if not isinstance(data, dict) or "kind" not in data:
        raise ValueError('a closure JSON object must have a "kind" key')
    return closure_class(data["kind"]).from_json_dict(data)


def load_closure(path: str | os.PathLike[str]) -> AbstractClosure:
    """Load a closure written by ``closure.save(path)``.

    **Arguments:**

    - `path`: JSON file in the format of this module's docstring.

    **Returns:**

    The closure, an instance of the class registered under the file's ``"kind"``
    (`PairApproximation`, `SparseApproximation`, `OptimalApproximation`, ...).

    **Raises:**

    - `FileNotFoundError` if ``path`` does not exist.
    - `ValueError` if the file is not valid JSON or not in the closure format (unknown
      ``"kind"``, missing triplet types, wrong pair or species keys).
    """
    p = existing_file(path, "closure file")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        empty = " (the file is empty)" if p.stat().st_size == 0 else ""
        raise ValueError(f"path={str(p)!r} is not valid JSON{empty}: {err}") from None
    try:
        return closure_from_json_dict(data)
    except ValueError as err:
        raise ValueError(f"path={str(p)!r} is not a valid closure file: {err}") from None
