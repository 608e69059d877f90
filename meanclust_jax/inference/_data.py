"""Observed pair trajectories, the data ``Ĉ(t)`` of the inverse problem (paper Section V)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._precision import require_float64
from .._validate import check_float
from ..dataset import check_concentrations, read_trajectories
from ..ode import check_times

if TYPE_CHECKING:
    import xarray as xr


class PairData(eqx.Module):
    """An observed trajectory of pair concentrations on a time grid.

    **Fields:**

    - `times`: shape ``(times,)``, float64, strictly increasing, in *model* time units (the
      recorded sweeps multiplied by the ``time_scale`` of `PairData.from_dataset`). Rates
      inferred from these data are in units of one over this unit.
    - `C_single`: ``(C_+, C_-)``, shape ``(2,)``, float64 (constant in time).
    - `C_pair`: ``(C_++, C_--, C_+-)``, shape ``(times, 3)``, float64.
    - `C_pair_se`: optional standard error of `C_pair` at each time, shape ``(times, 3)``:
      the standard error of the replica mean when `C_pair` averages several replicas (the
      known noise floor of the Gaussian likelihood); ``None`` otherwise.
    - `C_pair_replicas`: optional per-replica pairs, shape ``(replicas, times, 3)``, whose mean
      is `C_pair` (fits with the replicas as separate observations); ``None`` otherwise.

    **Raises:**

    - `ValueError` (at construction) if the time grid is not 1-D, strictly increasing and
      finite with at least two points, if ``C_pair`` is not on the same grid (mismatched
      lengths), if a concentration is non-finite or outside ``[0, 1]`` (``C_single``: ``(0, 1)``,
      both species present; `meanclust_jax.dataset.check_concentrations`, the check of every
      reader), or if the optional fields do not fit `C_pair`.
    - `RuntimeError` if float64 is off (call `meanclust_jax.enable_float64()` first).
    """

    times: Float[Array, " times"]
    C_single: Float[Array, " 2"]
    C_pair: Float[Array, "times 3"]
    C_pair_se: Float[Array, "times 3"] | None = None
    C_pair_replicas: Float[Array, "replicas times 3"] | None = None

    def __init__(
        self,
        times: ArrayLike,
        C_single: ArrayLike,
        C_pair: ArrayLike,
        C_pair_se: ArrayLike | None = None,
        C_pair_replicas: ArrayLike | None = None,
    ) -> None:
        require_float64("PairData")
        check_times(times, "times")
        n = np.shape(times)[0]
        if np.shape(C_pair) != (n, 3):
            raise ValueError(
                f"C_pair must have shape (len(times), 3) = ({n}, 3): the pair data and the time "
                f"grid are mismatched, got C_pair shape {np.shape(C_pair)}"
            )
        if np.shape(C_single) != (2,):
            raise ValueError(f"C_single must have shape (2,) = (C_+, C_-), got {np.shape(C_single)}")
        if C_pair_se is not None and np.shape(C_pair_se) != (n, 3):
            raise ValueError(f"C_pair_se must have the shape of C_pair ({n}, 3), got {np.shape(C_pair_se)}")
        if C_pair_replicas is not None and (np.ndim(C_pair_replicas) != 3 or np.shape(C_pair_replicas)[1:] != (n, 3)):
            raise ValueError(
                f"C_pair_replicas must have shape (replicas, {n}, 3), got {np.shape(C_pair_replicas)}"
            )
        for name, value in (("C_pair", C_pair), ("C_pair_replicas", C_pair_replicas)):
            if value is not None and not isinstance(value, jax.core.Tracer):
                check_concentrations(name, value)
        if not isinstance(C_single, jax.core.Tracer):
            # Both species present: the closures divide by C_+ and C_- (a pure phase has no
            # pair dynamics, and the pair approximation would be 0/0 there).
            check_concentrations("C_single", C_single, positive=True)
            if np.any(np.asarray(C_single, dtype=np.float64) >= 1):
                raise ValueError(
                    f"C_single must lie in (0, 1) (both species present), got {np.asarray(C_single).tolist()}"
                )
        if C_pair_se is not None and not isinstance(C_pair_se, jax.core.Tracer):
            se = np.asarray(C_pair_se, dtype=np.float64)
            if not np.all(np.isfinite(se)) or np.any(se < 0):
                raise ValueError("C_pair_se must be finite standard errors >= 0")
        self.times = jnp.asarray(times, dtype=jnp.float64)
        self.C_single = jnp.asarray(C_single, dtype=jnp.float64)
        self.C_pair = jnp.asarray(C_pair, dtype=jnp.float64)
        self.C_pair_se = None if C_pair_se is None else jnp.asarray(C_pair_se, dtype=jnp.float64)
        self.C_pair_replicas = (
            None if C_pair_replicas is None else jnp.asarray(C_pair_replicas, dtype=jnp.float64)
        )

    @property
    def num_times(self) -> int:
        """Number of data times."""
        return int(self.times.shape[0])

    @classmethod
    def from_dataset(
        cls,
        ds: xr.Dataset,
        *,
        time_scale: float = 1.0,
        replica: int | str = "mean",
        t_start: float | None = None,
        t_stop: float | None = None,
    ) -> PairData:
        """Build `PairData` from an annealing trajectory (an `xarray.Dataset`).

        The dataset has a coordinate ``time`` (sweeps) and variables ``C_single(time, species)``
        and ``C_pair(time, pair)`` with their label coordinates, optionally with a ``replica``
        dimension; it is read and checked by `meanclust_jax.dataset.read_trajectories`. Other
        variables (``C_triplet``, ``temperature``) are ignored.

        **Arguments:**

        - `ds`: the dataset.
        - `time_scale`: model time = ``time_scale × sweeps`` (``> 0``). With the default 1 the
          rates are per sweep; e.g. ``1 / total_sweeps`` maps the run onto ``[0, 1]``.
        - `replica`: ``"mean"`` averages the concentrations over the ``replica`` dimension
          (the replicas are independent realisations of the same process, so their mean is the
          best estimate of the lattice-average trajectory) and keeps the standard error of that
          mean (`C_pair_se`) and the replicas themselves (`C_pair_replicas`); an integer selects
          one replica.
        - `t_start`, `t_stop`: optional window in sweeps (inclusive).

        **Returns:**

        A `PairData` with ``C_single`` averaged over time.

        **Raises:**

        - `ValueError` if ``ds`` is not a valid trajectory (checked by
          `meanclust_jax.dataset.read_trajectories`: variables, labels, ``time`` strictly
          increasing, concentrations finite and in ``[0, 1]``), for an invalid ``replica`` or
          ``time_scale``, or a window with fewer than two times.
        """
        traj = read_trajectories(ds, need_triplets=False, name="ds")
        if traj.batch_dims not in ((), ("replica",)):
            raise ValueError(
                f"ds: the concentrations may have a 'replica' dimension besides 'time' and their "
                f"labels, nothing else; got the extra dims {traj.batch_dims}"
            )
        time_scale = check_float(time_scale, "time_scale", minimum=0.0, open_min=True)
        C_single, C_pair = traj.C_single[0], traj.C_pair[0]
        reps = None
        if traj.batch_dims:
            R = traj.num_trajectories
            if isinstance(replica, str) and replica == "mean":
                C_single, C_pair = traj.C_single.mean(axis=0), traj.C_pair.mean(axis=0)
                reps = traj.C_pair if R > 1 else None
            elif isinstance(replica, (int, np.integer)) and not isinstance(replica, bool) and 0 <= replica < R:
                C_single, C_pair = traj.C_single[int(replica)], traj.C_pair[int(replica)]
            else:
                raise ValueError(f"replica must be 'mean' or an integer in [0, {R - 1}], got {replica!r}")
        elif not (isinstance(replica, str) and replica == "mean") and not (
            isinstance(replica, (int, np.integer)) and not isinstance(replica, bool) and replica == 0
        ):
            raise ValueError(
                f"replica={replica!r}: the dataset holds a single trajectory (no 'replica' dimension); "
                "use 'mean' or 0"
            )
        keep = np.ones(traj.times.shape, dtype=bool)
        if t_start is not None:
            keep &= traj.times >= t_start
        if t_stop is not None:
            keep &= traj.times <= t_stop
        if keep.sum() < 2:
            raise ValueError(
                f"t_start={t_start}, t_stop={t_stop}: the window holds {int(keep.sum())} of the "
                f"{keep.size} recorded times; at least 2 are needed"
            )
        C_single, C_pair = C_single[keep], C_pair[keep]
        se = None
        if reps is not None:
            reps = reps[:, keep]
            se = reps.std(axis=0, ddof=1) / np.sqrt(reps.shape[0])
        times = traj.times[keep] * time_scale
        return cls(times=times, C_single=np.mean(C_single, axis=0), C_pair=C_pair,
                   C_pair_se=se, C_pair_replicas=reps)


__all__ = ["PairData"]
