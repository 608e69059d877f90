"""Calibration of the optimal approximation on annealing data (paper eqs. (15)–(16); docs/model.md §5).

For each triplet type τ separately we solve

    min_V  J_τ(V) = (1/T) ∫_0^T (g_τ(C(t); V) − Ĉ_τ(t))² dt
    s.t.   Σγ − Σξ = 1,   0 ≤ γ ≤ δ,   β1 ≤ ξ ≤ β2,                       (16)

with the integral by the trapezoid rule over the recorded times. The paper used MATLAB's fmincon;
we use projected gradient: an optax optimiser proposes the step and the exact projection of
`._projection` restores feasibility after every step. Since ``g_τ = w exp(F(t)·z)`` with
``F = [log C_++, log C_--, log C_+-, −log C_+, −log C_-]`` (packed exponents ``z``), the log
features are computed once; the objective is divided by ``Σ_t ω_t Ĉ_τ(t)²`` (the mean square of
the data) so that every type is solved at unit scale. All types × starts are solved at once under
`jax.vmap`, in one compiled program shared by every regularisation (bounds are traced values).

The run has two phases.

1. *Projected Adam* (optax's `adam` with a cosine-decaying step) from every start — the
   pair and sparse approximations' exponents and random points of the box, all projected —
   keeping the best iterate of each run. This is the global search.
2. *Scaled projected gradient* (projected Gauss–Newton) from the ``polish_starts`` best Adam
   results: the step minimises the Gauss–Newton model ``g·d + ½ dᵀHd`` over the feasible set,
   i.e. it is the projection of the Newton point in the ``H``-metric, computed exactly by
   solving the KKT system of every active set of the (at most four) parameters; the step length
   is the best of ``1, 1/2, …, 1/2^11``, and a step is only taken if it lowers ``J``. This
   drives the KKT residual to round-off where first-order steps would crawl along the nearly
   flat valleys of these fits (the ξ of a type only enter through one constant prefactor, and
   the log pair concentrations are strongly collinear along an anneal).

Convergence is reported per type as the KKT residual ``‖z − P(z − ∇J̃(z))‖_∞`` of the scaled
objective ``J̃`` (Euclidean projection ``P``); it vanishes exactly at KKT points of (16).
In the tests the optima agree with SciPy's SLSQP on the same objective to ~1e-14 relative.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from .._io import jsonable
from .._labels import TRIPLETS
from .._optim import keep_best_descent
from .._precision import require_float64
from .._validate import check_int
from . import _structure as S
from ._optimal import OptimalApproximation, bounds_to_json, constraint_violation, resolve_bounds
from ._projection import check_feasible, infeasible_types, packed_bounds, project_packed

if TYPE_CHECKING:
    import xarray as xr

    from ._data import Runs, Trajectories

_TINY = 1e-300
#: The per-type data tuple of the two phases: ``(features (M, 5), zeros (M, 5), target (M,),
#: omega (M,), w, scale, sign (5,), lower (5,), upper (5,), candidates (81, 5))``.
_TypeData = tuple[Array, ...]


@dataclasses.dataclass(frozen=True)
class _Problem:
    """Flattened least-squares data shared by the 16 types (NumPy, float64)."""

    features: np.ndarray  # (M, 5) log concentrations, 0 where the concentration is 0
    zeros: np.ndarray  # (M, 5) bool, concentration == 0
    targets: np.ndarray  # (16, M)
    omega: np.ndarray  # (M,) trapezoid weights / number of trajectories
    scale: np.ndarray  # (16,) Σ ω Ĉ²


def flatten_runs(runs: Sequence[Trajectories]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stack the records of several runs into one least-squares problem (NumPy, float64).

    Returns ``(C_single (M, 2), C_pair (M, 3), C_triplet (M, 16), omega (M,))`` over every
    record of every trajectory (replica) of every run, with ``omega`` the trapezoid weight of
    the record divided by the run's number of trajectories and by the number of runs, so that
    ``Σ ω (g − Ĉ)²`` is the mean over runs of the replica-averaged ``J_τ`` (eq. (15)).
    Each replica is its own observation: nothing is averaged before the closure is applied.
    """
    Cs, Cp, Ct, om = [], [], [], []
    for traj in runs:
        R, n, _ = traj.C_pair.shape
        Cs.append(traj.C_single.reshape(R * n, 2))
        Cp.append(traj.C_pair.reshape(R * n, 3))
        Ct.append(traj.C_triplet.reshape(R * n, 16))
        om.append(np.tile(traj.weights, R) / R / len(runs))
    return np.concatenate(Cs), np.concatenate(Cp), np.concatenate(Ct), np.concatenate(om)


