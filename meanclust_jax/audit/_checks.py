"""Analytic checks behind the claims audit (docs/model.md §9): each is an identity or an exact
value that a computation on data can confirm or refute.

* `pair_conservation`: ``C₊₊ − C₋₋ = C₊ − C₋`` at every record and constant in time;
* `sparse_alpha_ratio`: the ratio ``α₂/α₁`` that eq. (28) takes from the data's own right-hand
  sides — ``1`` with our pair normalisation, ``C₊/C₋`` with per-species (conditional) pairs;
* `sparse_normalisation`: SA's per-shape sums ``w (1 + 4 C₊₋)`` instead of ``w``, and the
  excess ``w C₊₋`` of every chain marginal; `closure_bias`: which types a closure over-counts on
  data;
* `ground_state`, `sqrt3_configuration`: exact pair, triangle and (at ``x = 1/3``) triplet
  concentrations of the ground states of the charge-neutrality Hamiltonian;
* `closures_at_state`: closures evaluated at an exactly known state; `ordered_error_floor`: the
  part of ``J_τ`` (eq. (15)) that a closure accumulates while the data sit in their ordered
  state, a lower bound of ``J_τ`` on those data.

Every function returns plain NumPy numbers (a `Check` for the identities), so the audit's JSON
holds exactly what was computed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from jaxtyping import ArrayLike, Float

from .._io import jsonable
from .._labels import PAIR_INDEX, SHAPE_WEIGHTS, SPECIES_INDEX, TRIPLET_INDEX, TRIPLETS
from ..closures import AbstractClosure, OptimalApproximation, SparseApproximation, param_names, predict_triplets
from ..dataset import read_trajectories

if TYPE_CHECKING:
    import xarray as xr


@dataclasses.dataclass(frozen=True)
class Check:
    """Result of one analytic check.

    **Fields:**

    - `name`: what was checked.
    - `holds`: whether ``|value − expected| ≤ tolerance``.
    - `value`: the computed quantity (float).
    - `expected`: what the identity predicts (float).
    - `tolerance`: the allowed absolute deviation (float).
    - `details`: further numbers (JSON-able).
    """

    name: str
    holds: bool
    value: float
    expected: float
    tolerance: float
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The check as a JSON-able dict."""
        return jsonable(dataclasses.asdict(self))


def _check(name: str, value: float, expected: float, tolerance: float, **details: Any) -> Check:
    value, expected = float(value), float(expected)
    holds = bool(np.isfinite(value) and abs(value - expected) <= tolerance)
    return Check(name, holds, value, expected, float(tolerance), jsonable(details))


# --------------------------------------------------------------------------- conservation


def pair_conservation(dataset: xr.Dataset, *, tolerance: float = 1e-12) -> Check:
    """``C₊₊ − C₋₋ = C₊ − C₋`` at every record, hence constant in time (docs/model.md §9).

    Every site has six bonds, so ``6N₊ = 2#(++) + #(+−)`` and ``6N₋ = 2#(−−) + #(+−)``; with
    ``C₊₊ = #(++)/3N``, ``C₋₋ = #(−−)/3N`` this is ``C₊₊ − C₋₋ = C₊ − C₋``. At fixed composition
    the difference is constant, so the exact ``dC₊₊/dt`` and ``dC₋₋/dt`` are equal at every
    instant, for any dynamics.

    **Arguments:**

    - `dataset`: an annealing trajectory (`xarray.Dataset`; replicas are checked separately).
    - `tolerance`: allowed deviation (concentrations are exact counts over ``3N`` in float64,
      so engine data meet ``1e-12``).

    **Returns:**

    A `Check` whose ``value`` is the larger of the identity's residual
    ``max |C₊₊ − C₋₋ − (C₊ − C₋)|`` and the drift ``max_r (max_t − min_t)(C₊₊ − C₋₋)``;
    ``expected`` is 0. ``details`` holds both and the largest change of ``C₋`` in time.

    **Raises:**

    - `ValueError` for an invalid trajectory (see `meanclust_jax.dataset.read_trajectories`).
    """
    traj = read_trajectories(dataset, need_triplets=False)
    diff = traj.C_pair[..., 0] - traj.C_pair[..., 1]  # (R, n)
    singles = traj.C_single[..., 0] - traj.C_single[..., 1]
    residual = float(np.max(np.abs(diff - singles)))
    drift = float(np.max(diff.max(axis=1) - diff.min(axis=1)))
    composition_change = float(np.max(np.ptp(traj.C_single[..., 1], axis=1)))
    return _check("C++ - C-- = C+ - C-, constant in time", max(residual, drift), 0.0, tolerance,
                  identity_residual=residual, drift=drift, composition_change=composition_change,
                  trajectories=traj.num_trajectories, records=int(traj.times.shape[0]))


