"""The closures read trajectories with the package's one validated reader.

`read_trajectories`, `Trajectories`, `check_concentrations` and `trapezoid_weights` live in
`meanclust_jax.dataset`; they are imported here only so that code written against the earlier
layout (``meanclust_jax.closures._data``) keeps working.
"""

from __future__ import annotations

from ..dataset import (
    Trajectories as Trajectories,
    check_concentrations as check_concentrations,
    read_trajectories as read_trajectories,
    trapezoid_weights as trapezoid_weights,
)
