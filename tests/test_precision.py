"""The float64 policy: importing the package leaves JAX in 32-bit mode; `enable_float64` is the
one switch; the functions that need float64 refuse to run without it; the engine runs the same
either way. Each check of the unswitched state runs in a fresh Python process (the test process
itself is in float64, see conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

import meanclust_jax as mc

REPO = Path(__file__).resolve().parents[1]


def _run(code: str) -> str:
    """Run ``code`` in a fresh interpreter (this checkout first on the path); return stdout."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env=env, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_leaves_x64_off_and_float64_functions_refuse():
    out = _run("""
        import json
        import jax
        import numpy as np
        import meanclust_jax as mc
        from meanclust_jax.inference import PairData

        res = {"x64_after_import": bool(jax.config.jax_enable_x64)}
        ts = np.linspace(0.0, 1.0, 5)
        calls = {
            "solve_pairs": lambda: mc.solve_pairs(np.full(8, 0.1), mc.PairApproximation(),
                                                  np.array([0.6, 0.4]), np.array([0.4, 0.2, 0.2]), ts),
            "fit_sparse": lambda: mc.fit_sparse(ts, np.tile([0.4, 0.2, 0.2], (5, 1))),
            "PairData": lambda: PairData(ts, np.array([0.6, 0.4]), np.tile([0.4, 0.2, 0.2], (5, 1))),
        }
        for name, call in calls.items():
            try:
                call()
                res[name] = "ran"
            except RuntimeError as err:
                res[name] = str(err)
        mc.enable_float64()
        res["x64_after_enable"] = bool(jax.config.jax_enable_x64)
        print(json.dumps(res))
    """)
    res = json.loads(out.strip().splitlines()[-1])
    assert res["x64_after_import"] is False
    assert res["x64_after_enable"] is True
    for name in ("solve_pairs", "fit_sparse", "PairData"):
        assert res[name].startswith(f"{name} needs float64"), res[name]
        assert "meanclust_jax.enable_float64()" in res[name]


def test_cli_switches_float64_on():
    out = _run("""
        import contextlib, io, jax
        from meanclust_jax.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            main([])  # no sub-command: prints the help
        print(bool(jax.config.jax_enable_x64))
    """)
    assert out.strip().splitlines()[-1] == "True"


@pytest.mark.parametrize(("engine", "moves"), [("parallel", "local"), ("parallel", "global"),
                                             ("sequential", "local"), ("sequential", "global")])
def test_engine_runs_the_same_without_float64(tmp_path, engine, moves):
    """The annealing engine uses explicit dtypes (also for its random integers): the same key gives
    the same counts and final configuration in a 32-bit process as in this (64-bit) one, for
    both engines and both move sets."""
    run = f"""
        def run():
            return mc.anneal(jax.random.key(5), mc.TriangularLattice(12, 12), schedule=mc.schedules.constant(0.3, 6),
                             composition=1 / 3, moves={moves!r}, engine={engine!r}, record_every=2, progress=False,
                             reactions={moves == "local"})
    """
    path = tmp_path / "x32.nc"
    _run("import jax\nimport meanclust_jax as mc\n" + textwrap.dedent(run) + f"""
assert not jax.config.jax_enable_x64
mc.save_trajectory(run(), {str(path)!r})
""")
    x32 = mc.load_trajectory(path, need_triplets=True)
    scope = {"mc": mc, "jax": jax}
    exec(textwrap.dedent(run), scope)
    x64 = scope["run"]()
    np.testing.assert_array_equal(x32.final_configuration.values, x64.final_configuration.values)
    np.testing.assert_array_equal(x32.C_triplet.values, x64.C_triplet.values)
    np.testing.assert_array_equal(x32.energy.values, x64.energy.values)
    assert x32.energy.dtype == np.float64  # energies from integer counts on the host, in float64


def test_concentrations_module_is_not_hidden():
    import meanclust_jax.concentrations as m

    assert m.cluster_counts is mc.concentrations.cluster_counts
    sigma = np.where(np.random.default_rng(0).random((6, 6)) < 1 / 3, -1, 1).astype(np.int8)
    new = mc.cluster_concentrations(sigma)
    assert new["C_pair"].shape == (3,) and new["C_pair"].dtype == np.float64
    with pytest.warns(DeprecationWarning, match="cluster_concentrations"):
        old = mc.concentrations(sigma)
    for k in new:
        np.testing.assert_array_equal(old[k], new[k])
    np.testing.assert_array_equal(m.concentrations(sigma)["C_triplet"], new["C_triplet"])
