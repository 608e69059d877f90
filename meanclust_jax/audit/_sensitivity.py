"""Protocol sensitivity of the closure results (issue 13, deliverable 3).

The paper does not print its lattice size, sweeps, temperatures or move set, so our data are
made by one guess at its protocol. `protocol_sensitivity` anneals the ten compositions under
several protocols — local vs global swaps, fast vs slow cooling, a long hold in the ordered
state, a lattice side not divisible by 3, one replica vs several, and ``J_τ`` weighting every
record (eq. (15)) vs one record per temperature step — calibrates OA (hard and soft, at
x = 1/3 and 1/2) on each, and measures what the paper's closure claims depend on: the SA-vs-PA
gain, the per-type ratios ``J_OA/J_PA``, the distance of the fitted exponents to Table II, and
how many of the closure claims of `meanclust_jax.audit.CLAIMS` each protocol reproduces.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import paper
from .._io import jsonable
from .._labels import TRIPLETS
from .._validate import check_int
from ..paper import PAPER_COMPOSITIONS, composition_label
from ._checks import ordered_records
from ._claims import (
    ALMOST_ALL,
    EXPONENT_TOLERANCE,
    IMPROVEMENT_TOLERANCE_PP,
    ORDERS_FACTOR,
    REPRODUCED,
    evaluate_claims,
)

if TYPE_CHECKING:
    import xarray as xr

    from ..schedules import Schedule

#: Records kept per run: 110 divides the sweeps of every default protocol (11 temperature steps),
#: so no run is thinned and all have the same shape (the OA fits compile once).
RECORDS = 110

#: The closure claims a protocol can be judged on (no rates, no SA fit).
CLOSURE_CLAIM_PREFIXES = ("table2/", "fig9/", "fig10/", "fig11/", "fig12/", "sec6a/")


@dataclasses.dataclass(frozen=True)
class Protocol:
    """One way of making the calibration data.

    **Fields:**

    - `name`, `description`: how the report calls it.
    - `size`: lattice side (``size × size``; a multiple of 3 or 4).
    - `moves`: ``"local"`` (Kawasaki) or ``"global"`` swaps.
    - `sweeps_per_step`: sweeps at each of the paper's eleven temperatures.
    - `hold`: extra sweeps at the last temperature (time spent in the ordered state).
    - `replicas`: independent lattices per composition whose objectives are pooled.
    - `weighting`: ``"time"`` (every record, eq. (15)) or ``"steps"`` (one record at the end of
      each temperature step, i.e. the equilibrium values only).
    """

    name: str
    description: str
    size: int
    moves: str = "local"
    sweeps_per_step: int = 100
    hold: int = 0
    replicas: int = 1
    weighting: str = "time"

    def __post_init__(self) -> None:
        from ..lattice import TriangularLattice

        check_int(self.size, "size", minimum=12)
        TriangularLattice(self.size, self.size).stride(self.moves)  # raises for untileable sizes
        check_int(self.sweeps_per_step, "sweeps_per_step", minimum=1)
        check_int(self.hold, "hold", minimum=0)
        check_int(self.replicas, "replicas", minimum=1)
        if self.weighting not in ("time", "steps"):
            raise ValueError(f"weighting must be 'time' or 'steps', got {self.weighting!r}")

    def schedule(self) -> Schedule:
        """The annealing schedule: the paper's stepwise cooling plus the hold."""
        from .. import schedules

        s = schedules.paper(self.sweeps_per_step)
        if self.hold:
            s = schedules.Schedule(s.steps + ((s.steps[-1][0], self.hold),),
                                   f"{s.name},hold={self.hold}")
        return s

    @property
    def anneal_settings(self) -> tuple:
        """What the annealing depends on (protocols that share it share one run)."""
        return (self.size, self.moves, self.sweeps_per_step, self.hold)


def off_three(size: int) -> int:
    """The largest multiple of 4 below `size` that is not divisible by 3 (the √3×√3 order
    cannot fit such a lattice without a domain wall)."""
    n = size - size % 4 - (4 if size % 4 == 0 else 0)
    while n % 3 == 0:
        n -= 4
    if n < 12:
        raise ValueError(f"size={size}: no smaller lattice side >= 12 that is a multiple of 4 but not of 3")
    return n


