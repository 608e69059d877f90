"""Active learning over compositions: which composition to anneal next (beyond the paper; cf.
query by committee in active learning of free-energy models from Monte Carlo data).

Annealing a composition is the expensive step. A *committee* of closures, each calibrated on a
bootstrap sample of the runs annealed so far (replicas drawn with replacement, and contiguous
time windows of each trajectory drawn with replacement), disagrees where the data do not pin the
closure down. *Query by committee* anneals next the candidate composition where the committee's
predicted triplets differ most, measured over the pair states that composition can take (from
the random state ``C_+- = x(1−x)`` to the most ordered ``C_+- = min(x, 1−x, 1/3)``, where every
triangle has exactly one like bond). `active_learning_curve` runs a strategy — ``"qbc"``,
``"uniform"`` (evenly spaced compositions) or ``"random"`` — and records ``ℰ`` (eq. (30)) on
held-out runs against the number of compositions annealed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validate import check_float, check_int
from ._data import Trajectories, read_runs, trapezoid_weights

if TYPE_CHECKING:
    import xarray as xr

    from ._data import Runs

#: Strategies of `active_learning_curve`.
STRATEGIES: tuple[str, ...] = ("qbc", "uniform", "random")


def bootstrap_runs(
    datasets: Runs, rng: np.random.Generator, *, windows: int = 4, mixed_lattices: bool = False
) -> list[Trajectories]:
    """One bootstrap sample of annealing runs, over replicas and time windows.

    Each run's ``R`` replicas are drawn ``R`` times with replacement, and its record range is cut
    into ``windows`` contiguous windows (neighbours share their boundary record), drawn
    ``windows`` times with replacement; every drawn (replica, window) is a trajectory of its own
    (trapezoid weights of its window), so each run keeps its weight in a joint calibration.

    **Arguments:**

    - `datasets`: an annealing run or a sequence of them.
    - `rng`: NumPy generator.
    - `windows`: number of time windows per trajectory (≥ 1; at least 2 records each).
    - `mixed_lattices`: allow runs on different lattices.

    **Returns:**

    A list of `Trajectories` (one replica, one window each), ready for `fit_closure`.

    **Raises:** `ValueError` for a bad ``windows`` or invalid runs.
    """
    windows = check_int(windows, "windows", minimum=1)
    out = []
    for traj in read_runs(datasets, need_triplets=True, mixed_lattices=mixed_lattices):
        R, n = traj.C_pair.shape[:2]
        if n - 1 < windows:
            raise ValueError(f"windows={windows}: a run has only {n} records (each window needs 2)")
        edges = np.linspace(0, n - 1, windows + 1).round().astype(int)
        for r in rng.integers(0, R, R):
            for w in rng.integers(0, windows, windows):
                sl = slice(edges[w], edges[w + 1] + 1)
                times = traj.times[sl]
                out.append(Trajectories(
                    times=times, C_single=traj.C_single[r:r + 1, sl], C_pair=traj.C_pair[r:r + 1, sl],
                    C_triplet=traj.C_triplet[r:r + 1, sl], weights=trapezoid_weights(times),
                    composition=traj.composition, attrs=traj.attrs,
                ))
    return out


def closure_committee(
    datasets: Runs,
    members: int = 8,
    *,
    family: str = "consistent",
    regularization: str | float | None = None,
    windows: int = 4,
    seed: int = 0,
    mixed_lattices: bool = False,
    **fit_kwargs: Any,
) -> list:
    """A committee of closures, each calibrated (`fit_closure`) on one `bootstrap_runs` sample.

    **Arguments:**

    - `datasets`: the runs annealed so far (a sequence, e.g. one per composition).
    - `members`: committee size (≥ 2).
    - `family`, `regularization`, `fit_kwargs`: as `fit_closure`.
    - `windows`: time windows per trajectory in the bootstrap.
    - `seed`: seed of the bootstrap's NumPy generator.
    - `mixed_lattices`: allow runs on different lattices.

    **Returns:** a list of ``members`` closures.

    **Raises:** `ValueError` for ``members < 2`` and as `fit_closure`.
    """
    from ._families import fit_closure

    members = check_int(members, "members", minimum=2)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(members):
        sample = bootstrap_runs(datasets, rng, windows=windows, mixed_lattices=mixed_lattices)
        closure, _ = fit_closure(sample, family, regularization, mixed_lattices=True, **fit_kwargs)
        out.append(closure)
    return out


def composition_states(x: float, n_states: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Pair states a lattice of composition ``x`` can take between the random state and the most
    ordered one: ``C_+-`` evenly from ``x(1−x)`` to ``min(x, 1−x, 1/3)``.

    **Returns:** ``(C_single (n, 2), C_pair (n, 3))``.

    **Raises:** `ValueError` unless ``0 < x < 1`` and ``n_states ≥ 2``.
    """
    x = check_float(x, "composition x", minimum=0.0, maximum=1.0, open_min=True, open_max=True)
    n_states = check_int(n_states, "n_states", minimum=2)
    lo, hi = x * (1 - x), min(x, 1 - x, 1 / 3)
    cpm = lo + np.linspace(0.0, 1.0, n_states) * (hi - lo)
    C_pair = np.stack([1 - x - cpm, x - cpm, cpm], axis=-1)
    return np.tile([1 - x, x], (n_states, 1)), np.maximum(C_pair, 0.0)


