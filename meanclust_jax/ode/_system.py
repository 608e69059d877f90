"""The closed mean-cluster ODE for the pair concentrations (paper eqs. (5), (7), (8); docs/model.md §6).

With ``∠`` for angled and ``—`` for linear triplets the hierarchy truncated at pairs reads

    dC++/dt = 4 k1 C∠(+-+) + 2 k2 C—(+-+) − 4 k3 C∠(++-) − 2 k4 C—(++-)
    dC--/dt = 4 k5 C∠(-+-) + 2 k6 C—(-+-) − 4 k7 C∠(--+) − 2 k8 C—(--+)
    dC+-/dt = −(dC++/dt + dC--/dt) / 2

and is closed (eq. 8) by replacing every triplet concentration with a closure's ``g_τ``. The
third equation is the paper's eq. (5c) rewritten with the normalisation (6), so
``C++ + C-- + 2C+- = 1`` is a linear invariant that every Runge–Kutta method keeps up to the
tolerance of its nonlinear (Newton) solves.

!!! note "float64"
    Everything here runs in float64 (``meanclust_jax`` enables ``jax_enable_x64``); in float32
    diffrax's adaptive stepping produces NaN gradients and runaway step counts.
"""

from __future__ import annotations

from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from .._labels import TRIPLET_INDEX
from .._precision import require_float64
from .._validate import check_float, check_int
from ..closures import AbstractClosure

#: Names of the eight reaction rates of paper Figs. 5 and 6, in the order of ``K``.
RATE_NAMES: tuple[str, ...] = ("k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8")
#: Names of the four equilibrium constants of eq. (7).
EQUILIBRIUM_NAMES: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4")

_ANG_PMP = TRIPLET_INDEX["ang:+-+"]
_LIN_PMP = TRIPLET_INDEX["lin:+-+"]
_ANG_PPM = TRIPLET_INDEX["ang:++-"]
_LIN_PPM = TRIPLET_INDEX["lin:++-"]
_ANG_MPM = TRIPLET_INDEX["ang:-+-"]
_LIN_MPM = TRIPLET_INDEX["lin:-+-"]
_ANG_MMP = TRIPLET_INDEX["ang:--+"]
_LIN_MMP = TRIPLET_INDEX["lin:--+"]


def _is_concrete(x: object) -> bool:
    """Whether ``x`` holds concrete values (not a tracer under jit/grad/vmap)."""
    return not isinstance(x, jax.core.Tracer)


