"""One visual language for every figure of the reports: a colour per closure, per species and per
pair type, and axis labels with units.

A closure keeps its colour in every figure (Figs. 8–14): `closure_colour` maps a label such as
``"OA-hard-1/3"``, ``"PA @ x=1/2"`` or ``"OA-hard-1/2 NUTS"`` to the colour of its closure (the
suffixes that name a composition or a sampler are ignored), falling back to the colour of its
family (``PA``, ``SA``, ``OA-hard``, ``OA-soft``, ``OA``, ``consistent``, ``sparse``), so a new
closure of a known family is recognisable at once. Labels of no known family get a colour of
`EXTRA_COLOURS` chosen from the label's text (stable across figures and runs).
"""

from __future__ import annotations

import re
import zlib

#: Colours of the closures the study draws. PA is red as in the paper's figures; each OA family
#: has a dark (calibrated at x = 1/3) and a light (x = 1/2) shade.
CLOSURE_COLOURS: dict[str, str] = {
    "PA": "#d62728",
    "SA": "#2ca02c",
    "OA-hard-1/3": "#08519c",
    "OA-hard-1/2": "#6baed6",
    "OA-soft-1/3": "#a63603",
    "OA-soft-1/2": "#fd8d3c",
    "OA-1/3": "#08519c",
    "OA-1/2": "#6baed6",
}

#: Colours of closure families, for labels not in `CLOSURE_COLOURS` (matched as a prefix,
#: case-insensitively, longest first).
FAMILY_COLOURS: dict[str, str] = {
    "PA": CLOSURE_COLOURS["PA"],
    "SA": CLOSURE_COLOURS["SA"],
    "OA-hard": "#3182bd",
    "OA-soft": "#e6550d",
    "OA": "#3182bd",
    "consistent": "#7b3294",
    "CC": "#7b3294",
    "sparse": "#8c6d31",
}

#: Fallback colours for closures of no known family.
EXTRA_COLOURS: tuple[str, ...] = ("#e7298a", "#66a61e", "#a6761d", "#1b9e77", "#7570b3", "#666666")

#: Colours of the recorded data of up to four trajectories (Fig. 8: paper grey and yellow).
DATA_COLOURS: tuple[str, ...] = ("#7f7f7f", "#d4a017", "#17becf", "#bc80bd")

#: Colours of the two species, ``+1`` (Mn) and ``-1`` (Li), on lattice pictures.
SPECIES_COLOURS: dict[int, str] = {1: "#6a3d9a", -1: "#f1c232"}

#: Colours of the pair concentrations ``C_++``, ``C_--``, ``C_+-`` (Fig. 2).
PAIR_COLOURS: dict[str, str] = {"++": "#6a3d9a", "--": "#d4a017", "+-": "#1b9e77"}

#: Unit label of concentrations and of quantities built from them (``J_τ``, ``ℰ``).
DIMENSIONLESS = "dimensionless"
#: Unit label of time.
TIME_UNIT = "sweeps"
#: Unit label of rates.
RATE_UNIT = "1/sweep"

_SUFFIX = re.compile(r"\s*(@.*|\(.*\)|\bx\s*=.*|\b(?:NUTS|DRMH|DR-MH|nuts|drmh)\b.*)$")


def closure_name(label: str) -> str:
    """The closure a figure label refers to: ``"PA @ x=1/2"``, ``"PA x = 1/2"`` → ``"PA"``,
    ``"OA-hard-1/2 NUTS"`` → ``"OA-hard-1/2"``, ``"SA (+5.0% vs PA)"`` → ``"SA"``; other labels
    unchanged (stripped)."""
    return _SUFFIX.sub("", str(label)).strip()


def closure_colour(label: str) -> str:
    """The colour of a closure in every figure (a Matplotlib colour string).

    **Arguments:**

    - `label`: a closure label, possibly with a composition (``"@ x=1/3"``) or sampler
      (``"NUTS"``, ``"DRMH"``) suffix.

    **Returns:**

    The colour of the closure (`CLOSURE_COLOURS`), else of its family (`FAMILY_COLOURS`), else
    one of `EXTRA_COLOURS` chosen by a checksum of the name.
    """
    name = closure_name(label)
    if name in CLOSURE_COLOURS:
        return CLOSURE_COLOURS[name]
    for family in sorted(FAMILY_COLOURS, key=len, reverse=True):
        if name.lower().startswith(family.lower()):
            return FAMILY_COLOURS[family]
    return EXTRA_COLOURS[zlib.crc32(name.encode("utf-8")) % len(EXTRA_COLOURS)]


def with_unit(quantity: str, unit: str) -> str:
    """An axis label ``"quantity (unit)"``."""
    return f"{quantity} ({unit})"


__all__ = [
    "CLOSURE_COLOURS",
    "DATA_COLOURS",
    "DIMENSIONLESS",
    "EXTRA_COLOURS",
    "FAMILY_COLOURS",
    "PAIR_COLOURS",
    "RATE_UNIT",
    "SPECIES_COLOURS",
    "TIME_UNIT",
    "closure_colour",
    "closure_name",
    "with_unit",
]
