"""Annealing throughput: attempted swaps per second, CPU or GPU (issues 2 and 6).

Usage:  python benchmarks/bench_anneal.py [--sizes 96 384 1536] [--repeats 5] [--quick]

Times whole compiled blocks of sweeps (after a compile-and-warm-up call) for the parallel engine
at each size, local and global moves, one lattice and a batch of replicas, plus the sequential
reference at 24x24. Prints a table and writes ``benchmarks/results/anneal_<platform>.json`` with
the device, versions, sizes and medians. Run the same command on a GPU machine for the GPU side.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import meanclust_jax as mc
from meanclust_jax._io import write_text_atomic
from meanclust_jax.energy import ChargeNeutralityHamiltonian
from meanclust_jax.engine._checkerboard import make_parallel_engine
from meanclust_jax.engine._sequential import make_sequential_engine
from meanclust_jax.lattice import TriangularLattice


def time_engine(engine: str, L: int, moves: str, replicas: int, sweeps: int, repeats: int) -> dict:
    lat = TriangularLattice(L, L)
    h = ChargeNeutralityHamiltonian()
    eng = (make_parallel_engine if engine == "parallel" else make_sequential_engine)(lat, h, moves)

    @jax.jit
    def run(key, sigma):
        def one(key, sigma):
            def body(t, c):
                y, n = c
                y, dn = eng.sweep(jax.random.fold_in(key, t), y, jnp.float32(0.5), t)
                return y, n + dn
            y, n = jax.lax.fori_loop(0, sweeps, body, (eng.encode(sigma), jnp.int32(0)))
            return eng.decode(y), n
        return jax.vmap(one)(jax.random.split(key, replicas), sigma)

    sigma = jnp.stack([mc.engine.random_configuration(k, lat, lat.n_sites // 3)
                       for k in jax.random.split(jax.random.key(0), replicas)])
    t0 = time.perf_counter()
    jax.block_until_ready(run(jax.random.key(1), sigma))
    compile_s = time.perf_counter() - t0
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(run(jax.random.key(2 + r), sigma))
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    attempts = sweeps * lat.n_sites * replicas
    return dict(engine=engine, size=L, sites=lat.n_sites, moves=moves, replicas=replicas,
                sweeps=sweeps, compile_plus_first_s=compile_s, median_s=med, times_s=times,
                swaps_per_s=attempts / med)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[96, 384, 1536])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="sizes 96 and 384, 3 repeats")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/anneal_<platform>.json)")
    args = ap.parse_args(argv)
    sizes = [96, 384] if args.quick else args.sizes
    repeats = 3 if args.quick else args.repeats
    rows = []
    for L in sizes:
        sweeps = max(2, int(4e7 // (L * L)))  # ~4e7 attempted swaps per timed block
        for moves in ("local", "global"):
            rows.append(time_engine("parallel", L, moves, 1, sweeps, repeats))
        if L <= 384:
            rows.append(time_engine("parallel", L, "local", 8, max(2, sweeps // 8), repeats))
    rows.append(time_engine("sequential", 24, "local", 1, 20, repeats))
    device = jax.devices()[0]
    print(f"{'engine':<11}{'size':>7}{'moves':>8}{'replicas':>9}{'sweeps':>8}{'median s':>10}{'swaps/s':>11}{'compile s':>10}")
    for r in rows:
        print(f"{r['engine']:<11}{r['size']:>7}{r['moves']:>8}{r['replicas']:>9}{r['sweeps']:>8}"
              f"{r['median_s']:>10.4f}{r['swaps_per_s']:>11.3g}{r['compile_plus_first_s']:>10.2f}")
    meta = dict(
        device=str(device), platform=device.platform, device_kind=getattr(device, "device_kind", ""),
        cpu_count=__import__("os").cpu_count(), machine=platform.machine(), python=sys.version.split()[0],
        jax=jax.__version__, meanclust_jax=mc.__version__, numpy=np.__version__,
        date=time.strftime("%Y-%m-%d %H:%M:%S"), repeats=repeats,
        note="median over repeats of one compiled call of `sweeps` sweeps, after compile+warm-up",
    )
    out = Path(args.out or Path(__file__).parent / "results" / f"anneal_{device.platform}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps({"meta": meta, "results": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
