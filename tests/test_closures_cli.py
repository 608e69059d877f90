"""The ``fit-closures`` / ``evaluate-closures`` commands, the cross-stoichiometry study and the
closure figures (issue 3, deliverables 3, 6, 7)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import unchecked
from test_closures_helpers import anneal_dataset, random_lattice_dataset

from meanclust_jax._cf import missing_cf
from meanclust_jax._io import save_netcdf
from meanclust_jax.cli import main
from meanclust_jax.closures import (
    PairApproximation,
    SparseApproximation,
    closure_errors,
    cross_stoichiometry_study,
    load_closure,
    mean_closure_error,
)
from meanclust_jax.reports import closure_figures as figs

TEMPS = [1.0, 0.6, 0.4, 0.3, 0.25, 0.2, 0.17, 0.14, 0.11, 0.08]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two small anneals (x = 1/3 and 1/2) written as netCDF, 51 records each."""
    folder = tmp_path_factory.mktemp("runs")
    out = {}
    for seed, x in enumerate((1 / 3, 0.5)):
        ds = anneal_dataset(seed, 24, 24, x, TEMPS, 10, 2)
        path = folder / f"run_{x:.3f}.nc"
        save_netcdf(ds, path)
        out[x] = (path, ds)
    return out


def test_fit_closures_cli(runs, tmp_path, capsys):
    path, ds = runs[1 / 3]
    out = tmp_path / "closure.json"
    assert main(["fit-closures", str(path), "--regularization", "hard", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Table II" in text and "tri:--+" in text and "J[PA]" in text and "mean (eq. 30)" in text
    closure = load_closure(out)
    data = json.loads(out.read_text())
    assert data["kind"] == "optimal" and data["regularization"] == "hard"
    assert data["source"]["records"] == ds.sizes["time"]
    assert data["source"]["composition"] == pytest.approx(1 / 3)
    assert mean_closure_error(closure, ds) <= mean_closure_error(PairApproximation(), ds) * 2


def test_fit_closures_cli_soft_and_bound_override(runs, tmp_path):
    path, _ = runs[0.5]
    out = tmp_path / "soft.json"
    assert main(["fit-closures", str(path), "--regularization", "soft", "--delta", "3", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["regularization"] == "custom"
    assert data["bounds"] == {"beta1": None, "beta2": None, "delta": 3.0}


def test_cli_errors_are_reported(runs, tmp_path, capsys):
    assert main(["fit-closures", str(tmp_path / "missing.nc"), "--out", str(tmp_path / "c.json")]) == 2
    assert "missing.nc" in capsys.readouterr().err
    # the allowed regularisations depend on --family, so they are checked after parsing (exit 2)
    assert main(["fit-closures", str(runs[0.5][0]), "--regularization", "medium", "--out", "x.json"]) == 2
    assert "--regularization" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "neural"}')
    assert main(["evaluate-closures", str(bad), str(runs[0.5][0])]) == 2
    assert "kind" in capsys.readouterr().err


def test_evaluate_closures_cli(runs, tmp_path, capsys):
    closure_path = tmp_path / "sa.json"
    SparseApproximation().save(closure_path)
    paths = [str(runs[x][0]) for x in (0.5, 1 / 3)]
    assert main(["evaluate-closures", str(closure_path), *paths, "--per-type"]) == 0
    text = capsys.readouterr().out
    lines = [line for line in text.splitlines() if line.startswith(("0.3333", "0.5 "))]
    assert [line.split()[0] for line in lines] == ["0.3333", "0.5"]  # sorted by composition
    e = float(lines[0].split()[2])
    assert e == pytest.approx(mean_closure_error(SparseApproximation(), runs[1 / 3][1]), rel=1e-4)
    assert main(["evaluate-closures", "pair", paths[0]]) == 0
    assert "+0.00" in capsys.readouterr().out  # PA vs itself


def test_study_and_figures(runs, tmp_path):
    datasets = {x: ds for x, (_, ds) in runs.items()}
    study, fitted = cross_stoichiometry_study(datasets, calibrate_at=(0.5,), regularizations=("hard", "soft"))
    assert list(study.closure.values) == ["PA", "SA", "OA-hard-1/2", "OA-soft-1/2"]
    assert study["mean_error"].shape == (4, 2)
    assert missing_cf(study) == [] and study.attrs["Conventions"] == "CF-1.10"
    np.testing.assert_allclose(study["mean_error"].values, study["errors"].mean("triplet").values)
    assert float(study["improvement_over_pa"].sel(closure="PA")) == 0.0
    e = study["mean_error"]
    manual = 100 * (1 - e.sel(closure="SA").mean() / e.sel(closure="PA").mean())
    assert float(study["improvement_over_pa"].sel(closure="SA")) == pytest.approx(float(manual))
    with unchecked(), pytest.raises(ValueError, match="calibrate_at"):
        cross_stoichiometry_study(datasets, calibrate_at=(0.7,))

    paths = [
        figs.plot_triplets_vs_pairs(
            {"x=1/3": runs[1 / 3][1], "x=1/2": runs[0.5][1]},
            {"PA": PairApproximation(), "OA-1/2": fitted["OA-hard-1/2"]},
            tmp_path / "fig8.png",
        ),
        figs.plot_closure_errors(
            {"PA": closure_errors(PairApproximation(), runs[0.5][1]),
             "OA-1/2": closure_errors(fitted["OA-hard-1/2"], runs[0.5][1])},
            tmp_path / "fig9.png", title="x = 1/2",
        ),
        figs.plot_mean_error_vs_composition(study, tmp_path / "fig12.pdf"),
    ]
    for p in paths:
        assert p.exists() and p.stat().st_size > 1000
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[2].read_bytes()[:4] == b"%PDF"
    with unchecked(), pytest.raises(ValueError, match="unknown triplet"):
        figs.plot_triplets_vs_pairs({"a": runs[0.5][1]}, {}, tmp_path / "x.png", types=("lin:xyz",))


def test_random_lattice_dataset_pa_error_is_tiny():
    """End to end on the random lattice: PA's ℰ is at the sampling-noise level, SA's is not."""
    ds = random_lattice_dataset(np.random.default_rng(5), 24, 24, 0.4, 8)
    assert mean_closure_error(PairApproximation(), ds) < 1e-3 * mean_closure_error(SparseApproximation(), ds)