def check_rates(K: ArrayLike, name: str = "K") -> None:
    """Validate a vector of reaction rates at trace time.

    Only concrete values are checked; under `jax.jit` the loss returns ``+inf`` instead.

    **Arguments:**

    - `K`: the eight rates ``(k1, ..., k8)``, shape ``(8,)`` (or ``(*batch, 8)``), in units of
      one over the model's time unit.
    - `name`: the parameter name used in the error message.

    **Raises:**

    - `ValueError` if the last axis is not of length 8, or any rate is negative or non-finite.
    """
    shape = np.shape(K)
    if len(shape) == 0 or shape[-1] != 8:
        raise ValueError(f"{name} must have shape (8,) (the rates k1..k8), got shape {shape}")
    if _is_concrete(K):
        arr = np.asarray(K, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite rates in [0, inf), got {arr.tolist()}")
        if np.any(arr < 0):
            raise ValueError(f"{name} must be non-negative rates in [0, inf), got {arr.tolist()}")


def check_times(ts: ArrayLike, name: str = "ts") -> None:
    """Validate a time grid: one-dimensional, at least two points, finite, strictly increasing.

    **Raises:**

    - `ValueError` naming ``name`` and the allowed range.
    """
    shape = np.shape(ts)
    if len(shape) != 1 or shape[0] < 2:
        raise ValueError(
            f"{name} must be a 1-D grid of at least 2 times, got shape {shape}"
        )
    if _is_concrete(ts):
        arr = np.asarray(ts, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite times, got non-finite values")
        if np.any(np.diff(arr) <= 0):
            raise ValueError(f"{name} must be strictly increasing")


def check_tolerances(rtol: float, atol: float) -> None:
    """Validate the solver tolerances: finite numbers in ``(0, 1)``.

    **Raises:** `ValueError` naming ``rtol`` or ``atol`` and the allowed range (a negative
    tolerance used to be accepted and silently changed the solution).
    """
    check_float(rtol, "rtol", minimum=0.0, maximum=1.0, open_min=True, open_max=True)
    check_float(atol, "atol", minimum=0.0, maximum=1.0, open_min=True, open_max=True)


def pair_rhs(
    K: Float[Array, " 8"],
    closure: AbstractClosure,
    C_single: Float[Array, " 2"],
    C_pair: Float[Array, "*batch 3"],
) -> Float[Array, "*batch 3"]:
    """Right-hand side of the closed system (8) (docs/model.md §6).

    **Arguments:**

    - `K`: rates ``(k1, ..., k8)``, shape ``(8,)``, float64, units of 1 / time.
    - `closure`: a `meanclust_jax.closures.AbstractClosure` giving the 16 triplet
      concentrations (already multiplied by the shape weights).
    - `C_single`: singlet concentrations ``(C_+, C_-)``, shape ``(2,)``, constant in time.
    - `C_pair`: pair concentrations ``(C_++, C_--, C_+-)``, shape ``(*batch, 3)``.

    **Returns:**

    ``d(C_++, C_--, C_+-)/dt``, shape ``(*batch, 3)``.
    """
    C_single = jnp.broadcast_to(C_single, C_pair.shape[:-1] + (2,))
    g = closure(C_single, C_pair)
    k = [K[..., i] for i in range(8)]
    dpp = (
        4 * k[0] * g[..., _ANG_PMP]
        + 2 * k[1] * g[..., _LIN_PMP]
        - 4 * k[2] * g[..., _ANG_PPM]
        - 2 * k[3] * g[..., _LIN_PPM]
    )
    dmm = (
        4 * k[4] * g[..., _ANG_MPM]
        + 2 * k[5] * g[..., _LIN_MPM]
        - 4 * k[6] * g[..., _ANG_MMP]
        - 2 * k[7] * g[..., _LIN_MMP]
    )
    dpm = -0.5 * (dpp + dmm)
    return jnp.stack([dpp, dmm, dpm], axis=-1)


def _safe_ratio(num: Array, den: Array) -> Array:
    """``num / den`` with ``+inf`` (or NaN-free 0/0 → +inf) where ``den == 0``; safe gradients."""
    ok = den > 0
    safe_den = jnp.where(ok, den, 1.0)
    return jnp.where(ok, num / safe_den, jnp.inf)


def equilibrium_constants(K: Float[Array, "*batch 8"]) -> Float[Array, "*batch 4"]:
    """Equilibrium constants of eq. (7): ``Q(K) = (k1/k3, k2/k4, k5/k7, k6/k8)``.

    **Arguments:**

    - `K`: rates, shape ``(*batch, 8)``.

    **Returns:**

    ``(Q1, Q2, Q3, Q4)``, shape ``(*batch, 4)``, dimensionless; ``+inf`` where a denominator
    rate is zero.
    """
    K = jnp.asarray(K)
    num = jnp.stack([K[..., 0], K[..., 1], K[..., 4], K[..., 5]], axis=-1)
    den = jnp.stack([K[..., 2], K[..., 3], K[..., 6], K[..., 7]], axis=-1)
    return _safe_ratio(num, den)


def closure_equilibrium_constants(
    closure: AbstractClosure,
    C_single: Float[Array, " 2"],
    C_pair: Float[Array, "*batch 3"],
) -> Float[Array, "*batch 4"]:
    """The equilibrium constants (7) predicted by a closure at given pair concentrations.

    ``Q̂ = (g∠(++-)/g∠(+-+), g—(++-)/g—(+-+), g∠(--+)/g∠(-+-), g—(--+)/g—(-+-))`` — the target of
    the second term of the loss (17), evaluated at the data's final (equilibrium) pairs.

    **Arguments:**

    - `closure`: the closure.
    - `C_single`: ``(C_+, C_-)``, shape ``(2,)``.
    - `C_pair`: ``(C_++, C_--, C_+-)``, shape ``(*batch, 3)``.

    **Returns:**

    ``Q̂``, shape ``(*batch, 4)``; ``+inf`` where a denominator triplet vanishes.
    """
    C_pair = jnp.asarray(C_pair)
    C_single = jnp.broadcast_to(jnp.asarray(C_single), C_pair.shape[:-1] + (2,))
    g = closure(C_single, C_pair)
    num = jnp.stack([g[..., _ANG_PPM], g[..., _LIN_PPM], g[..., _ANG_MMP], g[..., _LIN_MMP]], -1)
    den = jnp.stack([g[..., _ANG_PMP], g[..., _LIN_PMP], g[..., _ANG_MPM], g[..., _LIN_MPM]], -1)
    return _safe_ratio(num, den)


class PairTrajectory(eqx.Module):
    """Solution of the closed pair system on a time grid.

    **Fields:**

    - `ts`: save times, shape ``(times,)``, float64, model time units.
    - `C_pair`: ``(C_++, C_--, C_+-)`` at ``ts``, shape ``(times, 3)``, float64. Entries after a
      solver failure are whatever diffrax left there (``inf``); check `ok`.
    - `result`: the diffrax `RESULTS` of the solve (``successful``, ``max_steps_reached``, ...).
    - `num_steps`: accepted plus rejected steps taken, int scalar.
    - `ok`: bool scalar, True iff the solve succeeded and every saved value is finite.
    """

    ts: Float[Array, " times"]
    C_pair: Float[Array, "times 3"]
    result: diffrax.RESULTS
    num_steps: Int[Array, ""]
    ok: Bool[Array, ""]


#: The arguments of the vector field: rates (constant, or a function of time such as
#: `meanclust_jax.ode.PiecewiseConstantRates`), the closure and the singlets.
_FieldArgs = tuple[
    Float[Array, " 8"] | Callable[[Float[Array, ""]], Float[Array, " 8"]], AbstractClosure, Float[Array, " 2"]
]

#: The closed system is evaluated on the state clipped into ``[PAIR_FLOOR, 1]`` (see `_vector_field`).
PAIR_FLOOR: float = 1e-12


def _vector_field(t: Float[ArrayLike, ""], y: Float[Array, " 3"], args: _FieldArgs) -> Float[Array, " 3"]:
    """Eq. (8) on the physical range, continued finitely outside it (one closure evaluation).

    Pair concentrations lie in ``[0, 1]``; a trial state of a solver (a Runge–Kutta stage, a
    Newton iterate of a stiff solver, a blow-up at extreme rates) can leave that range, where a
    fractional power of a negative number makes eq. (8) NaN and an implicit solver's linear solve
    *raises* even with ``throw=False``. The closure is therefore always evaluated on
    ``clip(y, PAIR_FLOOR, 1)`` (NaN entries replaced by the floor): inside
    ``[PAIR_FLOOR, 1]³`` this is eq. (8) exactly; outside, the field is finite and continuous, so
    a solve that leaves the range ends as an ordinary failure (step rejections, the step
    budget) and the loss reports ``+inf``. (Before, the closure was evaluated twice per
    right-hand side to clip only where the field was not finite.)
    """
    K, closure, C_single = args
    K = K(t) if callable(K) else K  # time-dependent rates (`meanclust_jax.ode.PiecewiseConstantRates`)
    state = jnp.clip(jnp.where(jnp.isnan(y), PAIR_FLOOR, y), PAIR_FLOOR, 1.0)
    return pair_rhs(K, closure, C_single, state)


#: Step budget of the explicit first attempt of ``solver="auto"``.
AUTO_EXPLICIT_STEPS: int = 1024


def _diffeqsolve(
    solver: diffrax.AbstractSolver,
    y0: Float[Array, " 3"],
    args: _FieldArgs,
    t0: Float[Array, ""],
    t1: Float[Array, ""],
    dt0: float | Float[Array, ""],
    ts: Float[Array, " T"],
    rtol: float,
    atol: float,
    max_steps: int,
    adjoint: diffrax.AbstractAdjoint,
) -> tuple[Float[Array, "T 3"], diffrax.RESULTS, Int[Array, ""], Bool[Array, ""]]:
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(_vector_field),
        solver,
        t0,
        t1,
        dt0,
        y0,
        args=args,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        adjoint=adjoint,
        max_steps=max_steps,
        throw=False,
    )
    ok = (sol.result == diffrax.RESULTS.successful) & jnp.all(jnp.isfinite(sol.ys))
    return sol.ys, sol.result, jnp.asarray(sol.stats["num_steps"]), ok


def solve_pairs(
    K: Float[Array, " 8"],
    closure: AbstractClosure,
    C_single: Float[Array, " 2"],
    C_pair0: Float[Array, " 3"],
    ts: Float[Array, " times"],
    *,
    t0: float | Float[Array, ""] | None = None,
    solver: str | diffrax.AbstractSolver = "auto",
    rtol: float = 1e-7,
    atol: float = 1e-10,
    max_steps: int = 4096,
    dt0: float | None = None,
    adjoint: diffrax.AbstractAdjoint | None = None,
) -> PairTrajectory:
    """Integrate the closed system (8) with diffrax (adaptive steps) and save at ``ts``.

    The default ``solver="auto"`` is stiff-capable and cheap where the problem is not stiff: it
    first tries the explicit `diffrax.Tsit5` with a budget of `AUTO_EXPLICIT_STEPS` steps and,
    only if that fails (stiffness makes an explicit method exhaust its budget, or the solution
    is non-finite), re-solves with the L-stable implicit `diffrax.Kvaerno5`. Without `jax.vmap`
    the switch is a `jax.lax.cond`, so a non-stiff solve costs only the explicit attempt
    (≈0.3 ms on a 2-core CPU versus ≈5 ms for Kvaerno5); under `jax.vmap` both branches are
    evaluated (pass ``solver=diffrax.Tsit5()`` for batched non-stiff work). Any diffrax solver
    may be passed instead.

    The solve never raises on failure (``throw=False``) and is bounded by ``max_steps``:
    inspect `PairTrajectory.ok` (the loss (17) turns a failure into ``F = +inf``).

    **Arguments:**

    - `K`: rates ``(k1, ..., k8)``, shape ``(8,)``, float64, units 1 / model time. Concrete
      values are validated (finite, non-negative).
    - `closure`: the closure (any `AbstractClosure`; its array fields may be differentiated).
    - `C_single`: ``(C_+, C_-)``, shape ``(2,)``.
    - `C_pair0`: initial ``(C_++, C_--, C_+-)`` at ``t0``, shape ``(3,)``.
    - `ts`: save times, shape ``(times,)``, strictly increasing, model time units.
    - `t0`: initial time; defaults to ``ts[0]``. Must not exceed ``ts[0]``.
    - `solver`: ``"auto"`` (default, see above) or a diffrax solver instance.
    - `rtol`, `atol`: tolerances of the `diffrax.PIDController`.
    - `max_steps`: bound on the number of steps of the (implicit) solve: failure beyond it,
      never an unbounded loop.
    - `dt0`: initial step; default ``(ts[-1] - t0) / 100``.
    - `adjoint`: diffrax adjoint; default `diffrax.RecursiveCheckpointAdjoint()`.

    **Returns:**

    A `PairTrajectory`; its ``num_steps`` counts the steps of every attempt.

    **Raises:**

    - `ValueError` for bad shapes, negative/non-finite rates or a non-increasing time grid.
    - `RuntimeError` if float64 is off (call `meanclust_jax.enable_float64()` first).
    """
    require_float64("solve_pairs")
    check_rates(K)
    check_times(ts)
    if np.shape(C_pair0) != (3,):
        raise ValueError(
            f"C_pair0 must have shape (3,) = (C_++, C_--, C_+-), got {np.shape(C_pair0)}"
        )
    if np.shape(C_single) != (2,):
        raise ValueError(f"C_single must have shape (2,) = (C_+, C_-), got {np.shape(C_single)}")
    max_steps = check_int(max_steps, "max_steps", minimum=1)
    check_tolerances(rtol, atol)
    if not (isinstance(solver, diffrax.AbstractSolver) or (isinstance(solver, str) and solver == "auto")):
        raise ValueError(f"solver must be 'auto' or a diffrax solver instance, got {solver!r}")
    K = jnp.asarray(K, dtype=jnp.float64)
    ts = jnp.asarray(ts, dtype=jnp.float64)
    y0 = jnp.asarray(C_pair0, dtype=jnp.float64)
    C_single = jnp.asarray(C_single, dtype=jnp.float64)
    if t0 is not None and _is_concrete(t0) and _is_concrete(ts):
        if not float(t0) <= float(np.asarray(ts)[0]):
            raise ValueError(f"t0 must not exceed ts[0] = {float(np.asarray(ts)[0])}, got {float(t0)}")
    t0 = ts[0] if t0 is None else jnp.asarray(t0, dtype=jnp.float64)
    t1 = ts[-1]
    if dt0 is None:
        dt0 = (t1 - t0) / 100.0
    adjoint = diffrax.RecursiveCheckpointAdjoint() if adjoint is None else adjoint
    args = (K, closure, C_single)
    common = (y0, args, t0, t1, dt0, ts, rtol, atol)
    if isinstance(solver, str):
        explicit = _diffeqsolve(
            diffrax.Tsit5(), *common, min(int(max_steps), AUTO_EXPLICIT_STEPS), adjoint
        )

        def _implicit(_: None) -> tuple[Float[Array, "T 3"], diffrax.RESULTS, Int[Array, ""], Bool[Array, ""]]:
            ys, result, n, ok = _diffeqsolve(
                diffrax.Kvaerno5(), *common, int(max_steps), adjoint
            )
            return ys, result, n + explicit[2], ok

        ys, result, num_steps, ok = jax.lax.cond(
            explicit[3], lambda _: explicit, _implicit, None
        )
    else:
        ys, result, num_steps, ok = _diffeqsolve(solver, *common, int(max_steps), adjoint)
    return PairTrajectory(ts=ts, C_pair=ys, result=result, num_steps=num_steps, ok=ok)


__all__ = [
    "AUTO_EXPLICIT_STEPS",
    "EQUILIBRIUM_NAMES",
    "PairTrajectory",
    "RATE_NAMES",
    "check_rates",
    "check_times",
    "check_tolerances",
    "closure_equilibrium_constants",
    "equilibrium_constants",
    "pair_rhs",
    "solve_pairs",
]
