"""Joint calibration on several runs, leave-one-composition-out, the closed ODE with the
consistent closure, and the CLI (issue 12, deliverables 2, 5, 6 and validation)."""

from __future__ import annotations

import json

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import unchecked
from test_closures_helpers import synthetic_dataset

from meanclust_jax._io import save_netcdf
from meanclust_jax.cli import main
from meanclust_jax.closures import (
    ConsistentClosure,
    PairApproximation,
    closure_errors,
    fit_closure,
    fit_consistent_closure,
    fit_optimal_closure,
    leave_one_composition_out,
    load_closure,
    mean_closure_error,
)
from meanclust_jax.ode import solve_pairs

engine = pytest.importorskip("meanclust_jax.engine")

XS = (0.3, 1 / 3, 0.42, 0.5, 0.64)
#: A short stepwise cooling through the ordering (T in energy units), as in test_closures_engine.
STEPS = [(1.0, 10), (0.6, 10), (0.4, 10), (0.3, 10), (0.25, 10), (0.2, 10), (0.17, 10), (0.14, 10), (0.11, 10),
         (0.08, 10)]


@pytest.fixture(scope="module")
def anneals():
    """24x24 anneals (local swaps, 2 replicas) at five compositions in one engine call."""
    from meanclust_jax import schedules
    from meanclust_jax.lattice import TriangularLattice

    comps = [x for x in XS for _ in range(2)]
    ds = engine.anneal(
        jax.random.key(12), TriangularLattice(24, 24), schedule=schedules.from_steps(STEPS),
        composition=comps, replicas=len(comps), moves="local", record_every=2, progress=False,
    )
    out = {}
    for i, x in enumerate(XS):
        part = ds.isel(replica=slice(2 * i, 2 * i + 2)).assign_coords(replica=np.arange(2))
        part.attrs["composition"] = float(x)
        out[x] = part
    return out


@pytest.fixture(scope="module")
def loco(anneals):
    return leave_one_composition_out(anneals, fit_kwargs={"OA-hard": {"num_starts": 3}})


# ------------------------------------------------------------------ joint = single, replicas


def test_joint_calibration_on_one_composition_is_the_single_composition_fit(anneals):
    ds = anneals[1 / 3]
    single, rep1 = fit_optimal_closure(ds, "hard", num_starts=3)
    joint, rep2 = fit_optimal_closure([ds], "hard", num_starts=3)
    np.testing.assert_array_equal(np.asarray(single.gamma), np.asarray(joint.gamma))
    np.testing.assert_array_equal(np.asarray(single.xi), np.asarray(joint.xi))
    np.testing.assert_array_equal(rep1["objective"].values, rep2["objective"].values)
    # the same run twice is the same objective, hence the same optimum
    twice, rep3 = fit_optimal_closure([ds, ds], "hard", num_starts=3)
    np.testing.assert_allclose(rep3["objective"].values, rep1["objective"].values, rtol=1e-6)
    c1, _ = fit_consistent_closure(ds)
    c2, _ = fit_consistent_closure([ds])
    c3, _ = fit_consistent_closure([ds, ds])
    np.testing.assert_array_equal(np.asarray(c1.coefficients), np.asarray(c2.coefficients))
    np.testing.assert_allclose(np.asarray(c3.coefficients), np.asarray(c1.coefficients), rtol=1e-5, atol=1e-6)


def test_replicas_are_separate_observations(anneals):
    """A run with two replicas calibrates exactly like the two replicas given as two runs, and
    not like their average (the closure is nonlinear, so averaging first changes the answer)."""
    ds = anneals[0.42]
    parts = [ds.isel(replica=r) for r in range(2)]
    averaged = ds.mean("replica")
    averaged.attrs = ds.attrs
    for family in ("optimal", "consistent"):
        kw = {"num_starts": 3} if family == "optimal" else {}
        _, rep_runs = fit_closure(ds, family, **kw)
        _, rep_parts = fit_closure(parts, family, **kw)
        c_avg, _ = fit_closure(averaged, family, **kw)
        np.testing.assert_allclose(rep_parts["objective"].values, rep_runs["objective"].values, rtol=1e-6)
        # the replica-wise fit is optimal for the replica-wise error; a fit to the average is not
        e_avg_fit = closure_errors(c_avg, ds).values.mean()
        assert e_avg_fit >= rep_runs["objective"].values.mean() * (1 - 1e-9)


