"""Point estimate of the rates (problem (18); the initial point ``Y1`` of Algorithm 1).

`multistart`: each start is a random positive ``K``; the minimisation runs in ``θ = log K`` (so
rates stay positive) with Adam (optax) and a cosine-decayed learning rate, vectorised over starts
with `jax.vmap`; gradients are forward-mode (`jax.jacfwd` with `diffrax.ForwardMode`).
Evaluations that fail (``F = +inf``) are not taken as steps; every start keeps the best point it
visited. The best over the starts is ``Y1``; the spread of the minima shows how ill-posed the
problem is (paper Section V).

`polish`: first-order steps stop short of the minimum (the Hessian at the multistart's best can
have negative eigenvalues), so ``Y1`` is refined by Levenberg–Marquardt (optimistix) on the
residual vector ``r(θ)`` of ``F = ½|r|²`` (`RateProblem.residuals`), a second-order method for
least squares, and `stationarity` reports the gradient norm and the Hessian spectrum on the
identifiable subspace: a strict local minimum has a vanishing gradient and a positive definite
Hessian there.
"""

from __future__ import annotations

import dataclasses

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray
from tqdm.auto import tqdm

from .._custom_types import AnyArray
from .._optim import keep_best_descent
from .._precision import require_float64
from .._validate import check_int
from ._loss import RateProblem


class MultistartResult(eqx.Module):
    """Result of `multistart`.

    **Fields:**

    - `best`: ``Y1``, the best rates found, shape ``(8,)``, units 1 / model time.
    - `best_loss`: ``F(Y1)``, scalar.
    - `minima`: the best point of every start, shape ``(starts, 8)``.
    - `losses`: their ``F``, shape ``(starts,)`` (``+inf`` for starts that never left a failing
      region).
    - `starts`: the initial points, shape ``(starts, 8)``.
    - `spread`: per-rate relative spread (standard deviation / |mean|) of the minima whose ``F``
      is within a factor ``1 + spread_rtol`` of the best, shape ``(8,)``; 0 if only one.
    """

    best: Float[Array, " 8"]
    best_loss: Float[Array, ""]
    minima: Float[Array, "starts 8"]
    losses: Float[Array, " starts"]
    starts: Float[Array, "starts 8"]
    spread: Float[Array, " 8"]


def multistart(
    problem: RateProblem,
    key: PRNGKeyArray,
    *,
    num_starts: int = 16,
    num_steps: int = 300,
    learning_rate: float = 0.05,
    start_low: float | None = None,
    start_high: float | None = None,
    solver: str | diffrax.AbstractSolver | None = None,
    spread_rtol: float = 0.1,
    progress: bool = False,
) -> MultistartResult:
    """Minimise ``F(K)`` from ``num_starts`` random positive starts, vectorised over starts.

    **Arguments:**

    - `problem`: the `RateProblem`.
    - `key`: a JAX PRNG key; the same key gives identical results.
    - `num_starts`: number of starts, ``>= 1``.
    - `num_steps`: Adam steps per start, ``>= 1``.
    - `learning_rate`: initial Adam learning rate in ``log K``, ``> 0``.
    - `start_low`, `start_high`: starts are log-uniform in ``[start_low, start_high]`` (units
      1 / model time); defaults ``0.01 / span`` and ``10 / span`` with ``span`` the data's
      time span.
    - `solver`: solver used during the minimisation; default ``diffrax.Tsit5()`` because under
      `jax.vmap` the ``"auto"`` solver evaluates its implicit fallback for every start (a start
      that wanders into a stiff region then simply counts as failed). Pass ``"auto"`` to keep
      the problem's solver.
    - `spread_rtol`: tolerance defining the near-optimal minima of `MultistartResult.spread`.
    - `progress`: show a progress bar (tqdm, on stderr) over the ``num_steps`` Adam steps (all
      starts advance together); results are identical with and without it.

    **Returns:**

    A `MultistartResult`; ``best_loss`` is re-evaluated with the problem's own solver.

    **Raises:**

    - `ValueError` for out-of-range settings.
    - `RuntimeError` if float64 is off (call `meanclust_jax.enable_float64()` first).
    """
    require_float64("multistart")
    if int(num_starts) < 1:
        raise ValueError(f"num_starts must be >= 1, got {num_starts}")
    if int(num_steps) < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate}")
    span = float(problem.data.times[-1] - problem.data.times[0])
    low = 0.01 / span if start_low is None else float(start_low)
    high = 10.0 / span if start_high is None else float(start_high)
    if not (np.isfinite(low) and np.isfinite(high) and 0 < low <= high):
        raise ValueError(
            f"start_low and start_high must satisfy 0 < start_low <= start_high < inf, "
            f"got ({low}, {high})"
        )
    if solver is None:
        solver = diffrax.Tsit5()
    if isinstance(solver, str) and solver != "auto":
        raise ValueError(f"solver must be None, 'auto' or a diffrax solver, got {solver!r}")
    opt_problem = problem if isinstance(solver, str) else dataclasses.replace(problem, solver=solver)
    # Eight parameters: forward-mode derivatives are cheaper to run and to compile.
    opt_problem = opt_problem.forward_mode()
    u = jax.random.uniform(key, (int(num_starts), 8), dtype=jnp.float64)
    starts = jnp.exp(jnp.log(low) + u * (jnp.log(high) - jnp.log(low)))
    if progress:
        with tqdm(total=int(num_steps), desc=f"multistart ({int(num_starts)} starts)", unit="step") as bar:
            _PROGRESS.append(bar)
            try:
                minima, losses = _run(opt_problem, starts, int(num_steps), float(learning_rate),
                                      True)
                losses.block_until_ready()
            finally:
                _PROGRESS.pop()
    else:
        minima, losses = _run(opt_problem, starts, int(num_steps), float(learning_rate), False)
    finite = jnp.isfinite(losses)
    idx = jnp.argmin(jnp.where(finite, losses, jnp.inf))
    best = minima[idx]
    best_loss = _loss(problem, best)
    near = finite & (losses <= losses[idx] * (1.0 + spread_rtol) + 1e-300)
    w = near.astype(jnp.float64)[:, None]
    n = jnp.maximum(jnp.sum(w), 1.0)
    mean = jnp.sum(w * minima, axis=0) / n
    var = jnp.sum(w * (minima - mean[None, :]) ** 2, axis=0) / n
    spread = jnp.where(jnp.abs(mean) > 0, jnp.sqrt(var) / jnp.abs(mean), 0.0)
    return MultistartResult(
        best=best, best_loss=best_loss, minima=minima, losses=losses, starts=starts, spread=spread
    )


