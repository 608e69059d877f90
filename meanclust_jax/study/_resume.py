"""Resuming inside a stage: results already on disk are reused when they were made with the
same settings, so an interrupted stage does not redo them.

Each result a stage writes records the settings that made it (a JSON object: the study's
`StudyConfig` and what distinguishes the result, e.g. the closure and the sampler). A rerun
calls `posterior_exists` / `saved_result` with the settings it would use now, and skips the
work when they match; a file written with other settings, or unreadable (e.g. truncated by a
crash), is redone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._io import jsonable, write_text_atomic

if TYPE_CHECKING:
    import arviz as az

    from ._config import StudyConfig

#: Attribute of a posterior's ``posterior`` group that holds its settings (JSON text).
SETTINGS_ATTR = "study_settings"


def _canonical(settings: Mapping[str, Any]) -> str:
    return json.dumps(jsonable(dict(settings)), sort_keys=True)


def result_settings(cfg: StudyConfig, **what: Any) -> dict[str, Any]:
    """The settings of one result: the whole study configuration plus ``what`` (e.g.
    ``closure="PA", sampler="nuts"``)."""
    return {"config": json.loads(cfg.to_json()), **what}


def mark_posterior(idata: az.InferenceData, settings: Mapping[str, Any]) -> az.InferenceData:
    """Record ``settings`` in the posterior's attributes (before `save_posterior`)."""
    idata.posterior.attrs[SETTINGS_ATTR] = _canonical(settings)
    return idata


def posterior_exists(path: str | os.PathLike[str], settings: Mapping[str, Any]) -> bool:
    """Whether ``path`` holds a readable posterior written with exactly ``settings``
    (see `mark_posterior`)."""
    p = Path(path)
    if not p.is_file():
        return False
    import xarray as xr

    from .._io import netcdf_engine

    try:
        with xr.open_dataset(p, group="posterior", engine=netcdf_engine()) as ds:
            stored = ds.attrs.get(SETTINGS_ATTR)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError):
        return False
    return stored == _canonical(settings)


def saved_result(path: str | os.PathLike[str], settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON result stored at ``path`` by `save_result` with the same ``settings``, else
    ``None`` (missing, unreadable, or made with other settings)."""
    p = Path(path)
    try:
        stored = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or _canonical(stored.get("settings", {})) != _canonical(settings):
        return None
    result = stored.get("result")
    return result if isinstance(result, dict) else None


def save_result(path: str | os.PathLike[str], settings: Mapping[str, Any], result: Mapping[str, Any]) -> None:
    """Write a partial result of a stage with its settings, atomically (see `saved_result`)."""
    text = json.dumps({"settings": jsonable(dict(settings)), "result": dict(result)}, indent=1)
    write_text_atomic(path, text + "\n")


__all__ = ["SETTINGS_ATTR", "mark_posterior", "posterior_exists", "result_settings", "save_result", "saved_result"]
