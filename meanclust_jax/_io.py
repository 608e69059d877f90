"""Atomic file writes, netCDF back-end selection, and the one cleaner of metadata for JSON
files and netCDF attributes (no heavy imports at module level)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    A reader never sees a half-written file: the rename is atomic on POSIX file systems.

    **Raises:**

    - `ValueError` if the parent folder of ``path`` does not exist or is not writable.
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"path={str(target)!r}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"path={str(target)!r}: folder {str(parent)!r} is not writable")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def netcdf_engine() -> str:
    """Name of an installed xarray netCDF back end: h5netcdf, netCDF4, or scipy (netCDF3)."""
    import importlib.util

    for module, engine in (("h5netcdf", "h5netcdf"), ("netCDF4", "netcdf4"), ("scipy", "scipy")):
        if importlib.util.find_spec(module) is not None:
            return engine
    raise ImportError(
        "no netCDF back end is installed: install h5netcdf (pip install h5netcdf)"
    )


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of ``value`` (``json.dumps(..., allow_nan=False)`` accepts it).

    ``None``, ``bool`` and ``str`` are kept; Python and NumPy integers and finite floats become
    Python numbers; non-finite floats become their text (``"nan"``, ``"inf"``); mappings become
    dicts with string keys; lists, tuples and NumPy arrays become (nested) lists; anything else
    becomes ``str(value)``.
    """
    import numpy as np

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else str(v)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def netcdf_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes that netCDF can store: booleans as 0/1, numbers and strings as they are, lists
    of numbers as float64 arrays, anything else as JSON text (via `jsonable`)."""
    import numpy as np

    out: dict[str, Any] = {}
    for k, v in attrs.items():
        if isinstance(v, (bool, np.bool_)):
            out[k] = int(v)
        elif isinstance(v, (int, float, str, np.integer, np.floating)):
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (int, float)) for x in v):
            out[k] = np.asarray(v, dtype=np.float64)
        else:
            out[k] = json.dumps(jsonable(v))
    return out


def save_netcdf(ds, path: str | os.PathLike[str]) -> None:  # noqa: ANN001 - xarray.Dataset
    """Write an ``xarray.Dataset`` to netCDF atomically (temporary file, then rename)."""
    engine = netcdf_engine()
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine=engine)


def load_netcdf(path: str | os.PathLike[str]):  # noqa: ANN201 - xarray.Dataset
    """Load a netCDF file fully into memory (the file is closed on return)."""
    import xarray as xr

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"path={str(p)!r}: no such netCDF file")
    with xr.open_dataset(p, engine=netcdf_engine()) as ds:
        return ds.load()
