"""Sharding the replica axis across devices gives bit-identical datasets (docs/model.md §3, issue 6).

JAX fixes its device count when it initialises, so the run happens in a subprocess started with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` and ``JAX_PLATFORMS=cpu``: four virtual
CPU devices, whatever the machine. The subprocess anneals a 12x12 lattice (a geometric schedule and a
composition sweep of 8 replicas for local moves, 4 replicas for global moves) once unsharded and once with
``NamedSharding(Mesh(jax.devices(), ("replica",)), PartitionSpec("replica"))``, checks that the
compiled chunks really ran on 4 devices, and reports which data variables are identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

N_DEVICES = 4

SCRIPT = textwrap.dedent(
    """
    import json

    import jax
    import numpy as np
    import xarray as xr
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    import meanclust_jax as mc
    from meanclust_jax import schedules
    from meanclust_jax.engine import _driver
    from meanclust_jax.lattice import TriangularLattice

    N_DEVICES = {n_devices}
    assert len(jax.devices()) == N_DEVICES, jax.devices()

    # Spy on the compiled chunk: record on how many devices its outputs live.
    seen = []
    _orig = _driver.compiled_chunk

    def _spy(*args):
        fn = _orig(*args)

        def wrapped(*a):
            out = fn(*a)
            seen.append(len(out[1].sharding.device_set))
            return out

        return wrapped

    _driver.compiled_chunk = _spy

    lattice = TriangularLattice(12, 12)
    sharding = NamedSharding(Mesh(np.array(jax.devices()), ("replica",)), PartitionSpec("replica"))
    cases = {{
        "local": dict(composition=[0.25, 0.30, 1 / 3, 0.36, 0.42, 0.50, 0.58, 0.64], replicas=8,
                      schedule=schedules.geometric(2.0, 0.2, 10, 30)),
        "global": dict(composition=1 / 3, replicas=4, schedule=schedules.constant(0.6, 200)),
    }}
    report = {{}}
    for moves, kw in cases.items():
        runs = {{}}
        for name, sh in (("unsharded", None), ("sharded", sharding)):
            seen.clear()
            runs[name] = mc.anneal(jax.random.key(3), lattice, moves=moves, record_every=10,
                                   snapshots=3, records_per_chunk=5, progress=False,
                                   sharding=sh, **kw)
            runs[name + "_devices"] = sorted(set(seen))
        a, b = runs["unsharded"], runs["sharded"]
        equal = {{}}
        for v in a.data_vars:
            try:
                np.testing.assert_array_equal(a[v].values, b[v].values)  # NaN == NaN here
                equal[v] = a[v].dtype == b[v].dtype
            except AssertionError:
                equal[v] = False
        try:
            xr.testing.assert_identical(a, b)
            identical = True
        except AssertionError:
            identical = False
        report[moves] = dict(equal=equal, identical=identical,
                             devices=dict(unsharded=runs["unsharded_devices"],
                                          sharded=runs["sharded_devices"]),
                             n_vars=len(a.data_vars), replicas=int(a.sizes["replica"]))
    print("REPORT " + json.dumps(report))
    """
).format(n_devices=N_DEVICES)


@pytest.fixture(scope="module")
def report() -> dict:
    """Run the sharded/unsharded comparison once in a fresh interpreter; return its report."""
    env = dict(os.environ)
    flags = env.get("XLA_FLAGS", "")
    env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={N_DEVICES}".strip()
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"subprocess failed:\n{proc.stdout}\n{proc.stderr}"
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")]
    assert lines, f"no report in output:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1][len("REPORT "):])


@pytest.mark.parametrize("moves", ["local", "global"])
def test_sharded_run_is_bit_identical(report, moves):
    r = report[moves]
    assert r["n_vars"] > 5
    different = [v for v, ok in r["equal"].items() if not ok]
    assert not different, f"data variables that differ when sharded: {different}"
    assert r["identical"], "datasets differ in coordinates or attributes when sharded"


@pytest.mark.parametrize("moves", ["local", "global"])
def test_sharded_run_uses_every_device(report, moves):
    r = report[moves]
    assert r["devices"]["unsharded"] == [1]
    assert r["devices"]["sharded"] == [N_DEVICES]
