"""Annealing schedules: piecewise-constant temperature programmes (docs/model.md §3).

A schedule is a sequence of steps ``(T, sweeps)``: hold temperature ``T`` (energy units,
``k_B = 1``) for ``sweeps`` sweeps (one sweep = ``N`` attempted swaps). Constructors:
`constant`, `paper` (the stepwise cooling of the paper's Fig. 2a), `geometric`, `from_steps`
(a user array) and `from_csv`; `parse` reads the CLI's schedule strings.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ._validate import check_float, check_int
from .paper import PAPER_TEMPERATURES as PAPER_TEMPERATURES

#: Largest total length of a schedule, in sweeps: the engine numbers sweeps with int32.
MAX_SWEEPS = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A piecewise-constant temperature schedule.

    **Arguments:**

    - `steps`: tuple of ``(T, sweeps)`` with ``T`` finite and > 0 (energy units) and ``sweeps``
      an integer ≥ 1.
    - `name`: a description recorded in the dataset's attributes.

    **Raises:**

    - `ValueError` if a temperature is ≤ 0 or not finite, a step has fewer than 1 sweep or a
      non-integer number of sweeps, or the schedule is longer than `MAX_SWEEPS` sweeps.
    """

    steps: tuple[tuple[float, int], ...]
    name: str = "custom"

    def __post_init__(self) -> None:
        if len(self.steps) == 0:
            raise ValueError("schedule must have at least one (T, sweeps) step")
        clean = []
        for idx, step in enumerate(self.steps):
            try:
                T, sweeps = step
            except (TypeError, ValueError):
                raise ValueError(f"schedule step {idx} must be a pair (T, sweeps), got {step!r}") from None
            T = check_float(T, f"schedule step {idx}: T", minimum=0.0, open_min=True)
            sweeps = check_int(sweeps, f"schedule step {idx}: sweeps", minimum=1, maximum=MAX_SWEEPS,
                               allow_float=True)
            clean.append((T, sweeps))
        total = sum(s for _, s in clean)
        if total > MAX_SWEEPS:
            raise ValueError(
                f"schedule total sweeps must be <= {MAX_SWEEPS} (the engine numbers sweeps with "
                f"int32), got {total} over {len(clean)} steps"
            )
        object.__setattr__(self, "steps", tuple(clean))

    @property
    def total_sweeps(self) -> int:
        """Total number of sweeps."""
        return sum(s for _, s in self.steps)

    def temperatures(self) -> np.ndarray:
        """Temperature of every sweep, float32 array ``(total_sweeps,)``."""
        return np.concatenate([np.full(s, T, np.float32) for T, s in self.steps])

    def scaled(self, factor: float) -> Schedule:
        """The same temperatures with every step's sweeps multiplied by `factor` and rounded
        (at least 1 sweep per step).

        **Raises:** `ValueError` unless `factor` is a finite number > 0.
        """
        factor = check_float(factor, "factor", minimum=0.0, open_min=True)
        return Schedule(tuple((T, max(1, round(s * factor))) for T, s in self.steps), self.name)

    def __str__(self) -> str:
        return self.name


def constant(T: float, sweeps: int) -> Schedule:
    """Hold ``T`` for ``sweeps`` sweeps."""
    return Schedule(((T, sweeps),), f"constant:T={T:g},sweeps={sweeps}")


def geometric(T0: float, T1: float, steps: int, sweeps: int) -> Schedule:
    """``steps`` temperatures from ``T0`` to ``T1`` in geometric progression, ``sweeps`` each.

    **Raises:** `ValueError` if ``T0, T1`` are not finite and > 0 or ``steps < 1``.
    """
    T0 = check_float(T0, "T0", minimum=0.0, open_min=True)
    T1 = check_float(T1, "T1", minimum=0.0, open_min=True)
    steps = check_int(steps, "steps", minimum=1, allow_float=True)
    temps = np.geomspace(T0, T1, int(steps)) if steps > 1 else np.array([T0])
    return Schedule(
        tuple((float(T), sweeps) for T in temps),
        f"geometric:T0={T0:g},T1={T1:g},steps={steps},sweeps={sweeps}",
    )



