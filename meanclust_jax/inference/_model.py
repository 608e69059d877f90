"""NumPyro models of the rate posterior (paper eqs. (19)–(20); issue 10; docs/model.md §7).

Two likelihoods, chosen by ``likelihood=``:

* ``"gaussian"`` (the default of the API, the CLI and the study): the recorded pairs are the
  model's plus independent Gaussian errors,

      Ĉ_p(t_n) = C_p(t_n; θ) + ε_{n,p},   ε_{n,p} ~ N(0, σ_p² + τ_{n,p}²),

  for the two independent pair types ``p ∈ {++, --}`` at every recorded time after the first
  (the model starts from the data's first pairs, so ``t_0`` carries no information). ``C+-`` is
  left out because ``C++ + C-- + 2C+- = 1`` holds exactly in the data and in the model: its
  residual is ``−(ε++ + ε--)/2``, and counting it as a third independent observation would count
  the same information twice and make the error model singular. ``σ_p`` (concentration units)
  is unknown, with the weakly informative prior ``σ_p ~ HalfNormal(sigma_scale)`` (default 0.1:
  97.5% of the prior mass below 0.22, far above any plausible misfit of a concentration, while
  keeping the prior proper); ``τ_{n,p}`` is the known *floor*: the standard error of the replica
  mean at ``t_n`` (the Monte Carlo scatter between replicas), zero for one replica. With
  ``replicas="separate"`` every replica is its own observation, started from its own first pairs,
  and there is no floor (the replica scatter is then part of what ``σ`` describes).

  The equilibrium term ``a|Q(K) − Q̂|²`` of eq. (17) is *not* part of this likelihood: ``Q̂`` is
  computed from the same final pairs that the trajectory term already uses, so adding it would
  count those data twice, with a weight ``a`` that is not a noise level; it expresses detailed
  balance under the closure, physics that an approximate closure satisfies only approximately.
  (It stays in ``F``, which is still recorded along the chains, and in the ``"paper"``
  likelihood.)

  Rates (PA, OA, any closure) are sampled in the coordinates of
  `meanclust_jax.inference._parametrization`: ``s_j = 4k_{2j-1} + k_{2j}`` uniform on
  ``[lower, upper]`` (default ``[0, 1e3 / span]`` with ``span`` the data's time span: up to a
  thousand relaxations within the run) and the splits ``u_j = 4k_{2j-1}/s_j ~ Uniform(0, 1)``;
  the samplers move in NumPyro's unconstrained coordinates, ``logit(s_j/upper)`` — i.e.
  ``log s_j`` for ``s_j ≪ upper`` — and ``logit u_j``. The implied prior on each rate pair is
  ``p(k_{2j-1}, k_{2j}) ∝ 1/(4k_{2j-1} + k_{2j})``, like the paper's uniform prior finite at
  zero rates: a combination the data only bound from above (``s_3`` when the ordered phase has
  no Li–Li pairs) gets a posterior uniform below that bound rather than one spread over decades
  down to an arbitrary cut-off, as a log-uniform prior would give. SA's ``(α1, α2)`` are uniform
  on a box ``[lower, upper]²`` (they may be negative).

* ``"paper"`` (reproduction): the Gibbs posterior ``exp(−β F(K))`` of eq. (17) with a uniform
  prior on the box ``[lower, upper]^8`` of rates (paper Section V); ``β`` (default 1) is an
  inverse temperature. It has no noise model: its width is set by the unit of time.

A `PosteriorModel` carries the NumPyro model plus what `sample_posterior` needs to turn the
latent draws into the reported quantities (``k``, ``k_identifiable``, ``sigma`` or ``alpha``),
to compute ``F`` and the pointwise log-likelihood along the chains, and to start chains.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validate import check_float
from ..ode import RATE_NAMES, solve_pairs, sparse_misfit, sparse_solution
from ._data import PairData
from ._loss import RateProblem
from ._parametrization import (
    IDENTIFIABLE_NAMES,
    identifiable_combinations,
    rates_from_combinations,
    split_fractions,
)

#: The likelihoods of `rate_posterior_model` / `sparse_posterior_model`.
LIKELIHOODS: tuple[str, ...] = ("gaussian", "paper")
#: The pair types observed by the Gaussian likelihood (``C+-`` is implied by normalisation).
OBSERVED_PAIRS: tuple[str, ...] = ("++", "--")
#: Default scale of the ``HalfNormal`` prior of the noise levels ``σ`` (concentration units).
SIGMA_SCALE: float = 0.1
#: Draws per compiled call when ``F`` and the pointwise log-likelihood are evaluated along chains.
POINTWISE_CHUNK: int = 256


@dataclass(frozen=True)
class PosteriorModel:
    """A NumPyro posterior model and how to report its draws.

    **Fields:**

    - `model`: the NumPyro model, called as ``model(*model_args)``.
    - `model_args`: its arguments (the observations, for the Gaussian likelihood; empty for the
      paper likelihood): passing other data of the same shapes reuses the compiled sampler
      (``numpyro.infer.MCMC(..., jit_model_args=True)``, e.g. for simulation-based
      calibration).
    - `site`: the reported parameter vector: ``"k"`` (rates) or ``"alpha"`` (SA).
    - `dim_name`: its dimension in ArviZ output (``"rate"`` / ``"alpha_index"``).
    - `names`: its coordinate labels, e.g. ``("k1", …, "k8")``.
    - `lower`, `upper`: NumPy float64 prior bounds: of each rate (paper likelihood), of each
      ``s_j`` (Gaussian likelihood, rates) or of each ``α`` (SA).
    - `beta`: inverse temperature of the paper likelihood (1 for the Gaussian one).
    - `loss_fn`: ``v ↦ F(v)`` of eq. (17) at a value of `site`, jittable, ``(n,) → ()``.
    - `full_rates`: ``v ↦ K`` (paper model with some rates fixed), or ``None``.
    - `forward_mode`: whether gradients of the model must be forward mode (the ODE solve uses
      `diffrax.ForwardMode`); NUTS is then built with ``forward_mode_differentiation=True``.
    - `likelihood`: ``"gaussian"`` or ``"paper"``.
    - `site_values`: ``latent ↦ values of site`` from a dict of constrained latent draws with
      any leading batch shape.
    - `latent_from_site`: ``(v, sigma) ↦ dict of constrained latent values`` (chain starts).
    - `pointwise`: ``(v, sigma) ↦ (F, log-likelihood per observation)`` for one draw, jittable;
      the second is ``None`` for the paper likelihood.
    - `observation_dims`: names of the observation axes of the pointwise log-likelihood.
    - `observation_coords`: their coordinates.
    - `sigma_floor`: the known floor ``τ`` of the noise, shape of the observations, or ``None``.
    """

    model: Callable[..., None]
    site: str
    dim_name: str
    names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    beta: float
    loss_fn: Callable
    full_rates: Callable | None = None
    forward_mode: bool = False
    likelihood: str = "paper"
    site_values: Callable | None = None
    latent_from_site: Callable | None = None
    pointwise: Callable | None = None
    observation_dims: tuple[str, ...] = ()
    observation_coords: dict = field(default_factory=dict)
    sigma_floor: np.ndarray | None = None
    model_args: tuple = ()

    @property
    def dim(self) -> int:
        """Number of entries of the reported vector `site`."""
        return len(self.names)

    # Compiled once per model and shared by both samplers (each compilation of the ODE solve
    # costs seconds): the potential, its Hessian, and the per-draw loss and log-likelihood.

    @functools.cached_property
    def potential(self) -> Callable:
        """Jitted ``params ↦ −log density`` on NumPyro's unconstrained latent dict."""
        from numpyro.infer.util import potential_energy

        return jax.jit(lambda p: potential_energy(self.model, self.model_args, {}, p))

    @functools.cached_property
    def potential_hessian(self) -> Callable:
        """Jitted ``params ↦ ∂²(potential)`` over the flattened unconstrained latent vector."""
        from jax.flatten_util import ravel_pytree
        from numpyro.infer.util import potential_energy

        def hessian(params: dict[str, jax.Array]) -> jax.Array:
            x, unravel = ravel_pytree(params)
            return jax.jacfwd(jax.jacfwd(
                lambda v: potential_energy(self.model, self.model_args, {}, unravel(v))))(x)

        return jax.jit(hessian)

    @functools.cached_property
    def pointwise_batch(self) -> Callable:
        """``(v (n, dim), sigma (n, 2)) ↦ (F (n,), log-likelihood (n, *obs))`` as NumPy arrays.

        Evaluated in chunks of `POINTWISE_CHUNK` draws by one compiled function (the last chunk
        padded), so posteriors of any length reuse the same compilation.
        """
        chunk = POINTWISE_CHUNK
        compiled = jax.jit(lambda a, b: jax.lax.map(lambda x: self.pointwise(*x), (a, b), batch_size=32))

        def evaluate(v: ArrayLike, sigma: ArrayLike) -> tuple[np.ndarray, np.ndarray | None]:
            v = np.asarray(v, dtype=np.float64)
            sigma = np.asarray(sigma, dtype=np.float64)
            n = v.shape[0]
            pad = (-n) % chunk
            v = np.concatenate([v, np.repeat(v[-1:], pad, axis=0)])
            sigma = np.concatenate([sigma, np.repeat(sigma[-1:], pad, axis=0)])
            parts = [compiled(jnp.asarray(v[i:i + chunk]), jnp.asarray(sigma[i:i + chunk]))
                     for i in range(0, n + pad, chunk)]
            F = np.concatenate([np.asarray(p[0]) for p in parts])[:n]
            if parts[0][1] is None:
                return F, None
            return F, np.concatenate([np.asarray(p[1]) for p in parts])[:n]

        return evaluate

    def log_prior_density(self) -> float:
        """``log`` of the (constant) prior density of the paper model inside its box."""
        return float(-np.sum(np.log(self.upper - self.lower)))


