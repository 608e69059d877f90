"""Atomic file writes, netCDF back-end selection, and the one cleaner of metadata for JSON
files and netCDF attributes (no heavy imports at module level)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import xarray as xr

#: How old (seconds) a temporary file of `atomic_path` without a recorded process id must be
#: before the next write of the same target removes it as an orphan.
STALE_TMP_SECONDS = 3600.0


def _tmp_prefix(target: Path) -> str:
    return f".{target.name}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except OSError:
        return False
    return True


def remove_stale_tmp(path: str | os.PathLike[str]) -> list[Path]:
    """Remove orphan temporary files that earlier, killed writes of ``path`` left beside it.

    `atomic_path` names its temporary file ``.<name>.pid<PID>.<random>.tmp``. One whose process
    is no longer running on this machine is an orphan (the write was killed before its rename)
    and is removed; so is a temporary file of an older version without a process id
    (``.<name>.<random>.tmp``) once it is older than `STALE_TMP_SECONDS`. Temporary files of
    writes still running are left alone. Files of other targets are never touched.

    **Returns:** the paths removed.
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    prefix = _tmp_prefix(target)
    removed: list[Path] = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        middle = name[len(prefix):-len(".tmp")]
        if "." in middle:  # a temporary file of another target whose name extends ours
            match = re.fullmatch(r"pid(\d+)\.[^.]+", middle)
            if match is None:
                continue
            stale = not _pid_alive(int(match.group(1)))
        else:
            try:
                stale = now - entry.lstat().st_mtime > STALE_TMP_SECONDS
            except OSError:
                continue
        if stale and not entry.is_dir():
            try:
                entry.unlink()
                removed.append(entry)
            except OSError:
                pass
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    A reader never sees a half-written file: the rename is atomic on POSIX file systems. The
    temporary file is ``.<name>.pid<PID>.<random>.tmp`` in the same folder; it is removed if the
    block raises (including ``KeyboardInterrupt``), and orphans of killed writes of the same
    target are removed before writing (`remove_stale_tmp`).

    **Symbolic links.** If ``path`` is a symbolic link, the rename replaces the *link* by the
    new file; the file the link pointed to is never written (reading through a link, e.g. of a
    checkpoint, follows it as usual).

    **Raises:**

    - `ValueError` if ``path`` is empty or an existing folder, or its parent folder does not
      exist or is not writable.
    """
    if not str(path):
        raise ValueError("path must be a file name, got ''")
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir() and not target.is_symlink():
        raise ValueError(f"path={str(target)!r} is an existing folder; give a file name")
    if not parent.is_dir():
        raise ValueError(f"path={str(target)!r}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"path={str(target)!r}: folder {str(parent)!r} is not writable")
    remove_stale_tmp(target)
    fd, tmp = tempfile.mkstemp(prefix=f"{_tmp_prefix(target)}pid{os.getpid()}.", suffix=".tmp", dir=parent)
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


def save_netcdf(ds: xr.Dataset, path: str | os.PathLike[str]) -> None:
    """Write an ``xarray.Dataset`` to netCDF atomically (temporary file, then rename)."""
    engine = netcdf_engine()
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine=engine)


def unreadable_file_message(path: str | os.PathLike[str], what: str, err: BaseException | None = None) -> str:  # noqa: ARG001 - err: see docstring
    """The one message for a file that exists but cannot be read: names the file, says whether
    it is empty, and what to do (never the reader library's own error or advice; ``err`` is
    accepted for symmetry and chained by callers that want it)."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError:
        size = -1
    if size == 0:
        state = f"is empty (0 bytes), not a {what}"
    else:
        state = f"is not a readable {what} (truncated, corrupted, or another kind of file)"
    return (
        f"path={str(p)!r} {state}; it may be left by an interrupted copy or run: delete or "
        "restore it and write it again"
    )


def existing_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a `Path` after checking that it names an existing file (links followed).

    **Raises:** `FileNotFoundError` ``"path=...: no such <what>"``; `ValueError` if it is a folder.
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"path={str(p)!r} is a folder, not a {what}")
    if not p.is_file():
        raise FileNotFoundError(f"path={str(p)!r}: no such {what}")
    return p


