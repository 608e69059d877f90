"""Engines against exact enumeration and against each other (docs/model.md §3); run-level guarantees."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import batch_means, unchecked

from meanclust_jax import schedules
from meanclust_jax.concentrations import cluster_counts, concentrations_from_counts
from meanclust_jax.energy import ChargeNeutralityHamiltonian, TriangleBondHamiltonian, total_energy
from meanclust_jax.engine import anneal
from meanclust_jax.lattice import TriangularLattice

GENERAL = TriangleBondHamiltonian((0.3, -0.2, 0.7, 1.9), (0.15, -0.4, 0.05))
TEMPS = (0.5, 1.0, 2.0)


def exact_averages(lat, h, x, temps):
    """Exact Boltzmann averages of energy per site and C_+- over all configurations."""
    N = lat.n_sites
    n_minus = round(x * N)
    configs = []
    for idx in itertools.combinations(range(N), n_minus):
        s = np.ones(N, np.int8)
        s[list(idx)] = -1
        configs.append(s.reshape(lat.shape))
    s = jnp.asarray(np.stack(configs))
    E = np.asarray(total_energy(s, h)) / N
    cpm = concentrations_from_counts(np.asarray(cluster_counts(s)), N)["C_pair"][:, 2]
    out = []
    for T in temps:
        w = np.exp(-(E - E.min()) * N / T)
        w /= w.sum()
        out.append((float(w @ E), float(w @ cpm)))
    return out


@pytest.mark.parametrize("engine", ["parallel", "sequential"])
@pytest.mark.parametrize("moves", ["local", "global"])
@pytest.mark.parametrize("h", [ChargeNeutralityHamiltonian(), GENERAL], ids=["charge", "general"])
def test_exact_enumeration_4x4(engine, moves, h):
    lat = TriangularLattice(4, 4)
    exact = exact_averages(lat, h, 0.5, TEMPS)
    reps = 16
    scheds = [schedules.constant(T, 3000) for T in TEMPS for _ in range(reps)]
    ds = anneal(jax.random.key(7), lat, h, schedule=scheds, composition=0.5, moves=moves,
                engine=engine, replicas=len(scheds), record_every=5, progress=False)
    burn = 40
    for t_idx, (E_ex, C_ex) in enumerate(exact):
        sl = slice(t_idx * reps, (t_idx + 1) * reps)
        E_mc, E_se = batch_means(ds.energy.values[sl, burn:])
        C_mc, C_se = batch_means(ds.C_pair.values[sl, burn:, 2])
        assert abs(E_mc - E_ex) < 4 * E_se, (TEMPS[t_idx], E_mc, E_ex, E_se)
        assert abs(C_mc - C_ex) < 4 * C_se, (TEMPS[t_idx], C_mc, C_ex, C_se)


@pytest.mark.parametrize("moves", ["local", "global"])
def test_parallel_agrees_with_sequential_24x24(moves):
    lat = TriangularLattice(24, 24)
    h = ChargeNeutralityHamiltonian()
    temps, comps, reps = (0.45, 0.8, 1.6), (1 / 3, 0.5), 4
    combos = [(T, x) for x in comps for T in temps for _ in range(reps)]
    scheds = [schedules.constant(T, 600) for T, _ in combos]
    xs = [x for _, x in combos]
    out = {}
    for engine in ("parallel", "sequential"):
        out[engine] = anneal(jax.random.key(11), lat, h, schedule=scheds, composition=xs,
                             moves=moves, engine=engine, replicas=len(combos), record_every=5,
                             progress=False)
    burn = 40
    for g in range(len(combos) // reps):
        sl = slice(g * reps, (g + 1) * reps)
        for name, get in (("energy", lambda d: d.energy.values),
                          ("C--", lambda d: d.C_pair.values[..., 1]),
                          ("C+-", lambda d: d.C_pair.values[..., 2])):
            m1, s1 = batch_means(get(out["parallel"])[sl, burn:])
            m2, s2 = batch_means(get(out["sequential"])[sl, burn:])
            assert abs(m1 - m2) < 4 * np.hypot(s1, s2), (combos[g * reps], name, m1, m2, s1, s2)


@pytest.mark.parametrize("moves", ["local"])
def test_unrolled_and_scanned_phases_agree(moves):
    """The statically unrolled local phases (large lattices) sample the same distribution."""
    from meanclust_jax.engine import make_parallel_engine

    lat = TriangularLattice(12, 12)
    h = ChargeNeutralityHamiltonian()
    sigma0 = jnp.asarray(np.where(np.arange(144) % 3 == 0, -1, 1).astype(np.int8).reshape(12, 12))

    def pairs_trace(eng):
        @jax.jit
        def run(key):
            def one(key):
                def body(t, c):
                    y, acc = c
                    y, _ = eng.sweep(jax.random.fold_in(key, t), y, jnp.float32(0.8), t)
                    counts = cluster_counts(eng.decode(y))
                    return y, acc.at[t].set(counts)
                acc = jnp.zeros((400, 32), jnp.int32)
                return jax.lax.fori_loop(0, 400, body, (eng.encode(sigma0), acc))[1]
            return jax.vmap(one)(jax.random.split(key, 8))

        counts = np.asarray(run(jax.random.key(4)))
        return concentrations_from_counts(counts, 144)["C_pair"][:, 50:, 2]

    res = {unroll: pairs_trace(make_parallel_engine(lat, h, moves, unroll=unroll)) for unroll in (True, False)}
    (m1, s1), (m2, s2) = batch_means(res[True]), batch_means(res[False])
    assert abs(m1 - m2) < 4 * np.hypot(s1, s2)


def test_records_conserve_and_normalise():
    lat = TriangularLattice(12, 12)
    ds = anneal(jax.random.key(1), lat, schedule=schedules.geometric(2.0, 0.3, 4, 50),
                composition=0.42, replicas=2, record_every=10, progress=False)
    n_minus = round(0.42 * 144)
    assert np.all(ds.n_minus_sites.values == n_minus)
    np.testing.assert_allclose(ds.C_single.sel(species="-").values, n_minus / 144, atol=1e-12)
    p = ds.C_pair.values
    np.testing.assert_allclose(p[..., 0] + p[..., 1] + 2 * p[..., 2], 1, atol=1e-6)
    t = ds.C_triplet.values
    for o, w in ((0, 0.2), (6, 0.4)):
        s = t[..., o] + t[..., o + 1] + 2 * t[..., o + 2] + 2 * t[..., o + 3] + t[..., o + 4] + t[..., o + 5]
        np.testing.assert_allclose(s, w, atol=1e-6)
    np.testing.assert_allclose(t[..., 12] + t[..., 13] + 3 * t[..., 14] + 3 * t[..., 15], 0.4, atol=1e-6)
    assert np.all((ds.final_configuration.values < 0).sum(axis=(1, 2)) == n_minus)


def test_orientations_agree_in_equilibrium():
    lat = TriangularLattice(24, 24)
    ds = anneal(jax.random.key(2), lat, schedule=schedules.constant(0.8, 500), composition=0.5,
                replicas=4, record_every=5, progress=False)
    per = ds.C_pair_orientation.sel(pair="+-").values[:, 20:]  # (replica, time, orientation)
    stats = [batch_means(per[..., o]) for o in range(3)]
    for a, b in itertools.combinations(stats, 2):
        assert abs(a[0] - b[0]) < 4 * np.hypot(a[1], b[1])


def test_slow_anneal_reaches_ordered_state():
    """x = 1/3 on a lattice divisible by 3 orders into the √3×√3 state (no -- bonds, E = 0)."""
    lat = TriangularLattice(12, 12)
    ds = anneal(jax.random.key(3), lat, schedule=schedules.geometric(1.0, 0.05, 12, 300),
                composition=1 / 3, moves="local", record_every=100, progress=False)
    assert ds.C_pair.sel(pair="--").values[-1] < 0.01
    assert ds.energy.values[-1] < 0.01
    assert ds.energy.values[0] > 0.2  # started disordered


def test_same_key_identical_different_key_differs():
    lat = TriangularLattice(12, 12)
    kw = dict(schedule=schedules.constant(0.6, 40), composition=1 / 3, record_every=4, progress=False)
    a = anneal(jax.random.key(5), lat, **kw)
    b = anneal(jax.random.key(5), lat, **kw)
    c = anneal(jax.random.key(6), lat, **kw)
    assert a.identical(b)
    assert not np.array_equal(a.C_triplet.values, c.C_triplet.values)


def test_batched_run_equals_separate_runs():
    lat = TriangularLattice(12, 12)
    comps = [0.25, 0.5, 0.75]
    keys = jax.random.split(jax.random.key(8), 3)
    kw = dict(schedule=schedules.constant(0.7, 30), record_every=3, progress=False)
    batch = anneal(keys, lat, composition=comps, replicas=3, **kw)
    for b, x in enumerate(comps):
        single = anneal(keys[b], lat, composition=x, **kw)
        np.testing.assert_array_equal(batch.C_triplet.values[b], single.C_triplet.values)
        np.testing.assert_array_equal(batch.final_configuration.values[b], single.final_configuration.values)


def test_checkpoint_resume_is_bit_identical(tmp_path):
    lat = TriangularLattice(12, 12)
    kw = dict(schedule=schedules.geometric(1.5, 0.2, 3, 20), composition=1 / 3, record_every=2,
              records_per_chunk=5, progress=False, snapshots=3)
    full = anneal(jax.random.key(9), lat, **kw)
    ckpt = tmp_path / "run.npz"

    class Stop(Exception):  # noqa: N818 - a signal to stop the run, not an error
        pass

    def interrupt(done, _total):
        if done == 3:
            raise Stop

    with pytest.raises(Stop):
        anneal(jax.random.key(9), lat, checkpoint=ckpt, callback=interrupt, **kw)
    assert ckpt.is_file()
    chunks = []
    resumed = anneal(jax.random.key(9), lat, checkpoint=ckpt, callback=lambda d, _t: chunks.append(d), **kw)
    assert chunks[0] == 4  # resumed after the third chunk, not from the start
    assert resumed.identical(full)
    with unchecked(), pytest.raises(ValueError, match="different run"):
        anneal(jax.random.key(10), lat, checkpoint=ckpt, **kw)


def test_chaining_runs_from_final_configuration():
    lat = TriangularLattice(12, 12)
    first = anneal(1, lat, schedule=schedules.constant(0.3, 50), composition=1 / 3, progress=False)
    second = anneal(2, lat, schedule=schedules.constant(0.3, 10), composition=1 / 3,
                    initial=first.final_configuration.values, progress=False)
    np.testing.assert_allclose(second.C_pair.values[0], first.C_pair.values[-1])
    assert second.time.values[0] == 0  # a bare configuration has no clock


def test_chained_run_continues_the_clock(tmp_path):
    """initial=<previous run> (Dataset or netCDF path) starts from its final configuration exactly
    and continues its time; the sweep index continues too (the parallel direction cycle)."""
    from meanclust_jax.dataset import save_trajectory

    lat = TriangularLattice(12, 12)
    kw = dict(composition=[1 / 3, 0.5], replicas=2, record_every=5, progress=False, snapshots=2)
    first = anneal(1, lat, schedule=schedules.constant(0.4, 20), **kw)
    path = tmp_path / "first.nc"
    save_trajectory(first, path)
    for initial in (first, path, str(path)):
        second = anneal(2, lat, schedule=schedules.constant(0.4, 10), initial=initial, **kw)
        np.testing.assert_array_equal(second.time.values, [20, 25, 30])
        np.testing.assert_array_equal(second.snapshot.values[:, 0], first.final_configuration.values)
        np.testing.assert_array_equal(second.C_triplet.values[:, 0], first.C_triplet.values[:, -1])
        np.testing.assert_array_equal(second.n_minus_sites.values, first.n_minus_sites.values)
        assert second.attrs["start_time"] == 20
    # One continuous run of 30 sweeps uses sweep indices 0..29; the chained one continues at 20.
    single = anneal(1, lat, schedule=schedules.constant(0.4, 20), composition=1 / 3, progress=False)
    third = anneal(3, lat, schedule=schedules.constant(0.4, 5), composition=1 / 3, initial=single,
                   progress=False)
    assert third.time.values[0] == 20 and third.attrs["start_time"] == 20


def test_chained_run_refuses_another_lattice_or_composition():
    lat = TriangularLattice(12, 12)
    first = anneal(1, lat, schedule=schedules.constant(0.4, 5), composition=1 / 3, progress=False)
    with unchecked(), pytest.raises(ValueError, match="previous run is a 12x12 lattice but lattice is 24x24"):
        anneal(2, TriangularLattice(24, 24), schedule=schedules.constant(0.4, 5), composition=1 / 3,
               initial=first, progress=False)
    with unchecked(), pytest.raises(ValueError,
                                    match=r"previous run has composition x = \[0.3333\].*asks for x = \[0.5\]"):
        anneal(2, lat, schedule=schedules.constant(0.4, 5), composition=0.5, initial=first, progress=False)
    two = anneal(1, lat, schedule=schedules.constant(0.4, 5), composition=1 / 3, replicas=2, progress=False)
    with unchecked(), pytest.raises(ValueError, match="2 replicas but replicas=3"):
        anneal(2, lat, schedule=schedules.constant(0.4, 5), composition=1 / 3, replicas=3, initial=two,
               progress=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(composition=1.2), r"composition must be a finite number in \(0, 1\), got 1.2"),
        (dict(composition=float("nan")), "composition"),
        (dict(composition=0.001), "leaves no site"),
        (dict(moves="diagonal"), "moves='diagonal'"),
        (dict(engine="gpu"), "engine='gpu'"),
        (dict(record_every=0), r"record_every \(sweeps\) must be an integer >= 1, got 0"),
        (dict(replicas=0), "replicas must be an integer >= 1, got 0"),
        (dict(replicas=True), "replicas must be an integer >= 1, got True"),
        (dict(snapshots=1.5), "snapshots must be an integer >= 0, got 1.5"),
    ],
)
def test_bad_input_raises(kwargs, match):
    args = dict(schedule=schedules.constant(0.5, 10), composition=0.5, progress=False)
    args.update(kwargs)
    with unchecked(), pytest.raises(ValueError, match=match):
        anneal(0, TriangularLattice(12, 12), **args)


def test_bad_schedules_raise():
    with unchecked(), pytest.raises(ValueError, match=r"schedule step 0: T must be a finite number > 0, got 0.0"):
        schedules.constant(0.0, 10)
    with unchecked(), pytest.raises(ValueError, match="T must be a finite number > 0, got inf"):
        schedules.constant(float("inf"), 10)
    with unchecked(), pytest.raises(ValueError, match=r"sweeps must be an integer in \[1, 2147483647\], got 0"):
        schedules.constant(0.5, 0)
    with unchecked(), pytest.raises(ValueError, match="unknown"):
        schedules.parse("linear:T0=1")
    with unchecked(), pytest.raises(ValueError, match="global"):
        anneal(0, TriangularLattice(9, 9), schedule=schedules.constant(0.5, 5), composition=0.5,
               moves="global", progress=False)
