"""Annealing throughput: attempted swaps per second on CPU or GPU (issues 2 and 6).

Usage::

    python benchmarks/bench_anneal.py [--device auto|cpu|gpu] [--sizes 96 192 ...]
        [--moves local global] [--batch 10] [--repeats 5] [--target-s 1.0] [--sweeps N]
        [--prng threefry2x32|rbg|unsafe_rbg] [--no-sequential] [--merge] [--quick] [--out PATH]

For every lattice size ``L`` (an ``L x L`` lattice), move set and batching (one lattice, and a
batch of ``--batch`` lattices with the robustness compositions of docs/model.md §1 cycled over the batch)
the parallel engine is compiled ahead of time (``jit(...).lower(...).compile()``: compile time
and XLA's memory analysis are recorded), warmed up by one call, then timed over ``--repeats``
calls of one compiled block of sweeps (``vmap`` over the batch, ``fori_loop`` over sweeps, the
state donated and fed back). The number of sweeps per block is chosen from a second warm call so
that one block takes about ``--target-s`` seconds, unless ``--sweeps`` fixes it. The sequential
reference at 24x24 is timed as well (``--no-sequential`` skips it).

Writes ``benchmarks/results/anneal_<cpu|gpu>.json`` (``--merge`` replaces matching rows of an
existing file and keeps the others, so a single large size can be added later) with: device
name and kind, CPU model, JAX/jaxlib versions, the command, the load average (``os.getloadavg``)
at start and end of the run and around each row, and per row the sizes, sweeps, compile time,
first call, every timed call, the median, attempted swaps/s, XLA's memory analysis (argument,
output, alias and temporary bytes; device bytes per site) and the peak resident set size of the
process (plus the device's peak bytes in use where the backend reports it, i.e. on GPU).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

#: The robustness compositions of docs/model.md §1 (cycled over a batch of lattices).
COMPOSITIONS = (0.25, 0.30, 1 / 3, 0.36, 0.42, 0.50, 0.58, 0.64, 0.70, 0.75)
DEFAULT_SIZES = {
    "cpu": [96, 192, 384, 768, 1536, 3072],
    "gpu": [96, 192, 384, 768, 1536, 3072, 6144, 12288, 16384],
}


def select_platform(device: str) -> None:
    """Restrict JAX to one platform; must run before JAX is imported.

    ``"cpu"`` sets ``JAX_PLATFORMS=cpu``, ``"gpu"`` sets ``JAX_PLATFORMS=cuda``, ``"auto"``
    leaves JAX's own choice (a GPU when one is usable).
    """
    if "jax" in sys.modules and device != "auto":
        raise RuntimeError("select_platform must run before jax is imported")
    if device == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"
    elif device == "gpu":
        os.environ["JAX_PLATFORMS"] = "cuda"


def device_label(platform_name: str) -> str:
    """``"gpu"`` for CUDA/ROCm platforms, else the platform name (``"cpu"``)."""
    return "gpu" if platform_name in ("gpu", "cuda", "rocm") else platform_name


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (Linux), else `platform.processor`."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def loadavg() -> list[float] | None:
    """The 1, 5 and 15-minute load averages, or None where the OS has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (bytes; Linux reports KiB)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r if sys.platform == "darwin" else r * 1024)


def first_device(device: str):
    """JAX's first device, or None (with a message) when the requested platform is missing."""
    import jax

    try:
        dev = jax.devices()[0]
    except Exception as e:  # noqa: BLE001 - JAX raises RuntimeError or AssertionError here
        print(f"--device {device}: JAX cannot start that backend here ({type(e).__name__}: {e})", file=sys.stderr)
        return None
    if device == "gpu" and device_label(dev.platform) != "gpu":
        print(f"--device gpu: JAX found {dev.platform} only", file=sys.stderr)
        return None
    return dev