def check_likelihood(likelihood: str) -> str:
    """Validate a likelihood name.

    **Raises:** `ValueError` naming ``likelihood`` and the allowed values.
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    return likelihood


def _bounds(
    lower: ArrayLike, upper: ArrayLike | None, n: int, *, positive: bool, name: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    if upper is None:
        raise ValueError("upper must be given (the uniform prior needs a finite upper bound)")
    try:
        lo = np.broadcast_to(np.asarray(lower, dtype=np.float64), (n,)).copy()
        hi = np.broadcast_to(np.asarray(upper, dtype=np.float64), (n,)).copy()
    except (TypeError, ValueError):
        raise ValueError(
            f"lower and upper must be numbers or arrays of shape ({n},){name}, got "
            f"lower={lower!r}, upper={upper!r}"
        ) from None
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError(f"lower and upper must be finite{name}, got lower={lo.tolist()}, upper={hi.tolist()}")
    if positive and np.any(lo < 0):
        raise ValueError(f"lower must be >= 0 for rates (range [0, upper)){name}, got {lo.tolist()}")
    if np.any(hi <= lo):
        raise ValueError(f"upper must exceed lower{name}, got lower={lo.tolist()}, upper={hi.tolist()}")
    return lo, hi


def _check_beta(beta: float) -> float:
    return check_float(beta, "beta", minimum=0.0, open_min=True)


def _check_sigma_scale(sigma_scale: float) -> float:
    return check_float(sigma_scale, "sigma_scale", minimum=0.0, open_min=True)


def _paper_model(
    site: str, lower: np.ndarray, upper: np.ndarray, beta: float, loss_fn: Callable[[jax.Array], jax.Array]
) -> Callable[[], None]:
    import numpyro
    import numpyro.distributions as dist

    lo = jnp.asarray(lower)
    hi = jnp.asarray(upper)

    def model() -> None:
        v = numpyro.sample(site, dist.Uniform(lo, hi).to_event(1))
        numpyro.factor("misfit", -beta * loss_fn(v))

    return model


# ----------------------------------------------------------------------- Gaussian likelihood


@dataclass(frozen=True)
class _Observations:
    """What the Gaussian likelihood compares the model with (see the module docstring)."""

    ts: jax.Array  # (times,)
    C0: jax.Array  # (3,) or (replicas, 3)
    obs: jax.Array  # (times - 1, 2) or (replicas, times - 1, 2)
    floor: jax.Array  # same shape as obs (0 where there is no floor)
    dims: tuple[str, ...]
    coords: dict


def _observations(data: PairData, replicas: str, floor: bool) -> _Observations:
    if replicas not in ("mean", "separate"):
        raise ValueError(f"replicas must be 'mean' or 'separate', got {replicas!r}")
    ts = data.times
    times = np.asarray(ts)[1:]
    if replicas == "separate":
        if data.C_pair_replicas is None:
            raise ValueError(
                "replicas='separate' needs the per-replica trajectories: build the data with "
                "PairData.from_dataset(ds, replica='mean') from a run with several replicas"
            )
        C = data.C_pair_replicas
        obs = C[:, 1:, :2]
        return _Observations(
            ts=ts, C0=C[:, 0, :], obs=obs, floor=jnp.zeros_like(obs),
            dims=("replica", "obs_time", "obs_pair"),
            coords={"replica": np.arange(C.shape[0]), "obs_time": times, "obs_pair": list(OBSERVED_PAIRS)},
        )
    obs = data.C_pair[1:, :2]
    tau = jnp.zeros_like(obs)
    if floor and data.C_pair_se is not None:
        tau = data.C_pair_se[1:, :2]
    return _Observations(
        ts=ts, C0=data.C_pair[0], obs=obs, floor=tau, dims=("obs_time", "obs_pair"),
        coords={"obs_time": times, "obs_pair": list(OBSERVED_PAIRS)},
    )


def gaussian_log_likelihood(
    C_model: jax.Array, ok: jax.Array, obs: jax.Array, floor: jax.Array, sigma: jax.Array
) -> jax.Array:
    """Pointwise ``log N(Ĉ | C, σ² + τ²)`` of the Gaussian likelihood (module docstring).

    **Arguments:**

    - `C_model`: model pairs at the observed times, shape ``(*obs_shape[:-1], 2)`` (``++, --``).
    - `ok`: whether the model solve succeeded (bool scalar); where not, every entry is ``−inf``.
    - `obs`: the observations, same shape.
    - `floor`: the known floor ``τ``, same shape.
    - `sigma`: ``(σ++, σ--)``, shape ``(2,)``, positive.

    **Returns:**

    The log density of each observation, float64, the shape of `obs`. Gradients are finite
    where ``ok`` (the failed branch is evaluated at the data).
    """
    C_safe = jnp.where(ok, C_model, obs)
    var = jnp.broadcast_to(sigma**2, floor.shape) + floor**2
    ll = -0.5 * ((obs - C_safe) ** 2 / var + jnp.log(2.0 * jnp.pi * var))
    return jnp.where(ok, ll, -jnp.inf)


def _gaussian_rate_model(
    problem: RateProblem,
    obs: _Observations,
    s_lo: np.ndarray,
    s_hi: np.ndarray,
    sigma_scale: float,
    fixed_split: np.ndarray | None,
) -> tuple[
    Callable[[jax.Array, jax.Array, jax.Array], None],
    Callable[[Mapping[str, jax.Array]], jax.Array],
    Callable[[ArrayLike, ArrayLike], dict[str, jax.Array]],
    Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]],
]:
    import numpyro
    import numpyro.distributions as dist

    closure = problem.closure
    settings = {"solver": problem.loss_solver, "rtol": problem.rtol, "atol": problem.atol,
                "max_steps": problem.max_steps, "adjoint": problem.adjoint}
    C_single = problem.data.C_single
    separate = obs.C0.ndim == 2

    def trajectory(K: jax.Array, C0: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Model pairs at the observed times ``(..., times - 1, 2)`` and success flag."""
        valid = jnp.all(jnp.isfinite(K) & (K >= 0))
        K_safe = jnp.where(valid, K, 1.0)

        def one(C0: jax.Array) -> tuple[jax.Array, jax.Array]:
            traj = solve_pairs(K_safe, closure, C_single, C0, obs.ts, **settings)
            return traj.C_pair, traj.ok

        if separate:
            C, ok = jax.vmap(one)(C0)
            ok = jnp.all(ok)
        else:
            C, ok = one(C0)
        return C[..., 1:, :2], ok & valid

    lo, hi = jnp.asarray(s_lo), jnp.asarray(s_hi)
    split = None if fixed_split is None else jnp.asarray(fixed_split)

    def rates(latent: Mapping[str, jax.Array]) -> jax.Array:
        s = latent["s"]
        u = latent["u"] if split is None else jnp.broadcast_to(split, s.shape)
        return rates_from_combinations(s, u)

    def model(C0: jax.Array, observed: jax.Array, floor: jax.Array) -> None:
        latent = {"s": numpyro.sample("s", dist.Uniform(lo, hi).to_event(1))}
        if split is None:
            latent["u"] = numpyro.sample("u", dist.Uniform(0.0, 1.0).expand([4]).to_event(1))
        sigma = numpyro.sample("sigma", dist.HalfNormal(sigma_scale).expand([2]).to_event(1))
        C, ok = trajectory(rates(latent), C0)
        ll = gaussian_log_likelihood(C, ok, observed, floor, sigma)
        numpyro.factor("log_likelihood", jnp.sum(ll))

    def latent_from_site(K: ArrayLike, sigma: ArrayLike) -> dict[str, jax.Array]:
        K = jnp.asarray(K, dtype=jnp.float64)
        out = {"s": identifiable_combinations(K)}
        if split is None:
            out["u"] = split_fractions(K)
        out["sigma"] = jnp.asarray(sigma, dtype=jnp.float64)
        return out

    def pointwise(K: jax.Array, sigma: jax.Array) -> tuple[jax.Array, jax.Array]:
        C, ok = trajectory(K, obs.C0)
        return problem.loss(K), gaussian_log_likelihood(C, ok, obs.obs, obs.floor, sigma)

    return model, rates, latent_from_site, pointwise


