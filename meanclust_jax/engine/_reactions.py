r"""The reaction observer: counting the reactions of eq. (5) on the lattice (issue 11, docs/model.md §6, §9).

**Reactions.** A Kawasaki swap of a ``+−`` bond exchanges the species of its two sites; call
``j`` the ``−`` site and ``k`` the ``+`` site before the swap. The pairs that change are those
between ``j`` and its other neighbours and between ``k`` and its other neighbours. Each of the two
common neighbours of ``j`` and ``k`` (the two triangles on the bond) sees one pair made and one
destroyed: no net change. Every other neighbour ``i`` of ``j`` forms the chain ``(i, j, k)``,
angled (120°, two positions) or linear (180°, one position), and every other neighbour ``l`` of
``k`` forms the chain ``(l, k, j)``; each such chain is exactly one reaction of eq. (5):

| class | reactant → product | chain | pair |
|---|---|---|---|
| k1 / k2 | ``(+,−,+)`` → ``(+,+,−)`` | ``(i, j, k)``, ``i = +`` | ``++`` made |
| k3 / k4 | ``(+,+,−)`` → ``(+,−,+)`` | ``(l, k, j)``, ``l = +`` | ``++`` destroyed |
| k5 / k6 | ``(−,+,−)`` → ``(−,−,+)`` | ``(l, k, j)``, ``l = −`` | ``−−`` made |
| k7 / k8 | ``(−,−,+)`` → ``(−,+,−)`` | ``(i, j, k)``, ``i = −`` | ``−−`` destroyed |

(odd classes angled, even classes linear; `REACTANTS` names the reactant triplet type of each).

**Counting.** At every attempted swap the engines count, per class ``r``, the reactant chains
present (``a_r``: e.g. ``a_1`` is the number of ``+`` sites at the two angled positions of the
``−`` end; ``a_r = 0`` for a swap of equal species) and, if the swap is accepted, the same numbers
as reaction events. Over a record interval of ``Δt`` sweeps, ``R_r = Σ a_r`` over the attempts
(`reaction_attempts`) and ``A_r = Σ a_r`` over the accepted ones (`reaction_accepted`). The
engines count only four classes and the numbers of attempted and accepted swaps of unequal
species (``M``, ``M_acc``); the rest follow from ``a_7 = 2 − a_1``, ``a_8 = 1 − a_2``,
``a_5 = 2 − a_3``, ``a_6 = 1 − a_4`` on every ``+−`` bond (`reaction_class_counts`). In the
parallel engine the moves of a phase are at graph distance ≥ 2, so the chains of one move are
untouched by the others and every pair change is attributed to exactly one move.

**Concentrations** (docs/model.md §4, our convention). Around each site there are ``6·5 = 30`` ordered
pairs of distinct neighbours, so the lattice has ``30N`` ordered triplets ``(i, j, k)`` (centre
``j``): ``6N`` linear, ``12N`` angled, ``12N`` triangular; the shape weights ``1/5, 2/5, 2/5`` are
these fractions, and every triplet concentration is ``C_τ = n_τ / (30N)`` with ``n_τ`` the number
of ordered chains of pattern ``τ``. ``C_++ = #(++ bonds) / (3N)``.

**Flux.** ``ΔC_++ = (A_1 + A_2 − A_3 − A_4) / (3N)`` and ``ΔC_−− = (A_5 + A_6 − A_7 − A_8) /
(3N)`` exactly, event by event. The flux of class ``r`` in concentration per sweep is

    f_r = A_r / (3N Δt),   so that   ΔC_++ = (f_1 + f_2 − f_3 − f_4) Δt,
                                     ΔC_−− = (f_5 + f_6 − f_7 − f_8) Δt        (exactly).

**Measured rate.** Eq. (5) reads ``f_1 = 4 k_1 C∠(+−+)``, ``f_2 = 2 k_2 C—(+−+)``, ...: the flux
over the coefficient ``c_r`` (4 angled, 2 linear) and the reactant triplet concentration. One
sweep attempts ``N`` swaps among ``3N`` bonds (the sequential engine draws a uniform bond; the
parallel one attempts every bond of one direction, the directions cycling), so every bond is
attempted ``1/3`` times per sweep and a class-``r`` reactant chain is present at ``1/3`` attempts
per sweep: ``3 R_r / Δt`` estimates, without bias, the time-averaged number of such chains over
the interval, and

    C̄_r = R_r / (10 N Δt)                                   (`reactant_concentration`),
    k_r = f_r / (c_r C̄_r) = (10 / (3 c_r)) · A_r / R_r       (`rate_measured`, per sweep),

i.e. ``k = (5/6) A_r / R_r`` for angled and ``k = (5/3) A_r / R_r`` for linear classes: the
acceptance fraction of the class's reactant chains, times the rate at which a chain is attempted.

**Infinite temperature.** At ``T → ∞`` every attempted swap of unequal species is accepted, so
``A_r = R_r`` and

    k1 = k3 = k5 = k7 = 5/6 per sweep,    k2 = k4 = k6 = k8 = 5/3 per sweep
    (`INFINITE_TEMPERATURE_RATES`)

— each forward class equals its reverse, and ``k_linear = 2 k_angled`` because the
coefficients 4 and 2 of eq. (5) count window chains while every ordered chain reacts at the same
rate ``1/3`` per sweep (from first principles: ``f = (1/3) · 30N C / (3N) = (10/3) C``, and
``k = f / (c C) = 10 / (3c)``). With these values ``α_1 = α_2 = 0`` in eq. (28).

**Standard error.** ``rate_measured`` is a ratio estimator; `rate_measured_se` is its
cluster-robust (sandwich) standard error with the sweeps of the interval as clusters,

    SE(k_r)² = (10 / (3 c_r))² · n/(n − 1) · Σ_s (A_rs − p̂_r R_rs)² / R_r²,   p̂_r = A_r / R_r,

over the ``n`` sweeps ``s`` of the interval. It covers the Metropolis randomness and the
correlations within a sweep; it needs ``n ≥ 2`` sweeps per record (NaN otherwise) and treats
successive sweeps as independent, so it does not cover the slower fluctuations of the
configuration from interval to interval: in equilibrium on 24×24 lattices (x = 1/3, T = 0.5 and
1, 10 sweeps per record) the mean of ``((k − k̄) / SE)²`` over intervals was 1.0–4.0 depending on
the class, i.e. the scatter of interval rates is up to twice the SE. For averages over many
intervals use batch means over intervals and replicas (as the tests and reports do).

At ``T = ∞`` the parallel engine accepts every unlike swap it attempts, so its sweeps are a fixed
permutation of the sites and a trajectory is a deterministic function of its start; statistics
at that temperature are taken across replicas.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Int

#: Names of the reaction classes (the rates of eq. (5)), in order.
REACTIONS: tuple[str, ...] = ("k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8")
#: Reactant triplet type of each class (docs/model.md §4 labels).
REACTANTS: tuple[str, ...] = (
    "ang:+-+", "lin:+-+", "ang:++-", "lin:++-", "ang:-+-", "lin:-+-", "ang:--+", "lin:--+",
)
#: Product triplet type of each class.
PRODUCTS: tuple[str, ...] = (
    "ang:++-", "lin:++-", "ang:+-+", "lin:+-+", "ang:--+", "lin:--+", "ang:-+-", "lin:-+-",
)
#: Coefficient of each class in eq. (5): 4 for angled, 2 for linear chains.
COEFFICIENTS: tuple[int, ...] = (4, 2, 4, 2, 4, 2, 4, 2)
#: Rates per sweep at infinite temperature (see the module docstring): ``10 / (3 c_r)``.
INFINITE_TEMPERATURE_RATES: tuple[float, ...] = tuple(10.0 / (3.0 * c) for c in COEFFICIENTS)

#: Counts every sweep returns: accepted swaps and attempted swaps of unequal species.
SWEEP_COUNTS: tuple[str, ...] = ("accepted", "attempted_unlike")
#: Counts the observer adds (classes k1..k4; k5..k8 follow, see `reaction_class_counts`).
OBSERVER_COUNTS: tuple[str, ...] = (
    "attempts_k1", "attempts_k2", "attempts_k3", "attempts_k4",
    "accepted_k1", "accepted_k2", "accepted_k3", "accepted_k4",
)


def sweep_count_names(reactions: bool) -> tuple[str, ...]:
    """Layout of the int32 counts vector a sweep returns, with or without the observer."""
    return SWEEP_COUNTS + (OBSERVER_COUNTS if reactions else ())


def chain_fields(
    m_i: Int[Array, "*shape"], m_j: Int[Array, "*shape"], accept: Bool[Array, "*shape"],
    plus_ang_i: Int[Array, "*shape"], plus_lin_i: Int[Array, "*shape"],
    plus_ang_j: Int[Array, "*shape"], plus_lin_j: Int[Array, "*shape"],
) -> list[Int[Array, "*shape"]]:
    """The observer's per-attempt numbers for swaps of sites ``i`` and ``j`` (any shapes).

    **Arguments:**

    - `m_i`, `m_j`: minus-indicators (0 for ``+``, 1 for ``−``) of the two sites before the swap.
    - `accept`: whether the swap is accepted.
    - `plus_ang_i`, `plus_lin_i`: numbers of ``+`` sites at the angled (0–2) and linear (0–1)
      positions of ``i`` relative to the bond ``(i, j)``; `plus_ang_j`, `plus_lin_j` the same
      at ``j``.

    **Returns:** the eight arrays of `OBSERVER_COUNTS`: ``a_1 … a_4`` on swaps of unequal
    species, then on accepted ones.
    """
    # Work in int32 (cheaper for XLA's vectorised reductions than int8 products).
    minus_i = m_i.astype(jnp.int32) > 0
    unlike = m_i != m_j
    acc = accept
    pai, pli, paj, plj = (jnp.asarray(x, jnp.int32) for x in (plus_ang_i, plus_lin_i, plus_ang_j, plus_lin_j))
    # On a +- bond the '-' end is i when m_i = 1: a1, a2 count '+' around the '-' end,
    # a3, a4 around the '+' end.
    a1 = jnp.where(minus_i, pai, paj)
    a2 = jnp.where(minus_i, pli, plj)
    a3 = jnp.where(minus_i, paj, pai)
    a4 = jnp.where(minus_i, plj, pli)
    a = (a1, a2, a3, a4)
    zero = jnp.zeros_like(a1)
    return [jnp.where(unlike, x, zero) for x in a] + [jnp.where(acc, x, zero) for x in a]


def reaction_class_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class attempts ``R_r`` and accepted events ``A_r`` from the engine's counts.

    **Arguments:**

    - `counts`: integer array ``(..., 10)`` laid out as ``sweep_count_names(True)``.

    **Returns:** ``(attempts, accepted)``, int64 arrays ``(..., 8)`` in `REACTIONS` order.
    """
    c = np.asarray(counts, dtype=np.int64)
    acc, mix = c[..., 0], c[..., 1]
    S, SA = c[..., 2:6], c[..., 6:10]

    def classes(n: np.ndarray, s: np.ndarray) -> np.ndarray:
        rest = [2 * n - s[..., 2], n - s[..., 3], 2 * n - s[..., 0], n - s[..., 1]]  # k5, k6, k7, k8
        return np.concatenate([s, np.stack(rest, axis=-1)], axis=-1)

    return classes(mix, S), classes(acc, SA)