def _cumulative_trapezoid(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.zeros_like(y)
    out[1:] = np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(t))
    return out


def sparse_alpha_ratio(dataset: xr.Dataset, *, normalisation: str = "pairs", tolerance: float = 1e-9) -> Check:
    """The ratio ``α₂/α₁`` that the SA equations (28a, b) take from the data themselves.

    Integrating eq. (28a, b) gives ``X₊₊(t) − X₊₊(t₀) = 2α₁ I(t)`` and
    ``X₋₋(t) − X₋₋(t₀) = 2α₂ I(t)`` with ``I(t) = ∫ C₊₋ dt`` from the data (trapezoid rule);
    ``α₁`` and ``α₂`` are the least-squares slopes (time in the data's unit, sweeps).

    * ``normalisation="pairs"``: ``X_ii = C_ii`` (ours, ``C₊₊ + C₋₋ + 2C₊₋ = 1``). Since
      ``C₊₊ − C₋₋`` is constant (`pair_conservation`) the two right-hand sides are equal and
      ``α₂/α₁ = 1`` exactly.
    * ``normalisation="conditional"``: ``X_ii = C_ii / C_i``, the probability that a neighbour
      of an ``i`` site is ``i``. Then ``α₂/α₁ = C₊/C₋ = (1 − x)/x``, which is 2 at ``x = 1/3``:
      the paper's ``(−0.083, −0.166)``.

    **Arguments:**

    - `dataset`: an annealing trajectory; replicas are averaged first (as in the study's fits).
    - `normalisation`: ``"pairs"`` or ``"conditional"``.
    - `tolerance`: allowed relative deviation of the ratio from its expected value.

    **Returns:**

    A `Check` with ``value = α₂/α₁`` and ``expected`` 1 or ``C₊/C₋``; ``details`` holds
    ``alpha`` (1/sweep) and the composition.

    **Raises:**

    - `ValueError` for an unknown `normalisation`, an invalid trajectory, or data in which the
      pairs do not change (no slope to fit).
    """
    if normalisation not in ("pairs", "conditional"):
        raise ValueError(f"normalisation must be 'pairs' or 'conditional', got {normalisation!r}")
    traj = read_trajectories(dataset, need_triplets=False)
    C_pair = traj.C_pair.mean(axis=0)
    C_single = traj.C_single.mean(axis=0)
    X = C_pair[:, :2] / C_single if normalisation == "conditional" else C_pair[:, :2]
    I_pm = _cumulative_trapezoid(traj.times, C_pair[:, 2])  # I(t) = ∫ C₊₋ dt of the docstring
    y = X - X[0]
    denom = 2.0 * float(np.sum(I_pm * I_pm))
    if denom == 0.0 or not np.any(y):
        raise ValueError("dataset: the pair concentrations do not change; alpha cannot be fitted")
    alpha = (I_pm @ y) / denom
    ratio = float(alpha[1] / alpha[0]) if alpha[0] != 0 else float("nan")
    expected = 1.0 if normalisation == "pairs" else float(np.mean(C_single[:, 0] / C_single[:, 1]))
    return _check(f"alpha2/alpha1 from eq. (28) with {normalisation} normalisation", ratio, expected,
                  tolerance * max(1.0, abs(expected)), alpha=alpha, normalisation=normalisation,
                  composition=traj.composition)


# --------------------------------------------------------------------------- SA normalisation

#: Ordered patterns of an open chain ``(i, j, k)`` and of a triangle, with the type each belongs to.
_OPEN_ORDERED = [(i, j, k) for i in "+-" for j in "+-" for k in "+-"]


def _open_type(i: str, j: str, k: str) -> str:
    """Type label (odd species last) of the ordered open pattern ``(i, j, k)``."""
    if i == j == k:
        return i * 3
    if i == k:
        return i + j + k  # +-+ or -+-
    same = j  # two equal neighbours sharing the centre
    other = i if i != j else k
    return same + same + other


def _tri_type(i: str, j: str, k: str) -> str:
    n_minus = (i + j + k).count("-")
    return ("+++", "++-", "--+", "---")[n_minus]