def sampling_problem(problem: RateProblem) -> RateProblem:
    """The problem as the samplers evaluate it: a step budget of at most `AUTO_EXPLICIT_STEPS`.

    Chains run vectorised, so a proposal at which the explicit solve fails (rates far beyond
    the priors' upper bounds, stiffer than the data can resolve) would make every chain wait for
    the whole step budget; with ``solver="auto"`` (explicit Tsit5, see `RateProblem`) the
    samplers cap it at ``min(max_steps, AUTO_EXPLICIT_STEPS)`` steps. Such rates get zero
    posterior density. A problem with an explicit solver instance is used as it is.
    """
    import dataclasses

    from ..ode import AUTO_EXPLICIT_STEPS

    if not isinstance(problem.solver, str):
        return problem
    return dataclasses.replace(problem, max_steps=min(problem.max_steps, AUTO_EXPLICIT_STEPS))


def default_combination_bounds(data: PairData) -> tuple[float, float]:
    """Default bounds ``[0, 1e3 / span]`` of the uniform prior of each ``s_j`` (1/time)."""
    span = float(data.times[-1] - data.times[0])
    return 0.0, 1e3 / span


def rate_posterior_model(
    problem: RateProblem,
    *,
    likelihood: Literal["gaussian", "paper"] = "gaussian",
    upper: ArrayLike | None = None,
    lower: ArrayLike | None = None,
    beta: float | None = None,
    free: Sequence[str] | None = None,
    fixed: ArrayLike | None = None,
    sigma_scale: float = SIGMA_SCALE,
    floor: bool = True,
    replicas: Literal["mean", "separate"] = "mean",
    fixed_split: ArrayLike | None = None,
) -> PosteriorModel:
    """The posterior of the rates ``k1 … k8`` for a closure (PA, OA or any other), eq. (19).

    See the module docstring for the two likelihoods and their priors.

    **Arguments:**

    - `problem`: the `RateProblem` (data, closure, weight ``a``, solver settings).
    - `likelihood`: ``"gaussian"`` (default) or ``"paper"``.
    - `upper`, `lower`: prior bounds, scalars or shape ``(n,)``, units 1 / model time. Gaussian:
      the uniform range of each ``s_j = 4k_{2j-1} + k_{2j}`` (default
      `default_combination_bounds`). Paper: the uniform box of each free rate (`upper`
      required, `lower` default 0).
    - `beta`: inverse temperature of the paper likelihood ``exp(−βF)``, ``> 0``, default 1;
      not allowed with the Gaussian likelihood.
    - `free`, `fixed`: paper likelihood only: the names of the sampled rates (default all) and
      the values, shape ``(8,)``, of the others.
    - `sigma_scale`: Gaussian only: scale of the ``HalfNormal`` prior of ``σ`` (concentration
      units, ``> 0``; default 0.1).
    - `floor`: Gaussian only: add the replica standard error ``τ`` as a known floor of the noise.
    - `replicas`: Gaussian only: ``"mean"`` (fit the replica mean) or ``"separate"`` (each
      replica its own observation).
    - `fixed_split`: Gaussian only: fix the splits ``u_j`` to these values, shape ``(4,)`` in
      ``(0, 1)`` (a reduced problem in ``s`` and ``σ`` only); default: sample them.

    **Returns:**

    A `PosteriorModel` reporting site ``"k"``.

    **Raises:**

    - `ValueError` for an unknown likelihood, bad bounds, ``beta`` or ``sigma_scale``, options of
      the other likelihood, unknown rate names or a missing/invalid `fixed`.
    """
    check_likelihood(likelihood)
    fwd_problem = sampling_problem(problem).forward_mode()  # 8 rates: forward mode is cheaper
    if likelihood == "paper":
        return _paper_rate_model(fwd_problem, upper, 0.0 if lower is None else lower,
                                 1.0 if beta is None else beta, free, fixed)
    if beta is not None:
        raise ValueError("beta applies to likelihood='paper' only (the Gaussian likelihood has a noise model)")
    if free is not None or fixed is not None:
        raise ValueError("free/fixed apply to likelihood='paper' only; use fixed_split with 'gaussian'")
    sigma_scale = _check_sigma_scale(sigma_scale)
    d_lo, d_hi = default_combination_bounds(problem.data)
    lo, hi = _bounds(d_lo if lower is None else lower, d_hi if upper is None else upper, 4,
                     positive=True, name=" (bounds of 4k1+k2, ... in 1/time)")
    if fixed_split is not None:
        fixed_split = np.asarray(fixed_split, dtype=np.float64)
        if fixed_split.shape != (4,) or not np.all((fixed_split > 0) & (fixed_split < 1)):
            raise ValueError(f"fixed_split must have shape (4,) with entries in (0, 1), got {fixed_split!r}")
    obs = _observations(problem.data, replicas, bool(floor))
    model, rates, latent_from_site, pointwise = _gaussian_rate_model(
        fwd_problem, obs, lo, hi, sigma_scale, fixed_split
    )
    return PosteriorModel(
        model=model, site="k", dim_name="rate", names=tuple(RATE_NAMES), lower=lo, upper=hi,
        beta=1.0, loss_fn=jax.jit(fwd_problem.loss), full_rates=None, forward_mode=True,
        likelihood="gaussian", site_values=rates, latent_from_site=latent_from_site,
        pointwise=pointwise, observation_dims=obs.dims, observation_coords=obs.coords,
        sigma_floor=np.asarray(obs.floor), model_args=(obs.C0, obs.obs, obs.floor),
    )


