"""``meanclust anneal`` end to end at a small size, and the public Python API of the README."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import meanclust_jax as mc
from meanclust_jax.cli import main


def test_cli_anneal_writes_netcdf(tmp_path, capsys):
    out = tmp_path / "run.nc"
    rc = main(["anneal", "--composition", "1/3", "--rows", "12", "--cols", "12", "--moves", "local",
               "--schedule", "geometric:T0=1,T1=0.1,steps=3,sweeps=20", "--record-every", "5",
               "--snapshots", "2", "--no-progress", "--out", str(out)])
    assert rc == 0
    ds = mc.load_trajectory(out)
    assert ds.sizes["time"] == 13 and ds.sizes["triplet"] == 16
    assert list(ds.pair.values) == ["++", "--", "+-"]
    assert ds.attrs["moves"] == "local" and ds.attrs["rows"] == 12
    assert ds.snapshot.shape == (2, 12, 12)
    assert "wrote" in capsys.readouterr().out


def test_cli_schedule_csv_and_errors(tmp_path, capsys):
    csv = tmp_path / "sched.csv"
    csv.write_text("T,sweeps\n1.0,10\n0.5,10\n")
    assert main(["anneal", "--rows", "12", "--cols", "12", "--schedule", str(csv), "--no-progress",
                 "--out", str(tmp_path / "a.nc")]) == 0
    assert main(["anneal", "--rows", "10", "--cols", "12", "--out", str(tmp_path / "b.nc")]) == 2
    assert "rows=10 cannot be tiled" in capsys.readouterr().err
    assert main(["anneal", "--rows", "12", "--cols", "12", "--out", "/nonexistent/dir/x.nc"]) == 2
    with pytest.raises(SystemExit):
        main(["anneal", "--composition", "one-third", "--out", "x.nc"])


def test_readme_python_api():
    ds = mc.anneal(jax.random.key(0), mc.TriangularLattice(12, 12), mc.ChargeNeutralityHamiltonian(),
                   schedule=mc.schedules.paper(sweeps_per_step=20), composition=1 / 3, moves="local",
                   progress=False)
    c = mc.cluster_concentrations(ds.final_configuration.values)
    np.testing.assert_allclose(c["C_pair"], ds.C_pair.values[-1])