def committee_disagreement(
    committee: Sequence, compositions: Sequence[float] | np.ndarray, *, n_states: int = 25
) -> np.ndarray:
    """Disagreement of a committee at candidate compositions: the variance over members of the
    predicted triplet concentrations, averaged over the 16 types (as ``ℰ``) and over the
    composition's pair states (`composition_states`); squared concentration units.

    **Returns:** float64 array ``(len(compositions),)``.
    """
    from ._errors import predict_triplets

    out = []
    for x in compositions:
        C_single, C_pair = composition_states(x, n_states)
        g = np.stack([predict_triplets(c, C_single, C_pair) for c in committee])  # (B, S, 16)
        out.append(float(np.mean(np.var(g, axis=0))))
    return np.asarray(out)


def _uniform_pick(candidates: np.ndarray, n: int) -> list[int]:
    idx = np.unique(np.round(np.linspace(0, len(candidates) - 1, n)).astype(int))
    return idx.tolist()


def active_learning_curve(
    candidates: Sequence[float],
    anneal: Callable[[float], Any] | Mapping[float, Any],
    test: Sequence[Any],
    *,
    strategy: str = "qbc",
    initial: int = 2,
    budget: int | None = None,
    members: int = 8,
    windows: int = 4,
    seed: int = 0,
    family: str = "consistent",
    regularization: str | float | None = None,
    n_states: int = 25,
    mixed_lattices: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Learning curve of a closure family against the number of compositions annealed.

    Starting from ``initial`` compositions, one composition is added per step until ``budget``:

    * ``"qbc"`` (query by committee): the candidate where a `closure_committee` of the runs so
      far disagrees most (`committee_disagreement`); the start is ``initial`` evenly spaced ones;
    * ``"uniform"``: at every size ``n`` the ``n`` evenly spaced candidates (not nested);
    * ``"random"``: candidates in a random order (``seed``).

    At every size a closure is calibrated on all runs annealed so far (`fit_closure`) and
    ``ℰ`` (eq. (30)) is measured on each held-out run of ``test``.

    **Arguments:**

    - `candidates`: compositions that may be annealed.
    - `anneal`: ``x → annealing run`` (called once per composition and cached), or a mapping
      of pre-annealed runs.
    - `test`: held-out runs (never used for calibration).
    - `strategy`: one of `STRATEGIES`.
    - `initial`, `budget`: first and last number of compositions (``2 ≤ initial ≤ budget ≤
      len(candidates)``; default budget all candidates).
    - `members`, `windows`: committee size and bootstrap time windows (``"qbc"``).
    - `seed`: seeds the committee bootstrap and the random order.
    - `family`, `regularization`: the closure family calibrated.
    - `n_states`: pair states per candidate in the disagreement.
    - `mixed_lattices`: allow runs on different lattices.
    - `log`: optional progress callable.

    **Returns:**

    A JSON-able dict: ``strategy``, ``n`` (sizes), ``compositions`` (the set at each size),
    ``mean_error`` (mean over the test runs of ``ℰ``, per size), ``test_errors`` (per size and
    test run), ``test_compositions``, ``mean_error_pa`` (the pair approximation on the test
    runs) and, for ``"qbc"``, ``disagreement`` (the committee's largest disagreement at each
    query).

    **Raises:** `ValueError` for an unknown strategy, bad sizes or duplicate candidates.
    """
    from ._errors import mean_closure_error
    from ._families import check_family, fit_closure
    from ._pair import PairApproximation

    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {list(STRATEGIES)}; got {strategy!r}")
    check_family(family)
    cand = np.asarray(sorted(float(x) for x in candidates))
    if cand.size < 2 or np.any(np.diff(cand) <= 0):
        raise ValueError(f"candidates must hold at least two distinct compositions; got {list(candidates)}")
    budget = cand.size if budget is None else int(budget)
    if not (isinstance(initial, (int, np.integer)) and 2 <= initial <= budget <= cand.size):
        raise ValueError(f"need 2 <= initial <= budget <= len(candidates) = {cand.size}; "
                         f"got initial={initial}, budget={budget}")
    test = list(test)
    if not test:
        raise ValueError("test must hold at least one held-out run")
    cache: dict[int, Any] = {}

    def run_of(i: int) -> xr.Dataset:
        if i not in cache:
            x = float(cand[i])
            if isinstance(anneal, Mapping):
                key = min(anneal, key=lambda k: abs(float(k) - x))
                cache[i] = anneal[key]
            else:
                cache[i] = anneal(x)
        return cache[i]

    rng = np.random.default_rng(seed)
    order = rng.permutation(cand.size).tolist()
    chosen = _uniform_pick(cand, initial) if strategy != "random" else order[:initial]
    result: dict[str, Any] = {"strategy": strategy, "n": [], "compositions": [], "mean_error": [],
                              "test_errors": [], "disagreement": []}
    for n in range(initial, budget + 1):
        if strategy == "uniform":
            chosen = _uniform_pick(cand, n)
        elif strategy == "random":
            chosen = order[:n]
        elif n > initial:  # qbc: query the most disputed candidate
            committee = closure_committee([run_of(i) for i in chosen], members, family=family,
                                          regularization=regularization, windows=windows, seed=seed + n,
                                          mixed_lattices=mixed_lattices)
            rest = [i for i in range(cand.size) if i not in chosen]
            d = committee_disagreement(committee, cand[rest], n_states=n_states)
            pick = rest[int(np.argmax(d))]
            result["disagreement"].append(float(np.max(d)))
            chosen = chosen + [pick]
        closure, _ = fit_closure([run_of(i) for i in chosen], family, regularization, mixed_lattices=mixed_lattices)
        errs = [mean_closure_error(closure, ds) for ds in test]
        result["n"].append(n)
        result["compositions"].append(sorted(float(cand[i]) for i in chosen))
        result["mean_error"].append(float(np.mean(errs)))
        result["test_errors"].append([float(e) for e in errs])
        if log is not None:
            log(f"{strategy}: n = {n}, compositions {result['compositions'][-1]}, "
                f"held-out mean error {result['mean_error'][-1]:.3e}")
    result["test_compositions"] = [float(t.composition) for t in read_runs(test, mixed_lattices=True)]
    result["mean_error_pa"] = float(np.mean([mean_closure_error(PairApproximation(), ds) for ds in test]))
    return result


__all__ = [
    "STRATEGIES",
    "active_learning_curve",
    "bootstrap_runs",
    "closure_committee",
    "committee_disagreement",
    "composition_states",
]
