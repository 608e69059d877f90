"""Sampling the rate posterior with NUTS and DR-MH; results as ArviZ ``InferenceData``.

Both samplers run through the same `numpyro.infer.MCMC` driver (chains, warmup, extra
fields). The result is an ``arviz.InferenceData`` with

* ``posterior``: the sampled vector (``k`` over dimension ``rate``, or ``alpha`` over
  ``alpha_index``) and ``F``, the loss (17) along the chains (paper Fig. 14);
* ``sample_stats``: ``lp`` (log density), plus ``diverging``, ``acceptance_rate``, ``n_steps``
  (NUTS) or ``accept_stage``, ``accept_prob_1``, ``accept_prob_2``, ``num_evals`` (DR-MH);
* ``posterior.attrs``: sampler settings, wall time, and a JSON ``diagnostics`` string with
  per-parameter bulk/tail ESS and R-hat, acceptance rates (first and second stage for DR-MH)
  and the number of divergences (NUTS).

``lp`` is the log density in the space the sampler moves in: constrained for DR-MH (the
paper's walk on ``K``), unconstrained (with the log-Jacobian) for NUTS.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from .._io import atomic_path, existing_file, netcdf_attrs, netcdf_engine, unreadable_file_message
from .._precision import require_float64
from .._validate import check_float, check_int
from ..ode import fit_sparse
from ._data import PairData
from ._drmh import DelayedRejectionMH
from ._loss import RateProblem
from ._model import PosteriorModel, _bounds, _check_beta, rate_posterior_model, sparse_posterior_model
from ._optimise import MultistartResult, _loss, multistart

SAMPLERS: tuple[str, ...] = ("nuts", "drmh")
_NUTS_FIELDS = ("potential_energy", "diverging", "num_steps", "accept_prob")
_DRMH_FIELDS = ("potential_energy", "accept_stage", "accept_prob_1", "accept_prob_2", "num_evals")


def sample_posterior(
    pm: PosteriorModel,
    key,  # noqa: ANN001
    *,
    sampler: Literal["nuts", "drmh"] = "drmh",
    num_samples: int = 1000,
    num_chains: int = 1,
    num_warmup: int | None = None,
    init=None,  # noqa: ANN001
    first_scale=None,  # noqa: ANN001
    second_scale=None,  # noqa: ANN001
    chain_method: str = "sequential",
    progress_bar: bool = False,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 8,
    thinning: int = 1,
    attrs: Mapping[str, object] | None = None,
):  # noqa: ANN201 - arviz.InferenceData
    """Sample a `PosteriorModel` with NUTS or DR-MH and return an ArviZ ``InferenceData``.

    **Arguments:**

    - `pm`: the posterior model (`rate_posterior_model` / `sparse_posterior_model`).
    - `key`: JAX PRNG key; the same key gives identical samples.
    - `sampler`: ``"nuts"`` (NumPyro NUTS, gradients through the ODE solve, forward mode when
      ``pm.forward_mode``) or ``"drmh"``
      (`DelayedRejectionMH`, paper Algorithm 1).
    - `num_samples`: kept draws per chain, ``>= 1`` (the paper's ``M = 10^5`` for DR-MH).
    - `num_chains`: chains, ``>= 1``.
    - `num_warmup`: warmup (NUTS: step-size/mass adaptation; DR-MH: burn-in). Default
      ``num_samples // 2`` for NUTS and ``num_samples // 10`` for DR-MH.
    - `init`: starting point, shape ``(n,)`` strictly inside the prior box (e.g. ``Y1``); default
      uniformly random inside the box, per chain.
    - `first_scale`, `second_scale`: DR-MH scales (default ``0.1·|init|``, ``0.01·|init|``).
    - `chain_method`: ``"sequential"`` (default; each chain takes the cheap branch of the ODE
      solver's stiff fallback), ``"vectorized"`` or ``"parallel"`` (NumPyro's meanings).
    - `progress_bar`: show NumPyro's progress bar.
    - `target_accept_prob`, `max_tree_depth`: NUTS settings.
    - `thinning`: keep every ``thinning``-th draw, ``>= 1``.
    - `attrs`: extra attributes stored on the posterior group.

    **Returns:**

    ``arviz.InferenceData`` (see the module docstring).

    **Raises:**

    - `ValueError` for an unknown sampler, counts out of range (``num_samples < 1``, ...), or
      an ``init`` outside the prior box.
    - `RuntimeError` if float64 is off (call `meanclust_jax.enable_float64()` first).
    """
    require_float64("sample_posterior")
    import arviz as az
    from numpyro.infer import MCMC, NUTS
    from numpyro.infer.initialization import init_to_uniform, init_to_value

    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    num_samples = check_int(num_samples, "num_samples", minimum=1)
    num_chains = check_int(num_chains, "num_chains", minimum=1)
    thinning = check_int(thinning, "thinning", minimum=1)
    if num_warmup is None:
        num_warmup = num_samples // 2 if sampler == "nuts" else num_samples // 10
    num_warmup = check_int(num_warmup, "num_warmup", minimum=0)
    if chain_method not in ("sequential", "vectorized", "parallel"):
        raise ValueError(
            f"chain_method must be 'sequential', 'vectorized' or 'parallel', got {chain_method!r}"
        )
    if init is None:
        strategy = init_to_uniform
    else:
        init = np.asarray(init, dtype=np.float64)
        if init.shape != (pm.dim,):
            raise ValueError(f"init must have shape ({pm.dim},), got {init.shape}")
        if not np.all((init > pm.lower) & (init < pm.upper)):
            raise ValueError(
                f"init must lie strictly inside the prior box (lower, upper) = "
                f"({pm.lower.tolist()}, {pm.upper.tolist()}), got {init.tolist()}"
            )
        strategy = init_to_value(values={pm.site: jnp.asarray(init)})

    if sampler == "nuts":
        kernel = NUTS(
            pm.model,
            init_strategy=strategy,
            target_accept_prob=target_accept_prob,
            max_tree_depth=max_tree_depth,
            forward_mode_differentiation=pm.forward_mode,
        )
        fields = _NUTS_FIELDS
    else:
        kernel = DelayedRejectionMH(
            pm.model, first_scale=first_scale, second_scale=second_scale, init_strategy=strategy
        )
        fields = _DRMH_FIELDS
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method=chain_method,
        progress_bar=progress_bar,
        thinning=thinning,
    )
    t_start = time.perf_counter()
    mcmc.run(key, extra_fields=fields)
    jax.block_until_ready(mcmc.get_samples())
    wall = time.perf_counter() - t_start

    # Build the InferenceData from the collected arrays (``az.from_numpyro`` would re-run the
    # model, i.e. the ODE solve, only to look for observed sites; it does work with both
    # kernels, see the tests).
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    extra = {k: np.asarray(v) for k, v in mcmc.get_extra_fields(group_by_chain=True).items()}
    rename = {"potential_energy": "lp", "num_steps": "n_steps", "accept_prob": "acceptance_rate"}
    stats = {rename.get(k, k): (-v if k == "potential_energy" else v) for k, v in extra.items()}
    idata = az.from_dict(
        posterior={pm.site: samples[pm.site]},
        sample_stats=stats,
        coords={pm.dim_name: list(pm.names)},
        dims={pm.site: [pm.dim_name]},
    )
    # F along the chains from the potential energy, −lp = −log prior + β F − log|J|: the
    # DR-MH walk is in constrained space (no Jacobian), NUTS in NumPyro's unconstrained space.
    pe = extra["potential_energy"]
    log_jac = 0.0
    if sampler == "nuts":
        log_jac = _interval_log_jacobian(samples[pm.site], pm.lower, pm.upper)
    F = (pe + pm.log_prior_density() + log_jac) / pm.beta
    idata.posterior["F"] = (("chain", "draw"), F)
    idata.posterior["F"].attrs["long_name"] = "loss F (eq. 17) along the chains"

    stats = idata.sample_stats
    diag: dict[str, object] = {}
    ess_bulk = az.ess(idata, var_names=[pm.site], method="bulk")[pm.site].values
    ess_tail = az.ess(idata, var_names=[pm.site], method="tail")[pm.site].values
    rhat = az.rhat(idata, var_names=[pm.site])[pm.site].values
    diag["ess_bulk"] = dict(zip(pm.names, map(float, np.atleast_1d(ess_bulk)), strict=True))
    diag["ess_tail"] = dict(zip(pm.names, map(float, np.atleast_1d(ess_tail)), strict=True))
    diag["r_hat"] = dict(zip(pm.names, map(float, np.atleast_1d(rhat)), strict=True))
    if sampler == "drmh":
        stage = np.asarray(stats["accept_stage"].values)
        evals = np.asarray(stats["num_evals"].values)
        n_second = int(np.sum(evals == 2))
        diag["acceptance_rate_first_stage"] = float(np.mean(stage == 1))
        diag["acceptance_rate_second_stage"] = (
            float(np.sum(stage == 2) / n_second) if n_second else 0.0
        )
        diag["acceptance_rate_total"] = float(np.mean(stage > 0))
        diag["num_potential_evaluations"] = int(np.sum(evals))
        diag["num_potential_evaluations_vectorized"] = int(2 * stage.size)
    else:
        diag["num_divergences"] = int(np.sum(stats["diverging"].values))
        diag["acceptance_rate"] = float(np.mean(stats["acceptance_rate"].values))
        # Each leapfrog step evaluates the potential and its gradient once.
        diag["num_potential_evaluations"] = int(np.sum(stats["n_steps"].values))
    diag["wall_time_s"] = wall

    post_attrs = {
        "sampler": sampler,
        "site": pm.site,
        "beta": pm.beta,
        "prior_lower": pm.lower.tolist(),
        "prior_upper": pm.upper.tolist(),
        "num_warmup": num_warmup,
        "num_samples": num_samples,
        "num_chains": num_chains,
        "chain_method": chain_method,
        "wall_time_s": wall,
        "diagnostics": json.dumps(diag),
    }
    if init is not None:
        post_attrs["init"] = init.tolist()
    if sampler == "drmh":
        last = mcmc.last_state
        post_attrs["first_scale"] = np.asarray(last.first_scale).reshape(-1, pm.dim)[0].tolist()
        post_attrs["second_scale"] = np.asarray(last.second_scale).reshape(-1, pm.dim)[0].tolist()
        for k in ("acceptance_rate_first_stage", "acceptance_rate_second_stage"):
            post_attrs[k] = diag[k]
    else:
        post_attrs["num_divergences"] = diag["num_divergences"]
    post_attrs.update(dict(attrs or {}))
    idata.posterior.attrs.update(netcdf_attrs(post_attrs))
    return idata


def _interval_log_jacobian(values, lower, upper) -> np.ndarray:  # noqa: ANN001
    """``Σ log|dK/du|`` of NumPyro's bijection onto the box, at constrained ``values``."""
    from numpyro.distributions import constraints
    from numpyro.distributions.transforms import biject_to

    transform = biject_to(constraints.interval(jnp.asarray(lower), jnp.asarray(upper)))
    v = jnp.asarray(values)
    u = transform.inv(v)
    return np.asarray(jnp.sum(transform.log_abs_det_jacobian(u, v), axis=-1))


def loss_along_chains(pm: PosteriorModel, samples) -> np.ndarray:  # noqa: ANN001
    """``F`` at every sample, shape ``samples.shape[:-1]`` (sequential `jax.lax.map`).

    **Arguments:**

    - `pm`: the posterior model.
    - `samples`: shape ``(..., n)``.

    **Returns:**

    NumPy float64 array of ``F`` values (``+inf`` where the solve failed).
    """
    samples = np.asarray(samples, dtype=np.float64)
    flat = jnp.asarray(samples.reshape(-1, samples.shape[-1]))
    values = jax.jit(lambda v: jax.lax.map(pm.loss_fn, v))(flat)
    return np.asarray(values).reshape(samples.shape[:-1])


def diagnostics(idata) -> dict:  # noqa: ANN001
    """The ``diagnostics`` dict stored by `sample_posterior` (ESS, R-hat, acceptance, ...)."""
    return json.loads(idata.posterior.attrs["diagnostics"])


def posterior_summary(idata, round_to: int | str | None = None):  # noqa: ANN001, ANN201 - pandas.DataFrame
    """``arviz.summary`` of the sampled vector and ``F`` (mean, sd, HDI, MCSE, ESS, R-hat).

    `round_to` is passed to ``arviz.summary`` (``"none"``: unrounded, e.g. for rates ~1e-4).
    """
    import arviz as az

    site = idata.posterior.attrs.get("site", None)
    var_names = [site, "F"] if site else None
    return az.summary(idata, var_names=var_names, round_to=round_to)


def save_posterior(idata, path: str | os.PathLike[str]) -> None:  # noqa: ANN001
    """Write ``idata`` to netCDF atomically (back end: `meanclust_jax._io.netcdf_engine`, as
    every netCDF file of the package).

    **Raises:**

    - `ValueError` if the folder of ``path`` does not exist or is not writable.
    """
    with atomic_path(path) as tmp:
        idata.to_netcdf(str(tmp), engine=netcdf_engine())


def load_posterior(path: str | os.PathLike[str]):  # noqa: ANN201
    """Read an ``InferenceData`` written by `save_posterior` (fully loaded into memory)."""
    import arviz as az

    existing_file(path, "posterior file")
    try:
        idata = az.from_netcdf(str(path), engine=netcdf_engine())
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError) as err:
        raise ValueError(unreadable_file_message(path, "posterior (ArviZ netCDF) file", err)) from None
    for group in idata.groups():
        idata[group].load()
    return idata