def device_meta() -> dict:
    """Device, host and library description shared by the benchmark JSON files."""
    import jax
    import jaxlib
    import numpy as np

    import meanclust_jax as mc

    dev = jax.devices()[0]
    return dict(
        device=str(dev), platform=dev.platform, label=device_label(dev.platform),
        device_kind=getattr(dev, "device_kind", ""), device_count=jax.device_count(),
        cpu_model=cpu_model(), cpu_count=os.cpu_count(), machine=platform.machine(),
        python=sys.version.split()[0], jax=jax.__version__, jaxlib=jaxlib.__version__,
        meanclust_jax=mc.__version__, numpy=np.__version__,
        xla_flags=os.environ.get("XLA_FLAGS", ""), date=time.strftime("%Y-%m-%d %H:%M:%S"),
        command="python " + " ".join(sys.argv),
    )


def initial_batch(L: int, comps: list[float], seed: int = 0):
    """``(B, L, L)`` int8 ±1 lattices with exactly ``round(x N)`` ``-`` sites each (NumPy
    shuffle: cheap even for 16384² where a JAX permutation would sort 2.7e8 keys)."""
    import numpy as np

    from meanclust_jax.lattice import TriangularLattice

    lat = TriangularLattice(L, L)
    rng = np.random.default_rng(seed)
    out = np.ones((len(comps), L * L), np.int8)
    for b, x in enumerate(comps):
        out[b, : lat.minority_count(x)] = -1
        rng.shuffle(out[b])
    return out.reshape(len(comps), L, L)


def time_engine(
    engine: str, L: int, moves: str, comps: list[float], repeats: int,
    target_s: float, sweeps: int | None, prng: str,
) -> dict:
    """Compile, warm up and time one engine configuration; return one result row.

    `comps` holds one composition per lattice of the batch (``len(comps) == 1``: one lattice).
    """
    import jax
    import jax.numpy as jnp

    from meanclust_jax.energy import ChargeNeutralityHamiltonian
    from meanclust_jax.engine._checkerboard import make_parallel_engine
    from meanclust_jax.engine._sequential import make_sequential_engine
    from meanclust_jax.lattice import TriangularLattice

    load_start = loadavg()
    lat = TriangularLattice(L, L)
    make = make_parallel_engine if engine == "parallel" else make_sequential_engine
    eng = make(lat, ChargeNeutralityHamiltonian(), moves)
    B = len(comps)

    def one(key, sigma, n):
        def body(t, c):
            y, acc = c
            y, dn = eng.sweep(jax.random.fold_in(key, t), y, jnp.float32(0.5), t)
            return y, acc + dn[0]

        y, acc = jax.lax.fori_loop(0, n, body, (eng.encode(sigma), jnp.int32(0)))
        return eng.decode(y), acc

    def run(key, sigma, n):
        return jax.vmap(one, in_axes=(0, 0, None))(jax.random.split(key, B), sigma, n)

    key0 = jax.random.key(0, impl=prng)
    sigma = jnp.asarray(initial_batch(L, comps))
    t0 = time.perf_counter()
    lowered = jax.jit(run, donate_argnums=(1,)).lower(key0, sigma, jnp.int32(1))
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    mem = compiled.memory_analysis()
    memory = None
    if mem is not None:
        memory = {k: int(getattr(mem, k)) for k in (
            "argument_size_in_bytes", "output_size_in_bytes", "alias_size_in_bytes",
            "temp_size_in_bytes", "generated_code_size_in_bytes")}
        total = (memory["argument_size_in_bytes"] + memory["output_size_in_bytes"]
                 - memory["alias_size_in_bytes"] + memory["temp_size_in_bytes"])
        memory["device_bytes"] = total
        memory["device_bytes_per_site"] = total / (lat.n_sites * B)
        memory["temp_bytes_per_site"] = memory["temp_size_in_bytes"] / (lat.n_sites * B)

    per_sweep = lat.n_sites * B
    n0 = sweeps or max(2, math.ceil(2e6 / per_sweep))
    t3 = time.perf_counter()
    sigma, acc = compiled(jax.random.key(1, impl=prng), sigma, jnp.int32(n0))
    jax.block_until_ready((sigma, acc))
    first = time.perf_counter() - t3
    if sweeps is None:  # calibrate on a second (warm) call of n0 sweeps
        t = time.perf_counter()
        sigma, acc = compiled(jax.random.key(99, impl=prng), sigma, jnp.int32(n0))
        jax.block_until_ready((sigma, acc))
        sweeps = max(2, round(target_s * n0 / max(time.perf_counter() - t, 1e-9)))
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        sigma, acc = compiled(jax.random.key(2 + r, impl=prng), sigma, jnp.int32(sweeps))
        jax.block_until_ready((sigma, acc))
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    dev = jax.devices()[0]
    stats = dev.memory_stats() if hasattr(dev, "memory_stats") else None
    row = dict(
        engine=engine, size=L, sites=lat.n_sites, moves=moves,
        batch="single" if B == 1 else "compositions", replicas=B, compositions=list(comps),
        stride=list(lat.stride(moves)), prng=prng, sweeps=sweeps, attempts_per_call=sweeps * per_sweep,
        lower_s=t1 - t0, compile_s=t2 - t1, first_call_sweeps=n0, first_call_s=first,
        median_s=med, times_s=times, swaps_per_s=sweeps * per_sweep / med,
        accepted_fraction_last_call=float(jnp.sum(acc)) / (sweeps * per_sweep),
        memory=memory, peak_rss_bytes=peak_rss_bytes(),
        device_peak_bytes_in_use=(stats or {}).get("peak_bytes_in_use"),
        loadavg_start=load_start, loadavg_end=loadavg(),
    )
    del sigma, acc, compiled
    return row


