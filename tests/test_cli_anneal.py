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


def test_cli_chains_runs_and_records_reactions(tmp_path, capsys):
    first, second = tmp_path / "a.nc", tmp_path / "b.nc"
    common = ["anneal", "--rows", "12", "--cols", "12", "--composition", "1/3", "--record-every", "5",
              "--no-progress", "--reactions"]
    assert main(common + ["--schedule", "constant:T=0.5,sweeps=20", "--out", str(first)]) == 0
    assert main(common + ["--schedule", "constant:T=0.4,sweeps=10", "--initial", str(first),
                          "--out", str(second)]) == 0
    a, b = mc.load_trajectory(first), mc.load_trajectory(second)
    np.testing.assert_array_equal(b.time.values, [20, 25, 30])
    np.testing.assert_array_equal(b.C_pair.values[0], a.C_pair.values[-1])
    assert list(b.reaction.values) == ["k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"]
    assert b.rate_measured.attrs["units"] == "1/sweep"
    assert "t = 20..30 sweeps" in capsys.readouterr().out
    assert main(["anneal", "--rows", "24", "--cols", "24", "--initial", str(first), "--no-progress",
                 "--schedule", "constant:T=0.4,sweeps=5", "--out", str(tmp_path / "c.nc")]) == 2
    assert "previous run is a 12x12 lattice" in capsys.readouterr().err
    assert main(["anneal", "--rows", "12", "--cols", "12", "--initial", str(tmp_path / "none.nc"),
                 "--out", str(tmp_path / "d.nc")]) == 2
    assert "--initial" in capsys.readouterr().err
    assert main(["anneal", "--rows", "12", "--cols", "12", "--moves", "global", "--reactions",
                 "--no-progress", "--out", str(tmp_path / "e.nc")]) == 2
    assert "reactions=True needs moves='local'" in capsys.readouterr().err


def test_readme_python_api():
    ds = mc.anneal(jax.random.key(0), mc.TriangularLattice(12, 12), mc.ChargeNeutralityHamiltonian(),
                   schedule=mc.schedules.paper(sweeps_per_step=20), composition=1 / 3, moves="local",
                   progress=False)
    c = mc.cluster_concentrations(ds.final_configuration.values)
    np.testing.assert_allclose(c["C_pair"], ds.C_pair.values[-1])
