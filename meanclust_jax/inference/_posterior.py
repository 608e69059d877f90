"""Sampling the rate posterior with NUTS and DR-MH; results as ArviZ ``InferenceData``.

Both samplers run through the same `numpyro.infer.MCMC` driver (chains vectorised in one
compiled call, warm-up, extra fields). The result is an ``arviz.InferenceData`` with

* ``posterior``: the reported quantities — ``k`` (rates ``k1 … k8``, dimension ``rate``) with
  ``k_identifiable`` (``4k1+k2, 4k3+k4, 4k5+k6, 4k7+k8``, dimension ``combination``), or
  ``alpha`` (SA, dimension ``alpha_index``); ``sigma`` (noise levels of the Gaussian
  likelihood, dimension ``obs_pair``); and ``F``, the loss (17) at every draw (paper Fig. 14);
* ``log_likelihood`` (Gaussian likelihood): ``C_pair``, the log density of every observation
  (``obs_time``, ``obs_pair``; ``replica`` too for separate replicas), for ``arviz.loo`` and
  ``arviz.compare``;
* ``sample_stats``: ``lp`` (log density in the sampler's space), plus ``diverging``,
  ``acceptance_rate``, ``n_steps`` (NUTS) or ``accept_stage``, ``accept_prob_1``,
  ``accept_prob_2``, ``num_evals`` (DR-MH);
* ``posterior.attrs``: settings, wall time, ``converged`` (1/0) and a JSON ``diagnostics`` string
  with the convergence table (R-hat, bulk and tail ESS, MCSE of every quantity; `convergence`)
  and the acceptance rates or divergences.

With ``until_converged=True`` a sampler keeps drawing, in rounds of ``num_samples`` draws per
chain without a new warm-up, until every quantity meets the convergence standard or
``max_samples`` draws per chain are kept; the draw budget (not a clock) bounds the run, so the
same key gives the same result on the same backend.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, PRNGKeyArray

from .._cf import cf_posterior_attrs
from .._io import atomic_path, existing_file, netcdf_attrs, netcdf_engine, unreadable_file_message
from .._precision import require_float64
from .._validate import check_float, check_int
from ..ode import SparseFit, fit_sparse
from ._data import PairData
from ._diagnostics import ESS_MIN, PROJECTION_MARGIN, RHAT_MAX, convergence, projected_draws
from ._drmh import DRMH_VARIANTS, DelayedRejectionMH
from ._loss import RateProblem
from ._model import PosteriorModel, _check_beta, check_likelihood, rate_posterior_model, sparse_posterior_model
from ._optimise import MultistartResult, _loss, multistart, polish
from ._parametrization import IDENTIFIABLE_NAMES, identifiable_combinations

if TYPE_CHECKING:
    import arviz as az
    import pandas as pd

SAMPLERS: tuple[str, ...] = ("nuts", "drmh")
_NUTS_FIELDS = ("potential_energy", "diverging", "num_steps", "accept_prob")
_DRMH_FIELDS = ("potential_energy", "accept_stage", "accept_prob_1", "accept_prob_2", "num_evals")
_RENAME = {"potential_energy": "lp", "num_steps": "n_steps", "accept_prob": "acceptance_rate"}


def _laplace(pm: PosteriorModel, center: dict[str, jax.Array]) -> np.ndarray | None:
    """Laplace approximation at ``center`` (an unconstrained latent dict): its covariance.

    The covariance is ``H⁻¹`` with ``H`` the Hessian of NumPyro's potential energy over the
    flattened unconstrained latent vector, its eigenvalues taken in absolute value and floored
    at 0.1 (a standard deviation of at most ~3 unconstrained units in directions the posterior
    hardly constrains, about the width of the priors' logistic shape there), so that it is
    positive definite even away from a mode. ``None`` if ``H`` is not finite.
    """
    H = np.asarray(pm.potential_hessian(center))
    H = 0.5 * (H + H.T)
    if not np.all(np.isfinite(H)):
        return None
    w, V = np.linalg.eigh(H)
    w = np.maximum(np.abs(w), 0.1)
    return (V / w) @ V.T


def _initial_params(
    pm: PosteriorModel, key: PRNGKeyArray, num_chains: int, init: ArrayLike, sigma_init: ArrayLike | None,
    dispersion: float,
) -> tuple[dict[str, jax.Array], np.ndarray | None]:
    """Per-chain starting points in NumPyro's unconstrained space, and the Laplace covariance.

    Chain ``c`` starts at ``init`` (with ``sigma_init``) displaced by ``dispersion · L ξ_c``,
    ``ξ_c ~ N(0, I)`` and ``L Lᵀ`` the Laplace covariance there (`_laplace`): the chains start
    spread over (``dispersion > 1``: beyond) the bulk of the posterior, so that R-hat can see
    chains that do not mix, but not in regions of negligible density where a random walk could
    get stuck. A start whose log density is not finite is pulled back towards ``init`` (its
    displacement halved, ten times at most). Returns ``(params, covariance)``: a dict with a
    leading chain axis (none for one chain), and the covariance (``None`` if not available).
    """
    from jax.flatten_util import ravel_pytree
    from numpyro.infer.util import unconstrain_fn

    latent = pm.latent_from_site(jnp.asarray(init), None if sigma_init is None else jnp.asarray(sigma_init))
    center = unconstrain_fn(pm.model, pm.model_args, {}, latent)
    energy = pm.potential
    if not np.isfinite(float(energy(center))):
        raise ValueError("init has zero posterior density (outside the prior, or the model solve fails there)")
    cov = _laplace(pm, center)
    x0, unravel = ravel_pytree(center)
    chol = np.eye(x0.shape[0]) if cov is None else np.linalg.cholesky(cov)
    noise = np.asarray(jax.random.normal(key, (num_chains, x0.shape[0]), dtype=jnp.float64))
    chains = []
    for c in range(num_chains):
        scale = float(dispersion)
        for _ in range(11):
            start = unravel(x0 + scale * jnp.asarray(chol @ noise[c]))
            if np.isfinite(float(energy(start))):
                break
            scale *= 0.5
        else:
            start = center
        chains.append(start)
    params = chains[0] if num_chains == 1 else jax.tree.map(lambda *xs: jnp.stack(xs), *chains)
    return params, cov


def _sigma_from_residuals(pm: PosteriorModel, v: ArrayLike) -> np.ndarray | None:
    """RMS residual per observed pair at ``v`` (a starting value for ``σ``), or ``None``."""
    if pm.likelihood != "gaussian":
        return None
    _, ll = pm.pointwise_batch(np.asarray(v)[None], np.ones((1, 2)))
    ll = ll[0]
    ll = np.asarray(ll)
    if not np.all(np.isfinite(ll)):
        raise ValueError("init gives a failing model solve; choose another starting point")
    r2 = -2.0 * ll - np.log(2.0 * np.pi)  # σ = 1: the floor (≪ 1) is negligible here
    r2 = r2.reshape(-1, 2)
    return np.maximum(np.sqrt(np.mean(r2, axis=0)), 1e-6)


def _quantities(pm: PosteriorModel, latent: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The reported quantities from latent draws with leading ``(chain, draw)`` axes."""
    v = np.asarray(pm.site_values({k: jnp.asarray(x) for k, x in latent.items()}))
    out = {pm.site: v}
    if pm.site == "k" and v.shape[-1] == 8:
        out["k_identifiable"] = np.asarray(identifiable_combinations(v))
    if "sigma" in latent:
        out["sigma"] = np.asarray(latent["sigma"])
    return out


def _inference_data(
    pm: PosteriorModel, quantities: Mapping[str, np.ndarray], stats: Mapping[str, np.ndarray],
    F: np.ndarray | None = None, loglik: np.ndarray | None = None,
) -> az.InferenceData:
    import arviz as az

    dims = {pm.site: [pm.dim_name], "k_identifiable": ["combination"], "sigma": ["obs_pair"]}
    coords = {pm.dim_name: list(pm.names), "combination": list(IDENTIFIABLE_NAMES), "obs_pair": ["++", "--"]}
    posterior = dict(quantities)
    if F is not None:
        posterior["F"] = F
    groups = {"posterior": posterior, "sample_stats": stats}
    if loglik is not None:
        groups["log_likelihood"] = {"C_pair": loglik}
        dims["C_pair"] = list(pm.observation_dims)
        coords.update(pm.observation_coords)
    return az.from_dict(**groups, coords=coords, dims={k: v for k, v in dims.items()
                                                       if k in posterior or k == "C_pair"})


def _pointwise(pm: PosteriorModel, v: np.ndarray, sigma: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """``F`` and the pointwise log-likelihood at every draw (`PosteriorModel.pointwise_batch`)."""
    lead = v.shape[:-1]
    flat_v = v.reshape(-1, v.shape[-1])
    flat_s = np.ones((flat_v.shape[0], 2)) if sigma is None else sigma.reshape(-1, 2)
    F, ll = pm.pointwise_batch(flat_v, flat_s)
    F = F.reshape(lead)
    return F, (None if ll is None else np.asarray(ll).reshape(lead + ll.shape[1:]))


def _nuts_promotion(sampler: str) -> contextlib.AbstractContextManager:
    """JAX's standard dtype promotion for a NUTS run (numpyro 0.22's `hmc._nuts_next` divides a
    float sum by an int count, which strict promotion refuses); DR-MH runs under the caller's
    setting."""
    return jax.numpy_dtype_promotion("standard") if sampler == "nuts" else contextlib.nullcontext()


def sample_posterior(
    pm: PosteriorModel,
    key: PRNGKeyArray,
    *,
    sampler: Literal["nuts", "drmh"] = "drmh",
    num_samples: int = 1000,
    num_chains: int = 4,
    num_warmup: int | None = None,
    init: ArrayLike | None = None,
    sigma_init: ArrayLike | None = None,
    init_dispersion: float = 1.5,
    drmh_variant: Literal["dram", "paper"] = "dram",
    first_scale: ArrayLike | None = None,
    second_scale: ArrayLike | None = None,
    chain_method: str = "vectorized",
    progress_bar: bool = False,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 8,
    thinning: int | None = None,
    until_converged: bool = False,
    max_samples: int | None = None,
    rhat_max: float = RHAT_MAX,
    ess_min: float = ESS_MIN,
    attrs: Mapping[str, object] | None = None,
) -> az.InferenceData:
    """Sample a `PosteriorModel` with NUTS or DR-MH and return an ArviZ ``InferenceData``.

    **Arguments:**

    - `pm`: the posterior model (`rate_posterior_model` / `sparse_posterior_model`).
    - `key`: JAX PRNG key; the same key gives identical draws on the same backend.
    - `sampler`: ``"nuts"`` (NumPyro NUTS, gradients through the ODE solve, forward mode when
      ``pm.forward_mode``) or ``"drmh"`` (`DelayedRejectionMH`).
    - `num_samples`: kept draws per chain (before thinning), ``>= 1``; with `until_converged`,
      the size of each round.
    - `num_chains`: chains, ``>= 1`` (default 4: the convergence standard needs at least 4).
    - `num_warmup`: warm-up per chain (NUTS: step size and mass matrix; DRAM: covariance
      adaptation; paper DR-MH: burn-in). Default ``num_samples // 2`` (NUTS) or
      ``num_samples // 5`` (DR-MH).
    - `init`: centre of the chains' starting points, shape ``(pm.dim,)`` (e.g. ``Y1``), where
      the posterior density is positive; each chain starts at a draw from the Laplace
      approximation there, its standard deviations scaled by `init_dispersion` (see
      `_initial_params`). Default: NumPyro's ``init_to_uniform``.
    - `sigma_init`: starting noise levels (Gaussian likelihood), shape ``(2,)``; default the RMS
      residual at `init`.
    - `init_dispersion`: spread of the starting points in Laplace standard deviations,
      ``>= 0`` (default 1.5: overdispersed, as R-hat assumes).
    - `drmh_variant`: ``"dram"`` (default: adaptive, Gaussian proposals) or ``"paper"``
      (Algorithm 1: uniform proposals ``0.1·|init|``, ``0.01·|init|``).
    - `first_scale`, `second_scale`: DR-MH scales (see `DelayedRejectionMH`). Without them,
      DRAM started from `init` uses the Laplace approximation there as its first proposal
      covariance (``(2.38²/d) H⁻¹``, `_laplace`), as mcmcstat's DRAM starts from the
      least-squares covariance.
    - `chain_method`: ``"vectorized"`` (default: all chains in one compiled call),
      ``"sequential"`` or ``"parallel"`` (NumPyro's meanings).
    - `progress_bar`: show NumPyro's progress bar.
    - `target_accept_prob`, `max_tree_depth`: NUTS settings.
    - `thinning`: keep every ``thinning``-th draw, ``>= 1``; default 1 (NUTS) or 10 (DR-MH).
    - `until_converged`: draw further rounds until `convergence` passes (R-hat ``≤ rhat_max``,
      bulk and tail ESS ``≥ ess_min``) or `max_samples` is reached, or the budget is hopeless:
      a round is drawn only while `projected_draws` (the draws per chain that would bring the
      smallest ESS to `ess_min`, ESS growing linearly in draws) is at most
      ``PROJECTION_MARGIN`` (2) × `max_samples`. ``posterior.attrs["stop_reason"]`` says which.
    - `max_samples`: draw budget per chain for `until_converged` (default ``10 × num_samples``).
    - `rhat_max`, `ess_min`: the convergence thresholds (default 1.01 and 400).
    - `attrs`: extra attributes stored on the posterior group; a ``time_scale`` entry (model
      time per sweep, default 1) sets the units of the CF metadata (rates in ``1/sweep``).

    **Returns:**

    ``arviz.InferenceData`` (see the module docstring), with CF ``long_name``/``units``.

    **Raises:**

    - `ValueError` for an unknown sampler or variant, counts out of range (``num_samples < 1``,
      ``num_chains < 1``, …), or an ``init`` outside the prior box or where the model fails.
    - `RuntimeError` if float64 is off (call `meanclust_jax.enable_float64()` first).
    """
    require_float64("sample_posterior")
    from numpyro.infer import MCMC, NUTS

    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if drmh_variant not in DRMH_VARIANTS:
        raise ValueError(f"drmh_variant must be one of {DRMH_VARIANTS}, got {drmh_variant!r}")
    num_samples = check_int(num_samples, "num_samples", minimum=1)
    num_chains = check_int(num_chains, "num_chains", minimum=1)
    thinning = check_int(1 if thinning is None and sampler == "nuts" else 10 if thinning is None else thinning,
                         "thinning", minimum=1)
    if num_samples < thinning:
        raise ValueError(f"num_samples must be >= thinning ({thinning}: every thinning-th draw is kept), "
                         f"got {num_samples}")
    if num_warmup is None:
        num_warmup = num_samples // 2 if sampler == "nuts" else num_samples // 5
    num_warmup = check_int(num_warmup, "num_warmup", minimum=0)
    max_samples = num_samples * 10 if max_samples is None else check_int(max_samples, "max_samples", minimum=1)
    if chain_method not in ("sequential", "vectorized", "parallel"):
        raise ValueError(
            f"chain_method must be 'sequential', 'vectorized' or 'parallel', got {chain_method!r}"
        )
    if not (np.isfinite(init_dispersion) and init_dispersion >= 0):
        raise ValueError(f"init_dispersion must be a finite number >= 0, got {init_dispersion!r}")
    k_init, k_run = jax.random.split(key)
    init_params = initial_covariance = None
    if init is not None:
        init = np.asarray(init, dtype=np.float64)
        if init.shape != (pm.dim,):
            raise ValueError(f"init must have shape ({pm.dim},), got {init.shape}")
        if not np.all(np.isfinite(init)):
            raise ValueError(f"init must be finite, got {init.tolist()}")
        if pm.likelihood == "paper" and not np.all((init > pm.lower) & (init < pm.upper)):
            raise ValueError(
                f"init must lie strictly inside the prior box (lower, upper) = "
                f"({pm.lower.tolist()}, {pm.upper.tolist()}), got {init.tolist()}"
            )
        if sigma_init is None:
            sigma_init = _sigma_from_residuals(pm, init)
        init_params, cov = _initial_params(pm, k_init, num_chains, init, sigma_init, init_dispersion)
        if sampler == "drmh" and drmh_variant == "dram" and first_scale is None and cov is not None:
            initial_covariance = (2.38**2 / cov.shape[0]) * cov

    if sampler == "nuts":
        kernel = NUTS(pm.model, target_accept_prob=target_accept_prob, max_tree_depth=max_tree_depth,
                      forward_mode_differentiation=pm.forward_mode)
        fields = _NUTS_FIELDS
    else:
        kernel = DelayedRejectionMH(pm.model, first_scale=first_scale, second_scale=second_scale,
                                    variant=drmh_variant, initial_covariance=initial_covariance)
        fields = _DRMH_FIELDS
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                chain_method=chain_method, progress_bar=progress_bar, thinning=thinning)
    t_start = time.perf_counter()
    with _nuts_promotion(sampler):
        mcmc.run(k_run, *pm.model_args, init_params=init_params, extra_fields=fields)
    latent = {k: [np.asarray(v)] for k, v in mcmc.get_samples(group_by_chain=True).items()}
    extra = {k: [np.asarray(v)] for k, v in mcmc.get_extra_fields(group_by_chain=True).items()}
    rounds, drawn = 1, num_samples

    def joined() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        return ({k: np.concatenate(v, axis=1) for k, v in latent.items()},
                {k: np.concatenate(v, axis=1) for k, v in extra.items()})

    conv = convergence(_inference_data(pm, _quantities(pm, joined()[0]), {}), rhat_max=rhat_max, ess_min=ess_min)
    while (until_converged and not conv.converged and drawn + num_samples <= max_samples
           and projected_draws(conv, drawn) <= PROJECTION_MARGIN * max_samples):
        mcmc.post_warmup_state = mcmc.last_state
        with _nuts_promotion(sampler):
            mcmc.run(mcmc.post_warmup_state.rng_key, *pm.model_args, extra_fields=fields)
        for k, v in mcmc.get_samples(group_by_chain=True).items():
            latent[k].append(np.asarray(v))
        for k, v in mcmc.get_extra_fields(group_by_chain=True).items():
            extra[k].append(np.asarray(v))
        rounds += 1
        drawn += num_samples
        conv = convergence(_inference_data(pm, _quantities(pm, joined()[0]), {}), rhat_max=rhat_max,
                           ess_min=ess_min)
    wall = time.perf_counter() - t_start
    projected = projected_draws(conv, drawn)
    if conv.converged:
        stop_reason = "converged"
    elif not until_converged:
        stop_reason = "one round (until_converged=False)"
    elif drawn + num_samples > max_samples:
        stop_reason = f"draw budget ({max_samples} per chain) spent"
    else:
        stop_reason = (f"the smallest ESS projects to {projected:.0f} draws per chain, more than "
                       f"{PROJECTION_MARGIN:g} x the budget ({max_samples})")
    latent_all, extra_all = joined()
    quantities = _quantities(pm, latent_all)
    F, loglik = _pointwise(pm, quantities[pm.site], quantities.get("sigma"))
    stats = {_RENAME.get(k, k): (-v if k == "potential_energy" else v) for k, v in extra_all.items()}
    idata = _inference_data(pm, quantities, stats, F=F, loglik=loglik)

    stats = idata.sample_stats
    diag: dict[str, object] = {"convergence": conv.to_dict()}
    if sampler == "drmh":
        stage = np.asarray(stats["accept_stage"].values)
        evals = np.asarray(stats["num_evals"].values)
        n_second = int(np.sum(evals == 2))
        diag["acceptance_rate_first_stage"] = float(np.mean(stage == 1))
        diag["acceptance_rate_second_stage"] = float(np.sum(stage == 2) / n_second) if n_second else 0.0
        diag["acceptance_rate_total"] = float(np.mean(stage > 0))
    else:
        diag["num_divergences"] = int(np.sum(stats["diverging"].values))
        diag["acceptance_rate"] = float(np.mean(stats["acceptance_rate"].values))
        diag["num_potential_evaluations"] = int(np.sum(stats["n_steps"].values))
    diag["wall_time_s"] = wall
    post_attrs = {
        "sampler": sampler,
        "site": pm.site,
        "likelihood": pm.likelihood,
        "beta": pm.beta,
        "prior_lower": pm.lower.tolist(),
        "prior_upper": pm.upper.tolist(),
        "num_warmup": num_warmup,
        "num_samples": drawn,
        "num_chains": num_chains,
        "thinning": thinning,
        "rounds": rounds,
        "stop_reason": stop_reason,
        "projected_draws": float(projected) if np.isfinite(projected) else -1.0,
        "chain_method": chain_method,
        "wall_time_s": wall,
        "converged": int(conv.converged),
        "rhat_max": conv.rhat_max,
        "ess_min": conv.ess_min,
        "diagnostics": json.dumps(diag),
    }
    if init is not None:
        post_attrs["init"] = init.tolist()
        post_attrs["init_dispersion"] = float(init_dispersion)
    if sampler == "drmh":
        post_attrs["drmh_variant"] = drmh_variant
        last = mcmc.last_state
        post_attrs["first_scale"] = np.asarray(last.first_scale).reshape(num_chains, -1)[0].tolist()
        post_attrs["second_scale"] = np.asarray(last.second_scale).reshape(num_chains, -1)[0].tolist()
        for k in ("acceptance_rate_first_stage", "acceptance_rate_second_stage"):
            post_attrs[k] = diag[k]
    else:
        post_attrs["num_divergences"] = diag["num_divergences"]
    post_attrs.update(dict(attrs or {}))
    idata.posterior.attrs.update(netcdf_attrs(post_attrs))
    # CF metadata; the model's time unit is ``time_scale`` sweeps (`PairData.from_dataset`).
    return cf_posterior_attrs(idata, time_scale=float(post_attrs.get("time_scale", 1.0)))





def loss_along_chains(pm: PosteriorModel, samples: ArrayLike) -> np.ndarray:
    """``F`` at every sample, shape ``samples.shape[:-1]`` (sequential `jax.lax.map`).

    **Arguments:**

    - `pm`: the posterior model.
    - `samples`: values of ``pm.site``, shape ``(..., n)``.

    **Returns:**

    NumPy float64 array of ``F`` values (``+inf`` where the solve failed).
    """
    samples = np.asarray(samples, dtype=np.float64)
    flat = jnp.asarray(samples.reshape(-1, samples.shape[-1]))
    values = jax.jit(lambda v: jax.lax.map(pm.loss_fn, v))(flat)
    return np.asarray(values).reshape(samples.shape[:-1])


def diagnostics(idata: az.InferenceData) -> dict:
    """The ``diagnostics`` dict stored by `sample_posterior` (convergence table, acceptance, …)."""
    return json.loads(idata.posterior.attrs["diagnostics"])


def posterior_summary(idata: az.InferenceData, round_to: int | str | None = None) -> pd.DataFrame:
    """``arviz.summary`` of the reported quantities and ``F`` (mean, sd, HDI, MCSE, ESS, R-hat).

    `round_to` is passed to ``arviz.summary`` (``"none"``: unrounded, e.g. for rates ~1e-4).
    """
    import arviz as az

    var_names = [v for v in ("k", "alpha", "k_identifiable", "sigma", "F") if v in idata.posterior]
    return az.summary(idata, var_names=var_names or None, round_to=round_to)


def save_posterior(idata: az.InferenceData, path: str | os.PathLike[str]) -> None:
    """Write ``idata`` to netCDF atomically (back end: `meanclust_jax._io.netcdf_engine`, as
    every netCDF file of the package).

    **Raises:**

    - `ValueError` if the folder of ``path`` does not exist or is not writable.
    """
    with atomic_path(path) as tmp:
        idata.to_netcdf(str(tmp), engine=netcdf_engine())


def load_posterior(path: str | os.PathLike[str]) -> az.InferenceData:
    """Read an ``InferenceData`` written by `save_posterior` (fully loaded into memory).

    **Raises:** `FileNotFoundError` if ``path`` does not exist.
    """
    import arviz as az

    existing_file(path, "posterior file")
    try:
        idata = az.from_netcdf(str(path), engine=netcdf_engine())
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError) as err:
        raise ValueError(unreadable_file_message(path, "posterior (ArviZ netCDF) file", err)) from None
    for group in idata.groups():
        idata[group].load()
    return idata


