"""Phase-by-phase random numbers and the reaction observer: throughput and memory (issue 11).

Usage::

    python benchmarks/bench_engine_paths.py [--device auto|cpu|gpu] [--size 1536] [--repeats 7]
        [--short 2] [--long 12] [--temperature 0.5] [--out PATH]

Three builds of the checkerboard engine for local swaps on one ``L x L`` lattice (x = 1/3),
side by side in one process:

* ``old``: the previous path (``make_parallel_engine(..., fused_rng=False)``): each phase's
  uniforms from ``jax.random.uniform``, which XLA computes for the whole sweep up front, and one
  reduction per count;
* ``new``: the default, random numbers generated inside each phase (``engine/_random.py``);
* ``new+reactions``: the default with the reaction observer (``reactions=True``).

Each build is compiled ahead of time (XLA's ``memory_analysis`` gives the device bytes per
site, as in ``bench_anneal.py``) and warmed up. Then, ``--repeats`` times, every build runs a
short call (``--short`` sweeps) and a long call (``--long`` sweeps) from its current state (the
state is donated and fed back); the builds take turns within each repeat, in an order rotated
from repeat to repeat. Throughput = ``(long - short) x N`` attempted swaps over the difference of
the two calls' times, so compilation, dispatch and start-up cancel; it is computed from wall time
(the headline, attempted swaps per second) and from the process's CPU time (user + system, less
sensitive to other processes on a shared machine). Ratios (new/old, observer overhead) are
formed within each repeat and their medians reported, with ``/proc/loadavg`` before every
repeat. Writes ``benchmarks/results/engine_paths_<cpu|gpu>.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_anneal import (  # noqa: E402
    RESULTS,
    device_label,
    device_meta,
    first_device,
    initial_batch,
    loadavg,
    select_platform,
)

BUILDS = {
    "old": dict(fused_rng=False),
    "new": dict(),
    "new+reactions": dict(reactions=True),
}


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def compile_build(L: int, options: dict, temperature: float):
    """AOT-compiled block of sweeps for one build: ``(compiled, state, memory)``."""
    import jax
    import jax.numpy as jnp

    from meanclust_jax.energy import ChargeNeutralityHamiltonian
    from meanclust_jax.engine import make_parallel_engine
    from meanclust_jax.engine._reactions import sweep_count_names
    from meanclust_jax.lattice import TriangularLattice

    lat = TriangularLattice(L, L)
    eng = make_parallel_engine(lat, ChargeNeutralityHamiltonian(), "local", **options)
    n_counts = len(sweep_count_names(options.get("reactions", False)))

    def run(key, y, n):
        def body(t, c):
            y, acc = c
            y, dn = eng.sweep(jax.random.fold_in(key, t), y, jnp.float32(temperature), t)
            return y, acc + dn

        return jax.lax.fori_loop(0, n, body, (y, jnp.zeros(n_counts, jnp.int32)))

    y = eng.encode(jnp.asarray(initial_batch(L, [1 / 3])[0]))
    t0 = time.perf_counter()
    compiled = jax.jit(run, donate_argnums=(1,)).lower(jax.random.key(0), y, jnp.int32(1)).compile()
    compile_s = time.perf_counter() - t0
    mem = compiled.memory_analysis()
    memory = None
    if mem is not None:
        total = (mem.argument_size_in_bytes + mem.output_size_in_bytes - mem.alias_size_in_bytes
                 + mem.temp_size_in_bytes)
        memory = dict(argument=int(mem.argument_size_in_bytes), output=int(mem.output_size_in_bytes),
                      alias=int(mem.alias_size_in_bytes), temp=int(mem.temp_size_in_bytes),
                      device_bytes=int(total), device_bytes_per_site=total / lat.n_sites)
    y, acc = compiled(jax.random.key(1), y, jnp.int32(2))  # warm-up
    jax.block_until_ready((y, acc))
    return compiled, y, memory, compile_s


def timed(compiled, y, seed: int, n: int):
    """``(state, wall s, CPU s, accepted fraction)`` of one call of `n` sweeps."""
    import jax
    import jax.numpy as jnp

    w, c = time.perf_counter(), cpu_seconds()
    y, acc = compiled(jax.random.key(seed), y, jnp.int32(n))
    jax.block_until_ready((y, acc))
    return y, time.perf_counter() - w, cpu_seconds() - c, int(acc[0])


def main(argv: list[str] | None = None) -> int:
    """Run the comparison, print a table and write the JSON file."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    ap.add_argument("--size", type=int, default=1536, help="lattice side L (multiple of 3 or 4)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--short", type=int, default=2, help="sweeps of the short call")
    ap.add_argument("--long", type=int, default=12, help="sweeps of the long call")
    ap.add_argument("--temperature", type=float, default=0.5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.long <= args.short:
        ap.error("--long must exceed --short")
    select_platform(args.device)
    dev = first_device(args.device)
    if dev is None:
        return 2
    label = device_label(dev.platform)
    L, N = args.size, args.size ** 2
    meta = device_meta()
    meta.update(size=L, sites=N, repeats=args.repeats, short=args.short, long=args.long,
                temperature=args.temperature, loadavg_start=loadavg())
    print(f"device {meta['device']} ({meta['cpu_model']}), jax {meta['jax']}, {L}x{L}, "
          f"load {meta['loadavg_start']}", flush=True)
    builds = {}
    for name, options in BUILDS.items():
        compiled, y, memory, compile_s = compile_build(L, options, args.temperature)
        builds[name] = dict(compiled=compiled, state=y, memory=memory, compile_s=compile_s, rounds=[])
        bps = memory["device_bytes_per_site"] if memory else float("nan")
        print(f"{name:<15} compiled in {compile_s:5.1f} s, device {bps:.3f} B/site", flush=True)
    names = list(builds)
    rounds = []
    for r in range(args.repeats):
        load = loadavg()
        order = names[r % len(names):] + names[: r % len(names)]
        row = {"loadavg": load, "order": order}
        for name in order:
            b = builds[name]
            b["state"], ws, cs, _ = timed(b["compiled"], b["state"], 10 * r + 2, args.short)
            b["state"], wl, cl, acc = timed(b["compiled"], b["state"], 10 * r + 3, args.long)
            sweeps = args.long - args.short
            row[name] = dict(wall_short_s=ws, wall_long_s=wl, cpu_short_s=cs, cpu_long_s=cl,
                             swaps_per_s=sweeps * N / (wl - ws), swaps_per_cpu_s=sweeps * N / (cl - cs),
                             accepted_fraction=acc / (args.long * N))
        for metric in ("swaps_per_s", "swaps_per_cpu_s"):
            row[f"new_over_old_{metric}"] = row["new"][metric] / row["old"][metric]
            row[f"observer_overhead_{metric}"] = row["new"][metric] / row["new+reactions"][metric] - 1
        rounds.append(row)
        print(f"repeat {r}: load {load}  " + "  ".join(
            f"{n} {row[n]['swaps_per_s']:.3g}/s ({row[n]['swaps_per_cpu_s']:.3g}/cpu-s)" for n in names), flush=True)

    def med(f):
        return statistics.median(f(row) for row in rounds)

    summary = {name: dict(
        swaps_per_s=med(lambda row, n=name: row[n]["swaps_per_s"]),
        swaps_per_cpu_s=med(lambda row, n=name: row[n]["swaps_per_cpu_s"]),
        device_bytes_per_site=builds[name]["memory"]["device_bytes_per_site"] if builds[name]["memory"] else None,
        compile_s=builds[name]["compile_s"]) for name in names}
    for metric in ("swaps_per_s", "swaps_per_cpu_s"):
        summary[f"new_over_old_{metric}"] = med(lambda row, m=metric: row[f"new_over_old_{m}"])
        summary[f"observer_overhead_{metric}"] = med(lambda row, m=metric: row[f"observer_overhead_{m}"])
    summary["loadavg_1min_median"] = med(lambda row: row["loadavg"][0] if row["loadavg"] else float("nan"))
    meta["loadavg_end"] = loadavg()
    print(f"\n{'build':<15}{'swaps/s':>12}{'swaps/cpu-s':>14}{'B/site':>9}")
    for name in names:
        s = summary[name]
        print(f"{name:<15}{s['swaps_per_s']:>12.3g}{s['swaps_per_cpu_s']:>14.3g}"
              f"{s['device_bytes_per_site'] or float('nan'):>9.3f}")
    print(f"new / old (median of per-repeat ratios): {summary['new_over_old_swaps_per_s']:.2f} (wall), "
          f"{summary['new_over_old_swaps_per_cpu_s']:.2f} (CPU time)")
    print(f"observer overhead: {100 * summary['observer_overhead_swaps_per_s']:.1f} % (wall), "
          f"{100 * summary['observer_overhead_swaps_per_cpu_s']:.1f} % (CPU time); "
          f"median 1-min load {summary['loadavg_1min_median']}")
    out = Path(args.out or RESULTS / f"engine_paths_{label}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    from meanclust_jax._io import write_text_atomic

    write_text_atomic(out, json.dumps(dict(meta=meta, summary=summary, repeats=rounds), indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