def infer_rates(
    problem: RateProblem,
    key,  # noqa: ANN001
    *,
    samplers: tuple[str, ...] = ("drmh",),
    num_samples: int = 1000,
    num_chains: int = 1,
    num_warmup: int | None = None,
    init=None,  # noqa: ANN001
    upper=None,  # noqa: ANN001
    lower=0.0,  # noqa: ANN001
    beta: float = 1.0,
    num_starts: int = 8,
    num_steps: int = 200,
    chain_method: str = "sequential",
    progress_bar: bool = False,
    attrs: Mapping[str, object] | None = None,
    sampler_kwargs: Mapping[str, Mapping[str, object]] | None = None,
) -> tuple[dict[str, object], MultistartResult | None]:
    """Paper Section V end to end: ``Y1`` by multistart, then the posterior with each sampler.

    **Arguments:**

    - `problem`: the `RateProblem`.
    - `key`: JAX PRNG key.
    - `samplers`: any of ``("nuts", "drmh")``.
    - `num_samples`, `num_chains`, `num_warmup`, `chain_method`, `progress_bar`: see
      `sample_posterior`.
    - `init`: ``Y1``; default the best of `multistart` (``num_starts`` starts, ``num_steps``).
    - `upper`: prior upper bound(s); default ``10 × max(Y1)``.
    - `lower`: prior lower bound(s) (default 0).
    - `beta`: inverse temperature of ``exp(−β F)``.
    - `attrs`: extra attributes stored on each posterior.
    - `sampler_kwargs`: per-sampler extra arguments of `sample_posterior`, e.g.
      ``{"nuts": {"max_tree_depth": 6}, "drmh": {"thinning": 10}}``.

    **Returns:**

    ``({sampler: InferenceData}, multistart_result_or_None)``.

    **Raises:**

    - `ValueError` for bad settings.
    """
    for s in samplers:
        if s not in SAMPLERS:
            raise ValueError(f"samplers must be among {SAMPLERS}, got {samplers!r}")
    check_int(num_samples, "num_samples", minimum=1)
    _check_beta(beta)  # every setting is checked before the multistart
    if upper is not None:
        _bounds(lower, upper, 8, positive=True)
    if init is not None:
        init = _check_init(init, lower, upper)
    k_start, k_sample = jax.random.split(key)
    ms = None
    if init is None:
        ms = multistart(problem, k_start, num_starts=num_starts, num_steps=num_steps)
        if not np.isfinite(float(ms.best_loss)):
            raise ValueError("multistart found no rates with a finite loss; check the data")
        init = _check_init(np.asarray(ms.best), lower, upper, name="the multistart point estimate Y1")
    init = np.asarray(init, dtype=np.float64)
    if upper is None:
        upper = 10.0 * float(np.max(init))
    pm = rate_posterior_model(problem, lower=lower, upper=upper, beta=beta)
    init = np.clip(init, pm.lower + 1e-12 * (pm.upper - pm.lower), None)
    extra = {"closure": type(problem.closure).__name__, "weight_a": float(problem.weight_a),
             "Y1": init.tolist(), "F_Y1": float(_loss(problem, init))}
    extra.update(dict(attrs or {}))
    keys = jax.random.split(k_sample, len(samplers))
    return _sample_each(pm, keys, samplers, init, extra, num_samples, num_chains, num_warmup,
                        chain_method, progress_bar, sampler_kwargs), ms