def load_netcdf(path: str | os.PathLike[str], what: str = "netCDF file") -> xr.Dataset:
    """Load a netCDF file fully into memory (the file is closed on return).

    **Raises:**

    - `FileNotFoundError` if ``path`` does not exist.
    - `ValueError` naming ``path`` if it is a folder, empty, truncated or not netCDF.
    """
    import xarray as xr

    p = existing_file(path, what)
    try:
        with xr.open_dataset(p, engine=netcdf_engine()) as ds:
            return ds.load()
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError) as err:
        raise ValueError(unreadable_file_message(p, what, err)) from None


def load_npz(path: str | os.PathLike[str], keys: tuple[str, ...], what: str = "checkpoint") -> dict[str, Any]:
    """Read the arrays ``keys`` of a NumPy ``.npz`` file written by this package (never pickles).

    **Returns:** ``{key: numpy array}``, fully read (the file is closed on return).

    **Raises:**

    - `FileNotFoundError` if ``path`` does not exist.
    - `ValueError` naming ``path`` if it is empty, truncated, not an ``.npz`` file, holds
      Python objects (pickles), or lacks one of ``keys``.
    """
    import zipfile

    import numpy as np

    p = existing_file(path, what)
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise ValueError(
                    f"path={str(p)!r} is not a meanclust_jax {what}: it lacks {missing}; delete it "
                    "or choose another path"
                )
            return {k: np.asarray(z[k]) for k in keys}
    except ValueError as err:
        if str(err).startswith(f"path={str(p)!r}"):
            raise
        raise ValueError(unreadable_file_message(p, what, err)) from None
    except (OSError, EOFError, KeyError, zipfile.BadZipFile) as err:
        raise ValueError(unreadable_file_message(p, what, err)) from None


@contextlib.contextmanager
def lock_file(path: str | os.PathLike[str], what: str) -> Iterator[Path]:
    """Hold an exclusive lock file for the duration of the block.

    The lock is created with ``O_CREAT | O_EXCL`` (atomic on POSIX file systems) and holds
    ``{"pid", "host", "started"}`` as JSON; it is removed when the block ends, however it ends.
    A lock left by a process that no longer runs on this host (killed, machine rebooted) is
    stale and taken over; so is an unreadable one older than a minute.

    **Arguments:**

    - `path`: the lock file.
    - `what`: what the lock protects, for the message (e.g. ``"--out 'study'"``).

    **Raises:**

    - `ValueError` naming `what`, the holder's process id, host and start time, if another live
      process holds the lock.
    """
    import socket

    lock = Path(path)
    host = socket.gethostname()
    mine = {"pid": os.getpid(), "host": host, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(lock.read_text(encoding="utf-8"))
                pid, their_host = int(holder["pid"]), str(holder["host"])
            except (OSError, ValueError, KeyError, TypeError):
                try:
                    young = time.time() - lock.stat().st_mtime < 60
                except OSError:
                    continue  # removed meanwhile: try again
                if young:  # being written by its creator right now
                    raise ValueError(
                        f"{what} is locked by another process ({str(lock)!r} was just created); try again "
                        "in a minute"
                    ) from None
                lock.unlink(missing_ok=True)
                continue
            if their_host != host or _pid_alive(pid):
                raise ValueError(
                    f"{what} is in use by another run (process {pid} on {their_host}, since "
                    f"{holder.get('started', '?')}); wait for it to finish or use another folder. If no "
                    f"such process runs any more, delete {str(lock)!r}"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its process has ended
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(mine, fh)
        break
    else:
        raise ValueError(f"{what}: could not take the lock {str(lock)!r}; try again")
    try:
        yield lock
    finally:
        try:
            if json.loads(lock.read_text(encoding="utf-8")).get("pid") == mine["pid"]:
                lock.unlink()
        except (OSError, ValueError):
            pass