def _check_samplers(samplers: Iterable[str]) -> tuple[str, ...]:
    samplers = tuple(samplers)
    for s in samplers:
        if s not in SAMPLERS:
            raise ValueError(f"samplers must be among {SAMPLERS}, got {samplers!r}")
    return samplers


def infer_rates(
    problem: RateProblem,
    key: PRNGKeyArray,
    *,
    likelihood: Literal["gaussian", "paper"] = "gaussian",
    samplers: tuple[str, ...] = ("nuts", "drmh"),
    num_samples: int = 1000,
    num_chains: int = 4,
    num_warmup: int | None = None,
    init: ArrayLike | None = None,
    upper: ArrayLike | None = None,
    lower: ArrayLike | None = None,
    beta: float | None = None,
    num_starts: int = 8,
    num_steps: int = 200,
    polish_steps: int = 100,
    chain_method: str = "vectorized",
    progress_bar: bool = False,
    until_converged: bool = False,
    max_samples: int | None = None,
    model_kwargs: Mapping[str, object] | None = None,
    attrs: Mapping[str, object] | None = None,
    sampler_kwargs: Mapping[str, Mapping[str, object]] | None = None,
) -> tuple[dict[str, object], MultistartResult | None]:
    """Paper Section V end to end: the point estimate ``Y1``, then the posterior per sampler.

    ``Y1`` is the best of `multistart` (``num_starts`` starts, ``num_steps`` Adam steps),
    refined by `polish` (Levenberg–Marquardt, ``polish_steps`` steps; 0 skips it); it is the
    centre of the chains' starting points and, for the paper's DR-MH, sets its scales.

    **Arguments:**

    - `problem`: the `RateProblem`.
    - `key`: JAX PRNG key.
    - `likelihood`: ``"gaussian"`` (default) or ``"paper"`` (see `rate_posterior_model`).
    - `samplers`: any of ``("nuts", "drmh")`` (default both).
    - `num_samples`, `num_chains` (default 4), `num_warmup`, `chain_method`, `progress_bar`,
      `until_converged`, `max_samples`: see `sample_posterior`; `progress_bar` also shows the
      multistart's bar.
    - `init`: ``Y1``; default from `multistart` and `polish`.
    - `upper`, `lower`: prior bounds (`rate_posterior_model`); for the paper likelihood the
      default `upper` is ``10 × max(Y1)``.
    - `beta`: inverse temperature of the paper likelihood.
    - `model_kwargs`: further arguments of `rate_posterior_model` (``sigma_scale``, ``floor``,
      ``replicas``, ``fixed_split``).
    - `attrs`: extra attributes stored on each posterior.
    - `sampler_kwargs`: per-sampler arguments of `sample_posterior`, overriding the common ones,
      e.g. ``{"nuts": {"max_tree_depth": 6}, "drmh": {"drmh_variant": "paper", "num_samples": 20000}}``.

    **Returns:**

    ``({sampler: InferenceData}, multistart_result_or_None)``.

    **Raises:**

    - `ValueError` for bad settings, or if no start gives a finite ``F``.
    """
    check_likelihood(likelihood)
    samplers = _check_samplers(samplers)
    check_int(num_samples, "num_samples", minimum=1)
    check_int(num_chains, "num_chains", minimum=1)
    check_int(polish_steps, "polish_steps", minimum=0)
    model_kwargs = dict(model_kwargs or {})
    # Every setting is checked before the multistart: the posterior model is built first unless
    # its prior box depends on Y1 (the paper likelihood without `upper`).
    pm = None
    if likelihood == "gaussian" or upper is not None:
        pm = rate_posterior_model(problem, likelihood=likelihood, lower=lower, upper=upper, beta=beta,
                                  **model_kwargs)
    elif beta is not None:
        _check_beta(beta)
    if init is not None:
        init = _check_init(init, pm)
    k_start, k_sample = jax.random.split(key)
    ms = None
    extra = {"closure": type(problem.closure).__name__, "weight_a": float(problem.weight_a)}
    if init is None:
        ms = multistart(problem, k_start, num_starts=num_starts, num_steps=num_steps, progress=progress_bar)
        if not np.isfinite(float(ms.best_loss)):
            raise ValueError("multistart found no rates with a finite loss; check the data")
        init = np.asarray(ms.best)
        extra["F_multistart"] = float(ms.best_loss)
        if polish_steps:
            init = np.asarray(polish(problem, init, max_steps=polish_steps).rates)
        init = _check_init(init, pm, name="the point estimate Y1")
    if pm is None:
        pm = rate_posterior_model(problem, likelihood=likelihood, lower=lower,
                                  upper=10.0 * float(np.max(init)), beta=beta, **model_kwargs)
    if likelihood == "paper":
        init = np.clip(init, pm.lower + 1e-12 * (pm.upper - pm.lower), None)
    extra.update({"Y1": init.tolist(), "F_Y1": float(_loss(problem, init))})
    extra.update(dict(attrs or {}))
    keys = jax.random.split(k_sample, len(samplers))
    return _sample_each(pm, keys, samplers, init, extra, num_samples, num_chains, num_warmup,
                        chain_method, progress_bar, until_converged, max_samples, sampler_kwargs), ms