def _check_init(init, lower, upper, *, name: str = "init") -> np.ndarray:  # noqa: ANN001
    """``init`` as 8 finite rates > ``lower``, and below ``upper`` when that is given.

    **Raises:** `ValueError` naming ``init`` (or ``upper``, when the initial point lies above it).
    """
    arr = np.asarray(init, dtype=np.float64)
    if arr.shape != (8,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be 8 finite rates k1..k8, got {np.asarray(init).tolist()}")
    lo = np.broadcast_to(np.asarray(lower, dtype=np.float64), (8,))
    if np.any(arr < lo):
        raise ValueError(f"{name} must lie in the prior box: rates >= lower = {lo.tolist()}, got {arr.tolist()}")
    if upper is not None:
        hi = np.broadcast_to(np.asarray(upper, dtype=np.float64), (8,))
        if np.any(arr >= hi):
            raise ValueError(
                f"upper = {np.asarray(upper).tolist()} is not above the initial point ({name}, max "
                f"{float(arr.max()):.6g}): the prior box (lower, upper) must contain it; raise upper "
                "(--upper) above it or leave it unset (10 x max Y1)"
            )
    return arr


def _sample_each(pm, keys, samplers, init, attrs, num_samples, num_chains, num_warmup,  # noqa: ANN001, ANN202, PLR0913
                 chain_method, progress_bar, sampler_kwargs):
    """Run `sample_posterior` once per sampler, the i-th with ``keys[i]``."""
    extra = dict(sampler_kwargs or {})
    unknown = set(extra) - set(SAMPLERS)
    if unknown:
        raise ValueError(f"sampler_kwargs has keys {sorted(unknown)}; allowed {SAMPLERS}")
    return {
        s: sample_posterior(
            pm, k, sampler=s, num_samples=num_samples, num_chains=num_chains,
            num_warmup=num_warmup, init=init, chain_method=chain_method,
            progress_bar=progress_bar, attrs=attrs, **dict(extra.get(s, {})),
        )
        for s, k in zip(samplers, keys, strict=False)
    }


def infer_sparse(
    data: PairData,
    key,  # noqa: ANN001
    *,
    samplers: tuple[str, ...] = ("drmh",),
    num_samples: int = 1000,
    num_chains: int = 1,
    num_warmup: int | None = None,
    bound=None,  # noqa: ANN001
    beta: float = 1.0,
    chain_method: str = "sequential",
    progress_bar: bool = False,
    attrs: Mapping[str, object] | None = None,
    sampler_kwargs: Mapping[str, Mapping[str, object]] | None = None,
):  # noqa: ANN201
    """SA closure: the direct fit of ``(α1, α2)`` (eq. 28) and, optionally, its posterior.

    **Arguments:**

    - `data`: the observed trajectory.
    - `key`: JAX PRNG key.
    - `samplers`: any of ``("nuts", "drmh")`` (may be empty: fit only).
    - `bound`: the prior box is ``[−bound, bound]²``; default
      ``max(10 max|α*|, 10 / span)``.
    - Others (including `sampler_kwargs`) as `infer_rates`.

    **Returns:**

    ``({sampler: InferenceData}, SparseFit)``.
    """
    for s in samplers:
        if s not in SAMPLERS:
            raise ValueError(f"samplers must be among {SAMPLERS}, got {samplers!r}")
    check_int(num_samples, "num_samples", minimum=1)
    _check_beta(beta)  # every setting is checked before the fit
    if bound is not None:
        bound = check_float(bound, "bound", minimum=0.0, open_min=True)
    fit = fit_sparse(data.times, data.C_pair)
    alpha = np.asarray(fit.alpha)
    span = float(data.times[-1] - data.times[0])
    if bound is None:
        bound = max(10.0 * float(np.max(np.abs(alpha))), 10.0 / span)
    pm = sparse_posterior_model(data, lower=-bound, upper=bound, beta=beta)
    extra = {"closure": "SparseApproximation", "alpha_fit": alpha.tolist(),
             "F_fit": float(fit.loss)}
    extra.update(dict(attrs or {}))
    keys = jax.random.split(key, max(len(samplers), 1))
    return _sample_each(pm, keys, samplers, alpha, extra, num_samples, num_chains, num_warmup,
                        chain_method, progress_bar, sampler_kwargs), fit


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