def sparse_normalisation(C_single: Float[ArrayLike, "*batch 2"], C_pair: Float[ArrayLike, "*batch 3"], *,
                         closure: AbstractClosure | None = None, tolerance: float = 1e-12) -> Check:
    """Shape sums and chain marginals of a closure, against SA's defect (docs/model.md §5.3, §5.5).

    Summed over the ordered patterns of one shape, a consistent closure gives the shape weight
    ``w``; SA gives ``w (1 + 4C₊₋)`` for every shape (its ``+++``, ``---`` give ``w C₊₊``,
    ``w C₋₋`` and each of the six mixed ordered patterns ``w C₊₋``). Each chain marginal
    ``Σ_i g(i, j, k)`` should be ``w C_jk``; SA's exceeds it by ``w C₊₋`` for every ``(j, k)``.

    **Arguments:**

    - `C_single`: ``(..., 2)`` singlets ``(C₊, C₋)``.
    - `C_pair`: ``(..., 3)`` pairs ``(C₊₊, C₋₋, C₊₋)`` with ``C₊₊ + C₋₋ + 2C₊₋ = 1``.
    - `closure`: the closure to check (default `SparseApproximation`).
    - `tolerance`: allowed deviation of ``sum / w`` from ``1 + 4C₊₋``.

    **Returns:**

    A `Check` whose ``value`` is ``max |Σ g / w − (1 + 4C₊₋)|`` over shapes and inputs
    (``expected`` 0). ``details``: ``shape_sum_over_w`` per shape (max and min over the inputs),
    and ``marginal_excess_over_wCpm``: the excess of each chain marginal ``(j, k)`` over
    ``w C_jk``, divided by ``w C₊₋`` (``[min, max]`` over the inputs; 1 for SA, 0 for PA).

    **Raises:**

    - `ValueError` if the pairs are not normalised (``|C₊₊ + C₋₋ + 2C₊₋ − 1| > 1e-9``).
    """
    closure = SparseApproximation() if closure is None else closure
    C_single = np.asarray(C_single, dtype=np.float64)
    C_pair = np.asarray(C_pair, dtype=np.float64)
    norm = C_pair[..., 0] + C_pair[..., 1] + 2 * C_pair[..., 2]
    if np.any(np.abs(norm - 1.0) > 1e-9):
        raise ValueError("C_pair must satisfy C_++ + C_-- + 2 C_+- = 1 (eq. 3b)")
    g = predict_triplets(closure, C_single, C_pair)
    cpm = C_pair[..., 2]
    worst = 0.0
    sums: dict[str, list[float]] = {}
    excess: dict[str, dict[str, float]] = {}
    for shape in ("lin", "ang", "tri"):
        w = SHAPE_WEIGHTS[shape]
        typ = _tri_type if shape == "tri" else _open_type
        total = sum(g[..., TRIPLET_INDEX[f"{shape}:{typ(*p)}"]] for p in _OPEN_ORDERED)
        ratio = total / w
        worst = max(worst, float(np.max(np.abs(ratio - (1 + 4 * cpm)))))
        sums[shape] = [float(np.min(ratio)), float(np.max(ratio))]
        if shape == "tri":
            continue
        excess[shape] = {}
        for j in "+-":
            for k in "+-":
                marg = sum(g[..., TRIPLET_INDEX[f"{shape}:{typ(i, j, k)}"]] for i in "+-")
                pair = C_pair[..., PAIR_INDEX["+-" if j != k else j + k]]
                with np.errstate(invalid="ignore", divide="ignore"):
                    rel = (marg - w * pair) / (w * cpm)
                excess[shape][j + k] = [float(np.nanmin(rel)), float(np.nanmax(rel))]
    return _check(f"{type(closure).__name__}: sum over one shape = w (1 + 4 C+-)", worst, 0.0, tolerance,
                  shape_sum_over_w=sums, marginal_excess_over_wCpm=excess)


