"""The error functional ``F(K)`` of the rate inverse problem (paper eq. (17); docs/model.md §7).

    F(K) = ½ ∫_{t0}^{T} |C(t; K) − Ĉ(t)|² dt + a |Q(K) − Q̂|²

with ``C = (C++, C--, C+-)`` the closed system (8) started from the data's first pairs,
``Ĉ`` the data, ``Q(K) = (k1/k3, k2/k4, k5/k7, k6/k8)`` (eq. 7) and ``Q̂`` the same four ratios of
the closure's triplets evaluated at the data's final (equilibrium) pair concentrations. The
integral is the trapezoid rule on the data's time grid (the model is saved exactly there).

A solver failure (``max_steps`` reached, non-finite solution), a negative or non-finite rate,
or a zero denominator rate gives ``F = +inf``, never a NaN and never an exception inside
`jax.jit`; there the gradient (reverse and forward mode) is zero. Where ``F`` is finite its
gradient is finite.

**Solver.** ``F`` is a differentiable objective, so the closed system is solved by an
*explicit* method: ``solver="auto"`` means `diffrax.Tsit5` with the problem's ``max_steps``.
Rates so large that the system is stiffer than the step budget allows (relaxation far faster
than the data's time resolution) give ``F = +inf``: derivatives through an implicit solver's
Newton iterations are not reliable there (lineax raises on the non-finite linear systems of
rejected steps), and a value that depended on which solver branch ran made ``F`` depend on how
it was compiled. An implicit solver can still be passed explicitly (values; gradients at
your risk), and `meanclust_jax.ode.solve_pairs` keeps its stiff fallback for simulation.
"""

from __future__ import annotations

import dataclasses

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._precision import require_float64
from .._validate import check_int
from ..closures import AbstractClosure
from ..ode import (
    PairTrajectory,
    check_rates,
    check_tolerances,
    closure_equilibrium_constants,
    equilibrium_constants,
    solve_pairs,
    trapezoid_misfit,
)
from ._data import PairData


