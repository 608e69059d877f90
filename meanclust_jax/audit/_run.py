"""`run_audit`: the whole claims audit into one folder (``meanclust audit``), standalone or on a
study made by ``meanclust reproduce``.

Layout of the folder::

    audit.json           the claims: a list of {"id", "claim", "paper", "ours", "verdict", "reason"}
    audit_numbers.json   every number the verdicts and the analytic checks were computed from,
                         and the protocol sweep
    audit.md, audit.html the report section on its own (audit.html embeds its figures)
    figures/*.png        the protocol sweep and the closures at the ordered state
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._io import jsonable, write_text_atomic
from .._validate import check_int
from ..paper import CALIBRATION_COMPOSITIONS, PAPER_COMPOSITIONS
from ._claims import evaluate_claims, verdict_counts
from ._numbers import FITTED, claim_numbers
from ._sensitivity import anneal_compositions, default_protocols, protocol_sensitivity

#: The files `run_audit` writes into its folder (besides figures/).
OUTPUT_FILES: tuple[str, ...] = ("audit.json", "audit_numbers.json", "audit.md", "audit.html")

#: Lattice side of the audit's own data (and of the protocol sweep's reference): default, --quick.
DEFAULT_SIZE, QUICK_SIZE = 48, 24

#: The audit's figures: key → (file name under figures/, caption).
AUDIT_FIGURES: dict[str, tuple[str, str]] = {
    "sensitivity": ("audit_sensitivity.png",
                    "Protocol sensitivity: (a) SA-vs-PA gain (paper: +36.13%), (b) mean distance of the "
                    "fitted OA-hard exponents to Table II, (c) median over the 16 types of log10(J_PA/J_OA) "
                    "(paper: 'a few orders of magnitude', ≥ 2), (d) closure claims reproduced, per protocol."),
    "ordered": ("audit_ordered_state.png",
                "Closures at the exact √3×√3 ground state (x = 1/3): predicted minus exact triplet "
                "concentration per type, for PA, SA, the paper's Table II OA and ours."),
}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"--study: cannot read {str(path)!r}: {err}") from None


def study_inputs(study: str | os.PathLike[str]) -> tuple[dict[float, Any], dict[str, Any], dict | None, str]:
    """Trajectories, fitted closures and inference summary of a `meanclust reproduce` folder.

    Reads only the study's files: ``stages/anneal.json`` (trajectory files per composition),
    ``stages/closures.json`` (fitted closure files) and, if present, ``stages/inference.json``.

    **Returns:** ``(datasets {x: Dataset}, fitted {name: closure}, inference summary or None,
    source text)``.

    **Raises:** `ValueError` naming ``--study`` if the folder lacks the finished anneal and closures
    stages or a file is unreadable.
    """
    from ..closures import load_closure
    from ..dataset import load_trajectory

    root = Path(study).expanduser()
    for stage in ("anneal", "closures"):
        if not (root / "stages" / f"{stage}.json").is_file():
            raise ValueError(f"--study {str(study)!r}: no finished {stage} stage (stages/{stage}.json); "
                             "run `meanclust reproduce` there first")
    anneal = _read_json(root / "stages" / "anneal.json")
    closures = _read_json(root / "stages" / "closures.json")
    datasets = {}
    for row in anneal["final"]:
        datasets[float(row["x"])] = load_trajectory(root / anneal["files"][row["label"]], need_triplets=True)
    fitted = {name: load_closure(root / rel) for name, rel in closures["files"].items() if name in FITTED}
    inf_file = root / "stages" / "inference.json"
    inference = _read_json(inf_file) if inf_file.is_file() else None
    size = anneal.get("lattice", ["?", "?"])
    source = (f"the study's runs: {size[0]}×{size[1]} lattices, {anneal.get('total_sweeps', '?')} sweeps, "
              f"its fitted closures" + (" and rate posteriors" if inference else ""))
    return datasets, fitted, inference, source


def audit_data(
    size: int, *, quick: bool, seed: int, progress: bool, log: Callable[[str], None]
) -> tuple[dict[float, Any], dict[str, Any], tuple, str]:
    """The audit's own reference data and fits: the sweep's ``replicas`` protocol (paper-like
    annealing of the ten compositions, several lattices each), OA fitted as in the study.

    **Returns:** ``(datasets, fitted, settings, source)``.
    """
    from ..closures import fit_optimal_closure

    ref = next(p for p in default_protocols(size, quick=quick) if p.name == "replicas")
    log(f"reference data: {ref.description}, {size}x{size}, ten compositions")
    datasets = anneal_compositions(ref.anneal_settings, ref.replicas, seed=seed, progress=progress, reactions=True)
    fitted = {}
    for name in FITTED:
        _, reg, lab = name.split("-", 2)
        x = CALIBRATION_COMPOSITIONS[0] if lab == "1/3" else CALIBRATION_COMPOSITIONS[1]
        fitted[name], _ = fit_optimal_closure(datasets[x], reg, num_starts=2, seed=seed)
    source = (f"the audit's own runs: {size}×{size} lattices, {ref.replicas} per composition, "
              f"{ref.schedule().total_sweeps} sweeps of local swaps ({ref.sweeps_per_step} per temperature step)")
    return datasets, fitted, ref.anneal_settings, source


def run_audit(
    out: str | os.PathLike[str],
    *,
    quick: bool = False,
    size: int | None = None,
    study: str | os.PathLike[str] | None = None,
    seed: int = 0,
    force: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the claims audit and write it into `out` (layout: module docstring).

    **Arguments:**

    - `out`: the folder (created if missing; files in it are replaced atomically).
    - `quick`: the smoke-test version (24×24 lattices, short schedules, fewer protocols).
    - `size`: lattice side of the audit's data and the protocol sweep (default 48, or 24 with
      `quick`); a multiple of 4 (global swaps need it), at least 24.
    - `study`: a `meanclust reproduce` folder whose trajectories, fitted closures and rate
      posteriors the claims are judged on (the protocol sweep still uses `size`).
    - `seed`: PRNG seed of every anneal and fit.
    - `force`: replace the audit files already in `out` (without it they are never touched).
    - `progress`: show progress bars.
    - `log`: where progress lines go.

    **Returns:**

    The audit summary (JSON-able): ``claims`` (the records of ``audit.json``), ``counts``,
    ``numbers`` (without the inference summary), ``sensitivity``, ``figures`` and ``files``
    (paths relative to `out`), ``captions`` of the figures and ``settings``.

    **Raises:**

    - `ValueError` (before any computation) for an unwritable `out`, one that already holds an
      audit (unless `force`), a bad `size`, or a `study` folder without finished anneal and
      closures stages.
    """
    from .._precision import enable_float64
    from ..lattice import TriangularLattice
    from ..reports.audit_report import plot_ordered_state, plot_sensitivity, write_audit_report

    # Every check before any work: the lattice side, the folder, files already there, the study.
    size = (QUICK_SIZE if quick else DEFAULT_SIZE) if size is None else check_int(size, "--size", minimum=24)
    if size % 4:
        raise ValueError(f"--size {size}: must be a multiple of 4 (the sweep uses global swaps, which need it), "
                         "e.g. 24, 48, 96")
    TriangularLattice(size, size).stride("global")
    root = Path(out).expanduser()
    if root.exists() and not root.is_dir():
        raise ValueError(f"--out {str(out)!r} exists and is not a folder")
    existing = [f for f in OUTPUT_FILES if (root / f).exists()]
    if existing and not force:
        raise ValueError(f"--out {str(out)!r} already holds an audit ({', '.join(existing)}); use --force to "
                         "replace it, or choose another folder")
    if study is not None:
        for stage in ("anneal", "closures"):
            if not (Path(study).expanduser() / "stages" / f"{stage}.json").is_file():
                raise ValueError(f"--study {str(study)!r}: no finished {stage} stage (stages/{stage}.json); "
                                 "run `meanclust reproduce` there first")
    try:
        (root / "figures").mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"--out {str(out)!r} is not a writable folder: {err.strerror or err}") from None
    enable_float64()

    reuse = {}
    if study is not None:
        datasets, fitted, inference, source = study_inputs(study)
    else:
        datasets, fitted, settings, source = audit_data(size, quick=quick, seed=seed, progress=progress, log=log)
        inference = None
        reuse[settings] = datasets
    if any(min(abs(x - c) for x in datasets) > 1e-3 for c in CALIBRATION_COMPOSITIONS):
        raise ValueError(f"the data must include x = 1/3 and 1/2; have {sorted(datasets)}")
    log(f"claims: numbers from {source}")
    numbers = claim_numbers(datasets, fitted, inference=inference, source=source)
    records = evaluate_claims(numbers)
    log("protocol sweep")
    protocols = default_protocols(size, quick=quick)
    sensitivity = protocol_sensitivity(protocols, seed=seed, progress=progress, log=log, reuse=reuse)

    figures = {k: f"figures/{name}" for k, (name, _) in AUDIT_FIGURES.items()}
    plot_sensitivity(sensitivity, root / figures["sensitivity"])
    plot_ordered_state(numbers["ground_states"]["1/3"], root / figures["ordered"])
    stored_numbers = {k: v for k, v in numbers.items() if k != "inference"}
    summary = jsonable({
        "claims": records,
        "counts": verdict_counts(records),
        "numbers": stored_numbers,
        "sensitivity": sensitivity,
        "figures": figures,
        "captions": {k: c for k, (_, c) in AUDIT_FIGURES.items()},
        "settings": {"quick": quick, "size": size, "seed": seed, "study": str(study) if study else None,
                     "compositions": list(PAPER_COMPOSITIONS)},
        "files": list(OUTPUT_FILES),
    })
    write_text_atomic(root / "audit.json", json.dumps(records, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
    write_text_atomic(root / "audit_numbers.json",
                      json.dumps({"numbers": stored_numbers, "sensitivity": sensitivity}, indent=1,
                                 ensure_ascii=False, allow_nan=False) + "\n")
    write_audit_report(root, summary)
    c = summary["counts"]
    log(f"{len(records)} claims: {c['reproduced']} reproduced, {c['not reproduced']} not reproduced, "
        f"{c['not testable']} not testable; written to {root / 'audit.json'}")
    return summary


__all__ = ["AUDIT_FIGURES", "DEFAULT_SIZE", "OUTPUT_FILES", "QUICK_SIZE", "audit_data", "run_audit", "study_inputs"]