def default_protocols(size: int = 48, *, quick: bool = False) -> list[Protocol]:
    """The protocols of `meanclust audit` (``--quick``: fewer sweeps and protocols).

    **Arguments:**

    - `size`: the lattice side of the reference protocol (48 by default, 24 with ``quick``).
    - `quick`: the smoke-test set.

    **Returns:**

    A list of `Protocol`, the reference (``paper-like``: the study's protocol on one lattice)
    first.
    """
    spp = 40 if quick else 100
    total = len(paper.PAPER_TEMPERATURES) * spp
    other = off_three(size)
    out = [
        Protocol("paper-like", f"local swaps, {spp} sweeps per temperature step, one lattice", size,
                 sweeps_per_step=spp),
        Protocol("replicas", f"as paper-like, objectives pooled over {2 if quick else 3} lattices", size,
                 sweeps_per_step=spp, replicas=2 if quick else 3),
        Protocol("global", "global (any two sites) swaps", size, moves="global", sweeps_per_step=spp),
        Protocol("fast", f"fast cooling: {max(1, spp // 10)} sweeps per step", size, sweeps_per_step=max(1, spp // 10)),
    ]
    if not quick:
        out.append(Protocol("slow", f"slow cooling: {4 * spp} sweeps per step", size, sweeps_per_step=4 * spp))
    out += [
        Protocol("ordered-hold", f"then {total} sweeps at the last temperature (about half the run ordered)", size,
                 sweeps_per_step=spp, hold=total),
        Protocol(f"size-{other}", f"{other}×{other} lattice (side not divisible by 3)", other, sweeps_per_step=spp),
    ]
    if not quick and other > 12 + 4:
        smaller = off_three(other)
        out.append(Protocol(f"size-{smaller}", f"{smaller}×{smaller} lattice (side not divisible by 3)", smaller,
                            sweeps_per_step=spp))
    out += [
        Protocol("step-ends", "J_τ over one record per temperature step (equilibrium values)", size,
                 sweeps_per_step=spp, weighting="steps"),
    ]
    if not quick:
        out.append(Protocol("global-hold", "global swaps and the ordered hold", size, moves="global",
                            sweeps_per_step=spp, hold=total))
    return out


def anneal_compositions(settings: tuple, replicas: int, *, seed: int = 0, records: int = RECORDS,
                        compositions: Sequence[float] = PAPER_COMPOSITIONS, progress: bool = False,
                        reactions: bool = False) -> dict[float, Any]:
    """Anneal every composition under one protocol's settings, in one compiled call.

    **Arguments:**

    - `settings`: `Protocol.anneal_settings` ``(size, moves, sweeps_per_step, hold)``.
    - `replicas`: lattices per composition.
    - `seed`: PRNG seed.
    - `records`: records kept per run (evenly spaced, the first and last included), so every
      protocol's data have the same shape.
    - `compositions`: the compositions.
    - `progress`: show the engine's progress bar.
    - `reactions`: record the measured reaction rates (the engine's reaction observer, issue 11;
      local swaps only) when this version's engine has it; ignored otherwise.

    **Returns:**

    ``{x: Dataset}`` with a ``replica`` dimension.
    """
    import inspect

    from ..engine import anneal
    from ..lattice import TriangularLattice

    size, moves, spp, hold = settings
    proto = Protocol("run", "", size, moves=moves, sweeps_per_step=spp, hold=hold)
    schedule = proto.schedule()
    comps = [x for x in compositions for _ in range(replicas)]
    extra = {}
    if reactions and moves == "local" and "reactions" in inspect.signature(anneal).parameters:
        extra["reactions"] = True
    ds = anneal(seed, TriangularLattice(size, size), schedule=schedule, composition=comps, moves=moves,
                replicas=len(comps), record_every=max(1, schedule.total_sweeps // records), progress=progress,
                **extra)
    n = ds.sizes["time"]
    keep = np.unique(np.round(np.linspace(0, n - 1, min(n, records + 1))).astype(int))
    ds = ds.isel(time=keep)
    out = {}
    for i, x in enumerate(compositions):
        part = ds.isel(replica=slice(i * replicas, (i + 1) * replicas)).assign_coords(replica=np.arange(replicas))
        part.attrs["composition"] = float(x)
        out[float(x)] = part
    return out


def step_end_records(dataset: xr.Dataset, protocol: Protocol) -> xr.Dataset:
    """The records at the end of each temperature step (and the first): equilibrium values."""
    t = np.asarray(dataset["time"].values)
    ends = np.cumsum([s for _, s in protocol.schedule().steps])
    idx = sorted({0, *(int(np.argmin(np.abs(t - e))) for e in ends)})
    return dataset.isel(time=idx)


def protocol_numbers(datasets: dict[float, Any], *, num_starts: int = 2, seed: int = 0) -> tuple[dict[str, Any], dict]:
    """Calibrate OA (hard and soft at x = 1/3 and 1/2) on one protocol's data and collect the
    numbers the closure claims are judged on (see `meanclust_jax.audit.claim_numbers`).

    **Returns:** ``(numbers, fitted)``.
    """
    from ..closures import cross_stoichiometry_study
    from ._numbers import composition_study

    study, fitted = cross_stoichiometry_study(datasets, regularizations=("hard", "soft"),
                                              num_starts=num_starts, seed=seed)
    numbers = composition_study(datasets, {n: c for n, c in fitted.items()}, study=study)
    numbers["exponents"] = {n: {t: np.asarray(v, float).tolist() for t, v in c.parameter_vectors().items()}
                            for n, c in fitted.items()}
    return numbers, fitted


def summarise_protocol(protocol: Protocol, datasets: dict[float, Any], numbers: dict[str, Any]) -> dict[str, Any]:
    """The sensitivity metrics of one protocol from its claim numbers.

    **Returns:** ``sa_gain`` (%, 1 − mean ℰ_SA / mean ℰ_PA), ``sa_gain_relative`` (%, mean of
    1 − ℰ_SA/ℰ_PA), ``log10_pa_over_oa`` per calibration composition (16 values),
    ``orders_count`` (types with ``J_PA/J_OA ≥ 100``), ``table2_distance`` (mean over types of
    the largest exponent difference), ``table2_within`` (types within the tolerance),
    ``closure_claims`` (reproduced / testable closure claims), ``final_C_mm`` and
    ``ordered_fraction`` at x = 1/3, and ``reproduces_paper`` (SA gain, Table II and Fig. 9 all
    within the claims' tolerances).
    """
    out: dict[str, Any] = {"protocol": dataclasses.asdict(protocol)}
    out["sa_gain"] = numbers["improvement_over_pa"]["SA"]
    out["sa_gain_relative"] = numbers["mean_relative_improvement"]["SA"]
    out["log10_pa_over_oa"], out["orders_count"] = {}, {}
    out["table2_distance"], out["table2_within"] = {}, {}
    for lab in ("1/3", "1/2"):
        e = numbers["errors"][lab]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.log10(np.asarray(e["PA"], float) / np.asarray(e[f"OA-hard-{lab}"], float))
        out["log10_pa_over_oa"][lab] = r.tolist()
        out["orders_count"][lab] = int(np.sum(r >= np.log10(ORDERS_FACTOR)))
        ex = numbers["exponents"][f"OA-hard-{lab}"]
        d = [float(np.max(np.abs(np.asarray(ex[t]) - np.asarray(paper.TABLE_II[t][f"OA-{lab}"])))) for t in TRIPLETS]
        out["table2_distance"][lab] = float(np.mean(d))
        out["table2_within"][lab] = int(np.sum(np.asarray(d) <= EXPONENT_TOLERANCE))
    records = [r for r in evaluate_claims(numbers) if r["id"].startswith(CLOSURE_CLAIM_PREFIXES)]
    testable = [r for r in records if r["verdict"] != "not testable"]
    out["closure_claims"] = {"reproduced": sum(r["verdict"] == REPRODUCED for r in testable),
                             "testable": len(testable),
                             "reproduced_ids": [r["id"] for r in testable if r["verdict"] == REPRODUCED]}
    ds13 = min(datasets.items(), key=lambda kv: abs(kv[0] - 1 / 3))[1]
    out["final_C_mm"] = float(ds13["C_pair"].sel(pair="--").isel(time=-1).mean())
    from ..dataset import read_trajectories

    w = read_trajectories(ds13, need_triplets=False).weights
    out["ordered_fraction"] = float(np.mean(ordered_records(ds13).astype(float) @ w))
    out["reproduces_paper"] = bool(
        abs(out["sa_gain"] - paper.SA_IMPROVEMENT_OVER_PA_PERCENT) <= IMPROVEMENT_TOLERANCE_PP
        and min(out["table2_within"].values()) >= 12
        and min(out["orders_count"].values()) >= ALMOST_ALL
    )
    return out


def protocol_sensitivity(protocols: Sequence[Protocol], *, seed: int = 0, num_starts: int = 2,
                         records: int = RECORDS, progress: bool = False, log: Callable[[str], None] = lambda _: None,
                         reuse: dict[tuple, dict[float, Any]] | None = None) -> dict[str, Any]:
    """Run the protocol sweep (module docstring).

    Protocols that share their annealing settings share one run (annealed with the largest
    number of replicas any of them uses; each uses its first `Protocol.replicas`).

    **Arguments:**

    - `protocols`: the protocols (`default_protocols`).
    - `seed`: PRNG seed of every anneal and fit.
    - `num_starts`: starts per type of the OA fits.
    - `records`: records kept per run.
    - `progress`: show progress bars.
    - `log`: where progress lines go.
    - `reuse`: already annealed data ``{anneal_settings: {x: Dataset}}`` (e.g. the audit's
      reference run), used where the settings match and the replicas suffice.

    **Returns:**

    ``{"protocols": [summary per protocol (`summarise_protocol`)], "closest": {"sa_gain": name,
    "table2": name, "claims": name}, "any_reproduces": bool, "thresholds": {...}}``.

    **Raises:**

    - `ValueError` for an empty list or two protocols with one name.
    """
    if not protocols:
        raise ValueError("protocols must not be empty")
    names = [p.name for p in protocols]
    if len(set(names)) != len(names):
        raise ValueError(f"protocol names must be unique, got {names}")
    runs: dict[tuple, dict[float, Any]] = dict(reuse or {})
    needed: dict[tuple, int] = {}
    for p in protocols:
        needed[p.anneal_settings] = max(needed.get(p.anneal_settings, 0), p.replicas)
    for settings, R in needed.items():
        have = runs.get(settings)
        if have is None or min(int(ds.sizes.get("replica", 1)) for ds in have.values()) < R:
            size, moves, spp, hold = settings
            log(f"anneal {size}x{size} {moves}, {spp} sweeps per step, hold {hold}, {R} replica(s) per composition")
            runs[settings] = anneal_compositions(settings, R, seed=seed, records=records, progress=progress)
    summaries = []
    for p in protocols:
        data = {x: ds.isel(replica=slice(0, p.replicas)) for x, ds in runs[p.anneal_settings].items()}
        if p.weighting == "steps":
            data = {x: step_end_records(ds, p) for x, ds in data.items()}
        log(f"protocol {p.name}: OA fits and errors")
        numbers, _ = protocol_numbers(data, num_starts=num_starts, seed=seed)
        summaries.append(summarise_protocol(p, data, numbers))
    target = paper.SA_IMPROVEMENT_OVER_PA_PERCENT
    closest = {
        "sa_gain": min(summaries, key=lambda s: abs(s["sa_gain"] - target))["protocol"]["name"],
        "table2": min(summaries, key=lambda s: np.mean(list(s["table2_distance"].values())))["protocol"]["name"],
        "claims": max(summaries, key=lambda s: s["closure_claims"]["reproduced"])["protocol"]["name"],
    }
    return jsonable({
        "protocols": summaries,
        "closest": closest,
        "any_reproduces": any(s["reproduces_paper"] for s in summaries),
        "thresholds": {"sa_gain_pp": IMPROVEMENT_TOLERANCE_PP, "table2_rows_within": 12,
                       "exponent_tolerance": EXPONENT_TOLERANCE, "orders_factor": ORDERS_FACTOR,
                       "orders_types": ALMOST_ALL},
        "compositions": [composition_label(x) for x in PAPER_COMPOSITIONS],
        "seed": seed,
    })


__all__ = [
    "CLOSURE_CLAIM_PREFIXES",
    "RECORDS",
    "Protocol",
    "anneal_compositions",
    "default_protocols",
    "off_three",
    "protocol_numbers",
    "protocol_sensitivity",
    "step_end_records",
    "summarise_protocol",
]
