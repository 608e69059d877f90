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
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray
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
    logp_x: Array,
    logp_y1: Array,
    logp_y2: Array,
    log_q1_y1_given_y2: Array,
    log_q1_y1_given_x: Array,
) -> Array:
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
    k1, k2, k3, k4 = jax.random.split(key, 4)
    f64 = jnp.float64
    return DRMHDraws(
        xi1=jax.random.uniform(k1, (dim,), f64, minval=-1.0, maxval=1.0),
        u1=jax.random.uniform(k2, (), f64),
        xi2=jax.random.uniform(k3, (dim,), f64, minval=-1.0, maxval=1.0),
        u2=jax.random.uniform(k4, (), f64),
    )


def drmh_transition(
    state: DRMHState,
    draws: DRMHDraws,
    logdensity_fn: Callable[[Array], Array],
    first_scale: Float[Array, " dim"],
    second_scale: Float[Array, " dim"],
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
    logp_x = state.logdensity
    s1 = jnp.broadcast_to(jnp.asarray(first_scale, dtype=jnp.float64), x.shape)
    s2 = jnp.broadcast_to(jnp.asarray(second_scale, dtype=jnp.float64), x.shape)
    y1 = x + s1 * draws.xi1
    logp_y1 = _sanitize(logdensity_fn(y1))
    log_a1 = first_stage_log_accept(logp_x, logp_y1)
    accept1 = jnp.log(draws.u1) < log_a1

    def _first(_):  # noqa: ANN001, ANN202
        zero = jnp.zeros((), jnp.float64)
        return y1, logp_y1, zero, jnp.int32(1), jnp.int32(1)

    def _second(_):  # noqa: ANN001, ANN202
        y2 = x + s2 * draws.xi2
        logp_y2 = _sanitize(logdensity_fn(y2))
        # q1(y1 | x) is the box density by construction (y1 was drawn from it).
        log_q_x = -jnp.sum(jnp.log(2.0 * s1))
        log_q_y2 = uniform_box_logpdf(y1 - y2, s1)
        log_a2 = second_stage_log_accept(logp_x, logp_y1, logp_y2, log_q_y2, log_q_x)
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
    first_scale: Float[Array, " dim"],
    second_scale: Float[Array, " dim"],
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


def _check_scale(scale, name: str, dim: int | None = None) -> None:  # noqa: ANN001
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
- **first_scale**, **second_scale** – ``σ1``, ``σ2`` over the flattened latent vector.
- **num_accept_1**, **num_second_stage**, **num_accept_2** – running counts (diagnostics).
- **rng_key** – PRNG key.
"""


class DelayedRejectionMH(MCMCKernel):
    """Two-stage delayed-rejection Metropolis–Hastings as a NumPyro `MCMCKernel`.

    Uniform proposals ``U[−σ1, σ1]`` then ``U[−σ2, σ2]`` around the current point, and the
    Tierney–Mira second-stage acceptance (paper Algorithm 1, eqs. 23–24; see the module
    docstring). No adaptation: warmup steps are plain burn-in.

    ```python
    mcmc = numpyro.infer.MCMC(DelayedRejectionMH(model), num_warmup=1000, num_samples=10**5,
                              num_chains=4, chain_method="vectorized")
    mcmc.run(jax.random.key(0), extra_fields=("accept_prob_1", "accept_prob_2"))
    idata = arviz.from_numpyro(mcmc)
    ```

    **Arguments:**

    - `model`: a NumPyro model with continuous latent sites (or ``None`` with `potential_fn`).
    - `first_scale`: ``σ1``: a float or an array over the flattened latent vector (in the space
      of the walk, see `space`); default ``0.1·|init|`` (per chain).
    - `second_scale`: ``σ2``; default ``0.01·|init|``.
    - `potential_fn`: instead of a model, ``z ↦ −log π(z)`` on a pytree; ``init_params`` must
      then be passed to `MCMC.run`.
    - `space`: ``"constrained"`` (default, as in the paper: the walk moves the latent values
      themselves, proposals outside a site's support are rejected, no Jacobian) or
      ``"unconstrained"`` (the walk moves NumPyro's unconstrained values; needed for supports
      without interior such as simplexes). Ignored with `potential_fn`.
    - `init_strategy`: NumPyro init strategy (e.g. ``init_to_value(values={"k": Y1})``).

    **Raises:**

    - `ValueError` if neither or both of `model` and `potential_fn` are given, for an unknown
      `space`, or for non-positive/non-finite scales.
    """

    def __init__(
        self,
        model: Callable | None = None,
        first_scale=None,  # noqa: ANN001
        second_scale=None,  # noqa: ANN001
        *,
        potential_fn: Callable | None = None,
        space: Literal["constrained", "unconstrained"] = "constrained",
        init_strategy: Callable | None = None,
    ):
        from numpyro.infer.initialization import init_to_uniform

        if (model is None) == (potential_fn is None):
            raise ValueError("exactly one of model and potential_fn must be given")
        if space not in ("constrained", "unconstrained"):
            raise ValueError(f"space must be 'constrained' or 'unconstrained', got {space!r}")
        _check_scale(first_scale, "first_scale")
        _check_scale(second_scale, "second_scale")
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
    def sample_field(self) -> str:
        return "z"

    @property
    def default_fields(self) -> tuple[str, ...]:
        return ("z", "potential_energy", "accept_stage")

    @property
    def is_ensemble_kernel(self) -> bool:
        return False

    def get_diagnostics_str(self, state) -> str:  # noqa: ANN001
        n = max(int(state.i), 1)
        n2 = max(int(state.num_second_stage), 1)
        return "acc. 1st={:.2f} 2nd={:.2f}".format(
            float(state.num_accept_1) / n, float(state.num_accept_2) / n2
        )

    def postprocess_fn(self, model_args, model_kwargs):  # noqa: ANN001, ANN201
        from numpyro.util import identity

        if self._model is None:
            return identity
        if self._space == "unconstrained":
            return self._postprocess_gen(*model_args, **model_kwargs)
        if not self._has_deterministic:
            return identity
        model = self._model

        def constrained_postprocess(z):  # noqa: ANN001, ANN202
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

    def init(self, rng_key, num_warmup, init_params=None, model_args=(), model_kwargs=None):  # noqa: ANN001, ANN201
        """Initial `DRMHKernelState` (batched over chains when ``rng_key`` is a batch of keys).

        With a model, ``init_params`` follows NumPyro's convention (unconstrained values); use
        ``init_strategy=init_to_value(...)`` to start from constrained values such as ``Y1``.
        """
        from numpyro.util import is_prng_key

        model_kwargs = {} if model_kwargs is None else model_kwargs
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

        def one(z, key):  # noqa: ANN001, ANN202
            x, unravel = ravel_pytree(z)
            x = jnp.asarray(x, dtype=jnp.float64)
            dim = x.shape[0]
            _check_scale(self._first_scale, "first_scale", dim)
            _check_scale(self._second_scale, "second_scale", dim)
            d1, d2 = default_scales(x)
            s1 = d1 if self._first_scale is None else jnp.broadcast_to(
                jnp.asarray(self._first_scale, jnp.float64), (dim,)
            )
            s2 = d2 if self._second_scale is None else jnp.broadcast_to(
                jnp.asarray(self._second_scale, jnp.float64), (dim,)
            )
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
                rng_key=key,
            )

        def init_one(z_input, key):  # noqa: ANN001, ANN202
            return one(make_z(z_input), key)

        if vectorized:
            state = jax.jit(jax.vmap(init_one))(z_input, rng_key)
            self._sample_fn = jax.vmap(self._sample_one, in_axes=(0, None, None))
        else:
            state = jax.jit(init_one)(z_input, rng_key)
            self._sample_fn = self._sample_one
        return state

    def sample(self, state, model_args, model_kwargs):  # noqa: ANN001, ANN201
        """One DR-MH step (batched over chains in vectorised mode)."""
        if self._sample_fn is None:
            raise RuntimeError("DelayedRejectionMH.init must be called before sample")
        return self._sample_fn(state, model_args, model_kwargs)

    # --- internals ----------------------------------------------------------------------

    def _init_from_model(self, key, init_params, model_args, model_kwargs, vectorized):  # noqa: ANN001, ANN202
        """``(make_z, z_input)`` with ``make_z(z_input)`` the initial ``z`` (traceable)."""
        if self._space == "unconstrained":
            z = self._init_unconstrained(key, init_params, model_args, model_kwargs)
            return (lambda z: z), z
        get_init = self._inspect_model(model_args, model_kwargs)
        if init_params is not None:
            jax.eval_shape(get_init, key[0] if vectorized else key)
            from numpyro.infer.util import constrain_fn

            def constrain(u):  # noqa: ANN001, ANN202
                return constrain_fn(self._model, model_args, model_kwargs, u)

            return constrain, init_params
        # Constrained walk: the initial values come straight from the init strategy (as in
        # `numpyro.infer.util.initialize_model`), without compiling the potential's gradient.
        return get_init, key

    def _inspect_model(self, model_args, model_kwargs):  # noqa: ANN001, ANN202
        """``key ↦ {site: initial constrained value}`` following the init strategy.

        Tracing it records whether the model has deterministic sites and rejects discrete
        latent sites (`ValueError`).
        """
        from numpyro import handlers

        model, strategy = self._model, self._init_strategy
        found: dict[str, object] = {}

        def get_init(k):  # noqa: ANN001, ANN202
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

        def checked_get_init(k):  # noqa: ANN001, ANN202
            z = get_init(k)
            if found["discrete"]:
                raise ValueError(
                    "DelayedRejectionMH needs continuous latent sites; discrete sites: "
                    f"{found['discrete']}"
                )
            self._has_deterministic = bool(found["deterministic"])
            return z

        return checked_get_init

    def _init_unconstrained(self, key, init_params, model_args, model_kwargs):  # noqa: ANN001, ANN202
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

    def _logdensity(self, unravel, model_args, model_kwargs):  # noqa: ANN001, ANN202
        """``x_flat ↦ log π`` in the space of the walk."""
        if self._model is None:
            potential_fn = self._potential_fn
            return lambda x: -potential_fn(unravel(x))
        if self._space == "unconstrained":
            potential_fn = self._potential_fn_gen(*model_args, **model_kwargs)
            return lambda x: -potential_fn(unravel(x))
        model = self._model

        def logdensity(x):  # noqa: ANN001, ANN202
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

    def _sample_one(self, state, model_args, model_kwargs):  # noqa: ANN001, ANN202
        model_kwargs = {} if model_kwargs is None else model_kwargs
        x, unravel = ravel_pytree(state.z)
        x = jnp.asarray(x, dtype=jnp.float64)
        logdensity = self._logdensity(unravel, model_args, model_kwargs)
        rng_key, key = jax.random.split(state.rng_key)
        new, info = drmh_step(
            key,
            DRMHState(position=x, logdensity=-state.potential_energy),
            logdensity,
            state.first_scale,
            state.second_scale,
        )
        second = info.num_evals == 2
        return DRMHKernelState(
            i=state.i + 1,
            z=unravel(new.position),
            potential_energy=-new.logdensity,
            accept_stage=info.stage,
            accept_prob_1=info.first_accept_prob,
            accept_prob_2=info.second_accept_prob,
            num_evals=info.num_evals,
            first_scale=state.first_scale,
            second_scale=state.second_scale,
            num_accept_1=state.num_accept_1 + (info.stage == 1),
            num_second_stage=state.num_second_stage + second,
            num_accept_2=state.num_accept_2 + (info.stage == 2),
            rng_key=rng_key,
        )

    def __getstate__(self):  # noqa: ANN204
        state = self.__dict__.copy()
        state["_sample_fn"] = None
        return state


__all__ = [
    "DRMHDraws",
    "DRMHInfo",
    "DRMHKernelState",
    "DRMHState",
    "DelayedRejectionMH",
    "default_scales",
    "drmh_draw",
    "drmh_init",
    "drmh_step",
    "drmh_transition",
    "first_stage_log_accept",
    "second_stage_log_accept",
    "uniform_box_logpdf",
]
