"""Memory estimates checked before large runs: refuse with "needs X GiB, Y GiB available"
instead of failing after minutes with an allocator error (no heavy imports at module level)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jax

GiB = float(2**30)


def available_host_bytes() -> int | None:
    """Memory the operating system can still give this process (``MemAvailable`` of
    ``/proc/meminfo``, else free physical pages), or ``None`` if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def available_device_bytes(device: jax.Device | None = None) -> int | None:
    """Free memory of a JAX accelerator (``bytes_limit - bytes_in_use``), or ``None`` when the
    device does not report it (then host memory is the limit, as on CPU)."""
    import jax

    device = jax.devices()[0] if device is None else device
    if device.platform == "cpu":
        return None
    try:
        stats = device.memory_stats() or {}
    except Exception:  # noqa: BLE001 - backends without memory_stats
        return None
    limit = stats.get("bytes_limit")
    if limit is None:
        return None
    return int(limit) - int(stats.get("bytes_in_use", 0))


def check_memory(what: str, host_bytes: float, device_bytes: float = 0.0, *, hint: str = "") -> None:
    """Refuse a run whose estimated memory does not fit.

    **Arguments:**

    - `what`: the run and its sizes, naming the parameters (e.g. ``"anneal of 2 replicas of
      1000002x1000002 (rows x cols)"``).
    - `host_bytes`: estimated peak host (CPU) memory.
    - `device_bytes`: estimated peak accelerator memory; on a CPU backend it adds to the host's.
    - `hint`: what to change (appended to the message).

    **Raises:**

    - `ValueError` ``"<what> needs X GiB of <host|device> memory, Y GiB available; <hint>"``.
    """
    import jax

    device = jax.devices()[0]
    dev_free = available_device_bytes(device)
    checks = []
    if dev_free is None:
        checks.append(("memory", host_bytes + device_bytes, available_host_bytes()))
    else:
        checks.append((f"{device.platform.upper()} memory", device_bytes, dev_free))
        checks.append(("host memory", host_bytes, available_host_bytes()))
    for kind, need, free in checks:
        if free is not None and need > free:
            raise ValueError(
                f"{what} needs about {need / GiB:.3g} GiB of {kind}, {free / GiB:.3g} GiB available"
                + (f"; {hint}" if hint else "")
            )


__all__ = ["available_device_bytes", "available_host_bytes", "check_memory"]