def row_key(r: dict) -> tuple:
    """Rows with equal keys measure the same thing; `--merge` keeps the newest."""
    return (r["engine"], r["size"], r["moves"], r["replicas"], r.get("prng", "threefry2x32"))


def write_results(out: Path, previous: dict | None, meta: dict, rows: list[dict]) -> None:
    """Write ``{"runs": [...], "results": [...]}`` to `out`, merging into `previous` (the old
    file's content, or None): its rows measuring the same thing as a new row are dropped, the
    others kept with their run's metadata."""
    from meanclust_jax._io import write_text_atomic

    runs, old_rows = [], []
    if previous is not None:
        runs = previous.get("runs", [previous["meta"]] if "meta" in previous else [])
        old_rows = [dict(r, run=r.get("run", 0)) for r in previous.get("results", [])]
    new_keys = {row_key(r) for r in rows}
    kept = [r for r in old_rows if row_key(r) not in new_keys]
    used = sorted({r["run"] for r in kept})
    renumber = {i: n for n, i in enumerate(used)}
    runs = [runs[i] for i in used] + [meta]
    merged = [dict(r, run=renumber[r["run"]]) for r in kept] + [dict(r, run=len(runs) - 1) for r in rows]
    merged.sort(key=lambda r: (r["engine"] != "parallel", r["size"], r["moves"], r["replicas"]))
    write_text_atomic(out, json.dumps({"runs": runs, "results": merged}, indent=2))