def closure_bias(closure: AbstractClosure, dataset: xr.Dataset) -> dict[str, Any]:
    """Which triplet types a closure over- and under-counts on a trajectory.

    **Arguments:**

    - `closure`: any closure.
    - `dataset`: an annealing trajectory with triplets (replicas pooled).

    **Returns:**

    ``{"mean_bias": {type: (1/T)∫(g − Ĉ)dt}, "relative_bias": {type: ∫(g − Ĉ)/∫Ĉ},
    "over": [...], "under": [...]}`` (types whose time-averaged bias is positive / negative
    by more than 1% of the time-averaged data).
    """
    traj = read_trajectories(dataset, need_triplets=True)
    g = predict_triplets(closure, traj.C_single, traj.C_pair)
    bias = np.einsum("t,rtk->k", traj.weights, g - traj.C_triplet) / traj.num_trajectories
    data = np.einsum("t,rtk->k", traj.weights, traj.C_triplet) / traj.num_trajectories
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(data > 0, bias / data, np.inf * np.sign(bias))
    return {
        "mean_bias": dict(zip(TRIPLETS, bias.tolist(), strict=True)),
        "relative_bias": dict(zip(TRIPLETS, [float(v) for v in rel], strict=True)),
        "over": [t for t, r in zip(TRIPLETS, rel, strict=True) if r > 0.01],
        "under": [t for t, r in zip(TRIPLETS, rel, strict=True) if r < -0.01],
    }


# --------------------------------------------------------------------------- ground states


def sqrt3_configuration(rows: int, cols: int, *, minority: int = -1) -> np.ndarray:
    """The √3×√3 ordered configuration: the minority species on one of the three sublattices
    ``(a − b) mod 3 = 0`` (Li at the centres of a Mn honeycomb for ``minority = −1``).

    **Arguments:**

    - `rows`, `cols`: lattice sides, multiples of 3 (otherwise the order does not fit the torus).
    - `minority`: ``−1`` (Li on the sublattice, ``x = 1/3``) or ``+1`` (``x = 2/3``).

    **Returns:**

    int8 array ``(rows, cols)`` of ±1.

    **Raises:**

    - `ValueError` if a side is not a positive multiple of 3 or `minority` is not ±1.
    """
    from .._validate import check_int

    rows = check_int(rows, "rows", minimum=3)
    cols = check_int(cols, "cols", minimum=3)
    if rows % 3 or cols % 3:
        raise ValueError(f"rows and cols must be multiples of 3 for the sqrt3 x sqrt3 order, got {rows}x{cols}")
    if minority not in (-1, 1):
        raise ValueError(f"minority must be -1 or +1, got {minority!r}")
    a, b = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return np.where((a - b) % 3 == 0, minority, -minority).astype(np.int8)


@dataclasses.dataclass(frozen=True)
class GroundState:
    """What every ground state of the charge-neutrality Hamiltonian at composition ``x`` has.

    At fixed composition the energy is ``(1/4) Σ_bonds σ_i σ_j + const`` (docs/model.md §2.1), so
    a ground state has the most mixed bonds: for ``x ≤ 1/3`` no ``−−`` bond (``C₊₋ = x``); for
    ``1/3 ≤ x ≤ 2/3`` every triangle mixed (``C₊₋ = 1/3``); for ``x ≥ 2/3`` no ``++`` bond.
    That fixes the pairs and the triangle histogram exactly; chains of a shape are fixed only
    where a pair concentration vanishes (the chains holding that bond are zero) and, at
    ``x = 1/3`` and ``2/3``, by the unique √3×√3 order (`sqrt3_configuration`).

    **Fields:**

    - `composition`: ``x``.
    - `C_pair`: ``(3,)`` float64 exact ``(C₊₊, C₋₋, C₊₋)``.
    - `triangle_fractions`: ``(4,)`` fractions of triangles holding 0..3 ``−`` sites.
    - `C_triplet`: ``(16,)`` exact triplet concentrations, NaN where a ground state does not fix
      the value.
    - `energy`: energy per site of the ground state, paper Hamiltonian (``ε = (1/4, 0, 1/4, 1)``).
    """

    composition: float
    C_pair: np.ndarray
    triangle_fractions: np.ndarray
    C_triplet: np.ndarray
    energy: float

    @property
    def determined(self) -> list[str]:
        """The triplet types a ground state fixes exactly."""
        return [t for t, v in zip(TRIPLETS, self.C_triplet, strict=True) if np.isfinite(v)]


