"""Time-dependent rates for the closed pair system (eq. (8) with ``K = K(t)``; issue 11).

The reaction observer of the annealing engine (`meanclust_jax.engine._reactions`) measures the
rate constants ``k1 … k8`` over every record interval. `PiecewiseConstantRates` holds such rates,
constant on each interval of a time grid, and `solve_pairs_with_rates` integrates the closed
system (8) with them: with the measured rates the only approximation left in the model is the
closure, so its error against the data is the closure's alone.
"""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._precision import require_float64
from ..closures import AbstractClosure
from ._system import PairTrajectory, _vector_field, check_times


class PiecewiseConstantRates(eqx.Module):
    """Rates ``K(t) = values[n]`` for ``edges[n] < t ≤ edges[n + 1]`` (constant before the
    first and after the last edge: the first and last values).

    **Fields:**

    - `edges`: interval boundaries ``t_0 < t_1 < … < t_M``, float64 ``(M + 1,)``, model time
      (e.g. the record times of a trajectory, in sweeps).
    - `values`: the rates ``(k1, …, k8)`` on each interval, float64 ``(M, 8)``, per unit of
      model time, finite and non-negative.
    """

    edges: Float[Array, " edges"]
    values: Float[Array, "intervals 8"]

    def __check_init__(self) -> None:
        edges, values = np.asarray(self.edges), np.asarray(self.values)
        if edges.ndim != 1 or edges.shape[0] < 2 or not np.all(np.diff(edges) > 0):
            raise ValueError(f"edges must be a strictly increasing grid of at least 2 times, got shape {edges.shape}")
        if values.shape != (edges.shape[0] - 1, 8):
            raise ValueError(f"values must have shape ({edges.shape[0] - 1}, 8) (one row per interval), "
                             f"got {values.shape}")
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError("values must be finite, non-negative rates (fill intervals without a "
                             "measurement first, e.g. with `PiecewiseConstantRates.from_measured`)")

    def __call__(self, t: Float[Array, ""]) -> Float[Array, " 8"]:
        n = jnp.clip(jnp.searchsorted(self.edges, t, side="left") - 1, 0, self.values.shape[0] - 1)
        return self.values[n]

    @classmethod
    def from_measured(cls, times: np.ndarray, rates: np.ndarray) -> PiecewiseConstantRates:
        """Rates measured per record interval (``rate_measured`` of a trajectory, one value per
        record; the first record, which has no interval, is ignored).

        An interval where a class had no attempt (NaN: no reactant chains of that class at any
        attempted swap) takes the class's previous measured value, or the next one before the
        first measurement, or 0 if the class was never measured.

        **Arguments:**

        - `times`: record times ``(M + 1,)``.
        - `rates`: ``(M + 1, 8)``, row 0 ignored.
        """
        values = np.array(np.asarray(rates, dtype=np.float64)[1:], copy=True)
        for r in range(values.shape[1]):
            col = values[:, r]
            ok = np.flatnonzero(np.isfinite(col))
            if ok.size == 0:
                col[:] = 0.0
                continue
            idx = np.maximum.accumulate(np.where(np.isfinite(col), np.arange(col.size), -1))
            idx[idx < 0] = ok[0]
            values[:, r] = col[idx]
        return cls(edges=jnp.asarray(times, dtype=jnp.float64), values=jnp.asarray(values, dtype=jnp.float64))


def solve_pairs_with_rates(
    rates: PiecewiseConstantRates,
    closure: AbstractClosure,
    C_single: Float[Array, " 2"],
    C_pair0: Float[Array, " 3"],
    ts: Float[Array, " times"],
    *,
    solver: diffrax.AbstractSolver | None = None,
    rtol: float = 1e-8,
    atol: float = 1e-11,
    max_steps: int = 65536,
) -> PairTrajectory:
    """Integrate the closed system (8) with time-dependent rates ``K(t)`` and save at ``ts``.

    The step-size controller restarts at every edge of `rates` (``jump_ts``), where ``K(t)``
    jumps, so each interval is integrated with its own constant rates. The solve never raises
    (``throw=False``); check the result's ``ok``.

    **Arguments:**

    - `rates`: the `PiecewiseConstantRates`.
    - `closure`, `C_single`: as `meanclust_jax.ode.solve_pairs`.
    - `C_pair0`: ``(C_++, C_--, C_+-)`` at ``ts[0]``.
    - `ts`: save times, strictly increasing, model time.
    - `solver`: a diffrax solver (default `diffrax.Kvaerno5`, stiff-capable).
    - `rtol`, `atol`, `max_steps`: of the `diffrax.PIDController` and the solve.

    **Returns:** a `meanclust_jax.ode.PairTrajectory`.

    **Raises:** `ValueError` for a bad time grid or shapes; `RuntimeError` if float64 is off (call
    `meanclust_jax.enable_float64()` first).
    """
    require_float64("solve_pairs_with_rates")
    check_times(ts)
    if np.shape(C_pair0) != (3,) or np.shape(C_single) != (2,):
        raise ValueError(
            f"C_pair0 must have shape (3,) and C_single (2,), got {np.shape(C_pair0)}, {np.shape(C_single)}")
    ts = jnp.asarray(ts, dtype=jnp.float64)
    solver = diffrax.Kvaerno5() if solver is None else solver
    edges = rates.edges
    inner = edges[(edges > ts[0]) & (edges < ts[-1])] if not isinstance(edges, jax.core.Tracer) else edges
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(_vector_field), solver, ts[0], ts[-1], (ts[-1] - ts[0]) / 1000.0,
        jnp.asarray(C_pair0, dtype=jnp.float64), args=(rates, closure, jnp.asarray(C_single, dtype=jnp.float64)),
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol, jump_ts=inner),
        max_steps=max_steps, throw=False,
    )
    ok = (sol.result == diffrax.RESULTS.successful) & jnp.all(jnp.isfinite(sol.ys))
    return PairTrajectory(ts=ts, C_pair=sol.ys, result=sol.result, num_steps=jnp.asarray(sol.stats["num_steps"]), ok=ok)


__all__ = ["PiecewiseConstantRates", "solve_pairs_with_rates"]