@eqx.filter_jit
def _loss(problem, K):  # noqa: ANN001, ANN202
    return problem.loss(K)


#: The open multistart progress bar (a stack, so that nested calls stay correct).
_PROGRESS: list = []


def _tick(step: Array) -> None:
    """Move the open multistart progress bar to step ``step + 1`` (host side)."""
    if _PROGRESS:
        bar = _PROGRESS[-1]
        bar.update(max(0, int(step) + 1 - bar.n))


@eqx.filter_jit
def _run(problem, starts, num_steps, learning_rate, progress):  # noqa: ANN001, ANN202
    schedule = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.05)
    opt = optax.adam(schedule)

    def f(theta):  # noqa: ANN001, ANN202
        return problem.loss(jnp.exp(theta))

    def value_twice(theta):  # noqa: ANN001, ANN202
        v = f(theta)
        return v, v

    # Forward mode (jvp over the 8 directions); the primal value of the same solve is the aux.
    grad_and_value = jax.jacfwd(value_twice, has_aux=True)

    def value_and_grad(theta):  # noqa: ANN001, ANN202
        g, v = grad_and_value(theta)
        return v, g

    def one(K0):  # noqa: ANN001, ANN202
        theta, v = keep_best_descent(f, value_and_grad, opt, jnp.log(K0), num_steps,
                                     on_step=_tick if progress else None)
        return jnp.exp(theta), v

    return jax.vmap(one)(starts)


class PolishResult(eqx.Module):
    """Result of `polish`.

    **Fields:**

    - `rates`: the polished ``Y1``, shape ``(8,)``, units 1 / model time.
    - `loss`: ``F`` there, scalar.
    - `initial_loss`: ``F`` at the starting point.
    - `num_steps`: Levenberg–Marquardt steps taken.
    - `success`: whether optimistix reported convergence (its ``rtol``/``atol`` on steps and
      ``F``); see `stationarity` for the gradient and Hessian.
    """

    rates: Float[Array, " 8"]
    loss: Float[Array, ""]
    initial_loss: Float[Array, ""]
    num_steps: Int[Array, ""]
    success: Bool[Array, ""]