def _paper_rate_model(
    fwd_problem: RateProblem, upper: ArrayLike | None, lower: ArrayLike, beta: float, free: Sequence[str] | None,
    fixed: ArrayLike | None,
) -> PosteriorModel:
    free = tuple(RATE_NAMES) if free is None else tuple(free)
    unknown = [n for n in free if n not in RATE_NAMES]
    if unknown or len(set(free)) != len(free) or not free:
        raise ValueError(f"free must be distinct names among {RATE_NAMES}, got {free}")
    free = tuple(n for n in RATE_NAMES if n in free)
    idx = np.array([RATE_NAMES.index(n) for n in free])
    if len(free) < 8:
        if fixed is None or np.shape(fixed) != (8,):
            raise ValueError("fixed must be the 8 rates (shape (8,)) when only some rates are free")
        fixed_arr = np.asarray(fixed, dtype=np.float64)
        if not np.all(np.isfinite(fixed_arr)) or np.any(fixed_arr < 0):
            raise ValueError(f"fixed must be finite rates in [0, inf), got {fixed_arr.tolist()}")
    else:
        fixed_arr = np.zeros(8)
    lo, hi = _bounds(lower, upper, len(free), positive=True)
    beta = _check_beta(beta)
    base = jnp.asarray(fixed_arr)
    jidx = jnp.asarray(idx)

    def full_rates(v: Float[Array, " n"]) -> Float[Array, " 8"]:
        return base.at[jidx].set(v)

    # Jitted, so that NumPyro's eager initialisation and model tracing compile it once instead
    # of dispatching (and compiling) every operation of the solve separately.
    @jax.jit
    def loss_fn(v: Float[Array, " n"]) -> Float[Array, ""]:
        return fwd_problem.loss(full_rates(v))

    def pointwise(
        v: Float[Array, " n"], sigma: jax.Array | None  # noqa: ARG001 - the signature of PosteriorModel.pointwise
    ) -> tuple[Float[Array, ""], None]:
        return loss_fn(v), None

    return PosteriorModel(
        model=_paper_model("k", lo, hi, beta, loss_fn), site="k", dim_name="rate", names=free,
        lower=lo, upper=hi, beta=beta, loss_fn=loss_fn, full_rates=full_rates, forward_mode=True,
        likelihood="paper", site_values=lambda latent: latent["k"],
        latent_from_site=lambda v, sigma: {"k": jnp.asarray(v, dtype=jnp.float64)},  # noqa: ARG005 - (v, sigma) signature
        pointwise=pointwise,
    )