def _problem_from_runs(runs: Sequence[Trajectories]) -> _Problem:
    C_single, C_pair, C_triplet, omega = flatten_runs(runs)
    conc = np.concatenate([C_pair, C_single], axis=-1)
    zeros = conc <= 0
    logs = np.log(np.where(zeros, 1.0, conc))
    features = np.concatenate([logs[:, :3], -logs[:, 3:]], axis=-1)
    targets = C_triplet.T.copy()
    scale = (omega * targets**2).sum(-1)
    scale = np.where(scale > 0, scale, 1.0)
    # Pad the records to a bucketed length with zero-weight rows, so that trajectories of
    # similar length share one compiled solver.
    M = omega.shape[0]
    size = _bucket(M)
    if size > M:
        pad = size - M
        features = np.concatenate([features, np.zeros((pad, 5))])
        zeros = np.concatenate([zeros, np.zeros((pad, 5), dtype=bool)])
        omega = np.concatenate([omega, np.zeros(pad)])
        targets = np.concatenate([targets, np.zeros((16, pad))], axis=1)
    return _Problem(features, zeros, targets, omega, scale)


def _bucket(m: int) -> int:
    """Smallest power of two ≥ ``m`` (at least 128) up to 4096, then multiples of 4096."""
    if m > 4096:
        return -(-m // 4096) * 4096
    return max(128, 1 << (m - 1).bit_length())


def _model(
    z: Float[Array, " 5"], features: Float[Array, "M 5"], zeros: Bool[Array, "M 5"], w: Float[ArrayLike, ""]
) -> Float[Array, " M"]:
    """``g = w exp(F z)``, times ``0**z_i`` for entries whose concentration is zero."""
    zero_factor = jnp.prod(jnp.where(zeros, (z == 0).astype(z.dtype), 1.0), axis=-1)
    return w * jnp.exp(features @ z) * zero_factor


def _scaled_objective(
    z: Float[Array, " 5"], features: Float[Array, "M 5"], zeros: Bool[Array, "M 5"], target: Float[Array, " M"],
    omega: Float[Array, " M"], w: Float[ArrayLike, ""], scale: Float[ArrayLike, ""],
) -> Float[Array, ""]:
    r = _model(z, features, zeros, w) - target
    return jnp.sum(omega * r * r) / scale


class _Settings(eqx.Module):
    adam_steps: int = eqx.field(static=True)
    polish_steps: int = eqx.field(static=True)
    learning_rate: float = eqx.field(static=True)
    polish_starts: int = eqx.field(static=True)


def _kkt_residual(
    z: Float[Array, " 5"], grad: Float[Array, " 5"], sign: Float[Array, " 5"], lower: Float[Array, " 5"],
    upper: Float[Array, " 5"],
) -> Float[Array, ""]:
    return jnp.max(jnp.abs(z - project_packed(z - grad, sign, lower, upper)))


def _adam_phase(z0: Float[Array, " 5"], data: _TypeData, settings: _Settings) -> tuple[Array, Array]:
    """Projected Adam from ``z0``; returns the best iterate seen and its scaled objective."""
    features, zeros, target, omega, w, scale, sign, lower, upper, _ = data
    f = lambda z: _scaled_objective(z, features, zeros, target, omega, w, scale)  # noqa: E731
    schedule = optax.cosine_decay_schedule(settings.learning_rate, settings.adam_steps, alpha=1e-3)
    opt = optax.adam(schedule)

    return keep_best_descent(f, jax.value_and_grad(f), opt, z0, settings.adam_steps,
                             project=lambda z: project_packed(z, sign, lower, upper))


# Active-set candidates of the 5 packed coordinates: 0 = at lower bound, 1 = at upper, 2 = free.
_ALL_CANDIDATES = np.array(np.meshgrid(*[np.arange(3)] * 5, indexing="ij")).reshape(5, -1).T
#: At most 4 of the 5 packed coordinates are parameters of a type, so at most 3^4 candidates.
_NUM_CANDIDATES = 81


def _candidates(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Valid active-set candidates per type, shape ``(16, 81, 5)`` (padded by repetition).

    Absent coordinates are pinned (state 0, where ``l = u = 0``); a coordinate can sit at a
    bound only if that bound is finite.
    """
    out = np.zeros((len(TRIPLETS), _NUM_CANDIDATES, 5), dtype=np.int32)
    for t in range(len(TRIPLETS)):
        active = S.PACKED_MASK[t]
        ok = np.all(np.where(active, True, _ALL_CANDIDATES == 0), axis=1)
        ok &= np.all(np.where(active & (_ALL_CANDIDATES == 0), np.isfinite(lower[t]), True), axis=1)
        ok &= np.all(np.where(active & (_ALL_CANDIDATES == 1), np.isfinite(upper[t]), True), axis=1)
        cand = _ALL_CANDIDATES[ok]
        out[t] = np.resize(cand, (_NUM_CANDIDATES, 5))
    return out


def _solve_small(M: Float[Array, "n n"], b: Float[Array, " n"]) -> Float[Array, " n"]:
    """Solve ``M x = b`` for a small square ``M`` by Gauss–Jordan elimination with partial
    pivoting and one-hot row swaps (no gathers or scatters), in a `fori_loop` over the pivot
    column, which compiles much faster under `vmap` than a batched LAPACK call."""
    n = M.shape[0]
    rows = jnp.arange(n)
    cols = jnp.arange(n + 1)

    def body(k: Int[ArrayLike, ""], A: Float[Array, "n n+1"]) -> Float[Array, "n n+1"]:
        e_k = (rows == k).astype(A.dtype)
        c_k = (cols == k).astype(A.dtype)
        p = jnp.argmax(jnp.where(rows >= k, jnp.abs(A @ c_k), -1.0))
        e_p = (rows == p).astype(A.dtype)
        row_k, row_p = e_k @ A, e_p @ A
        A = A + jnp.outer(e_k, row_p - row_k) + jnp.outer(e_p, row_k - row_p)
        pivot_row = row_p / jnp.dot(row_p, c_k)
        A = A - jnp.outer((A @ c_k) * (1.0 - e_k), pivot_row)
        return A + jnp.outer(e_k, pivot_row - e_k @ A)

    A = jax.lax.fori_loop(0, n, body, jnp.concatenate([M, b[:, None]], axis=1))
    return A[:, n]


def _qp_step(
    z: Float[Array, " 5"], g: Float[Array, " 5"], H: Float[Array, "5 5"],
    sign: Float[Array, " 5"], lower: Float[Array, " 5"], upper: Float[Array, " 5"], candidates: Int[Array, "c 5"],
) -> Float[Array, " 5"]:
    """Exact minimiser ``d`` of ``g·d + ½ dᵀHd`` over ``{l ≤ z + d ≤ u, sign·(z + d) = 1}``.

    This is the projection of the Newton point in the ``H``-metric. With at most 4 free
    coordinates and ``H`` positive definite on them, the minimiser solves the equality-constrained
    KKT system of its own active set, so we solve the system for every active set
    (`candidates`, at most ``3^4``, vectorised) and keep the feasible candidate with the lowest
    model value.
    """
    eye = jnp.eye(5)

    def solve(states: Int[Array, " 5"]) -> tuple[Float[Array, " 5"], Float[Array, ""]]:
        free = (sign != 0) & (states == 2)
        target = jnp.where(states == 1, upper, lower)
        d_fixed = jnp.where(jnp.isfinite(target), target - z, 0.0)
        any_free = jnp.any(free)
        top = jnp.where(free[:, None], H, eye)
        a_col = jnp.where(free, sign, 0.0)
        rhs_top = jnp.where(free, -g, d_fixed)
        a_row = jnp.where(any_free, sign, 0.0)
        corner = jnp.where(any_free, 0.0, 1.0)
        M = jnp.concatenate(
            [jnp.concatenate([top, a_col[:, None]], axis=1), jnp.concatenate([a_row, corner[None]])[None, :]],
            axis=0,
        )
        rhs_eq = jnp.where(any_free, 1.0 - jnp.dot(sign, z), 0.0)
        d = _solve_small(M, jnp.concatenate([rhs_top, rhs_eq[None]]))[:5]
        # The KKT matrix can be nearly singular (e.g. at x = 1/2 the two ξ of a type multiply
        # the same log concentration), which costs the solve digits in the equality
        # constraint: restore it exactly on the free coordinates.
        n_free = jnp.maximum(jnp.sum(free, dtype=d.dtype), 1)
        d = d + a_col * (rhs_eq - jnp.dot(sign, d)) / n_free
        zn = z + d
        tol = 1e-10 * (1.0 + jnp.abs(zn))
        ok = jnp.all(jnp.isfinite(d))
        ok &= jnp.all(jnp.where(free, (zn >= lower - tol) & (zn <= upper + tol), True))
        ok &= jnp.abs(jnp.dot(sign, zn) - 1.0) <= 1e-9
        q = jnp.dot(g, d) + 0.5 * jnp.dot(d, H @ d)
        return d, jnp.where(ok, q, jnp.inf)

    ds, qs = jax.vmap(solve)(candidates)
    best = jnp.argmin(qs)
    return jnp.where(jnp.isfinite(qs[best]), ds[best], 0.0)


_STEP_SIZES = 0.5 ** np.arange(12)


def _polish_phase(z0: Float[Array, " 5"], data: _TypeData, settings: _Settings) -> tuple[Array, Array, Array]:
    """Scaled projected-gradient (projected Gauss–Newton) iterations with a step-size search."""
    features, zeros, target, omega, w, scale, sign, lower, upper, candidates = data
    f = lambda z: _scaled_objective(z, features, zeros, target, omega, w, scale)  # noqa: E731

    def grad_and_gn(z: Float[Array, " 5"]) -> tuple[Float[Array, " 5"], Float[Array, "5 5"]]:
        gz = _model(z, features, zeros, w)
        r = gz - target
        jac = gz[:, None] * features  # d g / d z
        grad = 2.0 * (omega * r) @ jac / scale
        H = 2.0 * (jac * omega[:, None]).T @ jac / scale
        H = jnp.where(sign[:, None] * sign[None, :] != 0, H, 0.0)
        H = H + (1e-12 * jnp.trace(H) + _TINY) * jnp.eye(5)
        return grad, H

    def step(carry: tuple[Array, Array], _: None) -> tuple[tuple[Array, Array], None]:
        z, fz = carry
        grad, H = grad_and_gn(z)
        d = _qp_step(z, grad, H, sign, lower, upper, candidates)
        # z and z + d are feasible and the set is convex, so every z + t d is feasible: only
        # round-off is clipped here, and the accepted point is re-projected exactly.
        zs = jnp.clip(z[None, :] + jnp.asarray(_STEP_SIZES)[:, None] * d[None, :], lower[None, :], upper[None, :])
        fs = jax.vmap(f)(zs)
        fs = jnp.where(jnp.isfinite(fs), fs, jnp.inf)
        k = jnp.argmin(fs)
        z_new = project_packed(zs[k], sign, lower, upper)
        f_new = f(z_new)
        better = f_new < fz
        return (jnp.where(better, z_new, z), jnp.where(better, f_new, fz)), None

    (z, fz), _ = jax.lax.scan(step, (z0, f(z0)), None, length=settings.polish_steps)
    g = jax.grad(f)(z)
    return z, fz, _kkt_residual(z, g, sign, lower, upper)


@eqx.filter_jit
def _solve_all(
    starts: Float[Array, "16 K 5"], features: Float[Array, "M 5"], zeros: Bool[Array, "M 5"],
    targets: Float[Array, "16 M"], omega: Float[Array, " M"], weights: Float[Array, " 16"], scales: Float[Array, " 16"],
    sign: Float[Array, "16 5"], lower: Float[Array, "16 5"], upper: Float[Array, "16 5"],
    candidates: Int[Array, "16 c 5"], settings: _Settings,
) -> tuple[Array, ...]:
    """``starts``: (16, K, 5); per-type data with leading axis 16. Returns the best of the K
    polished solutions per type and diagnostics."""

    def per_type(
        starts_t: Array, target: Array, w: Array, scale: Array, sign_t: Array, lower_t: Array, upper_t: Array,
        cand_t: Array,
    ) -> tuple[Array, ...]:
        data = (features, zeros, target, omega, w, scale, sign_t, lower_t, upper_t, cand_t)
        starts_t = jax.vmap(lambda y: project_packed(y, sign_t, lower_t, upper_t))(starts_t)
        z_adam, f_adam = jax.vmap(lambda z0: _adam_phase(z0, data, settings))(starts_t)
        f_adam = jnp.where(jnp.isfinite(f_adam), f_adam, jnp.inf)
        # Polish the `polish_starts` best Adam results (distinct basins are rare beyond that).
        order = jnp.argsort(f_adam)[: settings.polish_starts]
        z_pol, f_pol, kkt = jax.vmap(lambda z0: _polish_phase(z0, data, settings))(z_adam[order])
        f_pol = jnp.where(jnp.isfinite(f_pol), f_pol, jnp.inf)
        k = jnp.argmin(f_pol)
        return z_pol[k], f_pol[k], kkt[k], f_adam, order[k]

    return jax.vmap(per_type)(starts, targets, weights, scales, sign, lower, upper, candidates)


def _starts(seed: int, num_starts: int, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Start points, shape ``(16, K, 5)``: PA and SA exponents, then random points of the box
    (``[-2, 2]`` where a bound is infinite). They are projected onto the feasible set inside
    the solver."""
    fixed = [S.pack(S.PA_GAMMA, S.PA_XI), S.pack(S.SA_GAMMA, S.SA_XI)]
    n_random = max(num_starts - len(fixed), 0)
    lo = np.where(np.isfinite(lower), lower, -2.0)
    hi = np.where(np.isfinite(upper), upper, 2.0)
    u = np.random.default_rng(seed).random((n_random, 16, 5))
    rand = list(lo + u * (hi - lo))
    return np.stack((fixed + rand)[:num_starts], axis=1)


def _support_mask(support: ArrayLike | Mapping[str, Sequence[str]] | None) -> np.ndarray:
    """``(16, 5)`` bool mask of the packed exponents allowed to be non-zero (Table I structure
    intersected with a user ``support``: ``None``, an array ``(16, 5)``, or ``{type: [names]}``
    with names ``"++" "--" "+-"`` (γ) and ``"+" "-"`` (ξ))."""
    if support is None:
        return S.PACKED_MASK.copy()
    if isinstance(support, Mapping):
        names = ("++", "--", "+-", "+", "-")
        unknown = set(support) - set(TRIPLETS)
        if unknown:
            raise ValueError(f"support: unknown triplet types {sorted(unknown)}")
        mask = np.zeros((len(TRIPLETS), 5), dtype=bool)
        for t, label in enumerate(TRIPLETS):
            for name in support.get(label, ()):
                if name not in names:
                    raise ValueError(f"support[{label!r}]: unknown concentration {name!r}; allowed {list(names)}")
                mask[t, names.index(name)] = True
    else:
        mask = np.asarray(support, dtype=bool)
        if mask.shape != (len(TRIPLETS), 5):
            raise ValueError(f"support must have shape (16, 5); got {mask.shape}")
    return mask & S.PACKED_MASK


def fit_optimal_closure(
    dataset: Runs,
    regularization: str | None = "hard",
    *,
    bounds: Mapping[str, float | None] | Sequence[float | None] | None = None,
    num_starts: int = 6,
    adam_steps: int = 200,
    polish_steps: int = 25,
    polish_starts: int = 2,
    learning_rate: float = 0.05,
    seed: int = 0,
    kkt_tol: float = 1e-6,
    support: ArrayLike | Mapping[str, Sequence[str]] | None = None,
    mixed_lattices: bool = False,
) -> tuple[OptimalApproximation, xr.Dataset]:
    """Calibrate an `OptimalApproximation` on one or several trajectories (paper eqs. (15)–(16),
    Table II).

    Each of the 16 types is fitted separately by minimising ``J_τ`` (eq. (15), trapezoid rule
    over the recorded times, averaged over replicas) subject to eq. (16) by projected gradient.
    Given several runs (e.g. one per composition), the objective is the mean over runs of
    their ``J_τ`` — a joint calibration in which every replica of every run is an observation
    of its own (the closure is applied to each replica's pairs; nothing is averaged before it).
    With one run this is exactly the single-trajectory fit.

    **Arguments:**

    - `dataset`: `xarray.Dataset` annealing trajectory (``C_single``, ``C_pair``, ``C_triplet``
      over ``time``; any extra dims such as ``replica`` are independent trajectories whose
      objectives are averaged), or a sequence of them (joint calibration).
    - `regularization`: ``"hard"`` (``β1 = 0, β2 = δ = 2``), ``"soft"`` (``β1 = −∞,
      β2 = +∞, δ = 6``) or ``None`` (then `bounds` gives all three).
    - `bounds`: optional overrides ``{"beta1": .., "beta2": .., "delta": ..}`` or a tuple
      ``(β1, β2, δ)``; ``None``/``±inf`` for unbounded. With overrides the closure's
      ``regularization`` is recorded as ``"custom"``.
    - `num_starts`: number of starts per type: the pair approximation's exponents, the sparse
      approximation's, then random feasible points (all projected onto the feasible set).
    - `adam_steps`, `learning_rate`: projected Adam phase (cosine-decayed step size).
    - `polish_steps`, `polish_starts`: scaled projected-gradient (projected Gauss–Newton)
      steps, from each of the `polish_starts` best Adam results (see the module docstring).
    - `seed`: seed of the NumPy generator of the random starts.
    - `kkt_tol`: a type is reported ``converged`` if its KKT residual is below this.
    - `support`: optional restriction of the exponents that may be non-zero (a sparse refit):
      ``{type: ["++", "+-", "+", ...]}`` or a bool array ``(16, 5)`` over
      ``(γ_++, γ_--, γ_+-, ξ_+, ξ_-)``; the others are pinned at 0.
    - `mixed_lattices`: allow runs on different lattices (``rows``/``cols`` attributes).

    **Returns:**

    ``(closure, report)``: the fitted `OptimalApproximation` (``source`` records the data's
    composition(s), number of records and trajectories, and attributes) and an `xarray.Dataset`
    over ``triplet`` with ``objective`` (``J_τ`` at the optimum, mean over runs, same units as
    eq. (15)), ``objective_pa`` (``J_τ`` of the pair approximation), ``kkt_residual`` (of the
    objective scaled by ``Σ ω Ĉ_τ²``, dimensionless), ``converged``, ``constraint_violation`` and
    ``start_objective(triplet, start)`` (``J_τ`` after the Adam phase from each start).

    **Raises:**

    - `ValueError` on an invalid dataset (naming ``datasets[i]``; see `closure_errors`), runs
      on different lattices without ``mixed_lattices``, an unknown regularisation, or bounds
      (or a support) that leave some type with no feasible exponents.
    - `RuntimeError` if float64 is off (call `meanclust_jax.enable_float64()` first).
    """
    from ._data import read_runs
    from ._errors import run_errors
    from ._pair import PairApproximation

    require_float64("fit_optimal_closure")
    b = resolve_bounds(regularization, bounds)
    check_feasible(b)
    num_starts = check_int(num_starts, "num_starts", minimum=1)
    adam_steps = check_int(adam_steps, "adam_steps", minimum=1)
    polish_steps = check_int(polish_steps, "polish_steps", minimum=0)
    polish_starts = check_int(polish_starts, "polish_starts", minimum=1)
    mask = _support_mask(support)
    runs = read_runs(dataset, need_triplets=True, mixed_lattices=mixed_lattices)
    prob = _problem_from_runs(runs)
    lower, upper = packed_bounds(b)
    lower, upper = np.where(mask, lower, 0.0), np.where(mask, upper, 0.0)
    bad = infeasible_types(lower, upper) if support is not None else []
    if bad:
        raise ValueError(
            f"support leaves no exponents with sum(gamma) - sum(xi) = 1 for the types {bad}; "
            "each type needs at least one pair exponent"
        )
    starts = _starts(seed, num_starts, lower, upper)
    settings = _Settings(
        int(adam_steps), int(polish_steps), float(learning_rate), int(min(polish_starts, num_starts))
    )
    z, fz, kkt, f_starts, best = _solve_all(
        jnp.asarray(starts),
        jnp.asarray(prob.features),
        jnp.asarray(prob.zeros),
        jnp.asarray(prob.targets),
        jnp.asarray(prob.omega),
        jnp.asarray(S.WEIGHTS),
        jnp.asarray(prob.scale),
        jnp.asarray(S.PACKED_SIGN),
        jnp.asarray(lower),
        jnp.asarray(upper),
        jnp.asarray(_candidates(lower, upper)),
        settings,
    )
    z = np.asarray(z)
    z = np.where(mask, z, 0.0)
    gamma, xi = z[:, :3], z[:, 3:]
    label = regularization if bounds is None else "custom"
    source = runs_source(runs)
    closure = OptimalApproximation(gamma, xi, regularization=label, bounds=b, source=source)

    import xarray as xr

    objective = run_errors(closure, runs).mean(axis=0)
    objective_pa = run_errors(PairApproximation(), runs).mean(axis=0)
    scale = prob.scale
    report = xr.Dataset(
        {
            "objective": ("triplet", objective),
            "objective_pa": ("triplet", objective_pa),
            "kkt_residual": ("triplet", np.asarray(kkt)),
            "converged": ("triplet", np.asarray(kkt) <= kkt_tol),
            "constraint_violation": ("triplet", constraint_violation(gamma, xi, b)),
            "start_objective": (("triplet", "start"), np.asarray(f_starts) * scale[:, None]),
            "best_start": ("triplet", np.asarray(best)),
        },
        coords={"triplet": list(TRIPLETS), "start": np.arange(starts.shape[1])},
        attrs={
            "regularization": str(label),
            "bounds": str(bounds_to_json(b)),
            "composition": source["composition"],
            "kkt_residual_definition": "max|z - P(z - grad J~(z))| with J~ = J / sum(omega C^2)",
        },
    )
    report["objective"].attrs["long_name"] = "closure error J_tau (eq. 15), mean over runs"
    return closure, report


def runs_source(runs: Sequence[Trajectories]) -> dict[str, Any]:
    """Provenance of a calibration on ``runs`` (`Trajectories`) for a closure's ``source``.

    One run: its composition (a float), records, trajectories, time span and attributes, as
    before joint calibration existed. Several: ``composition`` and ``compositions`` list the
    runs' compositions, ``records`` and ``trajectories`` are totals, ``attrs`` are the first
    run's, and ``runs`` is their number.
    """
    from .._version import __version__

    if len(runs) == 1:
        traj = runs[0]
        source = {
            "composition": traj.composition,
            "records": int(traj.times.shape[0]),
            "trajectories": int(traj.C_pair.shape[0]),
            "time_span": [float(traj.times[0]), float(traj.times[-1])],
            "attrs": jsonable(traj.attrs),
        }
    else:
        comps = [float(t.composition) for t in runs]
        source = {
            "composition": comps,
            "compositions": comps,
            "runs": len(runs),
            "records": int(sum(t.times.shape[0] for t in runs)),
            "trajectories": int(sum(t.C_pair.shape[0] for t in runs)),
            "time_span": [float(min(t.times[0] for t in runs)), float(max(t.times[-1] for t in runs))],
            "attrs": jsonable(runs[0].attrs),
        }
    source["meanclust_jax_version"] = __version__
    return source

