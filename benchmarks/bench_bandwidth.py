"""Memory-bandwidth micro-benchmark: an in-place streaming update of a large array (issue 6).

Usage::

    python benchmarks/bench_bandwidth.py [--device auto|cpu|gpu] [--sizes-mib 2 16 64 256 1024]
        [--repeats 10] [--out PATH]

For each array size the kernel ``x -> x + 1`` (float32) is compiled with the input donated, so XLA
updates the buffer in place (no allocation, no page faults inside the timed call): every call
reads and writes the whole array once, ``2 * nbytes`` of traffic. The result is the median over
``--repeats`` calls, in GB/s (1 GB = 1e9 bytes). On the CPU a single-threaded NumPy
``np.add(x, 1, out=x)`` is timed too, for reference. Arrays of a few MiB stay in this machine's
caches; the largest sizes measure DRAM (CPU) or HBM (GPU) bandwidth, which is the figure the
annealing bound in ``benchmarks/README.md`` uses.

Writes ``benchmarks/results/bandwidth_<cpu|gpu>.json`` with the device, versions, the load
average at start and end, and per size the times and GB/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_anneal import (
    RESULTS,
    device_label,
    device_meta,
    first_device,
    loadavg,
    select_platform,
)

DEFAULT_SIZES_MIB = {"cpu": [2, 16, 64, 256, 1024], "gpu": [64, 256, 1024, 4096]}


def time_jax(n_bytes: int, repeats: int) -> dict:
    """Median time of the donated in-place ``x + 1`` on ``n_bytes`` of float32."""
    import jax
    import jax.numpy as jnp

    n = n_bytes // 4
    f = jax.jit(lambda x: x + jnp.float32(1), donate_argnums=(0,))
    x = jnp.zeros((n,), jnp.float32)
    x = f(x).block_until_ready()  # compile and warm up
    x = f(x).block_until_ready()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        x = f(x).block_until_ready()
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return dict(kernel="jax x+1 donated (read+write)", bytes=4 * n, traffic_bytes=8 * n,
                median_s=med, times_s=times, gb_per_s=8 * n / med / 1e9,
                best_gb_per_s=8 * n / min(times) / 1e9)


def time_numpy(n_bytes: int, repeats: int) -> dict:
    """Median time of a single-threaded in-place NumPy ``x += 1`` on ``n_bytes`` of float32."""
    import numpy as np

    x = np.zeros(n_bytes // 4, np.float32)
    np.add(x, 1, out=x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        np.add(x, 1, out=x)
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return dict(kernel="numpy x+=1 (1 thread, read+write)", bytes=x.nbytes, traffic_bytes=2 * x.nbytes,
                median_s=med, times_s=times, gb_per_s=2 * x.nbytes / med / 1e9,
                best_gb_per_s=2 * x.nbytes / min(times) / 1e9)


def main(argv: list[str] | None = None) -> int:
    """Time every size, print a table and write the JSON file."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    ap.add_argument("--sizes-mib", type=int, nargs="+", default=None)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    select_platform(args.device)
    dev = first_device(args.device)
    if dev is None:
        return 2
    label = device_label(dev.platform)
    sizes = args.sizes_mib or DEFAULT_SIZES_MIB.get(label, DEFAULT_SIZES_MIB["cpu"])
    meta = device_meta()
    meta["loadavg_start"] = loadavg()
    rows = []
    print(f"device {meta['device']} ({meta['device_kind']}, {meta['cpu_model']}), load {meta['loadavg_start']}")
    print(f"{'kernel':<36}{'MiB':>7}{'median ms':>11}{'GB/s':>8}{'best GB/s':>10}")
    for mib in sizes:
        cands = [time_jax(mib << 20, args.repeats)]
        if label == "cpu":
            cands.append(time_numpy(mib << 20, args.repeats))
        for r in cands:
            r["mib"] = mib
            rows.append(r)
            print(f"{r['kernel']:<36}{mib:>7}{r['median_s'] * 1e3:>11.3f}{r['gb_per_s']:>8.2f}"
                  f"{r['best_gb_per_s']:>10.2f}")
    meta["loadavg_end"] = loadavg()
    big = [r for r in rows if r["mib"] == max(sizes) and r["kernel"].startswith("jax")]
    summary = dict(largest_mib=max(sizes), jax_gb_per_s=big[0]["gb_per_s"] if big else None)
    out = Path(args.out or RESULTS / f"bandwidth_{label}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    from meanclust_jax._io import write_text_atomic

    write_text_atomic(out, json.dumps({"meta": meta, "summary": summary, "results": rows}, indent=2))
    print(f"wrote {out}  (load average at end {meta['loadavg_end']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