def sparse_posterior_model(
    data: PairData,
    *,
    lower: ArrayLike,
    upper: ArrayLike,
    likelihood: Literal["gaussian", "paper"] = "gaussian",
    beta: float | None = None,
    sigma_scale: float = SIGMA_SCALE,
    floor: bool = True,
    replicas: Literal["mean", "separate"] = "mean",
) -> PosteriorModel:
    """The posterior of ``(α1, α2)`` of the SA model (eqs. 28–29) on a uniform prior box.

    With the Gaussian likelihood the closed-form trajectory (29) is compared with the same
    observations as the rate models (so `arviz.compare` can rank SA against PA and OA); with the
    paper likelihood the potential is ``β F(α)`` with ``F`` the SA misfit
    (`meanclust_jax.ode.sparse_misfit`).

    **Arguments:**

    - `data`: the observed trajectory.
    - `lower`, `upper`: prior bounds of ``(α1, α2)`` (may be negative), scalar or shape ``(2,)``,
      1 / time.
    - `likelihood`, `beta`, `sigma_scale`, `floor`, `replicas`: as `rate_posterior_model`.

    **Returns:**

    A `PosteriorModel` reporting site ``"alpha"``.

    **Raises:**

    - `ValueError` for bad bounds, an unknown likelihood, or options of the other likelihood.
    """
    check_likelihood(likelihood)
    lo, hi = _bounds(lower, upper, 2, positive=False)
    ts, C = data.times, data.C_pair

    @jax.jit
    def loss_fn(v: Float[Array, " 2"]) -> Float[Array, ""]:
        return sparse_misfit(v, ts, C)

    common = {"site": "alpha", "dim_name": "alpha_index", "names": ("alpha1", "alpha2"),
              "lower": lo, "upper": hi, "loss_fn": loss_fn, "full_rates": None}
    if likelihood == "paper":
        beta = _check_beta(1.0 if beta is None else beta)
        return PosteriorModel(
            model=_paper_model("alpha", lo, hi, beta, loss_fn), beta=beta, likelihood="paper",
            site_values=lambda latent: latent["alpha"],
            latent_from_site=lambda v, sigma: {"alpha": jnp.asarray(v, dtype=jnp.float64)},  # noqa: ARG005 - (v, sigma) signature
            pointwise=lambda v, sigma: (loss_fn(v), None),  # noqa: ARG005 - (v, sigma) signature
            **common,
        )
    if beta is not None:
        raise ValueError("beta applies to likelihood='paper' only (the Gaussian likelihood has a noise model)")
    sigma_scale = _check_sigma_scale(sigma_scale)
    obs = _observations(data, replicas, bool(floor))
    jlo, jhi = jnp.asarray(lo), jnp.asarray(hi)

    def trajectory(alpha: Float[Array, " 2"], C0: jax.Array) -> tuple[jax.Array, jax.Array]:
        C_model = sparse_solution(alpha, C0, obs.ts) if C0.ndim == 1 else jax.vmap(
            lambda c0: sparse_solution(alpha, c0, obs.ts))(C0)
        C_model = C_model[..., 1:, :2]
        return C_model, jnp.all(jnp.isfinite(C_model))

    def model(C0: jax.Array, observed: jax.Array, floor: jax.Array) -> None:
        import numpyro
        import numpyro.distributions as dist

        alpha = numpyro.sample("alpha", dist.Uniform(jlo, jhi).to_event(1))
        sigma = numpyro.sample("sigma", dist.HalfNormal(sigma_scale).expand([2]).to_event(1))
        C_model, ok = trajectory(alpha, C0)
        numpyro.factor("log_likelihood", jnp.sum(gaussian_log_likelihood(C_model, ok, observed, floor, sigma)))

    def pointwise(alpha: Float[Array, " 2"], sigma: jax.Array) -> tuple[Float[Array, ""], jax.Array]:
        C_model, ok = trajectory(alpha, obs.C0)
        return loss_fn(alpha), gaussian_log_likelihood(C_model, ok, obs.obs, obs.floor, sigma)

    return PosteriorModel(
        model=model, beta=1.0, likelihood="gaussian", site_values=lambda latent: latent["alpha"],
        latent_from_site=lambda v, sigma: {"alpha": jnp.asarray(v, dtype=jnp.float64),
                                           "sigma": jnp.asarray(sigma, dtype=jnp.float64)},
        pointwise=pointwise, observation_dims=obs.dims, observation_coords=obs.coords,
        sigma_floor=np.asarray(obs.floor), model_args=(obs.C0, obs.obs, obs.floor), **common,
    )


__all__ = [
    "IDENTIFIABLE_NAMES",
    "LIKELIHOODS",
    "OBSERVED_PAIRS",
    "PosteriorModel",
    "SIGMA_SCALE",
    "check_likelihood",
    "default_combination_bounds",
    "gaussian_log_likelihood",
    "rate_posterior_model",
    "sampling_problem",
    "sparse_posterior_model",
]