class RateProblem(eqx.Module):
    """The inverse problem (18): data, closure, weight and solver settings; ``F`` is `loss`.

    The module is a pytree: `jax.grad` / `equinox.filter_grad` differentiate `loss` in the rates
    and, through the `closure` field, in a closure's exponents (e.g. an
    `OptimalApproximation`).

    **Fields:**

    - `data`: the observed trajectory (`PairData`).
    - `closure`: the closure used in the ODE and (unless `Q_hat` is given) in ``Q̂``.
    - `weight_a`: the weight ``a ≥ 0`` of the equilibrium term of eq. (17), float64 scalar.
    - `Q_hat`: optional fixed ``Q̂``, shape ``(4,)``; ``None`` computes it from the closure at
      the data's last time.
    - `solver`: ``"auto"`` (explicit `diffrax.Tsit5`, see the module docstring) or a diffrax
      solver instance.
    - `rtol`, `atol`: tolerances of the step-size controller, each in ``(0, 1)``.
    - `max_steps`: the step budget (``>= 1``); beyond it ``F = +inf``.
    - `adjoint`: diffrax adjoint of the solve; ``None`` (default) is
      `diffrax.RecursiveCheckpointAdjoint` (reverse mode: `jax.grad`). `forward_mode` switches
      to `diffrax.ForwardMode` for `jax.jacfwd`, which for the eight rates is about twice as
      fast to evaluate and to compile; it is what `multistart` and NUTS use.
    """

    data: PairData
    closure: AbstractClosure
    weight_a: Float[Array, ""]
    Q_hat: Float[Array, " 4"] | None = None
    solver: str | diffrax.AbstractSolver = eqx.field(static=True, default="auto")
    rtol: float = eqx.field(static=True, default=1e-7)
    atol: float = eqx.field(static=True, default=1e-10)
    max_steps: int = eqx.field(static=True, default=4096)
    adjoint: diffrax.AbstractAdjoint | None = eqx.field(static=True, default=None)

    def __check_init__(self) -> None:
        if not isinstance(self.data, PairData):
            raise ValueError(f"data must be a PairData, got {type(self.data).__name__}")
        if not isinstance(self.closure, AbstractClosure):
            raise ValueError(
                f"closure must be a meanclust_jax.closures.AbstractClosure, got "
                f"{type(self.closure).__name__}"
            )
        if not isinstance(self.weight_a, jax.core.Tracer):
            a = np.asarray(self.weight_a, dtype=np.float64)
            if a.shape != () or not np.isfinite(a) or a < 0:
                raise ValueError(f"weight_a must be a finite scalar in [0, inf), got {self.weight_a!r}")
        if self.Q_hat is not None and np.shape(self.Q_hat) != (4,):
            raise ValueError(f"Q_hat must have shape (4,), got {np.shape(self.Q_hat)}")
        check_int(self.max_steps, "max_steps", minimum=1)
        check_tolerances(self.rtol, self.atol)
        if not (isinstance(self.solver, diffrax.AbstractSolver) or self.solver == "auto"):
            raise ValueError(f"solver must be 'auto' or a diffrax solver instance, got {self.solver!r}")

    @property
    def loss_solver(self) -> diffrax.AbstractSolver:
        """The solver `predict` and `loss` use: `diffrax.Tsit5` for ``"auto"``, else `solver`."""
        return diffrax.Tsit5() if isinstance(self.solver, str) else self.solver

    def equilibrium_target(self) -> Float[Array, " 4"]:
        """``Q̂``: the closure's equilibrium ratios at the data's final pairs (or `Q_hat`)."""
        if self.Q_hat is not None:
            return jnp.asarray(self.Q_hat, dtype=jnp.float64)
        return closure_equilibrium_constants(self.closure, self.data.C_single, self.data.C_pair[-1])

    def predict(self, K: Float[Array, " 8"]) -> PairTrajectory:
        """Solve the closed system (8) with rates ``K`` on the data's time grid.

        **Arguments:**

        - `K`: rates, shape ``(8,)``, units 1 / model time.

        **Returns:**

        A `meanclust_jax.ode.PairTrajectory` on ``data.times`` (solved with `loss_solver`).
        """
        return solve_pairs(
            K,
            self.closure,
            self.data.C_single,
            self.data.C_pair[0],
            self.data.times,
            solver=self.loss_solver,
            rtol=self.rtol,
            atol=self.atol,
            max_steps=self.max_steps,
            adjoint=self.adjoint,
        )

    def forward_mode(self) -> RateProblem:
        """This problem with `diffrax.ForwardMode` (differentiate `loss` with `jax.jacfwd`)."""
        return dataclasses.replace(self, adjoint=diffrax.ForwardMode())

    def loss_terms(self, K: Float[Array, " 8"]) -> tuple[Float[Array, ""], Float[Array, ""]]:
        """The two terms of eq. (17): ``(½∫|C − Ĉ|² dt, a|Q(K) − Q̂|²)``, each ``+inf`` on failure.

        **Arguments:**

        - `K`: rates, shape ``(8,)``. Concrete values are validated.

        **Returns:**

        Two float64 scalars.

        **Raises:**

        - `ValueError` for concrete negative or non-finite rates or a wrong shape.
        """
        check_rates(K)
        K = jnp.asarray(K, dtype=jnp.float64)
        valid = jnp.all(jnp.isfinite(K) & (K >= 0))
        # Double-where: evaluate everything at a harmless point when K is invalid so that
        # neither the value nor the gradient picks up a NaN.
        K_safe = jnp.where(valid, K, 1.0)
        traj = self.predict(K_safe)
        ok = valid & traj.ok
        C_model = jnp.where(ok, traj.C_pair, self.data.C_pair)
        misfit = trapezoid_misfit(self.data.times, C_model, self.data.C_pair)
        Q = equilibrium_constants(K_safe)
        Q_hat = self.equilibrium_target()
        q_ok = jnp.all(jnp.isfinite(Q)) & jnp.all(jnp.isfinite(Q_hat))
        dQ = jnp.where(q_ok, Q - Q_hat, 0.0)
        eq_term = self.weight_a * jnp.sum(dQ**2)
        misfit = jnp.where(ok & jnp.isfinite(misfit), misfit, jnp.inf)
        eq_term = jnp.where(valid & q_ok & jnp.isfinite(eq_term), eq_term, jnp.inf)
        return misfit, eq_term

    def residuals(self, K: Float[Array, " 8"]) -> Float[Array, " n"]:
        """The residual vector ``r(K)`` with ``F(K) = ½ |r(K)|²`` (for least-squares solvers).

        ``r = (√c_n (C(t_n; K) − Ĉ(t_n)))_{n, pair} ⊕ √(2a) (Q(K) − Q̂)`` with ``c_n`` the
        trapezoid weights of the data grid, so that ``½|r|²`` is eq. (17) exactly. Where the
        solve fails or a rate is invalid every entry is ``1e3`` (a finite, very large ``F``, so
        that a Levenberg–Marquardt trust region rejects the step rather than breaking).

        **Arguments:**

        - `K`: rates, shape ``(8,)``, units 1 / model time.

        **Returns:**

        float64 vector of length ``3 × times + 4``.
        """
        check_rates(K)
        K = jnp.asarray(K, dtype=jnp.float64)
        valid = jnp.all(jnp.isfinite(K) & (K > 0))
        K_safe = jnp.where(valid, K, 1.0)
        traj = self.predict(K_safe)
        ok = valid & traj.ok
        C_model = jnp.where(ok, traj.C_pair, self.data.C_pair)
        dt = jnp.diff(self.data.times)
        c = 0.5 * (jnp.concatenate([dt, jnp.zeros(1)]) + jnp.concatenate([jnp.zeros(1), dt]))
        r_traj = (jnp.sqrt(c)[:, None] * (C_model - self.data.C_pair)).reshape(-1)
        Q = equilibrium_constants(K_safe)
        Q_hat = self.equilibrium_target()
        q_ok = jnp.all(jnp.isfinite(Q)) & jnp.all(jnp.isfinite(Q_hat))
        r_eq = jnp.sqrt(2.0 * self.weight_a) * jnp.where(q_ok, Q - Q_hat, 0.0)
        r = jnp.concatenate([r_traj, r_eq])
        good = ok & q_ok & jnp.all(jnp.isfinite(r))
        return jnp.where(good, r, 1e3)

    def loss(self, K: Float[Array, " 8"]) -> Float[Array, ""]:
        """``F(K)`` of eq. (17): float64 scalar, ``+inf`` on solver failure or invalid rates.

        **Arguments:**

        - `K`: rates ``(k1, ..., k8)``, shape ``(8,)``, units 1 / model time.

        **Returns:**

        ``F(K) ≥ 0`` (dimensionless × time for the first term), or ``+inf``.

        **Raises:**

        - `ValueError` for concrete negative or non-finite rates or a wrong shape.
        """
        misfit, eq_term = self.loss_terms(K)
        ok = jnp.isfinite(misfit) & jnp.isfinite(eq_term)
        # +inf with a zero gradient (not the finite gradient of the other term) where F = +inf.
        return jnp.where(ok, misfit + eq_term, jnp.inf)

    def __call__(self, K: Float[Array, " 8"]) -> Float[Array, ""]:
        """Same as `loss`."""
        return self.loss(K)


