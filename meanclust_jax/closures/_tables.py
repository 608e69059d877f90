"""Plain-text tables of closures: exponents in the layout of the paper's Table II, and errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._labels import TRIPLETS
from . import _structure as S
from ._base import AbstractMonomialClosure


def _fmt(v: float, digits: int) -> str:
    s = f"{v:.{digits}f}"
    return "0." + "0" * digits if s.startswith("-0.") and float(s) == 0 else s


def _render(rows: list[list[str]], header_rows: int) -> list[str]:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        cells = (cell.rjust(w) if c else cell.ljust(w) for c, (cell, w) in enumerate(zip(r, widths, strict=True)))
        out.append("  ".join(cells).rstrip())
        if n == header_rows - 1:
            out.append("  ".join("-" * w for w in widths))
    return out


def exponent_table(closures: Mapping[str, AbstractMonomialClosure], digits: int = 2) -> str:
    """Exponents of several closures side by side, grouped as in the paper's Table II.

    Three blocks by parameter structure: ``[γ, ξ]`` (``+++``, ``---``), ``[γ, ξ1, ξ2]``
    (``+-+``, ``-+-``) and ``[γ1, γ2, ξ1, ξ2]``; within a block one column per parameter and
    closure (e.g. ``PA`` and ``OA-1/3``). Parameter order: see `meanclust_jax.closures`
    (``ξ1`` is the exponent of the centre species).

    **Arguments:**

    - `closures`: mapping from a column name to a monomial closure.
    - `digits`: decimals shown.

    **Returns:**

    The table as a string.
    """
    names = list(closures)
    vectors = {n: c.parameter_vectors() for n, c in closures.items()}
    blocks: dict[tuple[str, ...], list[str]] = {}
    for label in TRIPLETS:
        blocks.setdefault(S.param_symbols(label), []).append(label)
    lines: list[str] = []
    for symbols, labels in sorted(blocks.items(), key=lambda kv: len(kv[0])):
        head1 = ["type"] + [sym for sym in symbols for _ in names]
        head2 = [""] + [n for _ in symbols for n in names]
        rows = [head1, head2]
        for label in labels:
            row = [label]
            for p in range(len(symbols)):
                row += [_fmt(float(vectors[n][label][p]), digits) for n in names]
            rows.append(row)
        lines += _render(rows, 2) + [""]
    return "\n".join(lines).rstrip() + "\n"


def error_table(errors: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> str:
    """Per-type closure errors ``J_τ`` (eq. (15)) side by side, plus their mean ``ℰ`` (eq. (30)).

    **Arguments:**

    - `errors`: mapping from a column name to 16 values of ``J_τ`` (array or `xarray.DataArray`).
    - `extra`: optional further columns of 16 values (e.g. KKT residuals), not averaged.

    **Returns:**

    The table as a string.
    """
    extra = dict(extra or {})
    cols = {**{f"J[{k}]": np.asarray(v, float) for k, v in errors.items()},
            **{k: np.asarray(v, float) for k, v in extra.items()}}
    rows = [["type", *cols]]
    for t, label in enumerate(TRIPLETS):
        rows.append([label, *(f"{v[t]:.3e}" for v in cols.values())])
    rows.append(["mean (eq. 30)", *(f"{np.mean(np.asarray(errors[k], float)):.3e}" for k in errors),
                 *("" for _ in extra)])
    return "\n".join(_render(rows, 1)) + "\n"
