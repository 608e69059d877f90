"""The reaction observer (issue 11): exact flux identity, infinite-temperature rates, engine
agreement, the observer leaving the Markov chain unchanged, the refused global moves, and the
phase-by-phase random numbers of the parallel engine (same chain bit for bit)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import unchecked

from meanclust_jax import schedules
from meanclust_jax._cf import missing_cf
from meanclust_jax._labels import TRIPLET_INDEX
from meanclust_jax.energy import ChargeNeutralityHamiltonian
from meanclust_jax.engine import (
    COEFFICIENTS,
    INFINITE_TEMPERATURE_RATES,
    REACTANTS,
    REACTIONS,
    anneal,
    make_parallel_engine,
    reaction_statistics,
)
from meanclust_jax.engine._random import phase_uniform
from meanclust_jax.engine._reactions import interval_moments, reaction_class_counts
from meanclust_jax.lattice import TriangularLattice


def flux_residuals(ds):
    """Max |ΔC_pair - flux·Δt| over records and replicas, for C_++ and C_--."""
    f = ds.reaction_flux.values[..., 1:, :]
    dt = np.diff(ds.time.values)[:, None]
    d_pp = np.diff(ds.C_pair.sel(pair="++").values, axis=-1)
    d_mm = np.diff(ds.C_pair.sel(pair="--").values, axis=-1)
    r_pp = d_pp - (f[..., 0] + f[..., 1] - f[..., 2] - f[..., 3]) * dt[:, 0]
    r_mm = d_mm - (f[..., 4] + f[..., 5] - f[..., 6] - f[..., 7]) * dt[:, 0]
    return float(np.abs(r_pp).max()), float(np.abs(r_mm).max())


@pytest.mark.parametrize(
    ("engine", "size"),
    [("parallel", 12), ("parallel", 36), ("sequential", 12)],
    ids=["parallel-scanned", "parallel-unrolled", "sequential"],
)
@pytest.mark.parametrize("schedule", ["constant", "paper"])
def test_flux_identity_is_exact(engine, size, schedule):
    """ΔC₊₊ = (f1+f2−f3−f4)Δt and ΔC₋₋ = (f5+f6−f7−f8)Δt to 1e-12 at every record."""
    sched = schedules.constant(0.4, 24) if schedule == "constant" else schedules.paper(sweeps_per_step=3)
    ds = anneal(4, TriangularLattice(size, size), schedule=sched, composition=[1 / 3, 0.5], replicas=2,
                record_every=3, reactions=True, engine=engine, progress=False)
    assert ds.sizes["reaction"] == 8 and list(ds.reaction.values) == list(REACTIONS)
    assert np.all(ds.reaction_flux.values[:, 0] == 0) and np.all(np.isnan(ds.rate_measured.values[:, 0]))
    r_pp, r_mm = flux_residuals(ds)
    assert r_pp < 1e-12 and r_mm < 1e-12, (r_pp, r_mm)
    assert ds.reaction_accepted.values.sum() > 0  # reactions happened
    assert np.all(ds.reaction_accepted.values <= ds.reaction_attempts.values)
    assert missing_cf(ds) == []  # CF long_name and units on the observer's variables too
    assert ds.rate_measured.attrs["units"] == "1/sweep"


@pytest.mark.parametrize("engine", ["parallel", "sequential"])
def test_infinite_temperature_rates(engine):
    """At T = 1e9 every attempt is accepted: k = 5/6 (angled) and 5/3 (linear) per sweep,
    forward = reverse (SE 0: exact). Independently of the attempt counts, the fluxes over the
    *recorded* triplet concentrations give the same values within 4 standard errors, which
    checks the time unit and the concentration convention. At T = ∞ the parallel engine swaps
    every unlike bond it attempts, a deterministic permutation of the start, so the standard
    error is taken across independent replicas."""
    lat = TriangularLattice(24, 24)
    ds = anneal(6, lat, schedule=schedules.constant(1e9, 120), composition=1 / 3, replicas=16,
                record_every=4, reactions=True, engine=engine, progress=False)
    k = ds.rate_measured.values[:, 1:]
    se = ds.rate_measured_se.values[:, 1:]
    derived = np.asarray(INFINITE_TEMPERATURE_RATES)
    np.testing.assert_allclose(derived, [5 / 6, 5 / 3] * 4)
    assert np.all(np.abs(k - derived) <= 4 * se + 1e-12)
    for fwd, rev in ((0, 2), (1, 3), (4, 6), (5, 7)):
        np.testing.assert_allclose(k[..., fwd], k[..., rev], rtol=1e-12)
    idx = [TRIPLET_INDEX[t] for t in REACTANTS]
    C = ds.C_triplet.values[..., idx]
    C_mid = 0.5 * (C[:, 1:] + C[:, :-1])  # trapezoid over each interval
    dt = np.diff(ds.time.values)[None, :, None]
    per_replica = (ds.reaction_flux.values[:, 1:] * dt).sum(1) / (np.asarray(COEFFICIENTS) * C_mid * dt).sum(1)
    m = per_replica.mean(0)
    s = per_replica.std(0, ddof=1) / np.sqrt(per_replica.shape[0])
    assert np.all(np.abs(m - derived) < 4 * s), ((m - derived) / s)


def _pooled_rates(ds, burn, n_batches=5):
    """Batch-means mean and SE of each class's rate, pooling counts within batches of records."""
    A = ds.reaction_accepted.values[:, 1 + burn:].astype(float)
    R = ds.reaction_attempts.values[:, 1 + burn:].astype(float)
    n = (A.shape[1] // n_batches) * n_batches
    A = A[:, :n].reshape(A.shape[0], n_batches, -1, 8).sum(2).reshape(-1, 8)
    R = R[:, :n].reshape(R.shape[0], n_batches, -1, 8).sum(2).reshape(-1, 8)
    k = np.asarray(INFINITE_TEMPERATURE_RATES) * A / R
    return k.mean(0), k.std(0, ddof=1) / np.sqrt(k.shape[0])


@pytest.mark.slow
def test_parallel_and_sequential_engines_agree_on_rates():
    """Equilibrium rates at three temperatures agree within 4 combined standard errors."""
    lat = TriangularLattice(24, 24)
    temps, reps = (0.5, 1.0, 2.0), 4
    scheds = [schedules.constant(T, 300) for T in temps for _ in range(reps)]
    out = {e: anneal(11, lat, schedule=scheds, composition=1 / 3, replicas=len(scheds), record_every=10,
                     reactions=True, engine=e, progress=False) for e in ("parallel", "sequential")}
    for t_idx, T in enumerate(temps):
        sl = slice(t_idx * reps, (t_idx + 1) * reps)
        m1, s1 = _pooled_rates(out["parallel"].isel(replica=sl), burn=5)
        m2, s2 = _pooled_rates(out["sequential"].isel(replica=sl), burn=5)
        assert np.all(np.abs(m1 - m2) < 4 * np.hypot(s1, s2)), (T, m1, m2, s1, s2)
        assert np.all(m1 < np.asarray(INFINITE_TEMPERATURE_RATES) + 1e-12)


def test_observer_leaves_the_chain_unchanged():
    lat = TriangularLattice(12, 12)
    kw = dict(schedule=schedules.geometric(1.0, 0.2, 3, 8), composition=1 / 3, record_every=4, progress=False)
    for engine in ("parallel", "sequential"):
        plain = anneal(6, lat, engine=engine, **kw)
        observed = anneal(6, lat, engine=engine, reactions=True, **kw)
        for v in plain.data_vars:
            np.testing.assert_array_equal(plain[v].values, observed[v].values)


def test_global_moves_refuse_the_observer():
    with unchecked(), pytest.raises(ValueError, match="reactions=True needs moves='local'.*not a reaction"):
        anneal(0, TriangularLattice(12, 12), schedule=schedules.constant(0.5, 4), composition=0.5,
               moves="global", reactions=True, progress=False)


def test_class_counts_and_standard_error():
    # Two sweeps; fields: accepted, unlike, S1..S4, SA1..SA4.
    per_sweep = np.array([[3, 5, 4, 2, 6, 3, 2, 1, 4, 2], [2, 4, 5, 1, 3, 2, 1, 1, 1, 1]])
    R, A = reaction_class_counts(per_sweep)
    np.testing.assert_array_equal(R[0], [4, 2, 6, 3, 2 * 5 - 6, 5 - 3, 2 * 5 - 4, 5 - 2])
    np.testing.assert_array_equal(A[0], [2, 1, 4, 2, 2 * 3 - 4, 3 - 2, 2 * 3 - 2, 3 - 1])
    att, acc, mom = interval_moments(per_sweep)
    stats = reaction_statistics(att[None], acc[None], mom[None], np.array([2]), n_sites=100)
    p = acc / att
    direct = np.sqrt(((A - p * R) ** 2).sum(0) * 2 / 1) / att * (10 / (3 * np.asarray(COEFFICIENTS)))
    np.testing.assert_allclose(stats["rate_measured_se"][0], direct)
    np.testing.assert_allclose(stats["rate_measured"][0], 10 / (3 * np.asarray(COEFFICIENTS)) * p)
    np.testing.assert_allclose(stats["reaction_flux"][0], acc / (3 * 100 * 2))
    np.testing.assert_allclose(stats["reactant_concentration"][0], att / (10 * 100 * 2))


def test_phase_uniforms_equal_jax_random():
    for seed in range(3):
        key = jax.random.key(seed)
        for shape in ((4, 4), (7, 13), (512, 3)):
            got = jax.jit(lambda k, s=shape: phase_uniform(k, s, jnp.int8(1)))(key)
            np.testing.assert_array_equal(np.asarray(got), np.asarray(jax.random.uniform(key, shape, jnp.float32)))


@pytest.mark.parametrize("unroll", [True, False])
def test_phase_by_phase_random_numbers_keep_the_chain(unroll):
    """The fused per-phase path and the previous path give the same sweeps, bit for bit."""
    lat = TriangularLattice(12, 12)
    sigma = jnp.asarray(np.where(np.arange(144) % 3 == 0, -1, 1).astype(np.int8).reshape(12, 12))
    states = {}
    for fused in (True, False):
        eng = make_parallel_engine(lat, ChargeNeutralityHamiltonian(), "local", unroll=unroll, fused_rng=fused)

        @jax.jit
        def run(key, eng=eng):
            def body(t, c):
                y, n = c
                y, dn = eng.sweep(jax.random.fold_in(key, t), y, jnp.float32(0.6), t)
                return y, n + dn
            return jax.lax.fori_loop(0, 7, body, (eng.encode(sigma), jnp.zeros(2, jnp.int32)))

        y, n = run(jax.random.key(3))
        states[fused] = (np.asarray(eng.decode(y)), np.asarray(n))
    np.testing.assert_array_equal(states[True][0], states[False][0])
    np.testing.assert_array_equal(states[True][1], states[False][1])
