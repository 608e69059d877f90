"""Benchmark of the rate inference (issues 4 and 10, "Speed") on the 2-core CPU.

1. One loss evaluation F(K) after compilation (target < 2 ms) and its gradients, on a synthetic
   trajectory of the PA-closed model (201 records on [0, 1] model time, noise 1e-3).
2. ESS per second of NUTS and DR-MH (DRAM; and the paper's Algorithm 1 under the paper's
   likelihood) for PA, OA-hard and SA under the Gaussian and the paper's likelihood, 4 vectorised
   chains, on an x = 1/3 engine trajectory (``--run``, or a fresh 48x48 anneal): min over every
   reported quantity of the bulk and tail ESS, divided by the sampling time (compilation
   measured separately), with the largest R-hat and the verdict of the convergence standard.

Run:  python benchmarks/bench_inference.py [--quick] [--run RUN.nc] [--closure-json OA.json]
      [--closures PA OA-hard SA] [--likelihoods gaussian paper] [--nuts-draws N] [--drmh-draws N]
Writes benchmarks/results/inference_cpu.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "inference_cpu.json"


def _median_time(fn, *args, repeats: int = 50) -> float:
    import jax

    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _first_call(fn, *args) -> float:
    import jax

    t = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - t


def _engine_data(args):
    """The x = 1/3 trajectory: ``--run`` or a fresh 48x48 anneal (paper schedule, 4 replicas)."""
    import jax

    import meanclust_jax as mc

    if args.run:
        return mc.load_trajectory(args.run)
    return mc.anneal(jax.random.key(0), mc.TriangularLattice(48, 48), schedule=mc.schedules.paper(1000),
                     composition=1 / 3, replicas=4, progress=False)


def _ess_rates(min_ess: float, wall: float, compile_s: float) -> dict:
    """ESS per second of the whole run (compilation included: every `sample_posterior` call
    compiles its loop), and of the sampling alone when the compile-only run's time can be
    subtracted meaningfully (sampling ≥ 1 s and ≥ 20% of the wall time; otherwise None: for
    short runs the compile-only estimate is as long as the whole run)."""
    sampling = wall - compile_s
    ok = sampling >= 1.0 and sampling >= 0.2 * wall
    return {"min_ess_per_wall_s": min_ess / wall, "sampling_s": sampling if ok else None,
            "min_ess_per_sampling_s": min_ess / sampling if ok else None}


def _posterior_benchmark(args, rows, save) -> dict:
    """ESS/s of NUTS and DR-MH for PA, OA-hard and SA under both likelihoods (issue 10, item 7).

    ``save(out)`` is called after every row, so an interrupted run keeps what it measured.
    """
    import jax

    import meanclust_jax as mc
    from meanclust_jax.inference import (
        PairData,
        convergence,
        make_problem,
        multistart,
        polish,
        rate_posterior_model,
        sample_posterior,
        sparse_posterior_model,
    )
    from meanclust_jax.ode import fit_sparse

    ds = _engine_data(args)
    data = PairData.from_dataset(ds)
    oa = mc.load_closure(args.closure_json) if args.closure_json else mc.fit_optimal_closure(ds, "hard")[0]
    span = float(data.times[-1] - data.times[0])
    n = {"nuts": 100 if args.quick else args.nuts_draws, "drmh": 2000 if args.quick else args.drmh_draws}
    w = {"nuts": 100 if args.quick else args.nuts_warmup, "drmh": 1000 if args.quick else args.drmh_warmup}
    out = {"data": {"run": args.run or "48x48 anneal, x = 1/3, paper schedule (1000 sweeps/step), 4 replicas",
                    "records": int(data.num_times), "span_sweeps": span},
           "draws": n, "warmup": w, "chains": 4, "nuts_max_tree_depth": args.max_tree_depth, "rows": []}
    for name in args.closures:
        if name == "SA":
            alpha = np.asarray(fit_sparse(data.times, data.C_pair).alpha)
            bound = max(10 * float(np.max(np.abs(alpha))), 10 / span)
            models = {lk: sparse_posterior_model(data, lower=-bound, upper=bound, likelihood=lk)
                      for lk in args.likelihoods}
            init = alpha
        else:
            closure = mc.PairApproximation() if name == "PA" else oa
            problem = make_problem(data, closure, rtol=1e-6, atol=1e-9, max_steps=1024)
            ms = multistart(problem, jax.random.key(1), num_starts=8, num_steps=200)
            init = np.asarray(polish(problem, ms.best).rates)
            models = {lk: (rate_posterior_model(problem) if lk == "gaussian" else
                           rate_posterior_model(problem, likelihood="paper", upper=10 * float(init.max())))
                      for lk in args.likelihoods}
        for likelihood, pm in models.items():
            # NUTS with the study's tree-depth budget (OA's posterior otherwise runs 1023-step trees).
            variants = [("nuts", "nuts", {"max_tree_depth": args.max_tree_depth}),
                        ("drmh", "DRAM", {"drmh_variant": "dram"})]
            if likelihood == "paper":
                variants.append(("drmh", "DR-MH paper Algorithm 1", {"drmh_variant": "paper"}))
            for sampler, label, kw in variants:
                t = time.perf_counter()
                sample_posterior(pm, jax.random.key(2), sampler=sampler, num_samples=2, num_warmup=2,
                                 init=init, thinning=1, **kw)
                compile_s = time.perf_counter() - t
                t = time.perf_counter()
                idata = sample_posterior(pm, jax.random.key(3), sampler=sampler, num_samples=n[sampler],
                                         num_warmup=w[sampler], init=init, **kw)
                wall = time.perf_counter() - t
                conv = convergence(idata)
                table = conv.table
                min_ess = float(min(table["ess_bulk"].min(), table["ess_tail"].min()))
                row = {"closure": name, "likelihood": likelihood, "sampler": label,
                       "draws_per_chain": n[sampler], "warmup": w[sampler],
                       "thinning": int(idata.posterior.attrs["thinning"]),
                       "wall_s": wall, "compile_s": compile_s, "min_ess": min_ess,
                       "max_r_hat": float(table["r_hat"].max()), "converged": conv.converged,
                       "load_average": os.getloadavg()[0]}
                row.update(_ess_rates(min_ess, wall, compile_s))
                out["rows"].append(row)
                rows.append((f"{name} {likelihood} {label}", f"{row['min_ess_per_wall_s']:.2f} ESS/s",
                             f"min ESS {min_ess:.0f}, R-hat {row['max_r_hat']:.3f}, "
                             f"{wall:.0f} s (compile {compile_s:.0f} s)"
                             + ("" if conv.converged else ", not converged")))
                print(" | ".join(rows[-1]), flush=True)
                save(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (smoke test)")
    parser.add_argument("--out", default=str(RESULTS), help="JSON output path")
    parser.add_argument("--run", default=None, help="x = 1/3 trajectory (netCDF); default: a fresh 48x48 anneal")
    parser.add_argument("--closure-json", default=None, help="OA closure JSON; default: OA-hard fitted on the run")
    parser.add_argument("--max-tree-depth", type=int, default=6, help="NUTS tree-depth budget (the study's: 6)")
    parser.add_argument("--closures", nargs="+", default=["PA", "OA-hard", "SA"], choices=["PA", "OA-hard", "SA"],
                        help="closures to sample (default: all three)")
    parser.add_argument("--likelihoods", nargs="+", default=["gaussian", "paper"], choices=["gaussian", "paper"],
                        help="likelihoods to sample under (default: both)")
    parser.add_argument("--nuts-draws", type=int, default=600, help="kept NUTS draws per chain (default 600)")
    parser.add_argument("--nuts-warmup", type=int, default=300, help="NUTS warm-up draws per chain (default 300)")
    parser.add_argument("--drmh-draws", type=int, default=20000, help="DR-MH iterations per chain (default 20000)")
    parser.add_argument("--drmh-warmup", type=int, default=5000, help="DR-MH warm-up iterations (default 5000)")
    args = parser.parse_args(argv)

    import arviz as az
    import diffrax
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpyro
    import optax

    import meanclust_jax
    from meanclust_jax._io import write_text_atomic
    from meanclust_jax.closures import PairApproximation
    from meanclust_jax.inference import PairData, make_problem
    from meanclust_jax.ode import solve_pairs, sparse_misfit

    meanclust_jax.enable_float64()  # before the first array below
    quick = args.quick
    n_times = 201
    ts = jnp.linspace(0.0, 1.0, n_times)
    C_single = jnp.array([2 / 3, 1 / 3])
    C0 = jnp.array([4 / 9, 1 / 9, 2 / 9])
    K_true = jnp.array([1.5, 0.6, 3.4, 1.2, 0.2, 0.3, 0.9, 0.8])
    clean = solve_pairs(K_true, PairApproximation(), C_single, C0, ts, solver=diffrax.Tsit5(),
                        rtol=1e-10, atol=1e-12).C_pair
    noisy = clean + 1e-3 * jax.random.normal(jax.random.key(0), clean.shape)
    data = PairData(ts, C_single, noisy)
    results: dict[str, object] = {
        "benchmark": "rate inference (issues 4 and 10)",
        "targets": {"loss_eval_ms": 2.0, "study_inference_stage_converged_s": 600.0},
        "device": str(jax.devices()[0]),
        "backend": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            "meanclust_jax": meanclust_jax.__version__,
            "jax": jax.__version__,
            "equinox": eqx.__version__,
            "diffrax": diffrax.__version__,
            "numpyro": numpyro.__version__,
            "optax": optax.__version__,
            "arviz": az.__version__,
            "numpy": np.__version__,
        },
        "data": {"n_times": n_times, "span_model_time": 1.0, "closure": "PairApproximation",
                 "noise_sd": 1e-3, "K_true": np.asarray(K_true).tolist()},
        "quick": quick,
    }
    rows: list[tuple[str, str, str]] = []

    # ---- 1. one loss evaluation ---------------------------------------------------------
    loss_results = {}
    K = K_true * 1.2
    for label, solver in [("auto (explicit Tsit5 within the step budget)", "auto"),
                          ("Kvaerno5", diffrax.Kvaerno5())]:
        problem = make_problem(data, PairApproximation(), weight_a=1.0, solver=solver)
        f = jax.jit(lambda K, p=problem: p.loss(K))
        compile_s = _first_call(f, K)
        ms = 1e3 * _median_time(f, K, repeats=20 if quick else 200)
        loss_results[label] = {"compile_s": compile_s, "median_ms": ms}
        rows.append((f"F(K) eval, PA, {label}", f"{ms:.3f} ms", f"compile {compile_s:.1f} s"))
    problem = make_problem(data, PairApproximation(), weight_a=1.0)
    for label, fn in [
        ("jax.grad (reverse, RecursiveCheckpointAdjoint)", jax.grad(lambda K: problem.loss(K))),
        ("jax.jacfwd (forward, ForwardMode)", jax.jacfwd(lambda K: problem.forward_mode().loss(K))),
    ]:
        f = jax.jit(fn)
        compile_s = _first_call(f, K)
        ms = 1e3 * _median_time(f, K, repeats=10 if quick else 100)
        loss_results["gradient " + label] = {"compile_s": compile_s, "median_ms": ms}
        rows.append((f"dF/dK, auto solver, {label}", f"{ms:.3f} ms", f"compile {compile_s:.1f} s"))
    sa = jax.jit(lambda a: sparse_misfit(a, ts, noisy))
    compile_s = _first_call(sa, jnp.array([-0.1, -0.2]))
    ms = 1e3 * _median_time(sa, jnp.array([-0.1, -0.2]), repeats=200)
    loss_results["SA closed form F(alpha)"] = {"compile_s": compile_s, "median_ms": ms}
    rows.append(("F(alpha) eval, SA closed form", f"{ms:.3f} ms", f"compile {compile_s:.1f} s"))
    results["loss_evaluation"] = loss_results

    # ---- 2. ESS per second: closures x likelihoods x samplers on engine data -----------------
    results["notes"] = [
        "Times are wall-clock on a shared 2-core CPU; other jobs may have been running (see "
        "load_average_at_end and load_average in each row).",
        "Each sampler run is a fresh numpyro MCMC, which compiles its sampling loop: compile_s is "
        "the wall time of the same run with 2 warm-up and 2 kept draws per chain. min_ess_per_wall_s "
        "is min ESS / wall_s (compilation and warm-up included); min_ess_per_sampling_s uses "
        "sampling_s = wall_s - compile_s, given only when that is >= 1 s and >= 20% of wall_s.",
        "min ESS is the smallest bulk or tail ESS over every reported quantity (rates, identifiable "
        "combinations, noise levels); converged = R-hat <= 1.01 and bulk and tail ESS >= 400 for "
        "all of them, with 4 chains.",
        "DR-MH runs vectorised chains, which evaluate the second stage on every step.",
        "The file is rewritten after every posterior row; 'complete': false marks an interrupted run.",
    ]

    def save(posteriors: dict, complete: bool = False) -> None:
        results["posteriors"] = posteriors
        results["load_average_at_end"] = list(os.getloadavg())
        results["complete"] = complete
        write_text_atomic(args.out, json.dumps(results, indent=2) + "\n")

    save(_posterior_benchmark(args, rows, save), complete=True)

    width = max(len(r[0]) for r in rows)
    print(f"meanclust_jax inference benchmark on {results['device']} "
          f"({os.cpu_count()} CPU cores), load {os.getloadavg()[0]:.1f}")
    for name, value, extra in rows:
        print(f"{name.ljust(width)}  {value:>22}  {extra}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
