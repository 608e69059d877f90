"""Cross-stoichiometry accuracy of closures (paper Section VI.C, Figs. 11–12, eq. (30)), and the
leave-one-composition-out comparison of calibrated families (beyond the paper)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._cf import CLOSURE_STUDY, REFERENCES, apply_cf
from .._labels import TRIPLETS
from .._version import __version__
from ..dataset import read_trajectories
from ..paper import CALIBRATION_COMPOSITIONS, PAPER_COMPOSITIONS as PAPER_COMPOSITIONS, composition_label
from ._base import AbstractClosure
from ._calibration import fit_optimal_closure
from ._errors import closure_errors
from ._pair import PairApproximation
from ._sparse import SparseApproximation

if TYPE_CHECKING:
    import xarray as xr


def _composition(ds: xr.Dataset) -> float:
    return read_trajectories(ds, need_triplets=False).composition


def cross_stoichiometry_study(
    datasets: Sequence[Any] | Mapping[float, Any],
    *,
    calibrate_at: Sequence[float] = CALIBRATION_COMPOSITIONS,
    regularizations: Sequence[str] = ("hard", "soft"),
    closures: Mapping[str, AbstractClosure] | None = None,
    tolerance: float = 1e-3,
    **fit_kwargs: Any,
) -> tuple[xr.Dataset, dict[str, AbstractClosure]]:
    """Calibrate OA at some compositions and evaluate all closures at every composition.

    The paper's study (Section VI.C): OA calibrated at ``x = 1/3`` (and ``1/2``) with hard and
    soft regularisation, PA and SA, each evaluated by ``ℰ`` (eq. (30)) on the trajectories of
    the ten compositions of docs/model.md §1; the paper reports that SA improves on PA by 36.13% when
    averaged over compositions.

    **Arguments:**

    - `datasets`: annealing trajectories (`xarray.Dataset`), a sequence (composition read from
      ``attrs["composition"]``) or a mapping ``{x: dataset}``.
    - `calibrate_at`: compositions whose trajectory is used to calibrate OA; each must match a
      dataset's composition within `tolerance`.
    - `regularizations`: presets for the OA fits (``"hard"``, ``"soft"``).
    - `closures`: further named closures to evaluate (e.g. loaded from JSON).
    - `tolerance`: matching tolerance of compositions.
    - `fit_kwargs`: passed on to `fit_optimal_closure`.

    **Returns:**

    ``(study, fitted)``: ``study`` is an `xarray.Dataset` with coordinates ``closure`` (``PA``,
    ``SA``, ``OA-hard-1/3``, ...), ``composition`` (sorted) and ``triplet``; variables
    ``errors(closure, composition, triplet)`` (``J_τ``), ``mean_error(closure, composition)``
    (``ℰ``), ``improvement_over_pa(closure)`` = ``100 (1 − mean_x ℰ / mean_x ℰ_PA)`` in percent
    (improvement of the composition-averaged error) and ``mean_relative_improvement(closure)``
    = ``100 mean_x (1 − ℰ/ℰ_PA)`` (average of the per-composition improvements). ``fitted``
    maps the OA names to the fitted `OptimalApproximation` objects.

    **Raises:**

    - `ValueError` if no dataset matches a calibration composition, two datasets have the same
      composition, or a dataset is invalid.
    """
    items = _sorted_items(datasets, tolerance)
    xs = np.array([x for x, _ in items])
    all_closures: dict[str, AbstractClosure] = {"PA": PairApproximation(), "SA": SparseApproximation()}
    fitted = {}
    for xc in calibrate_at:
        k = int(np.argmin(np.abs(xs - xc)))
        if abs(xs[k] - xc) > tolerance:
            raise ValueError(
                f"calibrate_at={xc}: no dataset within {tolerance}; available compositions {xs.tolist()}"
            )
        for reg in regularizations:
            closure, _ = fit_optimal_closure(items[k][1], reg, **fit_kwargs)
            name = f"OA-{reg}-{composition_label(xs[k])}"
            fitted[name] = closure
    all_closures.update(fitted)
    all_closures.update(dict(closures or {}))

    names = list(all_closures)
    errors = np.zeros((len(names), len(items), len(TRIPLETS)))
    for c, name in enumerate(names):
        for i, (_, ds) in enumerate(items):
            errors[c, i] = closure_errors(all_closures[name], ds).values
    study = _comparison_dataset(names, xs, errors, {
        "description": "closure errors J_tau (eq. 15) and their mean E (eq. 30) across compositions",
        "calibrate_at": [float(x) for x in calibrate_at],
        "regularizations": list(regularizations),
        "paper_claim": "SA improves on PA by 36.13% averaged over compositions (Section VI.C)",
    })
    return study, fitted


#: Families compared by `leave_one_composition_out`: label → (family, regularization).
LOCO_FAMILIES: dict[str, tuple[str, str | None]] = {"OA-hard": ("optimal", "hard"), "consistent": ("consistent", None)}


def _sorted_items(datasets: Sequence[Any] | Mapping[float, Any], tolerance: float) -> list[tuple[float, Any]]:
    if isinstance(datasets, Mapping):
        items = [(float(x), ds) for x, ds in datasets.items()]
    else:
        items = [(_composition(ds), ds) for ds in datasets]
    if not items:
        raise ValueError("datasets must hold at least one trajectory")
    items.sort(key=lambda kv: kv[0])
    xs = np.array([x for x, _ in items])
    if np.any(np.diff(xs) < tolerance):
        raise ValueError(f"datasets: two trajectories share a composition within {tolerance}: {xs.tolist()}")
    return items


def _comparison_dataset(
    names: Sequence[str], xs: np.ndarray, errors: np.ndarray, attrs: dict[str, Any]
) -> xr.Dataset:
    import xarray as xr

    mean_error = errors.mean(axis=-1)
    pa = mean_error[names.index("PA")]
    improvement = 100.0 * (1.0 - mean_error.mean(axis=1) / pa.mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = 100.0 * np.mean(1.0 - mean_error / pa[None, :], axis=1)
    ds = xr.Dataset(
        {
            "errors": (("closure", "composition", "triplet"), errors),
            "mean_error": (("closure", "composition"), mean_error),
            "improvement_over_pa": (("closure",), improvement),
            "mean_relative_improvement": (("closure",), rel),
            "wins_over_pa": (("closure",), np.sum(mean_error < pa[None, :], axis=1)),
        },
        coords={"closure": list(names), "composition": xs, "triplet": list(TRIPLETS)},
        attrs=attrs,
    )
    title = attrs.get("title", "meanclust_jax closure errors across compositions")
    return apply_cf(ds, CLOSURE_STUDY, title=title, source=f"meanclust_jax {__version__}", references=REFERENCES)


def leave_one_composition_out(
    datasets: Sequence[Any] | Mapping[float, Any],
    *,
    families: Mapping[str, tuple[str, str | None]] | None = None,
    tolerance: float = 1e-3,
    mixed_lattices: bool = False,
    fit_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[xr.Dataset, dict[str, dict[float, AbstractClosure]]]:
    """Leave-one-composition-out comparison of closure families with the pair approximation.

    For each composition ``x``, each family is calibrated jointly on the runs of all *other*
    compositions (`fit_closure`) and evaluated by ``J_τ`` and ``ℰ`` (eqs. (15), (30)) on the run
    at ``x``: the question "does what is learned transfer to a composition never seen?".

    **Arguments:**

    - `datasets`: annealing runs, a sequence (composition read from each) or ``{x: dataset}``;
      at least two compositions.
    - `families`: ``{label: (family, regularization)}``; default `LOCO_FAMILIES`
      (``"OA-hard"``: the paper's OA with hard bounds, ``"consistent"``: the consistent closure).
    - `tolerance`: two runs closer in composition than this are an error.
    - `mixed_lattices`: allow runs on different lattices.
    - `fit_kwargs`: optional ``{label: kwargs}`` for the fit functions.

    **Returns:**

    ``(study, fitted)``: ``study`` is an `xarray.Dataset` with coordinates ``closure``
    (``"PA"``, then ``"<label>-LOCO"``), ``composition``, ``triplet``; variables ``errors``
    (``J_τ``), ``mean_error`` (``ℰ``), ``improvement_over_pa`` (``100 (1 − mean_x ℰ /
    mean_x ℰ_PA)``, percent), ``mean_relative_improvement`` (``100 mean_x (1 − ℰ/ℰ_PA)``) and
    ``wins_over_pa`` (compositions where ``ℰ < ℰ_PA``). ``fitted`` maps each label to
    ``{x: closure calibrated without x}``.

    **Raises:**

    - `ValueError` for fewer than two compositions, duplicate compositions, an unknown family,
      or invalid runs.
    """
    from ._families import check_family, fit_closure

    families = dict(LOCO_FAMILIES if families is None else families)
    for label, spec in families.items():
        if not (isinstance(spec, tuple) and len(spec) == 2):
            raise ValueError(f"families[{label!r}] must be (family, regularization); got {spec!r}")
        check_family(spec[0])
    fit_kwargs = dict(fit_kwargs or {})
    items = _sorted_items(datasets, tolerance)
    if len(items) < 2:
        raise ValueError("datasets: leave-one-composition-out needs at least two compositions")
    xs = np.array([x for x, _ in items])
    names = ["PA"] + [f"{label}-LOCO" for label in families]
    errors = np.zeros((len(names), len(items), len(TRIPLETS)))
    fitted: dict[str, dict[float, AbstractClosure]] = {label: {} for label in families}
    pa = PairApproximation()
    for i, (x, ds) in enumerate(items):
        errors[0, i] = closure_errors(pa, ds).values
        train = [d for j, (_, d) in enumerate(items) if j != i]
        for c, (label, (family, reg)) in enumerate(families.items(), start=1):
            closure, _ = fit_closure(train, family, reg, mixed_lattices=mixed_lattices,
                                     **dict(fit_kwargs.get(label, {})))
            fitted[label][float(x)] = closure
            errors[c, i] = closure_errors(closure, ds).values
    study = _comparison_dataset(names, xs, errors, {
        "title": "meanclust_jax leave-one-composition-out closure errors",
        "description": "leave-one-composition-out: each closure calibrated on the other compositions, "
                       "evaluated by J_tau (eq. 15) and E (eq. 30) on the held-out one",
        "families": [f"{k}={v[0]}:{v[1]}" for k, v in families.items()],
    })
    return study, fitted


def loco_summary(study: xr.Dataset) -> dict[str, Any]:
    """JSON-able numbers of a `leave_one_composition_out` result: compositions, ``ℰ`` per
    closure and composition, wins over PA and the two average improvements (percent)."""
    names = [str(n) for n in study["closure"].values]
    return {
        "compositions": [float(x) for x in study["composition"].values],
        "closures": names,
        "mean_error": {n: [float(v) for v in study["mean_error"].sel(closure=n).values] for n in names},
        "wins_over_pa": {n: int(study["wins_over_pa"].sel(closure=n)) for n in names},
        "improvement_over_pa": {n: float(study["improvement_over_pa"].sel(closure=n)) for n in names},
        "mean_relative_improvement": {n: float(study["mean_relative_improvement"].sel(closure=n)) for n in names},
    }


#: Labels of the closures calibrated on every composition by `beyond_paper_study`.
ALL_COMPOSITIONS_LABELS: tuple[str, str] = ("OA-hard-all", "consistent-all")


def beyond_paper_study(
    datasets: Sequence[Any] | Mapping[float, Any],
    *,
    num_starts: int = 6,
    seed: int = 0,
    tolerance: float = 1e-3,
) -> tuple[dict[str, AbstractClosure], xr.Dataset]:
    """The closures beyond the paper for the study report: the paper's OA (hard bounds) and the
    consistent closure calibrated jointly on all compositions, and their
    `leave_one_composition_out` comparison with the pair approximation.

    **Arguments:**

    - `datasets`: annealing runs, a sequence or ``{x: dataset}``, one per composition (≥ 2).
    - `num_starts`, `seed`: of the OA fits (`fit_optimal_closure`).
    - `tolerance`: compositions closer than this are an error.

    **Returns:**

    ``(closures, loco)``: ``{"OA-hard-all": OptimalApproximation, "consistent-all":
    ConsistentClosure}`` and the `leave_one_composition_out` dataset.

    **Raises:** `ValueError` as `leave_one_composition_out`.
    """
    from ._consistent_fit import fit_consistent_closure

    items = _sorted_items(datasets, tolerance)
    runs = [ds for _, ds in items]
    oa, _ = fit_optimal_closure(runs, "hard", num_starts=num_starts, seed=seed)
    cc, _ = fit_consistent_closure(runs)
    loco, _ = leave_one_composition_out(
        dict(items), tolerance=tolerance, fit_kwargs={"OA-hard": {"num_starts": num_starts, "seed": seed}}
    )
    return dict(zip(ALL_COMPOSITIONS_LABELS, (oa, cc), strict=True)), loco