def ground_state(x: float, *, atol: float = 1e-9) -> GroundState:
    """The exact pair, triangle and (where fixed) triplet concentrations of the ground states of
    the paper's Hamiltonian at composition `x` (see `GroundState`).

    **Arguments:**

    - `x`: fraction of ``−`` (Li) sites, in (0, 1).
    - `atol`: how close `x` must be to 1/3 or 2/3 for the √3×√3 table to apply.

    **Returns:**

    A `GroundState`.

    **Raises:**

    - `ValueError` if `x` is not in (0, 1).
    """
    from .._validate import check_float
    from ..concentrations import cluster_concentrations

    x = check_float(x, "x", minimum=0.0, maximum=1.0, open_min=True, open_max=True)
    if x <= 1 / 3:
        pairs = np.array([1 - 2 * x, 0.0, x])
        tri = np.array([1 - 3 * x, 3 * x, 0.0, 0.0])
    elif x <= 2 / 3:
        pairs = np.array([2 / 3 - x, x - 1 / 3, 1 / 3])
        tri = np.array([0.0, 2 - 3 * x, 3 * x - 1, 0.0])
    else:
        pairs = np.array([0.0, 2 * x - 1, 1 - x])
        tri = np.array([0.0, 0.0, 3 - 3 * x, 3 * x - 2])
    pairs = np.clip(pairs, 0.0, 1.0)
    tri = np.clip(tri, 0.0, 1.0)
    trip = np.full(len(TRIPLETS), np.nan)
    w = SHAPE_WEIGHTS["tri"]
    trip[TRIPLET_INDEX["tri:+++"]] = w * tri[0]
    trip[TRIPLET_INDEX["tri:++-"]] = w * tri[1] / 3
    trip[TRIPLET_INDEX["tri:--+"]] = w * tri[2] / 3
    trip[TRIPLET_INDEX["tri:---"]] = w * tri[3]
    for label in TRIPLETS:  # chains holding a vanishing bond vanish
        shape, pat = label.split(":")
        if shape != "tri":
            bonds = {"+-" if pat[0] != pat[1] else pat[:2], "+-" if pat[1] != pat[2] else pat[1:]}
            if any(pairs[PAIR_INDEX[b]] == 0.0 for b in bonds):
                trip[TRIPLET_INDEX[label]] = 0.0
    for special, minority in ((1 / 3, -1), (2 / 3, 1)):
        if abs(x - special) <= atol:
            trip = cluster_concentrations(sqrt3_configuration(6, 6, minority=minority))["C_triplet"]
    eps = np.array([0.25, 0.0, 0.25, 1.0])
    return GroundState(float(x), pairs, tri, np.asarray(trip, dtype=np.float64), float(2 * tri @ eps))


