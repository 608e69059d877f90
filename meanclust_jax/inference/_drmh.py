"""Two-stage delayed-rejection Metropolis–Hastings (paper Algorithm 1, eqs. (21)–(24)).

The sampler is split in two layers, as in BlackJAX and NumPyro:

* a pure core on a flat position vector — `drmh_init`, `drmh_draw`, `drmh_transition` and
  `drmh_step`, with the `DRMHState` / `DRMHInfo` named tuples — that knows nothing about
  models;
* `DelayedRejectionMH`, a thin `numpyro.infer.mcmc.MCMCKernel` adapter, so that
  ``numpyro.infer.MCMC(DelayedRejectionMH(model), ...)`` runs it with the same chains (also
  ``chain_method="vectorized"``), progress bar, ``extra_fields`` and
  ``arviz.from_numpyro`` conversion as NUTS. It works for any NumPyro model whose latent sites
  are continuous.

**The algorithm.** From the current point ``x`` with log density ``ℓ(x)``:

1. propose ``y1 = x + ξ1``, ``ξ1 ~ U[−σ1, σ1]`` (componentwise) and accept with
   ``α1(x, y1) = min{1, π(y1)/π(x)}`` (eq. 23; the uniform proposal is symmetric);
2. on rejection propose ``y2 = x + ξ2``, ``ξ2 ~ U[−σ2, σ2]``, and accept with the
   Tierney–Mira probability (eq. 24)

       α2(x, y1, y2) = min{1, π(y2) q1(y1 | y2) [1 − α1(y2, y1)]
                             / (π(x) q1(y1 | x) [1 − α1(x, y1)])},

   where ``q1(y1 | z)`` is the first-stage proposal density (the box of half-widths ``σ1``
   centred at ``z``). The second-stage kernel is symmetric and cancels. For uniform
   proposals the ratio ``q1(y1 | y2) / q1(y1 | x)`` is the indicator ``|y1 − y2| ≤ σ1``: it is
   zero when ``y1`` could not have been proposed from ``y2``, and leaving it out (as the OCR of
   eq. (24) might suggest) would break detailed balance.

**DRAM (the default variant).** ``variant="dram"`` keeps the two-stage structure but proposes
``y1 ~ N(x, C)`` and, on rejection, ``y2 ~ N(x, γ² C)`` (Gaussian, symmetric), and adapts ``C`` to
the chain's own history during warm-up: ``C = s_d (Σ̂ + ε I)`` with ``s_d = 2.38²/d`` and ``Σ̂``
the sample covariance of the warm-up draws (adaptive Metropolis inside delayed rejection,
Haario, Laine, Mira & Saksman 2006, "DRAM: efficient adaptive MCMC", as in pymcmcstat). The
estimate restarts at 20% and 50% of the warm-up so that the transient from the starting point
does not inflate it, and ``C`` is frozen when the warm-up ends: the kept chain is an ordinary
Markov chain with a fixed, reversible kernel. ``γ`` is `second_stage_factor` (default 0.2,
pymcmcstat's ``drscale = 5``). The Tierney–Mira formula is the same with Gaussian ``q1``.

The OCR of the paper writes the first-stage test as "if α1 < r then (second stage)", i.e. the
first proposal is accepted when ``r ≤ α1``; here it is accepted when ``r < α1`` (the same up to
a null set).

!!! note "Cost under `jax.vmap`"
    The second stage runs under `jax.lax.cond`, so a single chain only evaluates the target
    there when the first stage rejected. Vectorised chains (``chain_method="vectorized"``)
    turn the `cond` into a select and pay for the second-stage evaluation on every step:
    `DRMHInfo.num_evals` counts the evaluations a sequential chain needs.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray, PyTree
from numpyro.infer.mcmc import MCMCKernel

# ---------------------------------------------------------------------------------------
# Pure core
# ---------------------------------------------------------------------------------------


class DRMHState(NamedTuple):
    """State of a delayed-rejection chain.

    **Fields:**

    - `position`: current point ``x``, shape ``(dim,)``, float64.
    - `logdensity`: ``log π(x)`` (unnormalised), float64 scalar.
    """

    position: Float[Array, " dim"]
    logdensity: Float[Array, ""]


class DRMHInfo(NamedTuple):
    """Diagnostics of one delayed-rejection transition.

    **Fields:**

    - `first_accept_prob`: ``α1(x, y1)`` of eq. (23), scalar in ``[0, 1]``.
    - `second_accept_prob`: ``α2(x, y1, y2)`` of eq. (24), scalar in ``[0, 1]``; 0 when the
      first stage accepted (no second stage).
    - `stage`: int32: 1 if ``y1`` was accepted, 2 if ``y2`` was, 0 if both were rejected.
    - `is_accepted`: bool, ``stage > 0``.
    - `num_evals`: int32, target evaluations a sequential chain made (1 or 2).
    """

    first_accept_prob: Float[Array, ""]
    second_accept_prob: Float[Array, ""]
    stage: Int[Array, ""]
    is_accepted: Bool[Array, ""]
    num_evals: Int[Array, ""]


class DRMHDraws(NamedTuple):
    """The random numbers of one transition (for reproducible hand checks).

    **Fields:**

    - `xi1`, `xi2`: unit uniform steps in ``[−1, 1)``, shape ``(dim,)``; the proposals are
      ``x + σ1 ξ1`` and ``x + σ2 ξ2``.
    - `u1`, `u2`: acceptance uniforms in ``[0, 1)``, scalars.
    """

    xi1: Float[Array, " dim"]
    u1: Float[Array, ""]
    xi2: Float[Array, " dim"]
    u2: Float[Array, ""]


def _sanitize(logp: Array) -> Array:
    """NaN log densities count as ``−inf`` (outside the support)."""
    logp = jnp.asarray(logp, dtype=jnp.float64)
    return jnp.where(jnp.isnan(logp), -jnp.inf, logp)


def _log1mexp(x: Array) -> Array:
    """``log(1 − e^x)`` for ``x ≤ 0`` (``−inf`` at ``x = 0``), stable near both ends."""
    x = jnp.minimum(x, 0.0)
    x_safe = jnp.where(x < 0, x, -1.0)
    out = jnp.where(
        x_safe > -0.6931471805599453, jnp.log(-jnp.expm1(x_safe)), jnp.log1p(-jnp.exp(x_safe))
    )
    return jnp.where(x < 0, out, -jnp.inf)


def first_stage_log_accept(logp_x: Array, logp_y1: Array) -> Array:
    """``log α1(x, y1) = min(0, ℓ(y1) − ℓ(x))`` of eq. (23) (symmetric proposal).

    **Arguments:**

    - `logp_x`: ``ℓ(x)``, finite scalar (the chain's current point).
    - `logp_y1`: ``ℓ(y1)``, scalar, may be ``−inf``.

    **Returns:**

    ``log α1 ∈ [−inf, 0]``; ``−inf`` when both densities are ``−inf``.
    """
    logp_x = _sanitize(logp_x)
    logp_y1 = _sanitize(logp_y1)
    both_out = jnp.isneginf(logp_x) & jnp.isneginf(logp_y1)
    diff = jnp.where(both_out, -jnp.inf, logp_y1 - jnp.where(both_out, 0.0, logp_x))
    return jnp.minimum(0.0, diff)


def uniform_box_logpdf(
    delta: Float[Array, " dim"], scale: Float[Array, " dim"]
) -> Float[Array, ""]:
    """Log density of ``U[−scale, scale]`` (componentwise) at ``delta``; ``−inf`` outside."""
    inside = jnp.all(jnp.abs(delta) <= scale)
    return jnp.where(inside, -jnp.sum(jnp.log(2.0 * scale)), -jnp.inf)


def second_stage_log_accept(
    logp_x: Float[ArrayLike, ""],
    logp_y1: Float[ArrayLike, ""],
    logp_y2: Float[ArrayLike, ""],
    log_q1_y1_given_y2: Float[ArrayLike, ""],
    log_q1_y1_given_x: Float[ArrayLike, ""],
) -> Float[Array, ""]:
    """``log α2`` of the Tierney–Mira second stage (eq. 24) with symmetric second proposals.

    ``α2 = min{1, π(y2) q1(y1|y2) [1 − α1(y2, y1)] / (π(x) q1(y1|x) [1 − α1(x, y1)])}``.

    **Arguments:**

    - `logp_x`, `logp_y1`, `logp_y2`: log target at ``x``, ``y1``, ``y2`` (scalars).
    - `log_q1_y1_given_y2`: log first-stage proposal density of ``y1`` from ``y2``.
    - `log_q1_y1_given_x`: log first-stage proposal density of ``y1`` from ``x``.

    **Returns:**

    ``log α2 ∈ [−inf, 0]``; ``−inf`` when the numerator vanishes or when ``α1(x, y1) = 1`` (the
    second stage is then never reached).
    """
    logp_x = _sanitize(logp_x)
    logp_y2 = _sanitize(logp_y2)
    log_1m_a1_x = _log1mexp(first_stage_log_accept(logp_x, logp_y1))
    log_1m_a1_y2 = _log1mexp(first_stage_log_accept(logp_y2, logp_y1))
    num = logp_y2 + log_q1_y1_given_y2 + log_1m_a1_y2
    den = logp_x + log_q1_y1_given_x + log_1m_a1_x
    degenerate = jnp.isneginf(num) | ~jnp.isfinite(den)
    diff = jnp.where(degenerate, -jnp.inf, num - jnp.where(degenerate, 0.0, den))
    return jnp.minimum(0.0, diff)


def drmh_init(
    position: Float[Array, " dim"], logdensity_fn: Callable[[Array], Array]
) -> DRMHState:
    """Initial `DRMHState` at ``position``.

    **Arguments:**

    - `position`: starting point, shape ``(dim,)`` (cast to float64).
    - `logdensity_fn`: ``x ↦ log π(x)`` (unnormalised), ``(dim,) → ()``.

    **Returns:**

    The state; its log density may be ``−inf`` if the start lies outside the support (the
    first proposal inside it is then always accepted).
    """
    position = jnp.asarray(position, dtype=jnp.float64)
    return DRMHState(position=position, logdensity=_sanitize(logdensity_fn(position)))


def drmh_draw(key: PRNGKeyArray, dim: int) -> DRMHDraws:
    """Draw the random numbers of one transition from ``key`` (as `drmh_step` does).

    **Arguments:**

    - `key`: JAX PRNG key.
    - `dim`: dimension of the position.

    **Returns:**

    A `DRMHDraws`.
    """
    return _draws(key, lambda k: jax.random.uniform(k, (dim,), jnp.float64, minval=-1.0, maxval=1.0))


def _draws(key: PRNGKeyArray, step: Callable[[PRNGKeyArray], Array]) -> DRMHDraws:
    """Two proposal steps drawn by ``step`` and two acceptance uniforms, from four subkeys."""
    k1, k2, k3, k4 = jax.random.split(key, 4)

    def u(k: PRNGKeyArray) -> Float[Array, ""]:
        return jax.random.uniform(k, (), jnp.float64)

    return DRMHDraws(xi1=step(k1), u1=u(k2), xi2=step(k3), u2=u(k4))


def drmh_transition(
    state: DRMHState,
    draws: DRMHDraws,
    logdensity_fn: Callable[[Array], Array],
    first_scale: Float[ArrayLike, " dim"] | float,
    second_scale: Float[ArrayLike, " dim"] | float,
) -> tuple[DRMHState, DRMHInfo]:
    """One DR-MH transition with given random numbers (deterministic; Algorithm 1).

    **Arguments:**

    - `state`: current `DRMHState`.
    - `draws`: the random numbers (`drmh_draw`).
    - `logdensity_fn`: ``x ↦ log π(x)``, ``(dim,) → ()``; NaN counts as ``−inf``.
    - `first_scale`: ``σ1 > 0``, scalar or shape ``(dim,)``.
    - `second_scale`: ``σ2 > 0``, scalar or shape ``(dim,)``.

    **Returns:**

    ``(new_state, info)``.
    """
    x = state.position
    s1 = jnp.broadcast_to(jnp.asarray(first_scale, dtype=jnp.float64), x.shape)
    s2 = jnp.broadcast_to(jnp.asarray(second_scale, dtype=jnp.float64), x.shape)
    # q1(y1 | x) is the box density by construction (y1 was drawn from it).
    return _two_stage(
        state, x + s1 * draws.xi1, lambda: x + s2 * draws.xi2, -jnp.sum(jnp.log(2.0 * s1)),
        lambda y1, y2: uniform_box_logpdf(y1 - y2, s1), draws, logdensity_fn,
    )


#: What either stage of `_two_stage` returns: position, log density, second-stage acceptance
#: probability, stage accepted (0 none, 1, 2) and number of density evaluations.
_StageResult = tuple[Float[Array, " dim"], Float[Array, ""], Float[Array, ""], Int[Array, ""], Int[Array, ""]]


def _two_stage(
    state: DRMHState,
    y1: Float[Array, " dim"],
    make_y2: Callable[[], Float[Array, " dim"]],
    log_q1_y1_given_x: Float[Array, ""],
    log_q1_y1_given: Callable[[Array, Array], Array],
    draws: DRMHDraws,
    logdensity_fn: Callable[[Array], Array],
) -> tuple[DRMHState, DRMHInfo]:
    """Algorithm 1 given the proposals: first stage, then (on rejection) the Tierney–Mira stage.

    ``make_y2()`` builds the second proposal and ``log_q1_y1_given(y1, y2)`` is the first-stage
    proposal density of ``y1`` from ``y2``; both are only evaluated in the second stage.
    """
    x = state.position
    logp_x = state.logdensity
    logp_y1 = _sanitize(logdensity_fn(y1))
    log_a1 = first_stage_log_accept(logp_x, logp_y1)
    accept1 = jnp.log(draws.u1) < log_a1

    def _first(_: None) -> _StageResult:
        zero = jnp.zeros((), jnp.float64)
        return y1, logp_y1, zero, jnp.int32(1), jnp.int32(1)

    def _second(_: None) -> _StageResult:
        y2 = make_y2()
        logp_y2 = _sanitize(logdensity_fn(y2))
        log_a2 = second_stage_log_accept(
            logp_x, logp_y1, logp_y2, log_q1_y1_given(y1, y2), log_q1_y1_given_x
        )
        accept2 = jnp.log(draws.u2) < log_a2
        pos = jnp.where(accept2, y2, x)
        lp = jnp.where(accept2, logp_y2, logp_x)
        return pos, lp, jnp.exp(log_a2), jnp.where(accept2, 2, 0).astype(jnp.int32), jnp.int32(2)

    pos, lp, a2, stage, num_evals = jax.lax.cond(accept1, _first, _second, None)
    info = DRMHInfo(
        first_accept_prob=jnp.exp(log_a1),
        second_accept_prob=a2,
        stage=stage,
        is_accepted=stage > 0,
        num_evals=num_evals,
    )
    return DRMHState(position=pos, logdensity=lp), info


def drmh_step(
    key: PRNGKeyArray,
    state: DRMHState,
    logdensity_fn: Callable[[Array], Array],
    first_scale: Float[ArrayLike, " dim"] | float,
    second_scale: Float[ArrayLike, " dim"] | float,
) -> tuple[DRMHState, DRMHInfo]:
    """One DR-MH transition (Algorithm 1): `drmh_draw` then `drmh_transition`.

    **Arguments:**

    - `key`: JAX PRNG key; the same key gives the same transition.
    - `state`, `logdensity_fn`, `first_scale`, `second_scale`: as `drmh_transition`.

    **Returns:**

    ``(new_state, info)``.
    """
    draws = drmh_draw(key, state.position.shape[0])
    return drmh_transition(state, draws, logdensity_fn, first_scale, second_scale)


def gaussian_logpdf(delta: Float[Array, " dim"], chol: Float[Array, "dim dim"]) -> Float[Array, ""]:
    """Log density of ``N(0, L Lᵀ)`` at ``delta`` (``L = chol`` lower triangular, positive diagonal)."""
    w = jax.scipy.linalg.solve_triangular(chol, delta, lower=True)
    d = delta.shape[0]
    return -0.5 * jnp.sum(w**2) - jnp.sum(jnp.log(jnp.diag(chol))) - 0.5 * d * jnp.log(2.0 * jnp.pi)


def dram_draw(key: PRNGKeyArray, dim: int) -> DRMHDraws:
    """The random numbers of one DRAM transition: standard normal ``ξ1``, ``ξ2``, uniforms ``u``.

    **Returns:**

    A `DRMHDraws` whose ``xi1``, ``xi2`` are ``N(0, I)`` (the proposals are ``x + L ξ1`` and
    ``x + γ L ξ2``).
    """
    return _draws(key, lambda k: jax.random.normal(k, (dim,), jnp.float64))


def dram_transition(
    state: DRMHState,
    draws: DRMHDraws,
    logdensity_fn: Callable[[Array], Array],
    chol: Float[Array, "dim dim"],
    second_stage_factor: float | Float[Array, ""],
) -> tuple[DRMHState, DRMHInfo]:
    """One DRAM transition with given random numbers (Gaussian proposals; module docstring).

    **Arguments:**

    - `state`: current `DRMHState`.
    - `draws`: from `dram_draw`.
    - `logdensity_fn`: ``x ↦ log π(x)``; NaN counts as ``−inf``.
    - `chol`: Cholesky factor ``L`` of the first-stage covariance ``C``, shape ``(dim, dim)``.
    - `second_stage_factor`: ``γ ∈ (0, 1]``; the second-stage covariance is ``γ² C``.

    **Returns:**

    ``(new_state, info)``.
    """
    x = state.position
    step1 = chol @ draws.xi1
    return _two_stage(
        state, x + step1, lambda: x + second_stage_factor * (chol @ draws.xi2),
        gaussian_logpdf(step1, chol), lambda y1, y2: gaussian_logpdf(y1 - y2, chol),
        draws, logdensity_fn,
    )


class DRAMAdaptation(NamedTuple):
    """Running moments of the warm-up draws of one DRAM chain (Welford's algorithm).

    **Fields:**

    - `mean`: shape ``(dim,)``.
    - `m2`: sum of outer products of deviations, shape ``(dim, dim)``.
    - `count`: number of draws in the current window (float64).
    """

    mean: Float[Array, " dim"]
    m2: Float[Array, "dim dim"]
    count: Float[Array, ""]


def dram_adaptation_init(dim: int) -> DRAMAdaptation:
    """Empty running moments."""
    return DRAMAdaptation(jnp.zeros(dim), jnp.zeros((dim, dim)), jnp.zeros(()))


def dram_adaptation_update(adapt: DRAMAdaptation, x: Float[Array, " dim"]) -> DRAMAdaptation:
    """Add one draw to the running moments."""
    count = adapt.count + 1.0
    delta = x - adapt.mean
    mean = adapt.mean + delta / count
    m2 = adapt.m2 + jnp.outer(delta, x - mean)
    return DRAMAdaptation(mean, m2, count)


def dram_adapted_chol(
    adapt: DRAMAdaptation, previous: Float[Array, "dim dim"], min_count: int
) -> Float[Array, "dim dim"]:
    """``chol(s_d (Σ̂ + ε I))`` from the running moments, or `previous` if too few draws.

    ``s_d = 2.38²/d`` (Haario et al. 2001); ``ε = 1e-10 × mean(diag Σ̂)`` keeps the factor
    positive definite. With fewer than `min_count` draws in the window, or a non-finite or
    collapsed estimate (a chain that accepted nothing), the previous factor is kept.
    """
    d = adapt.mean.shape[0]
    cov = adapt.m2 / jnp.maximum(adapt.count - 1.0, 1.0)
    cov = 0.5 * (cov + cov.T)
    eps = 1e-10 * jnp.maximum(jnp.mean(jnp.diag(cov)), 1e-300)
    chol = jnp.linalg.cholesky((2.38**2 / d) * (cov + eps * jnp.eye(d)))
    usable = (adapt.count >= min_count) & jnp.all(jnp.isfinite(chol)) & jnp.all(jnp.diag(chol) > 0)
    return jnp.where(usable, chol, previous)


def default_scales(
    position: Float[Array, " dim"], first_factor: float = 0.1, second_factor: float = 0.01
) -> tuple[Float[Array, " dim"], Float[Array, " dim"]]:
    """The paper's scales ``σ1 = 0.1·|Y1|``, ``σ2 = 0.01·|Y1|`` (Section V).

    Entries where ``Y1 = 0`` use ``first_factor`` (resp. ``second_factor``) times 1, so that no
    scale is zero (a deviation from the paper, whose ``Y1`` has no zero entry).

    **Returns:**

    ``(σ1, σ2)``, each of the shape of ``position``.
    """
    mag = jnp.abs(jnp.asarray(position, dtype=jnp.float64))
    mag = jnp.where(mag > 0, mag, 1.0)
    return first_factor * mag, second_factor * mag


def _check_scale(scale: ArrayLike | None, name: str, dim: int | None = None) -> None:
    if scale is None:
        return
    arr = np.asarray(scale, dtype=np.float64)
    if arr.ndim > 1 or (arr.ndim == 1 and dim is not None and arr.shape[0] != dim):
        raise ValueError(
            f"{name} must be a float or an array over the flattened latent vector of shape "
            f"({dim if dim is not None else 'dim'},), got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and > 0 (scale in (0, inf)), got {arr.tolist()}")


# ---------------------------------------------------------------------------------------
# NumPyro adapter
# ---------------------------------------------------------------------------------------

#: Variants of `DelayedRejectionMH`: adaptive Gaussian (DRAM, default) and the paper's uniform.
DRMH_VARIANTS: tuple[str, ...] = ("dram", "paper")

DRMHKernelState = namedtuple(
    "DRMHKernelState",
    [
        "i",
        "z",
        "potential_energy",
        "accept_stage",
        "accept_prob_1",
        "accept_prob_2",
        "num_evals",
        "first_scale",
        "second_scale",
        "num_accept_1",
        "num_second_stage",
        "num_accept_2",
        "proposal_chol",
        "adapt_mean",
        "adapt_m2",
        "adapt_count",
        "rng_key",
    ],
)
DRMHKernelState.__doc__ = """State of `DelayedRejectionMH` (a NumPyro kernel state).

- **i** – iteration (warmup included).
- **z** – latent values (a dict keyed by site name): *constrained* values when
  ``space="constrained"``, unconstrained ones when ``space="unconstrained"``, or the
  ``init_params`` pytree when a ``potential_fn`` is given.
- **potential_energy** – ``−log π(z)`` in the space of the walk (constrained space: no
  Jacobian term).
- **accept_stage** – 1/2 if the first/second proposal was accepted in the last step, else 0.
- **accept_prob_1**, **accept_prob_2** – ``α1``, ``α2`` of the last step (``α2 = 0`` if the
  first stage accepted).
- **num_evals** – target evaluations of the last step for a sequential chain (1 or 2).
- **first_scale**, **second_scale** – ``σ1``, ``σ2`` over the flattened latent vector: the
  half-widths of the uniform proposals (``variant="paper"``), or the standard deviations of the
  current Gaussian proposals (``variant="dram"``, the square roots of the diagonals of ``C`` and
  ``γ² C``).
- **num_accept_1**, **num_second_stage**, **num_accept_2** – running counts (diagnostics).
- **proposal_chol** – Cholesky factor of the first-stage covariance ``C`` (DRAM; the diagonal
  ``σ1`` for the paper variant, unused there).
- **adapt_mean**, **adapt_m2**, **adapt_count** – the running moments of the current warm-up
  window (`DRAMAdaptation`), frozen after the warm-up.
- **rng_key** – PRNG key.
"""


class DelayedRejectionMH(MCMCKernel):
    """Two-stage delayed-rejection Metropolis–Hastings as a NumPyro `MCMCKernel`.

    Two variants (see the module docstring):

    * ``variant="dram"`` (default): Gaussian proposals ``N(x, C)`` then ``N(x, γ² C)``, with
      ``C`` adapted to the chain's warm-up draws and frozen afterwards (DRAM); the walk is in
      NumPyro's unconstrained space by default.
    * ``variant="paper"``: the paper's Algorithm 1 exactly: uniform proposals ``U[−σ1, σ1]``
      then ``U[−σ2, σ2]`` around the current point with ``σ1 = 0.1·|init|``,
      ``σ2 = 0.01·|init|`` by default, no adaptation (warmup steps are plain burn-in), on the
      constrained values.

    Both use the Tierney–Mira second-stage acceptance (eqs. 23–24).

    ```python
    mcmc = numpyro.infer.MCMC(DelayedRejectionMH(model), num_warmup=1000, num_samples=10**5,
                              num_chains=4, chain_method="vectorized")
    mcmc.run(jax.random.key(0), extra_fields=("accept_prob_1", "accept_prob_2"))
    idata = arviz.from_numpyro(mcmc)
    ```

    **Arguments:**

    - `model`: a NumPyro model with continuous latent sites (or ``None`` with `potential_fn`).
    - `first_scale`: ``σ1``: a float or an array over the flattened latent vector (in the space
      of the walk, see `space`); default ``0.1·|init|`` (per chain). For DRAM the standard
      deviations of the initial diagonal ``C`` (default ``0.1·max(|init|, 1)``), used until the
      adaptation has enough draws.
    - `second_scale`: paper variant: ``σ2``; default ``0.01·|init|``. Not used by DRAM (its
      second stage is `second_stage_factor` times the first).
    - `potential_fn`: instead of a model, ``z ↦ −log π(z)`` on a pytree; ``init_params`` must
      then be passed to `MCMC.run`.
    - `space`: ``"constrained"`` (the paper's default: the walk moves the latent values
      themselves, proposals outside a site's support are rejected, no Jacobian) or
      ``"unconstrained"`` (DRAM's default: the walk moves NumPyro's unconstrained values;
      needed for supports without interior such as simplexes). Ignored with `potential_fn`.
    - `init_strategy`: NumPyro init strategy (e.g. ``init_to_value(values={"k": Y1})``).
    - `variant`: ``"dram"`` (default) or ``"paper"``.
    - `second_stage_factor`: DRAM's ``γ ∈ (0, 1]``; default 0.2.
    - `adapt`: DRAM only: adapt ``C`` during the warm-up (default True; False keeps the initial
      ``C``, i.e. plain Gaussian delayed rejection).
    - `initial_covariance`: DRAM only: the initial ``C`` (before ``s_d`` scaling is *not*
      applied: this is the proposal covariance itself), shape ``(dim, dim)`` over the flattened
      latent vector, symmetric positive definite — e.g. ``2.38²/d`` times the inverse Hessian of
      the potential at the starting point (a Laplace approximation, as mcmcstat's DRAM starts
      from the least-squares fit's covariance). Default: diagonal from `first_scale`.

    **Raises:**

    - `ValueError` if neither or both of `model` and `potential_fn` are given, for an unknown
      `space` or `variant`, for non-positive/non-finite scales, for a `second_stage_factor`
      outside ``(0, 1]``, or for `second_scale` with DRAM.
    """

    def __init__(
        self,
        model: Callable | None = None,
        first_scale: ArrayLike | None = None,
        second_scale: ArrayLike | None = None,
        *,
        potential_fn: Callable | None = None,
        space: Literal["constrained", "unconstrained"] | None = None,
        init_strategy: Callable | None = None,
        variant: Literal["dram", "paper"] = "dram",
        second_stage_factor: float = 0.2,
        adapt: bool = True,
        initial_covariance: ArrayLike | None = None,
    ) -> None:
        from numpyro.infer.initialization import init_to_uniform

        if (model is None) == (potential_fn is None):
            raise ValueError("exactly one of model and potential_fn must be given")
        if variant not in DRMH_VARIANTS:
            raise ValueError(f"variant must be one of {DRMH_VARIANTS}, got {variant!r}")
        if space is None:
            space = "unconstrained" if variant == "dram" else "constrained"
        if space not in ("constrained", "unconstrained"):
            raise ValueError(f"space must be 'constrained' or 'unconstrained', got {space!r}")
        _check_scale(first_scale, "first_scale")
        _check_scale(second_scale, "second_scale")
        if variant == "dram" and second_scale is not None:
            raise ValueError(
                "second_scale is the paper variant's σ2; DRAM's second stage is second_stage_factor "
                "times the first (use variant='paper' for fixed uniform scales)"
            )
        try:
            gamma = float(second_stage_factor)
        except (TypeError, ValueError):
            gamma = float("nan")
        if not (0 < gamma <= 1):
            raise ValueError(f"second_stage_factor must be in (0, 1], got {second_stage_factor!r}")
        if initial_covariance is not None:
            if variant != "dram":
                raise ValueError("initial_covariance applies to variant='dram' only")
            cov = np.asarray(initial_covariance, dtype=np.float64)
            if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or not np.all(np.isfinite(cov)):
                raise ValueError(f"initial_covariance must be a finite square matrix, got shape {cov.shape}")
            try:
                self._initial_chol = np.linalg.cholesky(0.5 * (cov + cov.T))
            except np.linalg.LinAlgError:
                raise ValueError("initial_covariance must be symmetric positive definite") from None
            if first_scale is not None:
                raise ValueError("give either first_scale or initial_covariance, not both")
        else:
            self._initial_chol = None
        self._variant = variant
        self._gamma = gamma
        self._adapt = bool(adapt)
        self._num_warmup = 0
        self._model = model
        self._potential_fn = potential_fn
        self._first_scale = first_scale
        self._second_scale = second_scale
        self._space = space
        self._init_strategy = init_to_uniform if init_strategy is None else init_strategy
        self._potential_fn_gen = None
        self._postprocess_gen = None
        self._has_deterministic = False
        self._sample_fn = None

    # --- MCMCKernel interface -----------------------------------------------------------

    @property
    def model(self) -> Callable | None:
        """The NumPyro model (needed by ``arviz.from_numpyro``)."""
        return self._model

    @property
    def space(self) -> str:
        """Space of the random walk: ``"constrained"`` or ``"unconstrained"``."""
        return self._space

    @property
    def variant(self) -> str:
        """``"dram"`` or ``"paper"``."""
        return self._variant

    @property
    def sample_field(self) -> str:
        return "z"

    @property
    def default_fields(self) -> tuple[str, ...]:
        return ("z", "potential_energy", "accept_stage")

    @property
    def is_ensemble_kernel(self) -> bool:
        return False

    def get_diagnostics_str(self, state: DRMHKernelState) -> str:
        n = max(int(state.i), 1)
        n2 = max(int(state.num_second_stage), 1)
        return f"acc. 1st={float(state.num_accept_1) / n:.2f} 2nd={float(state.num_accept_2) / n2:.2f}"

    def postprocess_fn(self, model_args: tuple, model_kwargs: dict) -> Callable[[PyTree], PyTree]:
        from numpyro.util import identity

        if self._model is None:
            return identity
        if self._space == "unconstrained":
            return self._postprocess_gen(*model_args, **model_kwargs)
        if not self._has_deterministic:
            return identity
        model = self._model

        def constrained_postprocess(z: dict[str, Array]) -> dict[str, Array]:
            from numpyro import handlers

            tr = handlers.trace(
                handlers.substitute(handlers.seed(model, 0), data=z)
            ).get_trace(*model_args, **model_kwargs)
            return {
                k: v["value"]
                for k, v in tr.items()
                if k in z or v["type"] == "deterministic"
            }

        return constrained_postprocess

    def init(
        self,
        rng_key: jax.Array,
        num_warmup: int,
        init_params: PyTree | None = None,
        model_args: tuple = (),
        model_kwargs: dict | None = None,
    ) -> DRMHKernelState:
        """Initial `DRMHKernelState` (batched over chains when ``rng_key`` is a batch of keys).

        With a model, ``init_params`` follows NumPyro's convention (unconstrained values); use
        ``init_strategy=init_to_value(...)`` to start from constrained values such as ``Y1``.
        """
        from numpyro.util import is_prng_key

        model_kwargs = {} if model_kwargs is None else model_kwargs
        self._num_warmup = int(num_warmup)
        vectorized = not is_prng_key(rng_key)
        if vectorized:
            rng_key, key_init = jnp.swapaxes(jax.vmap(jax.random.split)(rng_key), 0, 1)
        else:
            rng_key, key_init = jax.random.split(rng_key)

        if self._model is not None:
            make_z, z_input = self._init_from_model(
                key_init, init_params, model_args, model_kwargs, vectorized
            )
        else:
            if init_params is None:
                raise ValueError("init_params must be given when potential_fn is used")
            make_z, z_input = (lambda z: z), init_params

        def one(z: PyTree, key: PRNGKeyArray) -> DRMHKernelState:
            x, unravel = ravel_pytree(z)
            x = jnp.asarray(x, dtype=jnp.float64)
            dim = x.shape[0]
            _check_scale(self._first_scale, "first_scale", dim)
            _check_scale(self._second_scale, "second_scale", dim)
            if self._variant == "paper":
                d1, d2 = default_scales(x)
            else:
                d1 = 0.1 * jnp.maximum(jnp.abs(x), 1.0)
                d2 = self._gamma * d1
            s1 = d1 if self._first_scale is None else jnp.broadcast_to(
                jnp.asarray(self._first_scale, jnp.float64), (dim,)
            )
            s2 = d2 if self._second_scale is None else jnp.broadcast_to(
                jnp.asarray(self._second_scale, jnp.float64), (dim,)
            )
            chol0 = jnp.diag(s1)
            if self._variant == "dram":
                if self._initial_chol is not None:
                    if self._initial_chol.shape != (dim, dim):
                        raise ValueError(
                            f"initial_covariance must have shape ({dim}, {dim}) (the flattened latent "
                            f"vector), got {self._initial_chol.shape}"
                        )
                    chol0 = jnp.asarray(self._initial_chol)
                    s1 = jnp.sqrt(jnp.sum(chol0**2, axis=1))
                s2 = self._gamma * s1
            adapt = dram_adaptation_init(dim)
            logdensity = self._logdensity(unravel, model_args, model_kwargs)
            st = drmh_init(x, logdensity)
            zero_f = jnp.zeros((), jnp.float64)
            zero_i = jnp.zeros((), jnp.int32)
            return DRMHKernelState(
                i=zero_i,
                z=unravel(st.position),
                potential_energy=-st.logdensity,
                accept_stage=zero_i,
                accept_prob_1=zero_f,
                accept_prob_2=zero_f,
                num_evals=zero_i,
                first_scale=s1,
                second_scale=s2,
                num_accept_1=zero_i,
                num_second_stage=zero_i,
                num_accept_2=zero_i,
                proposal_chol=chol0,
                adapt_mean=adapt.mean,
                adapt_m2=adapt.m2,
                adapt_count=adapt.count,
                rng_key=key,
            )

        def init_one(z_input: PyTree, key: PRNGKeyArray) -> DRMHKernelState:
            return one(make_z(z_input), key)

        if vectorized:
            state = jax.jit(jax.vmap(init_one))(z_input, rng_key)
            self._sample_fn = jax.vmap(self._sample_one, in_axes=(0, None, None))
        else:
            state = jax.jit(init_one)(z_input, rng_key)
            self._sample_fn = self._sample_one
        return state

    def sample(self, state: DRMHKernelState, model_args: tuple, model_kwargs: dict | None) -> DRMHKernelState:
        """One DR-MH step (batched over chains in vectorised mode)."""
        if self._sample_fn is None:
            raise RuntimeError("DelayedRejectionMH.init must be called before sample")
        return self._sample_fn(state, model_args, model_kwargs)

    # --- internals ----------------------------------------------------------------------

    def _init_from_model(
        self, key: jax.Array, init_params: PyTree | None, model_args: tuple, model_kwargs: dict, vectorized: bool
    ) -> tuple[Callable[[PyTree], PyTree], PyTree]:
        """``(make_z, z_input)`` with ``make_z(z_input)`` the initial ``z`` (traceable)."""
        get_init = self._inspect_model(model_args, model_kwargs)
        if self._space == "unconstrained":
            jax.eval_shape(get_init, key[0] if vectorized else key)  # rejects discrete sites clearly
            z = self._init_unconstrained(key, init_params, model_args, model_kwargs)
            return (lambda z: z), z
        if init_params is not None:
            jax.eval_shape(get_init, key[0] if vectorized else key)
            from numpyro.infer.util import constrain_fn

            def constrain(u: PyTree) -> PyTree:
                return constrain_fn(self._model, model_args, model_kwargs, u)

            return constrain, init_params
        # Constrained walk: the initial values come straight from the init strategy (as in
        # `numpyro.infer.util.initialize_model`), without compiling the potential's gradient.
        return get_init, key

    def _inspect_model(self, model_args: tuple, model_kwargs: dict) -> Callable[[PRNGKeyArray], dict[str, Array]]:
        """``key ↦ {site: initial constrained value}`` following the init strategy.

        Tracing it records whether the model has deterministic sites and rejects discrete
        latent sites (`ValueError`).
        """
        from numpyro import handlers

        model, strategy = self._model, self._init_strategy
        found: dict[str, object] = {}

        def get_init(k: PRNGKeyArray) -> dict[str, Array]:
            tr = handlers.trace(
                handlers.substitute(handlers.seed(model, k), substitute_fn=strategy)
            ).get_trace(*model_args, **model_kwargs)
            found["deterministic"] = any(v["type"] == "deterministic" for v in tr.values())
            found["discrete"] = [
                name
                for name, v in tr.items()
                if v["type"] == "sample" and not v["is_observed"] and v["fn"].support.is_discrete
            ]
            return {
                name: v["value"]
                for name, v in tr.items()
                if v["type"] == "sample" and not v["is_observed"]
            }

        def checked_get_init(k: PRNGKeyArray) -> dict[str, Array]:
            z = get_init(k)
            if found["discrete"]:
                raise ValueError(
                    "DelayedRejectionMH needs continuous latent sites; discrete sites: "
                    f"{found['discrete']}"
                )
            self._has_deterministic = bool(found["deterministic"])
            return z

        return checked_get_init

    def _init_unconstrained(
        self, key: jax.Array, init_params: PyTree | None, model_args: tuple, model_kwargs: dict
    ) -> PyTree:
        from numpyro.infer.util import initialize_model

        info = initialize_model(
            key,
            self._model,
            init_strategy=self._init_strategy,
            dynamic_args=True,
            model_args=model_args,
            model_kwargs=model_kwargs,
            validate_grad=False,
        )
        self._potential_fn_gen = info.potential_fn
        self._postprocess_gen = info.postprocess_fn
        for name, site in info.model_trace.items():
            if (
                site["type"] == "sample"
                and not site["is_observed"]
                and site["fn"].support.is_discrete
            ):
                raise ValueError(
                    f"DelayedRejectionMH needs continuous latent sites; site {name!r} is discrete"
                )
        return info.param_info.z if init_params is None else init_params

    def _logdensity(
        self, unravel: Callable[[Array], PyTree], model_args: tuple, model_kwargs: dict
    ) -> Callable[[Array], Array]:
        """``x_flat ↦ log π`` in the space of the walk."""
        if self._model is None:
            potential_fn = self._potential_fn
            return lambda x: -potential_fn(unravel(x))
        if self._space == "unconstrained":
            potential_fn = self._potential_fn_gen(*model_args, **model_kwargs)
            return lambda x: -potential_fn(unravel(x))
        model = self._model

        def logdensity(x: Float[Array, " dim"]) -> Float[Array, ""]:
            from numpyro.infer.util import log_density

            params = unravel(x)
            log_joint, tr = log_density(model, model_args, model_kwargs, params)
            inside = jnp.array(True)
            for name, site in tr.items():
                if site["type"] == "sample" and name in params:
                    inside = inside & jnp.all(site["fn"].support(site["value"]))
            log_joint = jnp.asarray(log_joint, dtype=jnp.float64)
            return jnp.where(inside, log_joint, -jnp.inf)

        return logdensity

    def _sample_one(self, state: DRMHKernelState, model_args: tuple, model_kwargs: dict | None) -> DRMHKernelState:
        model_kwargs = {} if model_kwargs is None else model_kwargs
        x, unravel = ravel_pytree(state.z)
        x = jnp.asarray(x, dtype=jnp.float64)
        logdensity = self._logdensity(unravel, model_args, model_kwargs)
        rng_key, key = jax.random.split(state.rng_key)
        current = DRMHState(position=x, logdensity=-state.potential_energy)
        if self._variant == "paper":
            new, info = drmh_step(key, current, logdensity, state.first_scale, state.second_scale)
            chol, adapt = state.proposal_chol, DRAMAdaptation(state.adapt_mean, state.adapt_m2, state.adapt_count)
        else:
            draws = dram_draw(key, x.shape[0])
            new, info = dram_transition(current, draws, logdensity, state.proposal_chol, self._gamma)
            chol, adapt = self._adapt_step(state, new.position)
        sd1 = jnp.sqrt(jnp.sum(chol**2, axis=1)) if self._variant == "dram" else state.first_scale
        sd2 = self._gamma * sd1 if self._variant == "dram" else state.second_scale
        second = (info.num_evals == 2).astype(jnp.int32)
        return DRMHKernelState(
            i=state.i + 1,
            z=unravel(new.position),
            potential_energy=-new.logdensity,
            accept_stage=info.stage,
            accept_prob_1=info.first_accept_prob,
            accept_prob_2=info.second_accept_prob,
            num_evals=info.num_evals,
            first_scale=sd1,
            second_scale=sd2,
            num_accept_1=state.num_accept_1 + (info.stage == 1).astype(jnp.int32),
            num_second_stage=state.num_second_stage + second,
            num_accept_2=state.num_accept_2 + (info.stage == 2).astype(jnp.int32),
            proposal_chol=chol,
            adapt_mean=adapt.mean,
            adapt_m2=adapt.m2,
            adapt_count=adapt.count,
            rng_key=rng_key,
        )

    def _adapt_step(
        self, state: DRMHKernelState, position: Float[Array, " dim"]
    ) -> tuple[Float[Array, "dim dim"], DRAMAdaptation]:
        """DRAM's adaptation after step ``state.i``: update the window's moments and ``C``.

        Windows restart at 20% and 50% of the warm-up; ``C`` is re-estimated from the current
        window once it holds ``max(20, 2 dim + 2)`` draws; nothing changes after the warm-up.
        """
        adapt = DRAMAdaptation(state.adapt_mean, state.adapt_m2, state.adapt_count)
        if not self._adapt or self._num_warmup == 0:
            return state.proposal_chol, adapt
        W = self._num_warmup
        dim = position.shape[0]
        restart = (state.i == W // 5) | (state.i == W // 2)
        adapt = jax.tree.map(
            lambda fresh, old: jnp.where(restart, fresh, old), dram_adaptation_init(dim), adapt
        )
        warm = state.i < W
        updated = dram_adaptation_update(adapt, position)
        adapt = jax.tree.map(lambda a, b: jnp.where(warm, a, b), updated, adapt)
        chol = dram_adapted_chol(adapt, state.proposal_chol, max(20, 2 * dim + 2))
        chol = jnp.where(warm, chol, state.proposal_chol)
        return chol, adapt

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_sample_fn"] = None
        return state


__all__ = [
    "DRAMAdaptation",
    "DRMH_VARIANTS",
    "DRMHDraws",
    "DRMHInfo",
    "DRMHKernelState",
    "DRMHState",
    "DelayedRejectionMH",
    "default_scales",
    "dram_adaptation_init",
    "dram_adaptation_update",
    "dram_adapted_chol",
    "dram_draw",
    "dram_transition",
    "drmh_draw",
    "drmh_init",
    "drmh_step",
    "drmh_transition",
    "first_stage_log_accept",
    "gaussian_logpdf",
    "second_stage_log_accept",
    "uniform_box_logpdf",
]
