"""The one validated reader of trajectories (`meanclust_jax.dataset`), as used by the closures,
the inference and the command line: the same checks and messages everywhere."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr
from helpers import unchecked
from test_closures_helpers import make_dataset

from meanclust_jax._io import save_netcdf
from meanclust_jax.cli import main
from meanclust_jax.closures import PairApproximation, closure_errors
from meanclust_jax.dataset import Trajectories, load_trajectory, read_trajectories
from meanclust_jax.inference import PairData


def _dataset(n: int = 6, x: float = 0.4) -> xr.Dataset:
    s = np.linspace(0.1, 0.2, n)
    Cp = np.stack([(1 - x) - s, x - s, s], -1)
    Cs = np.tile([1 - x, x], (n, 1))
    Ct = np.asarray(PairApproximation()(Cs, Cp))
    return make_dataset(np.arange(n, dtype=float) * 10, Cs, Cp, Ct, x)


def _replicas(ds: xr.Dataset, R: int = 3) -> xr.Dataset:
    rng = np.random.default_rng(0)
    parts = [ds.assign(C_pair=ds.C_pair + 1e-3 * rng.uniform(0, 1, ds.C_pair.shape)) for _ in range(R)]
    return xr.concat(parts, dim="replica").transpose("replica", ...)


def test_reader_flattens_replicas_and_orders_labels():
    ds = _replicas(_dataset())
    shuffled = ds.isel(pair=[2, 0, 1], species=[1, 0], triplet=np.arange(16)[::-1])
    traj = read_trajectories(shuffled)
    assert isinstance(traj, Trajectories)
    assert traj.batch_dims == ("replica",) and traj.num_trajectories == 3
    assert traj.C_pair.shape == (3, 6, 3) and traj.C_triplet.shape == (3, 6, 16)
    np.testing.assert_array_equal(traj.C_pair, ds.C_pair.values)
    np.testing.assert_array_equal(traj.C_triplet, ds.C_triplet.values)
    assert traj.composition == pytest.approx(0.4)
    assert traj.weights.sum() == pytest.approx(1.0)
    assert read_trajectories(ds, need_triplets=False).C_triplet is None


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda ds: ds.drop_vars("C_pair"), r"ds must contain the variable 'C_pair'"),
        (lambda ds: ds.assign(C_pair=ds.C_pair + 0.9), r"ds\['C_pair'\] must lie in \[0, 1\]"),
        (lambda ds: ds.assign(C_pair=-ds.C_pair), r"ds\['C_pair'\] must lie in \[0, 1\]"),
        (lambda ds: ds.assign(C_single=ds.C_single.where(ds.time != 20)), r"ds\['C_single'\] contains NaN"),
        (lambda ds: ds.assign(C_single=ds.C_single * 0), r"ds\['C_single'\] must lie in \(0, 1\]"),
        (lambda ds: ds.isel(time=[0]), "at least 2 records"),
        (lambda ds: ds.assign_coords(time=ds.time[::-1].values), "strictly increasing"),
        (lambda ds: ds.isel(pair=[0, 1]), "pair"),
        (lambda ds: ds.C_pair, "ds must be an xarray.Dataset"),
    ],
)
def test_inference_and_closures_refuse_the_same_bad_data(mutate, match):
    """`PairData.from_dataset` delegates to the shared reader: same check, its own parameter name."""
    bad = mutate(_dataset())
    with unchecked(), pytest.raises(ValueError, match=match):
        PairData.from_dataset(bad)
    with unchecked(), pytest.raises(ValueError, match=re.sub(r"^ds", "dataset", match)):
        closure_errors(PairApproximation(), bad)


def test_pair_data_from_dataset_replicas_and_window():
    ds = _replicas(_dataset())
    data = PairData.from_dataset(ds, time_scale=0.1, t_start=10, t_stop=40)
    np.testing.assert_allclose(data.times, [1.0, 2.0, 3.0, 4.0], rtol=1e-15)
    np.testing.assert_allclose(data.C_pair, ds.C_pair.mean("replica").values[1:5], rtol=1e-14)
    np.testing.assert_allclose(data.C_single, [0.6, 0.4], rtol=1e-14)
    with unchecked(), pytest.raises(ValueError, match=r"the window holds 1 of the 6 recorded times"):
        PairData.from_dataset(ds, t_start=15, t_stop=25)
    with unchecked(), pytest.raises(ValueError, match=r"replica must be 'mean' or an integer in \[0, 2\]"):
        PairData.from_dataset(ds, replica="first")
    two = xr.concat([ds, ds], dim="chain")
    with unchecked(), pytest.raises(ValueError, match="replica.*nothing else"):
        PairData.from_dataset(two)


def test_load_trajectory_names_the_file(tmp_path):
    good = tmp_path / "good.nc"
    save_netcdf(_dataset(), good)
    assert load_trajectory(good, need_triplets=True).sizes["time"] == 6
    bad = tmp_path / "bad.nc"
    ds = _dataset()
    save_netcdf(ds.assign(C_triplet=ds.C_triplet * 30), bad)
    assert load_trajectory(bad).sizes["time"] == 6  # triplets not needed: not checked
    with unchecked(), pytest.raises(ValueError, match=r"path='.*bad\.nc'.*dataset\['C_triplet'\] must lie in \[0, 1\]"):
        load_trajectory(bad, need_triplets=True)
    other = tmp_path / "other.nc"
    save_netcdf(xr.Dataset({"a": ("x", np.zeros(3))}), other)
    with unchecked(), pytest.raises(ValueError, match=r"path='.*other\.nc'.*must contain the variable 'C_single'"):
        load_trajectory(other)
    with pytest.raises(FileNotFoundError):
        load_trajectory(tmp_path / "missing.nc")


def test_cli_reports_a_bad_trajectory_by_file(tmp_path, capsys):
    ds = _dataset()
    bad = tmp_path / "bad.nc"
    save_netcdf(ds.assign(C_pair=ds.C_pair * 3), bad)
    rc = main(["evaluate-closures", "pair", str(bad)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "bad.nc" in err and "C_pair" in err and "[0, 1]" in err