def test_synthetic_consistent_closure_is_recovered():
    truth = ConsistentClosure(np.array([[0.3, -0.8, 0.1, 0.5], [-0.2, 0.4, -0.6, 1.1], [0.5, 0.2, 0.3, -0.7],
                                        [0.1, -0.3, 0.2, 0.4], [0.05, 0.1, -0.2, 0.3]]))
    runs = [synthetic_dataset(truth, x, n_records=40) for x in (0.3, 0.45, 0.6)]
    closure, report = fit_consistent_closure(runs, tol=1e-12)
    np.testing.assert_allclose(np.asarray(closure.coefficients), np.asarray(truth.coefficients), atol=1e-4)
    assert report["objective"].values.max() < 1e-14
    assert report.attrs["converged"]


# ------------------------------------------------------------------ leave-one-composition-out


def test_leave_one_composition_out_layout_and_numbers(anneals, loco):
    study, fitted = loco
    assert list(study["closure"].values) == ["PA", "OA-hard-LOCO", "consistent-LOCO"]
    np.testing.assert_allclose(study["composition"].values, XS)
    for i, x in enumerate(XS):
        c = fitted["consistent"][x]
        assert x not in c.source["compositions"] and len(c.source["compositions"]) == len(XS) - 1
        e = study["mean_error"].sel(closure="consistent-LOCO").values[i]
        assert e == pytest.approx(mean_closure_error(c, anneals[x]), rel=1e-12)
    pa = study["mean_error"].sel(closure="PA").values
    for name in ("OA-hard-LOCO", "consistent-LOCO"):
        e = study["mean_error"].sel(closure=name).values
        assert int(study["wins_over_pa"].sel(closure=name)) == int(np.sum(e < pa))
        assert float(study["improvement_over_pa"].sel(closure=name)) == pytest.approx(100 * (1 - e.mean() / pa.mean()))


# ------------------------------------------------------------------ the closed ODE (eq. 8)


@pytest.mark.slow
def test_closed_ode_with_the_consistent_closure_is_well_posed_and_differentiable(loco):
    """Every closure calibrated here (one per held-out composition) and closures with large
    random coefficients, with random rates spanning two decades: the pair concentrations stay
    in [0, 1] (the closure's triplets vanish with the pairs they contain, so the simplex is
    forward invariant), the solve succeeds, and gradients in rates and coefficients are finite."""
    closures = list(loco[1]["consistent"].values())
    rng = np.random.default_rng(4)
    closures += [ConsistentClosure(rng.normal(0, 5, (5, 4))) for _ in range(2)]
    ts = jnp.linspace(0.0, 50.0, 26)
    x = 1 / 3
    C_single = jnp.array([1 - x, x])
    C_pair0 = jnp.array([(1 - x) ** 2, x * x, x * (1 - x)])

    @jax.jit
    def run(K, closure):
        return solve_pairs(K, closure, C_single, C_pair0, ts, solver=diffrax.Tsit5(), max_steps=4096)

    def loss(K, closure):
        return jnp.sum(run(K, closure).C_pair ** 2)

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
    for closure in closures:
        for _ in range(3):
            K = jnp.asarray(10.0 ** rng.uniform(-2, 0, 8))
            traj = run(K, closure)
            assert bool(traj.ok)
            C = np.asarray(traj.C_pair)
            assert C.min() >= -1e-9 and C.max() <= 1 + 1e-9
            np.testing.assert_allclose(C @ np.array([1.0, 1.0, 2.0]), 1.0, atol=1e-9)
        gK, gc = grad(K, closure)
        assert np.all(np.isfinite(np.asarray(gK))) and np.all(np.isfinite(np.asarray(gc.coefficients)))


# ------------------------------------------------------------------ bad input