def polish(
    problem: RateProblem,
    K0: Float[AnyArray, " 8"],
    *,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    max_steps: int = 200,
) -> PolishResult:
    """Refine rates ``K0`` to a local minimum of ``F`` by Levenberg–Marquardt in ``θ = log K``.

    Uses `optimistix.least_squares` with `optimistix.LevenbergMarquardt` on the residuals of
    `RateProblem.residuals`, forward-mode Jacobians (`diffrax.ForwardMode`). The result is kept
    only if it lowers ``F``.

    **Arguments:**

    - `problem`: the `RateProblem`.
    - `K0`: starting rates, shape ``(8,)``, positive (e.g. `MultistartResult.best`).
    - `rtol`, `atol`: optimistix tolerances on the step and the loss (``> 0``).
    - `max_steps`: bound on the number of steps, ``>= 1``.

    **Returns:**

    A `PolishResult`.

    **Raises:**

    - `ValueError` for non-positive or non-finite ``K0`` or settings out of range.
    """
    K0 = np.asarray(K0, dtype=np.float64)
    if K0.shape != (8,) or not np.all(np.isfinite(K0)) or np.any(K0 <= 0):
        raise ValueError(f"K0 must be 8 finite rates in (0, inf), got {K0.tolist()}")
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if not (np.isfinite(tol) and tol > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {tol!r}")
    if isinstance(max_steps, bool) or int(max_steps) != max_steps or max_steps < 1:
        raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
    return _polish(problem.forward_mode(), jnp.asarray(K0), float(rtol), float(atol), int(max_steps))


@eqx.filter_jit
def _polish(problem, K0, rtol, atol, max_steps):  # noqa: ANN001, ANN202
    import optimistix as optx

    def residuals(theta, _):  # noqa: ANN001, ANN202
        return problem.residuals(jnp.exp(theta))

    theta0 = jnp.log(K0)
    sol = optx.least_squares(
        residuals, optx.LevenbergMarquardt(rtol=rtol, atol=atol), theta0,
        max_steps=max_steps, throw=False,
    )
    F0 = problem.loss(K0)
    K1 = jnp.exp(sol.value)
    F1 = problem.loss(K1)
    better = jnp.isfinite(F1) & (F1 <= F0)
    return PolishResult(
        rates=jnp.where(better, K1, K0),
        loss=jnp.where(better, F1, F0),
        initial_loss=F0,
        num_steps=jnp.asarray(sol.stats["num_steps"]),
        success=sol.result == optx.RESULTS.successful,
    )


class Stationarity(eqx.Module):
    """First- and second-order conditions of a point estimate, in log-rates ``θ = log K``.

    In log-rates the derivatives are scale free (a unit step is a change of a rate by a factor
    ``e``). The *identifiable subspace* is spanned by the eigenvectors of the Gauss–Newton matrix
    ``JᵀJ`` (``J = ∂r/∂θ``) whose eigenvalues exceed ``rank_rtol`` times the largest: the
    directions in which the data (and the equilibrium term) change ``F`` at all.

    **Fields:**

    - `loss`: ``F`` at the point.
    - `gradient`: ``∂F/∂θ``, shape ``(8,)``.
    - `gradient_norm`: its Euclidean norm.
    - `hessian_eigenvalues`: eigenvalues of ``∂²F/∂θ²``, ascending, shape ``(8,)``.
    - `gauss_newton_eigenvalues`: eigenvalues of ``JᵀJ``, ascending, shape ``(8,)``.
    - `identifiable_basis`: orthonormal basis of the identifiable subspace, shape ``(8, r)``
      (columns; as a NumPy array).
    - `restricted_hessian_eigenvalues`: eigenvalues of the Hessian restricted to that subspace
      (``Bᵀ H B``), ascending, shape ``(r,)``.
    - `is_strict_minimum`: gradient norm ``≤ gtol·(1 + F)`` and every restricted eigenvalue
      ``> 0``.
    """

    loss: float
    gradient: np.ndarray
    gradient_norm: float
    hessian_eigenvalues: np.ndarray
    gauss_newton_eigenvalues: np.ndarray
    identifiable_basis: np.ndarray
    restricted_hessian_eigenvalues: np.ndarray
    is_strict_minimum: bool


def stationarity(
    problem: RateProblem, K: Float[Array, " 8"], *, rank_rtol: float = 1e-8, gtol: float = 1e-6
) -> Stationarity:
    """Gradient norm and Hessian spectrum (full and on the identifiable subspace) of ``F`` at ``K``.

    **Arguments:**

    - `problem`: the `RateProblem`.
    - `K`: positive rates, shape ``(8,)``.
    - `rank_rtol`: relative eigenvalue threshold of ``JᵀJ`` defining the identifiable subspace.
    - `gtol`: gradient tolerance of `Stationarity.is_strict_minimum` (relative to ``1 + F``).

    **Returns:**

    A `Stationarity` (NumPy values).

    **Raises:**

    - `ValueError` for non-positive or non-finite ``K``.
    """
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (8,) or not np.all(np.isfinite(K)) or np.any(K <= 0):
        raise ValueError(f"K must be 8 finite rates in (0, inf), got {K.tolist()}")
    F, g, H, J = (np.asarray(a) for a in _derivatives(problem.forward_mode(), jnp.log(jnp.asarray(K))))
    H = 0.5 * (H + H.T)
    w_gn, V_gn = np.linalg.eigh(J.T @ J)
    keep = w_gn > rank_rtol * max(float(w_gn[-1]), 1e-300)
    B = V_gn[:, keep]
    restricted = np.linalg.eigvalsh(B.T @ H @ B) if B.shape[1] else np.zeros(0)
    gnorm = float(np.linalg.norm(g))
    strict = bool(np.isfinite(F) and gnorm <= gtol * (1.0 + abs(float(F))) and np.all(restricted > 0))
    return Stationarity(
        loss=float(F), gradient=g, gradient_norm=gnorm, hessian_eigenvalues=np.linalg.eigvalsh(H),
        gauss_newton_eigenvalues=w_gn, identifiable_basis=B, restricted_hessian_eigenvalues=restricted,
        is_strict_minimum=strict,
    )


@eqx.filter_jit
def _derivatives(problem, theta):  # noqa: ANN001, ANN202
    def f(th):  # noqa: ANN001, ANN202
        return problem.loss(jnp.exp(th))

    grad = jax.jacfwd(f)
    hess = jax.jacfwd(grad)
    J = jax.jacfwd(lambda th: problem.residuals(jnp.exp(th)))(theta)
    return f(theta), grad(theta), hess(theta), J


def compare_replica_fits(problem: RateProblem, K0: Float[Array, " 8"], *, max_steps: int = 100) -> dict:
    """Least-squares rates from the replica mean and from the replicas as separate observations.

    Averaging the replicas before fitting the (nonlinear) closed ODE is exact only if every
    replica starts from the same pairs; this fits both ways — ``Σ_n |C(t_n; K) − Ĉ(t_n)|²`` on
    the mean, and ``Σ_r Σ_n |C_r(t_n; K) − Ĉ_r(t_n)|²`` with each replica started from its own
    first pairs, over the observed ``C++`` and ``C--`` after the first record (the Gaussian
    likelihood's observations, equal weights) — by Levenberg–Marquardt in ``log K`` from ``K0``.

    **Arguments:**

    - `problem`: the `RateProblem`; its data must hold the replicas (`PairData.C_pair_replicas`).
    - `K0`: starting rates, shape ``(8,)``, positive.
    - `max_steps`: Levenberg–Marquardt step budget of each fit.

    **Returns:**

    ``{"K_mean", "K_separate", "s_mean", "s_separate"}``: rates (8) and identifiable combinations
    ``s_j = 4k_{2j-1} + k_{2j}`` (4) of both fits, NumPy float64.

    **Raises:**

    - `ValueError` if the data hold no replicas, or ``K0`` is not 8 positive finite rates.
    """
    from ._parametrization import identifiable_combinations

    if problem.data.C_pair_replicas is None:
        raise ValueError("problem.data holds no replicas (build it with PairData.from_dataset(ds, replica='mean'))")
    K0 = np.asarray(K0, dtype=np.float64)
    if K0.shape != (8,) or not np.all(np.isfinite(K0)) or np.any(K0 <= 0):
        raise ValueError(f"K0 must be 8 finite rates in (0, inf), got {K0.tolist()}")
    check_int(max_steps, "max_steps", minimum=1)
    K_mean, K_sep = (np.asarray(k) for k in _replica_fits(problem.forward_mode(), jnp.asarray(K0), int(max_steps)))
    return {"K_mean": K_mean, "K_separate": K_sep,
            "s_mean": np.asarray(identifiable_combinations(K_mean)),
            "s_separate": np.asarray(identifiable_combinations(K_sep))}


@eqx.filter_jit
def _replica_fits(problem, K0, max_steps):  # noqa: ANN001, ANN202
    import optimistix as optx

    from ..ode import solve_pairs

    data = problem.data
    settings = {"solver": problem.loss_solver, "rtol": problem.rtol, "atol": problem.atol,
                "max_steps": problem.max_steps, "adjoint": problem.adjoint}

    def misfit(theta, C_obs):  # noqa: ANN001, ANN202
        traj = solve_pairs(jnp.exp(theta), problem.closure, data.C_single, C_obs[0], data.times, **settings)
        r = (traj.C_pair - C_obs)[1:, :2].reshape(-1)
        return jnp.where(traj.ok & jnp.all(jnp.isfinite(r)), r, 1e3)

    def mean_residuals(theta, _):  # noqa: ANN001, ANN202
        return misfit(theta, data.C_pair)

    def separate_residuals(theta, _):  # noqa: ANN001, ANN202
        return jax.vmap(lambda C: misfit(theta, C))(data.C_pair_replicas).reshape(-1)

    solver = optx.LevenbergMarquardt(rtol=1e-10, atol=1e-12)
    out = []
    for fn in (mean_residuals, separate_residuals):
        sol = optx.least_squares(fn, solver, jnp.log(K0), max_steps=max_steps, throw=False)
        out.append(jnp.exp(sol.value))
    return tuple(out)


__all__ = ["MultistartResult", "PolishResult", "Stationarity", "compare_replica_fits", "multistart",
           "polish", "stationarity"]
