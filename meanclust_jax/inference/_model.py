"""NumPyro models of the rate posterior ``P(K | Ĉ) ∝ exp(−β F(K))`` (paper eqs. (19)–(20)).

The paper's likelihood is ``exp(−F(K))`` with a uniform prior on positive rates (Section V);
``β`` (default 1, the paper) is an optional inverse temperature that sharpens or flattens the
pseudo-likelihood, e.g. to mimic a noise level. The prior is uniform on a box
``[lower, upper]`` (the bounds are parameters: a uniform prior on all of ``(0, ∞)`` is improper).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .._validate import check_float
from ..ode import RATE_NAMES, sparse_misfit
from ._data import PairData
from ._loss import RateProblem


@dataclass(frozen=True)
class PosteriorModel:
    """A NumPyro model of one latent vector with a uniform prior and potential ``β F``.

    **Fields:**

    - `model`: the NumPyro model (no arguments): ``v ~ Uniform(lower, upper)``, then
      ``numpyro.factor("misfit", −β F(v))``.
    - `site`: name of the latent site (``"k"`` for rates, ``"alpha"`` for SA).
    - `dim_name`: name of its dimension in ArviZ output (``"rate"`` / ``"alpha_index"``).
    - `names`: coordinate labels, e.g. ``("k1", ..., "k8")``.
    - `lower`, `upper`: prior bounds, NumPy float64 arrays of shape ``(n,)``.
    - `beta`: inverse temperature ``β > 0``.
    - `loss_fn`: ``v ↦ F(v)``, jittable, ``(n,) → ()``.
    - `full_rates`: ``v ↦ K`` (the eight rates; identity unless some rates are fixed), or
      ``None`` for SA.
    - `forward_mode`: whether `loss_fn` must be differentiated in forward mode (the ODE solve
      uses `diffrax.ForwardMode`); NUTS is then built with
      ``forward_mode_differentiation=True``.
    """

    model: Callable[[], None]
    site: str
    dim_name: str
    names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    beta: float
    loss_fn: Callable
    full_rates: Callable | None = None
    forward_mode: bool = False

    @property
    def dim(self) -> int:
        """Number of sampled parameters."""
        return len(self.names)

    def log_prior_density(self) -> float:
        """``log`` of the (constant) prior density inside the box: ``−Σ log(upper − lower)``."""
        return float(-np.sum(np.log(self.upper - self.lower)))


def _bounds(lower, upper, n: int, *, positive: bool) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    lo = np.broadcast_to(np.asarray(lower, dtype=np.float64), (n,)).copy()
    if upper is None:
        raise ValueError("upper must be given (the uniform prior needs a finite upper bound)")
    hi = np.broadcast_to(np.asarray(upper, dtype=np.float64), (n,)).copy()
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError(f"lower and upper must be finite, got lower={lo.tolist()}, upper={hi.tolist()}")
    if positive and np.any(lo < 0):
        raise ValueError(f"lower must be >= 0 for rates (range [0, upper)), got {lo.tolist()}")
    if np.any(hi <= lo):
        raise ValueError(f"upper must exceed lower, got lower={lo.tolist()}, upper={hi.tolist()}")
    return lo, hi


def _check_beta(beta: float) -> float:
    return check_float(beta, "beta", minimum=0.0, open_min=True)


def _make_model(site: str, lower: np.ndarray, upper: np.ndarray, beta: float, loss_fn):  # noqa: ANN001, ANN202
    import numpyro
    import numpyro.distributions as dist

    lo = jnp.asarray(lower)
    hi = jnp.asarray(upper)

    def model() -> None:
        v = numpyro.sample(site, dist.Uniform(lo, hi).to_event(1))
        numpyro.factor("misfit", -beta * loss_fn(v))

    return model


def rate_posterior_model(
    problem: RateProblem,
    *,
    upper,  # noqa: ANN001
    lower=0.0,  # noqa: ANN001
    beta: float = 1.0,
    free: Sequence[str] | None = None,
    fixed=None,  # noqa: ANN001
) -> PosteriorModel:
    """The posterior of the rates for a closure (PA, OA, or any other), paper eq. (19).

    **Arguments:**

    - `problem`: the `RateProblem` (data, closure, weight ``a``, solver).
    - `upper`: upper bound(s) of the uniform prior, scalar or shape ``(n_free,)``, 1 / time.
    - `lower`: lower bound(s), ``>= 0``; default 0.
    - `beta`: inverse temperature of ``exp(−β F)``; default 1 (the paper).
    - `free`: names of the sampled rates (default all of ``k1..k8``).
    - `fixed`: shape ``(8,)`` values of the rates that are not free (required when `free` is
      a strict subset; entries of free rates are ignored).

    **Returns:**

    A `PosteriorModel` with site ``"k"`` over the free rates.

    **Raises:**

    - `ValueError` for bad bounds, ``beta``, unknown rate names or missing/invalid `fixed`.
    """
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

    def full_rates(v):  # noqa: ANN001, ANN202
        return base.at[jidx].set(v)

    # At most eight parameters: forward-mode derivatives (NUTS) are cheaper to run and compile.
    fwd_problem = problem.forward_mode()

    # Jitted, so that NumPyro's eager initialisation and model tracing compile it once instead
    # of dispatching (and compiling) every operation of the solve separately.
    @jax.jit
    def loss_fn(v):  # noqa: ANN001, ANN202
        return fwd_problem.loss(full_rates(v))

    return PosteriorModel(
        model=_make_model("k", lo, hi, beta, loss_fn),
        site="k",
        dim_name="rate",
        names=free,
        lower=lo,
        upper=hi,
        beta=beta,
        loss_fn=loss_fn,
        full_rates=full_rates,
        forward_mode=True,
    )


def sparse_posterior_model(
    data: PairData, *, lower, upper, beta: float = 1.0  # noqa: ANN001
) -> PosteriorModel:
    """The posterior of ``(α1, α2)`` of the SA model (eq. 28) with a uniform prior on a box.

    ``F(α1, α2)`` is the closed-form trajectory misfit (`meanclust_jax.ode.sparse_misfit`).

    **Arguments:**

    - `data`: the observed trajectory.
    - `lower`, `upper`: prior bounds (may be negative), scalar or shape ``(2,)``, 1 / time.
    - `beta`: inverse temperature; default 1.

    **Returns:**

    A `PosteriorModel` with site ``"alpha"``.

    **Raises:**

    - `ValueError` for bad bounds or ``beta``.
    """
    lo, hi = _bounds(lower, upper, 2, positive=False)
    beta = _check_beta(beta)
    ts, C = data.times, data.C_pair

    @jax.jit
    def loss_fn(v):  # noqa: ANN001, ANN202
        return sparse_misfit(v, ts, C)

    return PosteriorModel(
        model=_make_model("alpha", lo, hi, beta, loss_fn),
        site="alpha",
        dim_name="alpha_index",
        names=("alpha1", "alpha2"),
        lower=lo,
        upper=hi,
        beta=beta,
        loss_fn=loss_fn,
        full_rates=None,
    )


__all__ = ["PosteriorModel", "rate_posterior_model", "sparse_posterior_model"]