def random_state(x: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs and triplets of the uncorrelated (infinite-temperature) state at composition `x`,
    where every run starts: ``C_ij = C_i C_j`` (``C₊₋`` one oriented bond) and each ordered
    pattern ``(i, j, k)`` of a shape has probability ``C_i C_j C_k``, so ``C_τ = w C_i C_j C_k``.
    (The pair approximation is exact there.)

    **Arguments:**

    - `x`: fraction of ``−`` sites, in (0, 1).

    **Returns:** ``(C_pair (3,), C_triplet (16,))``, float64.

    **Raises:** `ValueError` if `x` is not in (0, 1).
    """
    from .._validate import check_float

    x = check_float(x, "x", minimum=0.0, maximum=1.0, open_min=True, open_max=True)
    c = {"+": 1 - x, "-": x}
    pairs = np.array([c["+"] ** 2, c["-"] ** 2, c["+"] * c["-"]])
    trip = np.array([SHAPE_WEIGHTS[t.split(":")[0]] * np.prod([c[s] for s in t.split(":")[1]]) for t in TRIPLETS])
    return pairs, trip


def closures_at_state(
    closures: Mapping[str, AbstractClosure],
    C_single: Float[ArrayLike, " 2"],
    C_pair: Float[ArrayLike, " 3"],
    C_triplet: Float[ArrayLike, " 16"],
) -> dict[str, Any]:
    """Closures evaluated at one exactly known state, against its triplets.

    **Arguments:**

    - `closures`: ``{name: closure}``.
    - `C_single`: ``(2,)``; `C_pair`: ``(3,)``; `C_triplet`: ``(16,)`` exact values (NaN where
      unknown: those types are skipped).

    **Returns:**

    ``{name: {"g": [16], "difference": [16] (g − exact, NaN where unknown),
    "mean_error": mean of the squared differences over the known types (ℰ of eq. (30) at this
    one state), "zero_missed": [types whose exact value is 0 but g > 1e-12]}}``.
    """
    exact = np.asarray(C_triplet, dtype=np.float64)
    out = {}
    for name, closure in closures.items():
        g = predict_triplets(closure, np.asarray(C_single, float), np.asarray(C_pair, float))
        diff = np.where(np.isfinite(exact), g - exact, np.nan)
        out[name] = {
            "g": g.tolist(),
            "difference": [float(v) for v in diff],
            "mean_error": float(np.nanmean(diff**2)),
            "zero_missed": [t for t, e, v in zip(TRIPLETS, exact, g, strict=True) if e == 0.0 and v > 1e-12],
        }
    return out


def ordered_records(dataset: xr.Dataset, *, pair_tolerance: float = 0.005) -> np.ndarray:
    """Which records of each trajectory sit at the ground-state pairs of their composition.

    **Arguments:**

    - `dataset`: an annealing trajectory.
    - `pair_tolerance`: largest ``|C − C_GS|`` over the three pairs for a record to count as ordered.

    **Returns:**

    bool array ``(R, n)``.
    """
    traj = read_trajectories(dataset, need_triplets=False)
    gs = np.stack([ground_state(float(c)).C_pair for c in traj.C_single[:, 0, 1]])
    return np.max(np.abs(traj.C_pair - gs[:, None, :]), axis=-1) <= pair_tolerance


def ordered_error_floor(
    closure: AbstractClosure, dataset: xr.Dataset, *, pair_tolerance: float = 0.005,
) -> dict[str, Any]:
    """The part of ``J_τ`` (eq. (15)) a closure collects on the records at the ground-state pairs.

    ``J_τ = Σ_t ω_t (g_τ − Ĉ_τ)²`` has non-negative terms, so the sum over the ordered records
    (`ordered_records`) is a lower bound of ``J_τ`` on these data, whatever the rest of the run:
    a closure that is wrong in the ordered state cannot have a small error on data that end there.

    **Arguments:**

    - `closure`: any closure.
    - `dataset`: an annealing trajectory with triplets (replicas averaged, as `closure_errors`).
    - `pair_tolerance`: see `ordered_records`.

    **Returns:**

    ``{"floor": [16] lower bounds of J_τ, "ordered_fraction": time fraction (trapezoid weights)
    spent ordered, averaged over replicas}``.
    """
    traj = read_trajectories(dataset, need_triplets=True)
    mask = ordered_records(dataset, pair_tolerance=pair_tolerance)
    g = predict_triplets(closure, traj.C_single, traj.C_pair)
    sq = np.where(mask[..., None], (g - traj.C_triplet) ** 2, 0.0)
    floor = np.einsum("t,rtk->k", traj.weights, sq) / traj.num_trajectories
    frac = float(np.mean(mask.astype(float) @ traj.weights))
    return {"floor": floor.tolist(), "ordered_fraction": frac}


def closure_from_vectors(vectors: Mapping[str, Sequence[float] | np.ndarray], **metadata: Any) -> OptimalApproximation:
    """An `OptimalApproximation` from the paper's parameter vectors ``V_τ`` per type (e.g. one
    column of `meanclust_jax.paper.TABLE_II`), in the order of `meanclust_jax.closures.param_names`.

    **Arguments:**

    - `vectors`: ``{type: V_τ}`` for all 16 types.
    - `metadata`: passed to `OptimalApproximation` (``regularization``, ``source``, ...).

    **Returns:**

    The closure.

    **Raises:**

    - `ValueError` if a type is missing or a vector has the wrong length.
    """
    gamma = np.zeros((len(TRIPLETS), 3))
    xi = np.zeros((len(TRIPLETS), 2))
    for t, label in enumerate(TRIPLETS):
        if label not in vectors:
            raise ValueError(f"vectors: missing triplet type {label!r}")
        names = param_names(label)
        v = np.asarray(vectors[label], dtype=np.float64)
        if v.shape != (len(names),):
            raise ValueError(f"vectors[{label!r}] must have {len(names)} entries {names}, got {v.tolist()}")
        for (kind, name), value in zip(names, v, strict=True):
            if kind == "gamma":
                gamma[t, PAIR_INDEX[name]] = value
            else:
                xi[t, SPECIES_INDEX[name]] = value
    return OptimalApproximation(gamma, xi, **metadata)


__all__ = [
    "Check",
    "GroundState",
    "closure_bias",
    "closure_from_vectors",
    "closures_at_state",
    "ground_state",
    "ordered_error_floor",
    "ordered_records",
    "pair_conservation",
    "random_state",
    "sparse_alpha_ratio",
    "sparse_normalisation",
    "sqrt3_configuration",
]