def _check_init(init: ArrayLike, pm: PosteriorModel | None, *, name: str = "init") -> np.ndarray:
    """``init`` as 8 finite positive rates inside the prior of ``pm`` (when it is known).

    Paper likelihood: every rate inside the box ``(lower, upper)``; Gaussian likelihood: every
    ``s_j = 4k_{2j-1} + k_{2j}`` inside ``[lower, upper]``.

    **Raises:** `ValueError` naming ``init`` (or ``upper``, when the initial point lies above it).
    """
    arr = np.asarray(init, dtype=np.float64)
    if arr.shape != (8,) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be 8 finite rates k1..k8, all > 0, got {np.asarray(init).tolist()}")
    if pm is None:
        return arr
    values, what = (arr, "rates") if pm.likelihood == "paper" else (
        np.asarray(identifiable_combinations(arr)), "4k1+k2, ..., 4k7+k8")
    if np.any(values < pm.lower):
        raise ValueError(f"{name} must lie in the prior: {what} >= lower = {pm.lower.tolist()}, got {values.tolist()}")
    if np.any(values >= pm.upper):
        raise ValueError(
            f"upper = {pm.upper.tolist()} is not above the initial point ({name}: {what} up to "
            f"{float(values.max()):.6g}): the prior must contain it; raise upper (--upper) above it "
            "or leave it unset"
        )
    return arr