def make_problem(
    data: PairData,
    closure: AbstractClosure,
    *,
    weight_a: float = 1.0,
    Q_hat: ArrayLike | None = None,
    solver: str | diffrax.AbstractSolver = "auto",
    rtol: float = 1e-7,
    atol: float = 1e-10,
    max_steps: int = 4096,
    adjoint: diffrax.AbstractAdjoint | None = None,
) -> RateProblem:
    """Convenience constructor of `RateProblem` (converts ``weight_a`` to a float64 array).

    **Arguments:** as the fields of `RateProblem`.

    **Returns:**

    A `RateProblem`.

    **Raises:**

    - `ValueError` for a negative or non-finite ``weight_a`` or bad settings.
    - `RuntimeError` if float64 is off (call `meanclust_jax.enable_float64()` first).
    """
    require_float64("make_problem")
    try:
        a = float(weight_a)
    except (TypeError, ValueError):
        raise ValueError(f"weight_a must be a finite scalar in [0, inf), got {weight_a!r}") from None
    if not (np.isfinite(a) and a >= 0):
        raise ValueError(f"weight_a must be a finite scalar in [0, inf), got {weight_a!r}")
    return RateProblem(
        data=data,
        closure=closure,
        weight_a=jnp.asarray(a, dtype=jnp.float64),
        Q_hat=None if Q_hat is None else jnp.asarray(Q_hat, dtype=jnp.float64),
        solver=solver,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        adjoint=adjoint,
    )


__all__ = ["RateProblem", "make_problem"]
