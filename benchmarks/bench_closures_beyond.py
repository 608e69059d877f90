"""Closures beyond the paper (issue 12): the leave-one-composition-out target, the calibration
time, sparse discovery and active learning, on the engine's own anneals.

1. **Data.** The paper's ten compositions, paper schedule (`schedules.paper(1000)`: eleven
   temperature steps of 1000 sweeps, local Kawasaki swaps), 4 replicas each, on 48² and 96²
   lattices (one batched `meanclust_jax.anneal` call per size; cached in ``--data``).
2. **Target.** Leave one composition out: OA-hard and the consistent closure calibrated on the
   nine others, ℰ (eq. 30) on the held-out one, next to PA. Target: the consistent closure beats
   PA at ≥ 8 of 10 compositions and is ≥ 36% lower on the average over the ten.
3. **Calibration time.** Both families on all 16 types × 10 compositions of the 96² runs, cold
   (fresh process, compilation included) and warm (median of 3). Target: < 30 s on 2 cores.
4. **Sparse discovery** (96²): OLS, ARD, LASSO, RFE in log space for the consistent (log-odds)
   and monomial (OA) families, refitted under their constraints; nested leave-one-composition-out
   errors; PA and the paper's SA on the same runs.
5. **Active learning** (48²): 15 candidate compositions in [0.22, 0.78] (annealed once, 4
   replicas; "annealing" a candidate reveals its run), held-out test runs at the paper's ten
   compositions (the 48² runs of step 1, a different seed); learning curves of the held-out ℰ
   against the number of compositions annealed for query by committee, uniform and random
   choice (random: mean and spread over 5 seeds).
6. **Closed ODE** (eq. 8) with every consistent closure calibrated in step 2 (one per held-out
   composition and size): from the random state of each paper composition, 8 random rate
   vectors (log-uniform in [1e-5, 1e-2] per sweep) over the 11000 sweeps of the schedule; the
   solve must succeed with the pair concentrations in [0, 1], and the gradient of a loss in the
   rates and the closure's coefficients must be finite.

Run:  python benchmarks/bench_closures_beyond.py [--quick] [--sections loco,timing,discovery,active,ode]
Writes benchmarks/results/closures_beyond_cpu.json (sections run now replace their entries; the
others are kept) and closures_learning_curve.png; prints tables.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "closures_beyond_cpu.json"
FIGURE = HERE / "results" / "closures_learning_curve.png"
DATA = HERE / "data"

_COLD_SCRIPT = r"""
import sys, time, json
t0 = time.perf_counter()
import meanclust_jax
meanclust_jax.enable_float64()
from meanclust_jax.dataset import load_trajectory
from meanclust_jax.closures import fit_consistent_closure, fit_optimal_closure
runs = [load_trajectory(p, need_triplets=True) for p in sys.argv[2:]]
t1 = time.perf_counter()
if sys.argv[1] == "consistent":
    _, rep = fit_consistent_closure(runs)
    ok = bool(rep.attrs["converged"])
else:
    _, rep = fit_optimal_closure(runs, "hard")
    ok = bool(rep["converged"].all())
