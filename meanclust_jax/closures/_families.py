"""One entry point for calibrating a closure family on one or several runs (``fit-closures``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._base import AbstractClosure
    from ._data import Runs

#: Closure families that can be calibrated: the paper's optimal approximation (monomials under
#: eq. (16)) and the consistent closure (beyond the paper).
FAMILIES: tuple[str, ...] = ("optimal", "consistent")


def check_family(family: str) -> str:
    """Return ``family`` if it is one of `FAMILIES`.

    **Raises:** `ValueError` naming ``family`` and the allowed values.
    """
    if not isinstance(family, str) or family not in FAMILIES:
        raise ValueError(f"family must be one of {list(FAMILIES)}; got {family!r}")
    return family


def fit_closure(
    datasets: Runs,
    family: str = "consistent",
    regularization: str | float | None = None,
    *,
    mixed_lattices: bool = False,
    **kwargs: Any,
) -> tuple[AbstractClosure, Any]:
    """Calibrate a closure of ``family`` jointly on one or several annealing runs.

    **Arguments:**

    - `datasets`: an `xarray.Dataset` run or a sequence of them (e.g. one per composition);
      replicas are kept as separate observations.
    - `family`: ``"optimal"`` (`fit_optimal_closure`, the paper's OA) or ``"consistent"``
      (`fit_consistent_closure`).
    - `regularization`: for ``"optimal"`` ``"hard"`` (default) or ``"soft"``; for
      ``"consistent"`` ``"none"`` (default) or a ridge weight ``≥ 0``.
    - `mixed_lattices`: allow runs on different lattices.
    - `kwargs`: passed on to the family's fit function.

    **Returns:**

    ``(closure, report)`` of the family's fit function.

    **Raises:**

    - `ValueError` for an unknown ``family`` or a ``regularization`` the family does not know,
      and as the family's fit function.
    """
    from ._calibration import fit_optimal_closure
    from ._consistent_fit import fit_consistent_closure
    from ._optimal import REGULARIZATIONS

    check_family(family)
    if family == "optimal":
        reg = "hard" if regularization is None else regularization
        if reg not in REGULARIZATIONS:
            raise ValueError(
                f"regularization for the optimal family must be one of {sorted(REGULARIZATIONS)}; got {reg!r}"
            )
        return fit_optimal_closure(datasets, reg, mixed_lattices=mixed_lattices, **kwargs)
    return fit_consistent_closure(datasets, regularization=regularization, mixed_lattices=mixed_lattices, **kwargs)


__all__ = ["FAMILIES", "check_family", "fit_closure"]
