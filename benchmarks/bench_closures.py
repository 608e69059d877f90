"""Benchmark of the closures (issue 3, "Speed"): calibration of all 16 types with both
regularisations on trajectories of 10^2–10^4 records, cold (fresh process, compilation
included) and warm (median of repeats), plus closure evaluation and error computation.

Target: calibrating all 16 types with both regularisations on 10^3 records takes under 10 s on
the 2-core CPU including compilation.

Run:  python benchmarks/bench_closures.py [--quick]
Writes benchmarks/results/closures_cpu.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "closures_cpu.json"

_COLD_SCRIPT = r"""
import sys, time, json
t0 = time.perf_counter()
import meanclust_jax
meanclust_jax.enable_float64()
from meanclust_jax._io import load_netcdf
from meanclust_jax.closures import fit_optimal_closure
ds = load_netcdf(sys.argv[1])
t1 = time.perf_counter()
_, rh = fit_optimal_closure(ds, "hard")
t2 = time.perf_counter()
_, rs = fit_optimal_closure(ds, "soft")
t3 = time.perf_counter()
print(json.dumps({"import_and_load_s": t1 - t0, "hard_first_s": t2 - t1, "soft_second_s": t3 - t2,
                  "both_s": t3 - t1, "converged": bool(rh.converged.all() and rs.converged.all())}))
"""


def make_trajectory(n_records: int, seed: int = 0):
    """An x = 1/3 annealing trajectory with ``n_records`` records.

    Uses the engine (24x24, global swaps, stepwise cooling, one record per sweep) when it is
    importable; otherwise the records of a shorter engine-free synthetic trajectory.
    """
    try:
        import jax

        from meanclust_jax import schedules
        from meanclust_jax.engine import anneal
        from meanclust_jax.lattice import TriangularLattice
    except ImportError:  # pragma: no cover
        anneal = None
    if anneal is not None:
        temps = [1.0, 0.6, 0.4, 0.3, 0.25, 0.2, 0.17, 0.14, 0.11, 0.08]
        per = max(1, -(-(n_records - 1) // len(temps)))
        steps = [(T, per) for T in temps]
        ds = anneal(jax.random.key(seed), TriangularLattice(24, 24), schedule=schedules.from_steps(steps),
                    composition=1 / 3, moves="global", record_every=1, progress=False)
        ds = ds.isel(time=slice(0, n_records))
        return ds, "engine anneal 24x24 x=1/3 global swaps"
    raise RuntimeError("meanclust_jax.engine is required for the benchmark trajectories")


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp

    import meanclust_jax
    from meanclust_jax._io import save_netcdf
    from meanclust_jax.closures import PairApproximation, closure_errors, fit_optimal_closure

    meanclust_jax.enable_float64()

    sizes = [100, 1000] if args.quick else [100, 1000, 10000]
    repeats = 2 if args.quick else 3
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            t = time.perf_counter()
            ds, source = make_trajectory(n)
            t_data = time.perf_counter() - t
            path = Path(tmp) / f"traj_{n}.nc"
            save_netcdf(ds, path)
            cold = json.loads(
                subprocess.run(
                    [sys.executable, "-c", _COLD_SCRIPT, str(path)], check=True, capture_output=True, text=True
                ).stdout.strip().splitlines()[-1]
            )
            fit_optimal_closure(ds, "hard")  # compile in this process
            warm_hard = _median_time(lambda ds=ds: fit_optimal_closure(ds, "hard"), repeats)
            warm_soft = _median_time(lambda ds=ds: fit_optimal_closure(ds, "soft"), repeats)
            warm_err = _median_time(lambda ds=ds: closure_errors(PairApproximation(), ds), repeats)
            rows.append({
                "records": int(ds.sizes["time"]),
                "data": source,
                "data_generation_s": t_data,
                "cold_both_regularizations_s": cold["both_s"],
                "cold_hard_first_s": cold["hard_first_s"],
                "cold_soft_second_s": cold["soft_second_s"],
                "cold_import_and_load_s": cold["import_and_load_s"],
                "converged": cold["converged"],
                "warm_median_hard_s": warm_hard,
                "warm_median_soft_s": warm_soft,
                "warm_median_closure_errors_s": warm_err,
            })

    # Closure evaluation throughput (jitted call of the pair approximation).
    evals = []
    pa = PairApproximation()
    f = jax.jit(lambda s, p: pa(s, p))
    for n in (10**3, 10**5, 10**6):
        Cs = jnp.tile(jnp.array([2 / 3, 1 / 3]), (n, 1))
        Cp = jnp.tile(jnp.array([0.4, 0.0667, 0.2667]), (n, 1))
        f(Cs, Cp).block_until_ready()
        t = _median_time(lambda Cs=Cs, Cp=Cp: f(Cs, Cp).block_until_ready(), 5)
        evals.append({"points": n, "median_s": t})

    import equinox
    import optax
    import xarray

    result = {
        "benchmark": "closures calibration (issue 3)",
        "target": "16 types x {hard, soft} on 1e3 records < 10 s incl. compilation, 2-core CPU",
        "device": str(jax.devices()[0]),
        "backend": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            "meanclust_jax": meanclust_jax.__version__, "jax": jax.__version__,
            "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else None,
            "equinox": equinox.__version__, "optax": optax.__version__,
            "numpy": np.__version__, "xarray": xarray.__version__,
        },
        "settings": {"num_starts": 6, "adam_steps": 200, "polish_steps": 25, "polish_starts": 2},
        "calibration": rows,
        "closure_evaluation": evals,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from meanclust_jax._io import write_text_atomic

    write_text_atomic(out, json.dumps(result, indent=2) + "\n")

    print(f"device: {result['device']}  cpus: {result['cpu_count']}  load: {result['load_average_at_end']}")
    head = (f"{'records':>8} {'cold hard+soft':>15} {'(hard 1st':>10} {'soft 2nd)':>10} {'warm hard':>10} "
            f"{'warm soft':>10} {'errors':>9} conv")
    print(head)
    for r in rows:
        print(f"{r['records']:>8} {r['cold_both_regularizations_s']:>14.2f}s {r['cold_hard_first_s']:>9.2f}s "
              f"{r['cold_soft_second_s']:>9.2f}s {r['warm_median_hard_s']:>9.3f}s {r['warm_median_soft_s']:>9.3f}s "
              f"{r['warm_median_closure_errors_s']:>8.4f}s {r['converged']}")
    print(f"{'points':>8} {'PA eval (jit, median)':>22}")
    for e in evals:
        print(f"{e['points']:>8} {e['median_s'] * 1e3:>20.3f}ms")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