def _sample_each(
    pm: PosteriorModel, keys: jax.Array, samplers: tuple[str, ...], init: ArrayLike | None,
    attrs: Mapping[str, object], num_samples: int, num_chains: int, num_warmup: int | None, chain_method: str,
    progress_bar: bool, until_converged: bool, max_samples: int | None,
    sampler_kwargs: Mapping[str, Mapping[str, object]] | None,
) -> dict[str, az.InferenceData]:
    """Run `sample_posterior` once per sampler, the i-th with ``keys[i]``."""
    extra = dict(sampler_kwargs or {})
    unknown = set(extra) - set(SAMPLERS)
    if unknown:
        raise ValueError(f"sampler_kwargs has keys {sorted(unknown)}; allowed {SAMPLERS}")
    common = {"num_samples": num_samples, "num_chains": num_chains, "num_warmup": num_warmup, "init": init,
              "chain_method": chain_method, "progress_bar": progress_bar, "until_converged": until_converged,
              "max_samples": max_samples, "attrs": attrs}
    # A sampler's own settings (e.g. its num_samples) take precedence over the common ones.
    return {s: sample_posterior(pm, k, sampler=s, **{**common, **dict(extra.get(s, {}))})
            for s, k in zip(samplers, keys, strict=False)}


def infer_sparse(
    data: PairData,
    key: PRNGKeyArray,
    *,
    likelihood: Literal["gaussian", "paper"] = "gaussian",
    samplers: tuple[str, ...] = ("nuts", "drmh"),
    num_samples: int = 1000,
    num_chains: int = 4,
    num_warmup: int | None = None,
    bound: float | None = None,
    beta: float | None = None,
    chain_method: str = "vectorized",
    progress_bar: bool = False,
    until_converged: bool = False,
    max_samples: int | None = None,
    model_kwargs: Mapping[str, object] | None = None,
    attrs: Mapping[str, object] | None = None,
    sampler_kwargs: Mapping[str, Mapping[str, object]] | None = None,
) -> tuple[dict[str, az.InferenceData], SparseFit]:
    """SA closure: the direct fit of ``(α1, α2)`` (eq. 28) and, optionally, its posterior.

    **Arguments:**

    - `data`: the observed trajectory.
    - `key`: JAX PRNG key.
    - `likelihood`: ``"gaussian"`` (default) or ``"paper"``.
    - `samplers`: any of ``("nuts", "drmh")`` (may be empty: fit only).
    - `bound`: the prior box is ``[−bound, bound]²`` (1/time); default ``10 / span`` (at most
      ten e-foldings of ``C+-`` over the data's time span) or ``10 max|α*|`` if larger.
    - Others (`model_kwargs`: ``sigma_scale``, ``floor``, ``replicas``) as `infer_rates`.

    **Returns:**

    ``({sampler: InferenceData}, SparseFit)``.

    **Raises:**

    - `ValueError` for bad settings.
    """
    check_likelihood(likelihood)
    samplers = _check_samplers(samplers)
    check_int(num_samples, "num_samples", minimum=1)
    if beta is not None:  # every setting is checked before the fit
        if likelihood == "gaussian":
            raise ValueError("beta applies to likelihood='paper' only (the Gaussian likelihood has a noise model)")
        _check_beta(beta)
    if bound is not None:
        bound = check_float(bound, "bound", minimum=0.0, open_min=True)
    fit = fit_sparse(data.times, data.C_pair)
    alpha = np.asarray(fit.alpha)
    span = float(data.times[-1] - data.times[0])
    if bound is None:
        bound = max(10.0 * float(np.max(np.abs(alpha))), 10.0 / span)
    pm = sparse_posterior_model(data, lower=-bound, upper=bound, likelihood=likelihood, beta=beta,
                                **dict(model_kwargs or {}))
    extra = {"closure": "SparseApproximation", "alpha_fit": alpha.tolist(), "F_fit": float(fit.loss)}
    extra.update(dict(attrs or {}))
    keys = jax.random.split(key, max(len(samplers), 1))
    return _sample_each(pm, keys, samplers, alpha, extra, num_samples, num_chains, num_warmup,
                        chain_method, progress_bar, until_converged, max_samples, sampler_kwargs), fit


__all__ = [
    "SAMPLERS",
    "diagnostics",
    "infer_rates",
    "infer_sparse",
    "load_posterior",
    "loss_along_chains",
    "posterior_summary",
    "sample_posterior",
    "save_posterior",
]
