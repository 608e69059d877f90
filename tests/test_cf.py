"""CF metadata of the files users open: trajectories, the closures' study file, posteriors."""

from __future__ import annotations

import jax
import matplotlib
import numpy as np
import pytest
from helpers import unchecked

import meanclust_jax as mc
from meanclust_jax._cf import CONVENTIONS, cf_posterior_attrs, missing_cf
from meanclust_jax.dataset import save_trajectory

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def trajectory():
    return mc.anneal(jax.random.key(0), mc.TriangularLattice(6, 6), schedule=mc.schedules.constant(0.5, 8),
                     composition=1 / 3, replicas=2, record_every=4, snapshots=2, progress=False)


def test_every_variable_and_coordinate_has_long_name_and_units(trajectory, tmp_path):
    ds = trajectory
    assert {"row", "col", "replica", "time", "snapshot_time"} <= set(ds.coords)
    assert missing_cf(ds) == []
    assert ds.attrs["Conventions"] == CONVENTIONS == "CF-1.10"
    assert ds["time"].attrs["units"] == "sweep"
    for name in ("C_single", "C_pair", "C_pair_orientation", "C_triplet", "acceptance"):
        assert ds[name].attrs["units"] == "1", name
    assert ds["temperature"].attrs["units"] == ds["energy"].attrs["units"] == "1"
    assert list(ds["final_configuration"].attrs["flag_values"]) == [-1, 1]
    # survives the file, and a single replica (no replica dimension) has it too
    save_trajectory(ds, tmp_path / "t.nc")
    back = mc.load_trajectory(tmp_path / "t.nc")
    assert missing_cf(back) == [] and back.attrs["Conventions"] == CONVENTIONS



def test_single_replica_and_energy_units_of_the_hamiltonian():
    h = mc.TriangleBondHamiltonian((0.0, -0.1, 0.05, 0.3), energy_units="eV")
    ds = mc.anneal(jax.random.key(2), mc.TriangularLattice(6, 6), schedule=mc.schedules.constant(0.1, 2),
                   composition=0.5, hamiltonian=h, progress=False)
    assert "replica" not in ds.dims and missing_cf(ds) == []
    assert ds["temperature"].attrs["units"] == ds["energy"].attrs["units"] == "eV"
    with unchecked(), pytest.raises(ValueError, match="energy_units"):
        mc.TriangleBondHamiltonian((0.0, 0.0, 0.0, 0.0), energy_units="")


def test_xarray_plots_label_their_axes(trajectory):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    trajectory["C_pair"].isel(replica=0).sel(pair="++").plot(ax=ax)
    assert ax.get_xlabel().replace("\n", " ") == "time since the start of the anneal [sweep]"
    assert ax.get_ylabel().replace("\n", " ") == "pair concentration [1]"
    plt.close(fig)


def _idata(n_chain=2, n_draw=5, obs_times=None):
    import arviz as az

    rng = np.random.default_rng(0)
    extra = {} if obs_times is None else {"obs_time": obs_times}
    return az.from_dict(
        posterior={"k": rng.random((n_chain, n_draw, 8)), "k_identifiable": rng.random((n_chain, n_draw, 4)),
                   "sigma": rng.random((n_chain, n_draw, 2)), "F": rng.random((n_chain, n_draw))},
        sample_stats={"lp": rng.random((n_chain, n_draw)), "diverging": np.zeros((n_chain, n_draw), bool)},
        log_likelihood={"C_pair": rng.random((n_chain, n_draw, 3, 2))},
        coords={"rate": [f"k{i}" for i in range(1, 9)], "combination": ["4k1+k2", "4k3+k4", "4k5+k6", "4k7+k8"],
                "obs_pair": ["++", "--"], **extra},
        dims={"k": ["rate"], "k_identifiable": ["combination"], "sigma": ["obs_pair"],
              "C_pair": ["obs_time", "obs_pair"]},
    )


@pytest.mark.parametrize(("time_scale", "rate_units", "time_units"),
                         [(1.0, "1/sweep", "sweep"), (1e-3, "1/(0.001 sweep)", "0.001 sweep")])
def test_posterior_attrs(time_scale, rate_units, time_units):
    idata = cf_posterior_attrs(_idata(), time_scale=time_scale)
    for group in idata.groups():
        assert missing_cf(idata[group]) == [], group
        assert idata[group].attrs["Conventions"] == CONVENTIONS
        assert idata[group].attrs["time_scale"] == time_scale
    post = idata.posterior
    assert post["k"].attrs["units"] == post["k_identifiable"].attrs["units"] == rate_units
    assert post["F"].attrs["units"] == time_units and post["sigma"].attrs["units"] == "1"
    assert idata.log_likelihood["obs_time"].attrs["units"] == "1"  # an index, not a time
    # The samplers label the observations by their recorded times: then a time with units.
    timed = cf_posterior_attrs(_idata(obs_times=[10.0, 20.0, 30.0]), time_scale=time_scale)
    assert timed.log_likelihood["obs_time"].attrs["units"] == time_units


def test_posterior_attrs_survive_netcdf(tmp_path):
    from meanclust_jax.inference import load_posterior, save_posterior

    save_posterior(cf_posterior_attrs(_idata(), time_scale=1.0), tmp_path / "p.nc")
    back = load_posterior(tmp_path / "p.nc")
    assert back.posterior["k"].attrs["units"] == "1/sweep"
    assert back.posterior.attrs["Conventions"] == CONVENTIONS and back.posterior.attrs["time_scale"] == 1.0


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), "x"])
def test_posterior_attrs_reject_bad_time_scale(bad):
    with unchecked(), pytest.raises(ValueError, match="time_scale"):
        cf_posterior_attrs(_idata(), time_scale=bad)
