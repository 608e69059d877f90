"""Checks of scalar arguments shared by every module, so that every message reads the same:
``<name> must be an integer >= 1, got 0`` / ``<name> must be a finite number in (0, 1), got 1.2``.

Each check returns the value as a plain Python ``int`` or ``float`` and raises `ValueError`
naming the parameter and the allowed range; none of them touches JAX (call them on concrete
values, before any long work).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from jaxtyping import PRNGKeyArray


def _range_text(
    minimum: int | float | None, maximum: int | float | None, *, open_min: bool = False, open_max: bool = False
) -> str:
    """``>= 1``, ``> 0``, ``<= 5``, ``in [0, 1]``, ``in (0, 1)`` or ``""`` (no bound)."""
    lo, hi = _number_text(minimum), _number_text(maximum)
    if minimum is not None and maximum is not None:
        return f"in {'(' if open_min else '['}{lo}, {hi}{')' if open_max else ']'}"
    if minimum is not None:
        return f"{'>' if open_min else '>='} {lo}"
    if maximum is not None:
        return f"{'<' if open_max else '<='} {hi}"
    return ""


def _number_text(v: int | float | None) -> str:
    """Integers exactly (``18446744073709551615``), other numbers with ``:g``."""
    if v is None:
        return ""
    return str(int(v)) if isinstance(v, (numbers.Integral, np.integer)) else f"{v:g}"


def check_int(
    value: object,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    allow_float: bool = False,
) -> int:
    """Check that ``value`` is an integer in ``[minimum, maximum]``.

    **Arguments:**

    - `value`: a Python or NumPy integer (``bool`` is refused).
    - `name`: the parameter name used in the message (e.g. ``"num_samples"``, ``"--size"``).
    - `minimum`, `maximum`: inclusive bounds, or ``None`` for none.
    - `allow_float`: also accept a float with an integral value (``100.0``, e.g. a row of a
      NumPy array of ``(T, sweeps)`` steps).

    **Returns:**

    ``value`` as a Python ``int``.

    **Raises:**

    - `ValueError` ``"<name> must be an integer <range>, got <value>"``.
    """
    ok = isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not ok and allow_float and isinstance(value, (float, np.floating)):
        ok = math.isfinite(value) and float(value).is_integer()
    if ok:
        v = int(value)
        ok = (minimum is None or v >= minimum) and (maximum is None or v <= maximum)
    if not ok:
        bound = _range_text(minimum, maximum)
        raise ValueError(f"{name} must be an integer{' ' + bound if bound else ''}, got {value!r}")
    return v


def check_float(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    open_min: bool = False,
    open_max: bool = False,
) -> float:
    """Check that ``value`` is a finite real number in the given range.

    **Arguments:**

    - `value`: a Python or NumPy real number, or a 0-d array (``bool`` is refused).
    - `name`: the parameter name used in the message.
    - `minimum`, `maximum`: bounds, or ``None`` for none.
    - `open_min`, `open_max`: exclude the bound itself (``> 0`` rather than ``>= 0``).

    **Returns:**

    ``value`` as a Python ``float``.

    **Raises:**

    - `ValueError` ``"<name> must be a finite number <range>, got <value>"``.
    """
    v = math.nan
    if not isinstance(value, (bool, np.bool_, str, bytes)):
        try:
            v = float(np.asarray(value, dtype=np.float64)) if np.ndim(value) == 0 else math.nan
        except (TypeError, ValueError):
            v = math.nan
    ok = math.isfinite(v)
    if ok and minimum is not None:
        ok = v > minimum if open_min else v >= minimum
    if ok and maximum is not None:
        ok = v < maximum if open_max else v <= maximum
    if not ok:
        bound = _range_text(minimum, maximum, open_min=open_min, open_max=open_max)
        raise ValueError(f"{name} must be a finite number{' ' + bound if bound else ''}, got {value!r}")
    return v


#: Seeds are unsigned 64-bit integers: ``0 … 2**64 - 1``.
MAX_SEED = 2**64 - 1


def check_seed(seed: object, name: str = "seed") -> int:
    """Check a PRNG seed: an integer in ``[0, 2**64 - 1]`` (`MAX_SEED`).

    **Raises:** `ValueError` ``"<name> must be an integer in [0, 18446744073709551615], got ..."``.
    """
    return check_int(seed, name, minimum=0, maximum=MAX_SEED)


def seed_key(seed: object, name: str = "seed") -> PRNGKeyArray:
    """A typed JAX key from an integer seed in ``[0, 2**64 - 1]`` (checked by `check_seed`).

    For the default threefry implementation the key holds the seed's 64 bits as
    ``(high 32, low 32)``, which is what ``jax.random.key(seed)`` gives for every seed it accepts
    with 64-bit types on; unlike it, seeds ``>= 2**63`` are accepted and seeds ``>= 2**32`` are
    never truncated when 64-bit types are off. Other implementations use ``jax.random.key``.
    """
    import jax

    seed = check_seed(seed, name)
    impl = jax.config.jax_default_prng_impl
    if impl == "threefry2x32":
        data = np.asarray([seed >> 32, seed & 0xFFFFFFFF], dtype=np.uint32)
        return jax.random.wrap_key_data(data, impl="threefry2x32")
    if seed >= 2**63:
        raise ValueError(f"{name}={seed}: the PRNG implementation {impl!r} takes seeds < 2**63")
    return jax.random.key(seed)