def test_bad_input_raises_naming_the_parameter(anneals):
    a, b = anneals[1 / 3], anneals[0.5].copy()
    b.attrs = dict(b.attrs, rows=48, cols=48)
    for fit in (lambda d, **k: fit_consistent_closure(d, **k),
                lambda d, **k: fit_optimal_closure(d, "hard", num_starts=2, **k)):
        with unchecked(), pytest.raises(ValueError, match="mixed_lattices"):
            fit([a, b])
    c, _ = fit_consistent_closure([a, b], mixed_lattices=True)
    assert isinstance(c, ConsistentClosure)
    with unchecked(), pytest.raises(ValueError, match=r"datasets\[1\].*C_triplet"):
        fit_consistent_closure([a, b.drop_vars("C_triplet")], mixed_lattices=True)
    with unchecked(), pytest.raises(ValueError, match=r"datasets\[1\].*C_triplet"):
        fit_optimal_closure([a, b.drop_vars("C_triplet")], "hard", mixed_lattices=True)
    with unchecked(), pytest.raises(ValueError, match="family"):
        fit_closure([a], "neural")
    with unchecked(), pytest.raises(ValueError, match="regularization"):
        fit_closure([a], "consistent", "hard")
    with unchecked(), pytest.raises(ValueError, match="regularization"):
        fit_closure([a], "optimal", "1e-3")
    with unchecked(), pytest.raises(ValueError, match="datasets"):
        fit_consistent_closure([])
    with unchecked(), pytest.raises(ValueError, match="support"):
        fit_consistent_closure(a, support={"ang:+": ["log(C+)"]})
    with unchecked(), pytest.raises(ValueError, match="family"):
        leave_one_composition_out(anneals, families={"x": ("neural", None)})


# ------------------------------------------------------------------ CLI


@pytest.fixture(scope="module")
def run_files(anneals, tmp_path_factory):
    folder = tmp_path_factory.mktemp("joint_runs")
    paths = {}
    for x in (1 / 3, 0.5, 0.64):
        paths[x] = folder / f"x{x:.3f}.nc"
        save_netcdf(anneals[x], paths[x])
    return paths


def test_fit_and_evaluate_closures_cli_joint(anneals, run_files, tmp_path, capsys):
    out = tmp_path / "c.json"
    runs = [str(run_files[x]) for x in (1 / 3, 0.5)]
    assert main(["fit-closures", *runs, "--family", "consistent", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "η(ang:+)" in text and "J[consistent]" in text and "2 runs" in text
    closure = load_closure(out)
    assert isinstance(closure, ConsistentClosure)
    direct, _ = fit_consistent_closure([anneals[1 / 3], anneals[0.5]])
    np.testing.assert_allclose(np.asarray(closure.coefficients), np.asarray(direct.coefficients), rtol=1e-12)

    oa = tmp_path / "oa.json"
    assert main(["fit-closures", *runs, "--family", "optimal", "--regularization", "hard", "--starts", "2",
                 "--out", str(oa)]) == 0
    assert json.loads(oa.read_text())["source"]["compositions"] == pytest.approx([1 / 3, 0.5])

    e_json = tmp_path / "e.json"
    all_runs = [str(run_files[x]) for x in (0.64, 1 / 3, 0.5)]
    assert main(["evaluate-closures", str(out), *all_runs, "--out", str(e_json)]) == 0
    data = json.loads(e_json.read_text())
    assert set(data) == {"compositions", "mean_error"}
    assert data["compositions"] == pytest.approx([1 / 3, 0.5, 0.64])
    assert set(data["mean_error"]) == {"consistent", "PA"}
    for i, x in enumerate((1 / 3, 0.5, 0.64)):
        assert data["mean_error"]["consistent"][i] == pytest.approx(mean_closure_error(closure, anneals[x]), rel=1e-12)
        expected = mean_closure_error(PairApproximation(), anneals[x])
        assert data["mean_error"]["PA"][i] == pytest.approx(expected, rel=1e-12)


def test_fit_closures_cli_errors(anneals, run_files, tmp_path, capsys):
    other = tmp_path / "other.nc"
    ds = anneals[0.5].copy()
    ds.attrs = dict(ds.attrs, rows=48, cols=48)
    save_netcdf(ds, other)
    out = str(tmp_path / "c.json")
    assert main(["fit-closures", str(run_files[1 / 3]), str(other), "--family", "consistent", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "--mixed-lattices" in err and "other.nc" in err
    no_triplets = tmp_path / "pairs_only.nc"
    save_netcdf(anneals[0.5].drop_vars("C_triplet"), no_triplets)
    assert main(["fit-closures", str(run_files[1 / 3]), str(no_triplets), "--family", "consistent", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "pairs_only.nc" in err and "C_triplet" in err
    assert main(["fit-closures", str(run_files[1 / 3]), "--family", "consistent", "--regularization", "hard",
                 "--out", out]) == 2
    assert "--regularization" in capsys.readouterr().err
    assert main(["fit-closures", str(run_files[1 / 3]), "--family", "consistent", "--features", "1,log(x)",
                 "--out", out]) == 2
    assert "--features" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["fit-closures", str(run_files[1 / 3]), "--family", "neural", "--out", out])