def main(argv: list[str] | None = None) -> int:
    """Run the size sweep, print a table and write the JSON file."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                    help="platform to run on (auto: JAX's default, a GPU when usable)")
    ap.add_argument("--sizes", type=int, nargs="+", default=None,
                    help="lattice sides L (L x L; multiples of 3 or 4). Default: "
                         f"CPU {DEFAULT_SIZES['cpu']}, GPU {DEFAULT_SIZES['gpu']}")
    ap.add_argument("--moves", nargs="+", choices=("local", "global"), default=["local", "global"])
    ap.add_argument("--batch", type=int, default=10,
                    help="lattices in the batched rows (compositions cycled); 0: no batched rows")
    ap.add_argument("--no-single", action="store_true", help="skip the one-lattice rows")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--target-s", type=float, default=1.0, help="seconds per timed call (sets sweeps)")
    ap.add_argument("--sweeps", type=int, default=None, help="fix the sweeps per timed call")
    ap.add_argument("--prng", default="threefry2x32", choices=("threefry2x32", "rbg", "unsafe_rbg"),
                    help="jax.random key implementation (the library default is threefry2x32)")
    ap.add_argument("--no-sequential", action="store_true", help="skip the sequential reference row")
    ap.add_argument("--quick", action="store_true", help="sizes 96 and 384, 3 repeats, 0.3 s per call")
    ap.add_argument("--merge", action="store_true", help="merge into an existing JSON file")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/anneal_<cpu|gpu>.json)")
    args = ap.parse_args(argv)
    select_platform(args.device)
    try:
        import jax  # noqa: F401 - is JAX importable at all?
    except ImportError as e:  # pragma: no cover
        print(f"JAX is not importable: {e}", file=sys.stderr)
        return 2
    dev = first_device(args.device)
    if dev is None:
        return 2
    label = device_label(dev.platform)
    if args.quick:
        sizes, repeats, target_s = [96, 384], 3, 0.3
    else:
        sizes = args.sizes or DEFAULT_SIZES.get(label, DEFAULT_SIZES["cpu"])
        repeats, target_s = args.repeats, args.target_s
    meta = device_meta()
    meta.update(loadavg_start=loadavg(), repeats=repeats, target_s=target_s, fixed_sweeps=args.sweeps,
                prng=args.prng,
                note="median over repeats of one compiled call of `sweeps` sweeps (vmap over the "
                     "batch), after AOT compile and one warm-up call; swaps/s = sweeps*sites*replicas/median")
    print(f"device {meta['device']} ({meta['device_kind']}, {meta['cpu_model']}), jax {meta['jax']}, "
          f"load {meta['loadavg_start']}", flush=True)
    header = (f"{'engine':<11}{'size':>7}{'moves':>8}{'B':>4}{'sweeps':>8}{'median s':>10}"
              f"{'swaps/s':>11}{'compile s':>10}{'B/site':>8}{'RSS GB':>8}{'load':>6}")
    print(header, flush=True)

    def show(r: dict) -> None:
        bps = r["memory"]["device_bytes_per_site"] if r.get("memory") else float("nan")
        print(f"{r['engine']:<11}{r['size']:>7}{r['moves']:>8}{r['replicas']:>4}{r['sweeps']:>8}"
              f"{r['median_s']:>10.4f}{r['swaps_per_s']:>11.3g}{r['lower_s'] + r['compile_s']:>10.2f}"
              f"{bps:>8.2f}{r['peak_rss_bytes'] / 1e9:>8.2f}{(r['loadavg_end'] or [0])[0]:>6.2f}", flush=True)

    out = Path(args.out or RESULTS / f"anneal_{label}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if args.merge and out.is_file() else None
    rows: list[dict] = []

    def attempt(*a) -> None:
        """Time one configuration; on failure (e.g. out of device memory) record the error."""
        try:
            rows.append(time_engine(*a))
            show(rows[-1])
        except Exception as e:  # noqa: BLE001 - a failed size must not lose the others
            engine, L, moves, comps = a[:4]
            rows.append(dict(engine=engine, size=L, sites=L * L, moves=moves, replicas=len(comps),
                             batch="single" if len(comps) == 1 else "compositions", prng=args.prng,
                             error=f"{type(e).__name__}: {str(e)[:500]}", loadavg_end=loadavg()))
            print(f"{engine} {L} {moves} B={len(comps)}: FAILED {rows[-1]['error']}", flush=True)
        meta["loadavg_end"] = loadavg()
        meta["peak_rss_bytes"] = peak_rss_bytes()
        write_results(out, previous, meta, rows)  # after every row: a crash keeps what was done

    batches = ([] if args.no_single else [1]) + ([args.batch] if args.batch > 1 else [])
    for L in sizes:
        for moves in args.moves:
            for B in batches:
                comps = [1 / 3] if B == 1 else [COMPOSITIONS[b % len(COMPOSITIONS)] for b in range(B)]
                attempt("parallel", L, moves, comps, repeats, target_s, args.sweeps, args.prng)
    if not args.no_sequential:
        attempt("sequential", 24, "local", [1 / 3], repeats, min(target_s, 0.5), None, args.prng)
    print(f"wrote {out}  (load average at end {meta['loadavg_end']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