def paper(sweeps_per_step: int = 1000) -> Schedule:
    """The paper's stepwise cooling (Fig. 2a): hold each of `PAPER_TEMPERATURES` for
    ``sweeps_per_step`` sweeps, long enough to equilibrate at each step on a 96x96 lattice, from
    the disordered to the ordered state.

    The paper does not print its temperatures; ours are chosen for the charge-neutrality
    Hamiltonian in its own units (`meanclust_jax.paper.PAPER_TEMPERATURES`).
    """
    sweeps_per_step = check_int(sweeps_per_step, "sweeps_per_step", minimum=1,
                                maximum=MAX_SWEEPS // len(PAPER_TEMPERATURES), allow_float=True)
    return Schedule(
        tuple((T, int(sweeps_per_step)) for T in PAPER_TEMPERATURES),
        f"paper:sweeps_per_step={sweeps_per_step}",
    )


def from_steps(steps: Iterable[Sequence[float]], name: str = "custom") -> Schedule:
    """A schedule from a user array of ``(T, sweeps)`` rows."""
    return Schedule(tuple((row[0], row[1]) for row in steps), name)


def from_csv(path: str | os.PathLike[str]) -> Schedule:
    """Read a schedule from a CSV file of ``T,sweeps`` rows (a header line is allowed).

    **Raises:** `ValueError` if the file is missing or a row is malformed.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"schedule={str(p)!r}: no such CSV file")
    rows = []
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"schedule={str(p)!r} is not a readable text CSV file ({type(err).__name__})") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split(",")]
        try:
            if len(cells) != 2:
                raise ValueError
            T, sweeps = float(cells[0]), float(cells[1])
        except ValueError:
            if not rows and lineno == 1:
                continue  # header
            raise ValueError(f"schedule CSV {str(p)!r} line {lineno}: expected 'T,sweeps', got {line!r}") from None
        where = f"schedule CSV {str(p)!r} line {lineno}"
        rows.append((check_float(T, f"{where}: T", minimum=0.0, open_min=True),
                     check_int(sweeps, f"{where}: sweeps", minimum=1, maximum=MAX_SWEEPS, allow_float=True)))
    if not rows:
        raise ValueError(f"schedule CSV {str(p)!r} holds no 'T,sweeps' rows")
    return from_steps(rows, name=f"csv:{p.name}")


def _kv(spec: str, body: str, required: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in filter(None, body.split(",")):
        if "=" not in item:
            raise ValueError(f"schedule={spec!r}: expected key=value, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"schedule={spec!r}: {key.strip()}={value!r} is not a number") from None
    missing = [k for k in required if k not in out]
    unknown = [k for k in out if k not in required]
    if missing or unknown:
        raise ValueError(f"schedule={spec!r}: needs exactly {', '.join(required)}")
    return out


def parse(spec: str) -> Schedule:
    """Parse a CLI schedule string.

    Accepted forms: ``constant:T=0.5,sweeps=2000``, ``geometric:T0=2,T1=0.05,steps=20,sweeps=500``,
    ``paper`` or ``paper:sweeps=1000`` (sweeps per step), or a path to a CSV file of ``T,sweeps``.

    **Raises:** `ValueError` for an unknown schedule or malformed parameters.
    """
    kind, _, body = spec.partition(":")
    if kind == "constant":
        kv = _kv(spec, body, ("T", "sweeps"))
        return constant(kv["T"], _as_int(spec, "sweeps", kv["sweeps"]))
    if kind == "geometric":
        kv = _kv(spec, body, ("T0", "T1", "steps", "sweeps"))
        return geometric(kv["T0"], kv["T1"], _as_int(spec, "steps", kv["steps"]), _as_int(spec, "sweeps", kv["sweeps"]))
    if kind == "paper":
        if not body:
            return paper()
        return paper(_as_int(spec, "sweeps", _kv(spec, body, ("sweeps",))["sweeps"]))
    if spec.endswith(".csv") or Path(spec).is_file():
        return from_csv(spec)
    raise ValueError(
        f"schedule={spec!r} is unknown: use 'constant:T=..,sweeps=..', "
        "'geometric:T0=..,T1=..,steps=..,sweeps=..', 'paper[:sweeps=..]' or a CSV path"
    )


def _as_int(spec: str, key: str, value: float) -> int:
    return check_int(value, f"schedule={spec!r}: {key}", minimum=1, maximum=MAX_SWEEPS, allow_float=True)
