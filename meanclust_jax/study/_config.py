"""Settings of the end-to-end study (`meanclust reproduce`): one frozen dataclass, two presets."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from .._validate import check_int
from ..lattice import TriangularLattice
from ..paper import PAPER_COMPOSITIONS, PAPER_TEMPERATURES

#: Smallest lattice side the study accepts (smaller lattices have too few triplets of each type).
MIN_SIZE = 12


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Every setting of the study; stored in ``DIR/study.json`` and checked on resume.

    Annealing (paper Section III): ``size × size`` periodic lattices, the paper's stepwise
    cooling (`meanclust_jax.schedules.paper`) with ``sweeps_per_step`` sweeps per temperature,
    ``replicas`` independent lattices per composition, all ten compositions of docs/model.md §1
    in one compiled call. Closures (Section VI.A–C): OA calibrated at ``x = 1/3`` and ``1/2``
    with hard and soft regularisation (``closure_starts`` starts per type). Inference (Section
    VI.D; `meanclust_jax.study._inference`) on the ``x = 1/3`` trajectory (replica mean, time
    in sweeps) under the Gaussian likelihood: the point estimate by multistart
    (``rate_starts`` × ``rate_steps``) and Levenberg–Marquardt (``polish_steps``), with
    ``stationarity`` its gradient and Hessian spectrum; then NUTS (``nuts_warmup`` warm-up,
    rounds of ``nuts_samples`` draws up to ``nuts_max_samples``, tree depth at most
    ``nuts_max_tree_depth``) and DRAM (``drmh_warmup`` warm-up, rounds of ``drmh_samples`` up
    to ``drmh_max_samples`` iterations, every ``drmh_thinning``-th kept), ``chains`` chains
    each, for PA, OA-hard-1/2 and SA, drawn until converged or the budget is spent; the ODE is
    solved with tolerances ``rate_rtol``/``rate_atol`` (1e-5/1e-8: an error below 1e-6 in the
    concentrations, far below the fitted noise levels ~1e-2); with ``replica_check`` the PA fit
    of the replica mean is compared with the replicas fitted separately.
    """

    size: int = 96
    quick: bool = False
    seed: int = 0
    compositions: tuple[float, ...] = PAPER_COMPOSITIONS
    replicas: int = 4
    sweeps_per_step: int = 1000
    records: int = 200
    snapshots: int = 5
    closure_starts: int = 6
    rate_starts: int = 8
    rate_steps: int = 200
    polish_steps: int = 100
    rate_rtol: float = 1e-5
    rate_atol: float = 1e-8
    chains: int = 4
    nuts_warmup: int = 300
    nuts_samples: int = 300
    nuts_max_samples: int = 600
    nuts_max_tree_depth: int = 6
    drmh_warmup: int = 5000
    drmh_samples: int = 10000
    drmh_max_samples: int = 30000
    drmh_thinning: int = 10
    stationarity: bool = True
    replica_check: bool = True

    @classmethod
    def preset(cls, *, size: int | None = None, quick: bool = False, seed: int = 0) -> StudyConfig:
        """The default study (96×96) or the ``--quick`` one (24×24, short chains, no Hessian: a
        smoke test whose chains are far too short to converge).

        **Raises:** `ValueError` for a size the checkerboard cannot tile (see `check_size`).
        """
        if quick:
            cfg = cls(size=24, quick=True, seed=seed, replicas=2, sweeps_per_step=100, records=100,
                      snapshots=3, closure_starts=2, rate_starts=4, rate_steps=60, polish_steps=20,
                      nuts_warmup=50, nuts_samples=50, nuts_max_samples=50, nuts_max_tree_depth=5,
                      drmh_warmup=500, drmh_samples=1000, drmh_max_samples=1000, drmh_thinning=5,
                      stationarity=False, replica_check=False)
        else:
            cfg = cls(seed=seed)
        if size is not None:
            cfg = dataclasses.replace(cfg, size=size)
        check_size(cfg.size)
        return cfg

    @property
    def total_sweeps(self) -> int:
        """Sweeps of the whole cooling schedule."""
        return len(PAPER_TEMPERATURES) * self.sweeps_per_step

    def to_json(self) -> str:
        """The settings as canonical JSON (sorted keys)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def differences(self, other: dict[str, Any]) -> list[str]:
        """Names of the settings that differ from a stored JSON dict (for resume checks)."""
        mine = json.loads(self.to_json())
        return sorted(k for k in set(mine) | set(other) if mine.get(k) != other.get(k))


def check_size(size: int) -> None:
    """Check that a ``size × size`` lattice can be annealed with local swaps.

    **Raises:** `ValueError` naming ``--size`` and the allowed values: an integer ≥ 12 that is
    a multiple of 3 or of 4 (the checkerboard strides of `TriangularLattice`).
    """
    check_int(size, "--size", minimum=MIN_SIZE)
    try:
        TriangularLattice(size, size).stride("local")
    except ValueError as err:
        raise ValueError(f"--size {size}: the checkerboard cannot tile a {size}x{size} lattice "
                         f"(it must be a multiple of 3 or 4, e.g. 48, 96, 192): {err}") from None


def check_study_memory(cfg: StudyConfig) -> None:
    """Refuse a study whose annealing (all compositions × replicas in one compiled run) does not
    fit in memory, before anything is written (`meanclust_jax.engine` memory estimate).

    **Raises:** `ValueError` naming ``--size`` with the memory needed and available.
    """
    import math

    from ..engine import check_anneal_memory

    replicas = len(cfg.compositions) * cfg.replicas
    record_every = max(1, cfg.total_sweeps // cfg.records)
    try:
        check_anneal_memory(cfg.size, cfg.size, replicas, cfg.total_sweeps, record_every, cfg.snapshots,
                            max(1, math.ceil(cfg.total_sweeps / record_every / 50)),
                            counts_per_sweep=10)  # the anneal stage records the reaction observer
    except ValueError as err:
        raise ValueError(f"--size {cfg.size}: the study's {err}") from None
