"""The engine's parts one by one: layout, move sets, engine interface, driver pieces (issue 15)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import unchecked

from meanclust_jax import schedules
from meanclust_jax.energy import ChargeNeutralityHamiltonian
from meanclust_jax.engine import (
    AbstractEngine,
    AbstractMoves,
    AnnealSpec,
    CheckerboardEngine,
    GlobalSwaps,
    LocalSwaps,
    SequentialEngine,
    anneal,
    as_moves,
    make_parallel_engine,
    make_sequential_engine,
)
from meanclust_jax.engine._driver import Checkpoint, fingerprint, initial_configurations, replica_key_batch, sweep_plan
from meanclust_jax.engine._layout import SublatticeLayout
from meanclust_jax.lattice import NEIGHBOUR_VECTORS, TriangularLattice


def random_sigma(rng, rows, cols, x=1 / 3):
    n = rows * cols
    flat = np.ones(n, np.int8)
    flat[rng.choice(n, round(x * n), replace=False)] = -1
    return flat.reshape(rows, cols)


@pytest.mark.parametrize(("shape", "stride"), [((12, 12), (3, 3)), ((12, 16), (3, 4)), ((16, 12), (4, 3))])
def test_layout_round_trip_and_neighbour_slices(shape, stride):
    rng = np.random.default_rng(0)
    sigma = random_sigma(rng, *shape)
    lay = SublatticeLayout(rows=shape[0], cols=shape[1], sa=stride[0], sb=stride[1])
    y = lay.encode(jnp.asarray(sigma))
    np.testing.assert_array_equal(np.asarray(lay.decode(y)), sigma)
    m = (sigma < 0).astype(np.int8)
    for p in range(lay.sa):
        for q in range(lay.sb):
            for da, db in ((0, 0), *NEIGHBOUR_VECTORS, (2, -1), (-1, 2)):
                want = np.roll(m, (-(p + da), -(q + db)), axis=(0, 1))[:: lay.sa, :: lay.sb]
                np.testing.assert_array_equal(np.asarray(lay.near(y, p, q, da, db)), want)
                got = lay.near(y, jnp.int32(p), jnp.int32(q), jnp.int32(da), jnp.int32(db))
                np.testing.assert_array_equal(np.asarray(got), want)


def test_layout_write_keeps_halo_consistent():
    rng = np.random.default_rng(1)
    lay = SublatticeLayout(rows=12, cols=12, sa=3, sb=3)
    y = lay.encode(jnp.asarray(random_sigma(rng, 12, 12)))
    new = jnp.asarray(rng.integers(0, 2, (lay.R, lay.C)), jnp.int8)
    for written in (lay.write(y, 1, 2, new), lay.refresh_halo(lay.write_interior(y, jnp.int32(1), jnp.int32(2), new))):
        np.testing.assert_array_equal(np.asarray(written), np.asarray(lay.encode(lay.decode(written))))
        np.testing.assert_array_equal(np.asarray(lay.near(written, 1, 2, 0, 0)), np.asarray(new))


def test_move_sets_from_names_and_objects():
    assert as_moves("local") == LocalSwaps() and as_moves("global") == GlobalSwaps()
    assert as_moves(LocalSwaps()) is not None and str(GlobalSwaps()) == "global"
    with unchecked(), pytest.raises(ValueError, match="moves='diagonal'"):
        as_moves("diagonal")
    with unchecked(), pytest.raises(ValueError, match="moves=3"):
        as_moves(3)
    with pytest.raises(TypeError):
        AbstractMoves()  # abstract
    lat = TriangularLattice(12, 9)
    assert LocalSwaps().stride(lat) == lat.stride("local") == lat.stride(LocalSwaps()) == (3, 3)
    assert GlobalSwaps().stride(lat) == lat.stride("global") == (4, 3)
    with unchecked(), pytest.raises(ValueError, match="multiple of 4"):
        GlobalSwaps().stride(TriangularLattice(9, 9))


def test_partners_of_each_move_set():
    lat = TriangularLattice(12, 12)
    nbr = jnp.asarray(lat.neighbour_table())
    sites = jax.random.randint(jax.random.key(0), (500,), 0, lat.n_sites, dtype=jnp.int32)  # as the engines draw them
    j, d = LocalSwaps().draw_partners(jax.random.key(1), sites, nbr)
    np.testing.assert_array_equal(np.asarray(j), np.asarray(nbr)[np.asarray(sites), np.asarray(d)])
    assert set(np.asarray(d).tolist()) == set(range(6))
    j, d = GlobalSwaps().draw_partners(jax.random.key(1), sites, nbr)
    assert np.all(np.asarray(j) != np.asarray(sites)) and np.all(np.asarray(d) == -1)


@pytest.mark.parametrize("make", [make_parallel_engine, make_sequential_engine])
def test_engines_share_one_interface(make):
    lat = TriangularLattice(12, 12)
    eng = make(lat, ChargeNeutralityHamiltonian(), LocalSwaps())
    assert isinstance(eng, AbstractEngine)
    assert isinstance(eng, CheckerboardEngine if make is make_parallel_engine else SequentialEngine)
    sigma = jnp.asarray(random_sigma(np.random.default_rng(2), 12, 12))
    state = eng.encode(sigma)
    np.testing.assert_array_equal(np.asarray(eng.decode(state)), np.asarray(sigma))
    new, counts = eqx.filter_jit(eng.sweep)(jax.random.key(0), state, jnp.float32(0.7), jnp.int32(4))
    assert counts.dtype == jnp.int32 and counts.ndim == 1
    after = np.asarray(eng.decode(new))
    assert (after < 0).sum() == (np.asarray(sigma) < 0).sum()
    assert 0 < int(counts[0]) <= lat.n_sites
    with unchecked(), pytest.raises(ValueError, match="moves='none'"):
        make(lat, ChargeNeutralityHamiltonian(), "none")


def test_spec_validates_once():
    lat = TriangularLattice(12, 12)
    h = ChargeNeutralityHamiltonian()
    spec = AnnealSpec.create(lat, h, schedule=schedules.constant(0.5, 25), composition=[0.25, 0.5], replicas=2,
                             record_every=10)
    assert spec.replicas == 2 and spec.n_records == 3 and spec.n_minus == (36, 72)
    assert spec.moves == LocalSwaps() and spec.default_records_per_chunk() == 1
    T, active = sweep_plan(spec, records_per_chunk=2)
    assert T.shape == (2, 2, 2, 10) and active.shape == (2, 2, 10) and active.sum() == 25
    assert np.all(T == np.float32(0.5))
    for kw, match in ((dict(replicas=3), "one entry per replica"),
                      (dict(record_every=0), r"record_every \(sweeps\) must be an integer >= 1, got 0"),
                      (dict(engine="gpu"), "engine='gpu'"),
                      (dict(snapshots=-1), "snapshots must be an integer >= 0, got -1")):
        args = dict(schedule=schedules.constant(0.5, 25), composition=[0.25, 0.5], replicas=2)
        args.update(kw)
        with unchecked(), pytest.raises(ValueError, match=match):
            AnnealSpec.create(lat, h, **args)


def test_initial_configurations_are_checked():
    lat = TriangularLattice(12, 12)
    spec = AnnealSpec.create(lat, ChargeNeutralityHamiltonian(), schedule=schedules.constant(0.5, 5),
                             composition=1 / 3, replicas=2)
    keys = replica_key_batch(0, 2)
    sigma = initial_configurations(spec, keys, None)
    assert sigma.shape == (2, 12, 12) and np.all(np.asarray(sigma < 0).sum(axis=(1, 2)) == 48)
    good = random_sigma(np.random.default_rng(3), 12, 12)
    np.testing.assert_array_equal(np.asarray(initial_configurations(spec, keys, good))[1], good)
    with unchecked(), pytest.raises(ValueError, match="'-' sites but composition"):
        initial_configurations(spec, keys, random_sigma(np.random.default_rng(3), 12, 12, x=0.5))
    with unchecked(), pytest.raises(ValueError, match="shape"):
        initial_configurations(spec, keys, good[:6])


def test_fingerprint_covers_the_starting_configuration(tmp_path):
    lat = TriangularLattice(12, 12)
    spec = AnnealSpec.create(lat, ChargeNeutralityHamiltonian(), schedule=schedules.constant(0.5, 5), composition=1 / 3)
    keys = replica_key_batch(0, 1)
    a, b = (random_sigma(np.random.default_rng(s), 12, 12) for s in (4, 5))
    prints = {fingerprint(spec, keys, init, 1) for init in (None, a, b)}
    assert len(prints) == 3
    assert fingerprint(spec, keys, a, 1) == fingerprint(spec, keys, a.copy(), 1)
    ckpt = Checkpoint(tmp_path / "c.npz", fingerprint(spec, keys, a, 1))
    ckpt.save(x=np.arange(3))
    np.testing.assert_array_equal(ckpt.load(("x",))["x"], np.arange(3))
    with unchecked(), pytest.raises(ValueError, match="lacks"):
        ckpt.load(("x", "y"))
    with unchecked(), pytest.raises(ValueError, match="different run"):
        Checkpoint(tmp_path / "c.npz", fingerprint(spec, keys, b, 1)).load(("x",))


def test_resume_with_another_initial_configuration_is_refused(tmp_path):
    lat = TriangularLattice(12, 12)
    kw = dict(schedule=schedules.constant(0.5, 8), composition=1 / 3, record_every=2, records_per_chunk=1,
              progress=False)
    a, b = (random_sigma(np.random.default_rng(s), 12, 12) for s in (6, 7))
    ckpt = tmp_path / "run.npz"

    class Stop(Exception):  # noqa: N818 - a signal to stop the run, not an error
        pass

    def interrupt(done, _total):
        if done == 2:
            raise Stop

    with pytest.raises(Stop):
        anneal(1, lat, checkpoint=ckpt, callback=interrupt, initial=a, **kw)
    with unchecked(), pytest.raises(ValueError, match="different run"):
        anneal(1, lat, checkpoint=ckpt, initial=b, **kw)
    resumed = anneal(1, lat, checkpoint=ckpt, initial=a, **kw)
    assert resumed.identical(anneal(1, lat, initial=a, **kw))


def test_move_set_objects_equal_their_names():
    lat = TriangularLattice(12, 12)
    kw = dict(schedule=schedules.constant(0.6, 6), composition=0.5, record_every=3, progress=False)
    for name, obj in (("local", LocalSwaps()), ("global", GlobalSwaps())):
        assert anneal(2, lat, moves=name, **kw).identical(anneal(2, lat, moves=obj, **kw))