t2 = time.perf_counter()
print(json.dumps({"import_and_load_s": t1 - t0, "fit_s": t2 - t1, "converged": ok}))
"""


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def anneal_runs(size: int, compositions, replicas: int, seed: int, folder: Path, tag: str, log) -> dict[float, Path]:
    """Anneal ``compositions`` × ``replicas`` on a ``size²`` lattice (one batched call, paper
    schedule); one netCDF per composition in ``folder``; reuse files that exist."""
    import jax

    from meanclust_jax import schedules
    from meanclust_jax.dataset import save_trajectory
    from meanclust_jax.engine import anneal
    from meanclust_jax.lattice import TriangularLattice

    paths = {float(x): folder / f"{tag}_L{size}_R{replicas}_s{seed}_x{x:.4f}.nc" for x in compositions}
    if all(p.is_file() for p in paths.values()):
        return paths
    schedule = schedules.paper(1000)
    comps = [float(x) for x in compositions for _ in range(replicas)]
    t = time.perf_counter()
    ds = anneal(jax.random.key(seed), TriangularLattice(size, size), schedule=schedule, composition=comps,
                replicas=len(comps), moves="local", record_every=schedule.total_sweeps // 200, progress=False)
    log(f"annealed {len(compositions)} compositions x {replicas} replicas of {size}^2 in "
        f"{time.perf_counter() - t:.0f} s (load {load()})")
    for i, x in enumerate(compositions):
        part = ds.isel(replica=slice(i * replicas, (i + 1) * replicas)).assign_coords(replica=np.arange(replicas))
        part.attrs["composition"] = float(x)
        save_trajectory(part, paths[float(x)])
    return paths


def loco_table(summary: dict) -> list[str]:
    names = summary["closures"]
    pa = np.asarray(summary["mean_error"]["PA"])
    lines = [f"{'x':>7} " + " ".join(f"{n:>16}" for n in names) + "   consistent/PA"]
    for i, x in enumerate(summary["compositions"]):
        e = [summary["mean_error"][n][i] for n in names]
        lines.append(f"{x:>7.4f} " + " ".join(f"{v:>16.4e}" for v in e)
                     + f"   {summary['mean_error']['consistent-LOCO'][i] / pa[i]:>13.3f}")
    for key, fmt in (("wins_over_pa", "{:>16d}"), ("improvement_over_pa", "{:>+15.1f}%"),
                     ("mean_relative_improvement", "{:>+15.1f}%")):
        lines.append(f"{key[:7]:>7} "
                     + " ".join(fmt.format(summary[key][n]) if n != "PA" else f"{'':>16}" for n in names))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="48^2 only, 2 replicas, shorter active learning")
    parser.add_argument("--data", default=str(DATA), help="folder for the annealing runs (reused if present)")
    parser.add_argument("--sections", default="loco,timing,discovery,active,ode",
                        help="comma-separated subset of loco,timing,discovery,active,ode")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()

    import jax

    import meanclust_jax
    from meanclust_jax._io import write_text_atomic
    from meanclust_jax.closures import PAPER_COMPOSITIONS, leave_one_composition_out, loco_summary
    from meanclust_jax.dataset import load_trajectory

    meanclust_jax.enable_float64()
    t_start = time.perf_counter()
    sections = {x.strip() for x in args.sections.split(",") if x.strip()}
    unknown = sections - {"loco", "timing", "discovery", "active", "ode"}
    if unknown:
        parser.error(f"--sections: unknown {sorted(unknown)}")

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:6.0f}s] {msg}", flush=True)

    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    replicas = 2 if args.quick else 4
    sizes = [48] if args.quick else [48, 96]
    result: dict = {
        "benchmark": "closures beyond the paper (issue 12)",
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "device": str(jax.devices()[0]),
        "backend": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "versions": {"meanclust_jax": meanclust_jax.__version__, "jax": jax.__version__,
                     "numpy": np.__version__},
        "data": {"schedule": "paper(1000): 11 steps x 1000 sweeps, local swaps", "replicas": replicas,
                 "records": 201, "compositions": list(PAPER_COMPOSITIONS)},
        "loads": {"start": load()},
    }

    # 1-2. data and the leave-one-composition-out target
    runs: dict[int, dict[float, object]] = {}
    fitted: dict[int, dict] = {}
    for size in sizes:
        paths = anneal_runs(size, PAPER_COMPOSITIONS, replicas, 0, data, "paper", log)
        runs[size] = {x: load_trajectory(p, need_triplets=True) for x, p in paths.items()}
    for size in sizes if sections & {"loco", "ode"} else []:
        result.setdefault("loco", {})
        t = time.perf_counter()
        study, fits = leave_one_composition_out(runs[size])
        fitted[size] = fits["consistent"]
        summary = loco_summary(study)
        summary["seconds"] = round(time.perf_counter() - t, 1)
        summary["load_after"] = load()
        cc = "consistent-LOCO"
        summary["target_met"] = bool(summary["wins_over_pa"][cc] >= 8 and summary["improvement_over_pa"][cc] >= 36.0)
        result["loco"][f"{size}x{size}"] = summary
        log(f"leave-one-composition-out on {size}^2 ({summary['seconds']} s, load {summary['load_after']}):")
        for line in loco_table(summary):
            print("   ", line)
        print(f"    target (>= 8 of 10 wins and >= 36% lower average): {'MET' if summary['target_met'] else 'NOT MET'}")

    # 3. calibration time, 16 types x 10 compositions of the largest size
    size = sizes[-1]
    if "timing" in sections:
        _timing(result, runs, size, replicas, data, log)
    if "discovery" in sections:
        _discovery(result, runs, size, log)
    if "active" in sections:
        _active(result, runs, replicas, data, args, log)
    if "ode" in sections:
        _ode(result, fitted, log)

    result["loads"]["end"] = load()
    result["total_seconds"] = round(time.perf_counter() - t_start, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.is_file():  # keep the sections not run now
        old = json.loads(out.read_text(encoding="utf-8"))
        for key, value in old.items():
            if (key in ("loco", "calibration_time", "sparse_discovery", "active_learning", "closed_ode")
                    and key not in result):
                result[key] = value
        result["previous_runs"] = (old.get("previous_runs", [])
                                   + [{"command": old.get("command"), "loads": old.get("loads")}])
    write_text_atomic(out, json.dumps(result, indent=1) + "\n")
    log(f"wrote {out}")
    return 0


def _timing(result, runs, size, replicas, data, log) -> None:
    from meanclust_jax.closures import PAPER_COMPOSITIONS, fit_consistent_closure, fit_optimal_closure

    files = [str(p) for p in anneal_runs(size, PAPER_COMPOSITIONS, replicas, 0, data, "paper", log).values()]
    timing = {"lattice": f"{size}x{size}", "runs": len(files), "replicas": replicas}
    for family in ("consistent", "optimal"):
        before = load()
        cold = json.loads(subprocess.run([sys.executable, "-c", _COLD_SCRIPT, family, *files], check=True,
                                         capture_output=True, text=True).stdout.strip().splitlines()[-1])
        ds = list(runs[size].values())
        fit = (functools.partial(fit_consistent_closure, ds) if family == "consistent"
               else functools.partial(fit_optimal_closure, ds, "hard"))
        fit()
        warm = []
        for _ in range(3):
            t = time.perf_counter()
            fit()
            warm.append(time.perf_counter() - t)
        timing[family] = {"cold_fit_s": round(cold["fit_s"], 2),
                          "cold_import_and_load_s": round(cold["import_and_load_s"], 2),
                          "warm_median_s": round(float(np.median(warm)), 3), "converged": cold["converged"],
                          "load_before": before, "load_after": load()}
        log(f"calibration {family} on 16 types x {len(files)} compositions of {size}^2: cold {cold['fit_s']:.1f} s "
            f"(+ import/load {cold['import_and_load_s']:.1f} s), warm median {np.median(warm):.2f} s, "
            f"load {before} -> {load()}")
    result["calibration_time"] = timing


def _discovery(result, runs, size, log) -> None:
    from meanclust_jax.closures import sparse_discovery_study

    t = time.perf_counter()
    disc = sparse_discovery_study(runs[size], log=log, fit_kwargs={"optimal": {"num_starts": 4}})
    disc["seconds"] = round(time.perf_counter() - t, 1)
    disc["lattice"] = f"{size}x{size}"
    disc["load_after"] = load()
    result["sparse_discovery"] = disc
    print(f"    sparse discovery on {size}^2 (nested leave-one-composition-out), SA vs PA "
          f"{disc['sa_improvement_over_pa']:+.1f}%:")
    print(f"    {'family':>10} {'method':>6} {'terms':>5} {'wins':>5} {'improvement':>12}")
    for r in disc["results"]:
        print(f"    {r['family']:>10} {r['method']:>6} {r['n_terms']:>5d} {r['wins_over_pa']:>5d} "
              f"{r['improvement_over_pa']:>+11.1f}%")


def _active(result, runs, replicas, data, args, log) -> None:
    from meanclust_jax.closures import active_learning_curve
    from meanclust_jax.dataset import load_trajectory

    cand = [round(float(x), 3) for x in np.linspace(0.22, 0.78, 9 if args.quick else 15)]
    pool = {x: load_trajectory(p, need_triplets=True)
            for x, p in anneal_runs(48, cand, replicas, 1, data, "pool", log).items()}
    test = list(runs[48].values())
    budget = 6 if args.quick else 10
    curves = {}
    common = {"initial": 2, "budget": budget, "members": 6, "windows": 4, "log": log}
    t = time.perf_counter()
    curves["qbc"] = active_learning_curve(cand, pool, test, strategy="qbc", seed=0, **common)
    curves["uniform"] = active_learning_curve(cand, pool, test, strategy="uniform", seed=0, **common)
    curves["random"] = [active_learning_curve(cand, pool, test, strategy="random", seed=s, **common)
                        for s in range(3 if args.quick else 5)]
    result["active_learning"] = {
        "candidates": cand, "pool": "48x48, seed 1", "test": "paper compositions 48x48, seed 0",
        "seconds": round(time.perf_counter() - t, 1), "load_after": load(), "curves": curves,
    }
    rnd = np.array([c["mean_error"] for c in curves["random"]])
    print(f"    active learning: held-out mean ℰ (PA {curves['qbc']['mean_error_pa']:.3e}) vs compositions annealed")
    print(f"    {'n':>3} {'qbc':>11} {'uniform':>11} {'random mean':>12} {'random sd':>10}")
    for i, n in enumerate(curves["qbc"]["n"]):
        print(f"    {n:>3} {curves['qbc']['mean_error'][i]:>11.3e} {curves['uniform']['mean_error'][i]:>11.3e} "
              f"{rnd[:, i].mean():>12.3e} {rnd[:, i].std(ddof=1):>10.2e}")
    sets = curves["qbc"]["compositions"]
    order = [next(x for x in b if x not in a) for a, b in zip(sets, sets[1:], strict=False)]
    print(f"    qbc queried, in order: {order}")
    _plot_curves(curves, Path(args.out).parent / FIGURE.name)


def _ode(result, fitted, log) -> None:
    """Closed ODE (eq. 8) with every calibrated consistent closure: bounds, success, gradients."""
    import jax
    import jax.numpy as jnp

    from meanclust_jax.closures import PAPER_COMPOSITIONS
    from meanclust_jax.ode import solve_pairs

    rng = np.random.default_rng(0)
    ts = jnp.linspace(0.0, 11000.0, 56)
    solve = jax.jit(lambda K, c, Cs, C0: solve_pairs(K, c, Cs, C0, ts))

    def loss(K, c, Cs, C0):
        return jnp.sum(solve_pairs(K, c, Cs, C0, ts).C_pair ** 2)

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
    t = time.perf_counter()
    n_solves = n_fail = n_bad_grad = 0
    lo, hi = np.inf, -np.inf
    for closures in fitted.values():
        for closure in closures.values():
            for x in PAPER_COMPOSITIONS:
                Cs = jnp.array([1 - x, x])
                C0 = jnp.array([(1 - x) ** 2, x * x, x * (1 - x)])
                for k in range(8):
                    K = jnp.asarray(10.0 ** rng.uniform(-5, -2, 8))
                    traj = solve(K, closure, Cs, C0)
                    n_solves += 1
                    C = np.asarray(traj.C_pair)
                    if not bool(traj.ok):
                        n_fail += 1
                        continue
                    lo, hi = min(lo, C.min()), max(hi, C.max())
                    if k == 0:
                        gK, gc = grad(K, closure, Cs, C0)
                        n_bad_grad += int(not (np.all(np.isfinite(np.asarray(gK)))
                                               and np.all(np.isfinite(np.asarray(gc.coefficients)))))
    result["closed_ode"] = {
        "closures": sum(len(c) for c in fitted.values()), "solves": n_solves, "failed_solves": n_fail,
        "min_concentration": float(lo), "max_concentration": float(hi),
        "gradients_checked": n_solves // 8, "non_finite_gradients": n_bad_grad,
        "rates_per_sweep": "log-uniform in [1e-5, 1e-2]", "time_sweeps": [0.0, 11000.0], "solver": "auto",
        "seconds": round(time.perf_counter() - t, 1), "load_after": load(),
    }
    log(f"closed ODE: {n_solves} solves with {result['closed_ode']['closures']} calibrated closures, "
        f"{n_fail} failed, concentrations in [{lo:.3g}, {hi:.3g}], {n_bad_grad} non-finite gradients "
        f"of {n_solves // 8}")


def _plot_curves(curves: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from meanclust_jax._io import atomic_path

    fig = Figure(figsize=(6, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    n = np.asarray(curves["qbc"]["n"])
    ax.plot(n, curves["qbc"]["mean_error"], "o-", label="query by committee")
    ax.plot(n, curves["uniform"]["mean_error"], "s-", label="uniform")
    rnd = np.array([c["mean_error"] for c in curves["random"]])
    ax.plot(n, rnd.mean(0), "^-", label=f"random (mean of {len(rnd)})")
    ax.fill_between(n, rnd.min(0), rnd.max(0), alpha=0.2, color=ax.lines[-1].get_color())
    ax.axhline(curves["qbc"]["mean_error_pa"], color="k", ls="--", label="pair approximation")
    ax.set_yscale("log")
    ax.set_xlabel("compositions annealed")
    ax.set_ylabel(r"held-out mean error $\mathcal{E}$ (eq. 30)")
    ax.set_title("consistent closure, test: the paper's ten compositions")
    ax.legend(fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150)


if __name__ == "__main__":
    sys.exit(main())