def reaction_statistics(
    attempts: np.ndarray,
    accepted: np.ndarray,
    moments: np.ndarray,
    n_sweeps: np.ndarray,
    n_sites: int,
) -> dict[str, np.ndarray]:
    """Fluxes, measured rates and their standard errors over record intervals.

    **Arguments:**

    - `attempts`, `accepted`: ``R_r`` and ``A_r`` per interval, int ``(..., n, 8)``.
    - `moments`: per interval ``(Σ_s A_rs², Σ_s A_rs R_rs, Σ_s R_rs²)`` over its sweeps,
      float ``(..., n, 3, 8)``.
    - `n_sweeps`: sweeps per interval ``Δt``, int ``(n,)``.
    - `n_sites`: ``N``.

    **Returns:** float64 arrays ``(..., n, 8)``: ``reaction_flux`` (concentration per sweep),
    ``reactant_concentration``, ``rate_measured`` and ``rate_measured_se`` (per sweep; NaN where
    a class had no attempt, and the SE also where an interval has one sweep).
    """
    R = np.asarray(attempts, dtype=np.float64)
    A = np.asarray(accepted, dtype=np.float64)
    dt = np.asarray(n_sweeps, dtype=np.float64)[:, None]
    scale = 10.0 / (3.0 * np.asarray(COEFFICIENTS, dtype=np.float64))
    flux = A / (3.0 * n_sites * dt)
    conc = R / (10.0 * n_sites * dt)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(R > 0, A / np.where(R > 0, R, 1.0), np.nan)
        m = np.asarray(moments, dtype=np.float64)
        resid = np.maximum(m[..., 0, :] - 2 * p * m[..., 1, :] + p * p * m[..., 2, :], 0.0)
        n = dt
        se = scale * np.sqrt(resid * n / np.where(n > 1, n - 1, np.nan)) / np.where(R > 0, R, np.nan)
    return {
        "reaction_flux": flux,
        "reactant_concentration": conc,
        "rate_measured": scale * p,
        "rate_measured_se": se,
    }


def interval_moments(per_sweep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sums over the sweeps of each record of the observer's per-sweep counts.

    **Arguments:**

    - `per_sweep`: int array ``(..., sweeps, 10)`` (``sweep_count_names(True)``) of the sweeps
      of one record (zeros for inactive sweeps).

    **Returns:** ``(attempts, accepted, moments)``: int64 ``(..., 8)``, int64 ``(..., 8)`` and
    float64 ``(..., 3, 8)`` (``Σ A², Σ A R, Σ R²`` over the sweeps).
    """
    R, A = reaction_class_counts(per_sweep)
    Rf, Af = R.astype(np.float64), A.astype(np.float64)
    moments = np.stack([(Af * Af).sum(-2), (Af * Rf).sum(-2), (Rf * Rf).sum(-2)], axis=-2)
    return R.sum(-2), A.sum(-2), moments


__all__ = [
    "COEFFICIENTS",
    "INFINITE_TEMPERATURE_RATES",
    "OBSERVER_COUNTS",
    "PRODUCTS",
    "REACTANTS",
    "REACTIONS",
    "SWEEP_COUNTS",
    "chain_fields",
    "interval_moments",
    "reaction_class_counts",
    "reaction_statistics",
    "sweep_count_names",
]
