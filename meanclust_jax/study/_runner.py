"""Run the study stage by stage, recording each finished stage so a rerun resumes after it."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._io import lock_file, write_text_atomic
from .._precision import enable_float64
from ._config import StudyConfig, check_study_memory
from ._stages import anneal_stage, audit_stage, closures_stage, figures_stage, inference_stage, reactions_stage

#: The stages in order; ``report`` writes report.md and report.html from the others' summaries.
STAGES: tuple[str, ...] = ("anneal", "closures", "inference", "reactions", "figures", "audit", "report")

#: The lock file a running study holds in its folder (see `run_study`).
LOCK_NAME = ".reproduce.lock"

_STAGE_FUNCTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "anneal": anneal_stage,
    "closures": closures_stage,
    "inference": inference_stage,
    "reactions": reactions_stage,
    "figures": figures_stage,
    "audit": audit_stage,
}


def prepare_output(out: str | os.PathLike[str]) -> Path:
    """Create the study folder (and parents) and check it is writable, before any computation.

    **Raises:** `ValueError` naming ``--out`` if the path is a file, cannot be created, or is
    not writable.
    """
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {str(out)!r} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"--out {str(out)!r} is not a writable folder: {err.strerror or err}") from None
    return path.resolve()


def _stage_file(out: Path, name: str) -> Path:
    return out / "stages" / f"{name}.json"


def completed_stages(out: Path) -> list[str]:
    """Stages recorded as finished in ``out/stages/``, in pipeline order."""
    return [s for s in STAGES if _stage_file(out, s).is_file()]


def run_study(
    out: str | os.PathLike[str],
    cfg: StudyConfig,
    *,
    progress: bool = True,
    stop_after: str | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run (or resume) the paper's study end to end in the folder `out`.

    Stages (`STAGES`): anneal the ten compositions (docs/model.md §1–4), calibrate and compare the
    closures (paper Section VI.A–C), infer the rates with NUTS and DR-MH (Section VI.D), draw
    the figures of docs/model.md §8, audit every claim of the paper (`meanclust_jax.audit`), and
    write ``report.md`` / ``report.html``. A finished stage is recorded in
    ``out/stages/<stage>.json`` with its summary numbers; a rerun with the same settings skips
    finished stages (and the annealing resumes from its checkpoint), so an interrupted study
    continues where it stopped.

    **Arguments:**

    - `out`: the study folder (created if missing).
    - `cfg`: the settings (`StudyConfig.preset`).
    - `progress`: show progress bars.
    - `stop_after`: stop after this stage (one of `STAGES`).
    - `force`: forget finished stages (and settings stored by an earlier run) and start over.
    - `log`: where progress lines go.

    Switches JAX to float64 for the process (`meanclust_jax.enable_float64`): the closure
    calibration and the rate inference need it.

    **Returns:** ``{stage: summary}`` for every stage run or reused.

    Only one study runs in a folder at a time: the run holds the lock file ``out/.reproduce.lock``
    (process id, host, start time) and a second run there is refused; a lock left by a process
    that no longer runs is taken over. Nothing is written before every check has passed
    (including the memory estimate of the annealing, `check_study_memory`).

    **Raises:** `ValueError` for an unwritable `out`, an unknown `stop_after`, a study whose
    annealing does not fit in memory, a folder that holds a study made with different settings
    (unless `force`), or one in which another study is running.
    """
    enable_float64()
    if stop_after is not None and stop_after not in STAGES:
        raise ValueError(f"stop_after={stop_after!r} is not a stage; use one of {STAGES}")
    check_study_memory(cfg)
    path = prepare_output(out)
    with lock_file(path / LOCK_NAME, f"--out {str(out)!r}"):
        return _run_locked(path, out, cfg, progress=progress, stop_after=stop_after, force=force, log=log)


def _run_locked(path: Path, out: str | os.PathLike[str], cfg: StudyConfig, *, progress: bool,
                stop_after: str | None, force: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """`run_study` once the folder is checked and locked."""
    settings_file = path / "study.json"
    if settings_file.is_file() and not force:
        try:
            stored = json.loads(settings_file.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            raise ValueError(
                f"--out {str(out)!r}: {str(settings_file)!r} is not readable JSON (empty or truncated); "
                "use --force to start over there, or another folder"
            ) from None
        if not isinstance(stored, dict):
            stored = {}
        diff = cfg.differences(stored)
        if diff:
            raise ValueError(
                f"--out {str(out)!r} holds a study made with other settings (differing: {', '.join(diff)}); "
                "use another folder, or --force to start over there"
            )
    if force:
        for s in STAGES:
            _stage_file(path, s).unlink(missing_ok=True)
        (path / "checkpoints" / "anneal.npz").unlink(missing_ok=True)
        for partial in (path / "posteriors").glob("*.*"):  # results the inference stage would reuse
            if partial.suffix in (".nc", ".json") and partial.is_file():
                partial.unlink()
    (path / "stages").mkdir(exist_ok=True)
    write_text_atomic(settings_file, json.dumps(json.loads(cfg.to_json()), indent=2) + "\n")

    info_file = path / "run_info.json"
    info = json.loads(info_file.read_text(encoding="utf-8")) if info_file.is_file() and not force else {}
    info.update(_environment())
    info.setdefault("stage_seconds", {})

    summaries: dict[str, Any] = {}
    for n, stage in enumerate(STAGES, start=1):
        marker = _stage_file(path, stage)
        prefix = f"[{n}/{len(STAGES)} {stage}]"
        if marker.is_file():
            summaries[stage] = json.loads(marker.read_text(encoding="utf-8"))
            log(f"{prefix} already done, skipped")
        else:
            log(f"{prefix} started")
            t0 = time.perf_counter()
            if stage == "report":
                from ..reports.study_report import write_report

                summary = write_report(path, cfg, summaries)
            else:
                def stage_log(message: str, p: str = prefix, t: float = t0) -> None:
                    log(f"{p} +{time.perf_counter() - t:.0f}s {message}")

                summary = _STAGE_FUNCTIONS[stage](path, cfg, stage_log, progress)
            seconds = time.perf_counter() - t0
            text = json.dumps(summary, indent=1, sort_keys=True) + "\n"
            write_text_atomic(marker, text)
            summaries[stage] = json.loads(text)  # exactly what a resumed run will read
            info["stage_seconds"][stage] = round(seconds, 2)
            write_text_atomic(info_file, json.dumps(info, indent=2, sort_keys=True) + "\n")
            log(f"{prefix} done in {seconds:.1f} s")
        if stage == stop_after:
            log(f"stopping after {stage!r} as asked; run the same command without --stop-after to go on")
            break
    return summaries


def _environment() -> dict[str, Any]:
    import jax

    from .._version import __version__

    devices = jax.devices()
    return {
        "meanclust_jax": __version__,
        "jax": jax.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in devices],
        "device_kind": devices[0].device_kind,
        "cpu_count": os.cpu_count(),
    }


__all__ = ["LOCK_NAME", "STAGES", "completed_stages", "prepare_output", "run_study"]
