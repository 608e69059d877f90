"""Plot annealing throughput against lattice size and compare it with the memory-bandwidth bound.

Usage::

    python benchmarks/plot_anneal.py [--results benchmarks/results] [--out PATH]

Reads every ``anneal_<device>.json`` written by ``bench_anneal.py`` (and, when present, the
``bandwidth_<device>.json`` of ``bench_bandwidth.py``) and draws attempted swaps/s against lattice
sites (log-log), one line per device x moves x batching, to
``benchmarks/results/anneal_throughput.png``. Batched rows count the swaps of every lattice of the
batch; their x value is the sites of one lattice. Where a bandwidth file exists the bound
``bandwidth / bytes per attempted swap`` (see `BYTES_PER_SWAP`) is drawn as a dashed line, and a
table of the fraction of the bound each row reaches is printed and written to
``benchmarks/results/bandwidth_bound.json``. Only files that exist are used: no figure is
invented for a device that has not been measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: Minimum memory traffic per attempted swap (bytes) of the checkerboard phases, with the random
#: numbers generated in registers (fused into the phase) and no cache reuse between the slices of
#: a phase. Local: 10 int8 reads (i, its 6 neighbours and the 3 far neighbours of j, each one
#: contiguous sublattice slice) + 2 int8 writes (the i and j slices) = 12. Global: 2 x 7 int8 reads
#: (each site and its 6 neighbours) + 2 int8 writes = 16. See benchmarks/README.md for the counts
#: with a materialised float32 uniform (+8) and for what XLA's CPU build actually moves.
BYTES_PER_SWAP = {"local": 12.0, "global": 16.0}
#: The key implementation of the library (rows timed with another one are labelled).
DEFAULT_PRNG = "threefry2x32"


def load(results: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """``({device: anneal json}, {device: bandwidth json})`` for the files that exist."""
    anneal = {p.stem.split("_", 1)[1]: json.loads(p.read_text()) for p in sorted(results.glob("anneal_*.json"))}
    bw = {p.stem.split("_", 1)[1]: json.loads(p.read_text()) for p in sorted(results.glob("bandwidth_*.json"))
          if p.stem != "bandwidth_bound"}
    return anneal, bw


def device_name(doc: dict, label: str) -> str:
    """A short legend name: the label and the device kind (the CPU model on CPU)."""
    runs = doc.get("runs") or [doc.get("meta", {})]
    m = runs[-1]
    kind = m.get("cpu_model", "") if label == "cpu" else m.get("device_kind", "")
    n = m.get("cpu_count")
    return f"{label.upper()} ({kind}{f', {n} cores' if label == 'cpu' and n else ''})"


def dram_bandwidth(bw_doc: dict) -> float | None:
    """The JAX in-place streaming bandwidth (GB/s) at the largest measured size."""
    rows = [r for r in bw_doc.get("results", []) if r["kernel"].startswith("jax")]
    if not rows:
        return None
    return max(rows, key=lambda r: r["mib"])["gb_per_s"]


def bound_table(anneal: dict[str, dict], bw: dict[str, dict]) -> list[dict]:
    """One entry per parallel-engine row of a device with a bandwidth measurement."""
    out = []
    for label, doc in anneal.items():
        if label not in bw or dram_bandwidth(bw[label]) is None:
            continue
        gbs = dram_bandwidth(bw[label])
        for r in doc["results"]:
            if r["engine"] != "parallel" or "error" in r:
                continue
            bound = gbs * 1e9 / BYTES_PER_SWAP[r["moves"]]
            state_mb = r["sites"] * r["replicas"] / 1e6
            out.append(dict(device=label, size=r["size"], moves=r["moves"], replicas=r["replicas"],
                            prng=r.get("prng", DEFAULT_PRNG),
                            state_mb=state_mb, swaps_per_s=r["swaps_per_s"],
                            bandwidth_gb_per_s=gbs, bytes_per_swap=BYTES_PER_SWAP[r["moves"]],
                            bound_swaps_per_s=bound, fraction_of_bound=r["swaps_per_s"] / bound,
                            implied_gb_per_s=r["swaps_per_s"] * BYTES_PER_SWAP[r["moves"]] / 1e9,
                            loadavg_end=r.get("loadavg_end")))
    return out


def plot(anneal: dict[str, dict], bw: dict[str, dict], out: Path) -> None:
    """Draw the log-log throughput figure to `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    colours = {"cpu": "tab:blue", "gpu": "tab:green"}
    styles = {"local": "-", "global": "--"}
    markers = {"single": "o", "compositions": "s"}
    for i, (label, doc) in enumerate(anneal.items()):
        colour = colours.get(label, f"C{i + 3}")
        rows = [r for r in doc["results"] if r["engine"] == "parallel" and "error" not in r]
        groups: dict[tuple[str, str, int, str], list[dict]] = {}
        for r in rows:
            key = (r["moves"], r.get("batch", "single"), r["replicas"], r.get("prng", DEFAULT_PRNG))
            groups.setdefault(key, []).append(r)
        for (moves, batch, B, prng), rs in sorted(groups.items()):
            rs.sort(key=lambda r: r["sites"])
            name = ("1 lattice" if B == 1 else f"batch of {B}") + ("" if prng == DEFAULT_PRNG else f", {prng} keys")
            ax.plot([r["sites"] for r in rs], [r["swaps_per_s"] for r in rs], styles.get(moves, ":"),
                    marker=markers.get(batch, "^") if prng == DEFAULT_PRNG else "*", color=colour,
                    alpha=1.0 if B == 1 else 0.6, label=f"{device_name(doc, label)}: {moves}, {name}")
        if label in bw and dram_bandwidth(bw[label]):
            b = dram_bandwidth(bw[label]) * 1e9 / BYTES_PER_SWAP["local"]
            ax.axhline(b, color=colour, lw=0.8, ls=":",
                       label=f"{label.upper()} bound, local: {dram_bandwidth(bw[label]):.0f} GB/s / "
                             f"{BYTES_PER_SWAP['local']:.0f} B")
    for label, doc in anneal.items():
        for r in doc["results"]:
            if r["engine"] == "sequential" and "error" not in r:
                ax.plot([r["sites"]], [r["swaps_per_s"]], "x", color=colours.get(label, "k"),
                        label=f"{label.upper()}: sequential reference")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("lattice sites (one lattice)")
    ax.set_ylabel("attempted swaps / s (all lattices of the call)")
    loads = [r.get("loadavg_end", [None])[0] for d in anneal.values() for r in d["results"] if r.get("loadavg_end")]
    title = "Checkerboard Metropolis throughput"
    if loads:
        title += f"  (1-min load during the rows {min(loads):.1f}-{max(loads):.1f})"
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Plot whatever results exist and print the bandwidth-bound table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=str(HERE / "results"))
    ap.add_argument("--out", default=None, help="PNG path (default <results>/anneal_throughput.png)")
    args = ap.parse_args(argv)
    results = Path(args.results)
    anneal, bw = load(results)
    if not anneal:
        print(f"no anneal_*.json under {results}", file=sys.stderr)
        return 1
    out = Path(args.out or results / "anneal_throughput.png")
    plot(anneal, bw, out)
    print(f"wrote {out} from {sorted(anneal)}")
    table = bound_table(anneal, bw)
    if table:
        print(f"{'device':<7}{'size':>7}{'moves':>8}{'B':>4}{'state MB':>10}{'swaps/s':>11}"
              f"{'bound':>11}{'fraction':>10}{'implied GB/s':>13}")
        for t in table:
            print(f"{t['device']:<7}{t['size']:>7}{t['moves']:>8}{t['replicas']:>4}{t['state_mb']:>10.1f}"
                  f"{t['swaps_per_s']:>11.3g}{t['bound_swaps_per_s']:>11.3g}{t['fraction_of_bound']:>10.3f}"
                  f"{t['implied_gb_per_s']:>13.2f}")
        from meanclust_jax._io import write_text_atomic

        write_text_atomic(results / "bandwidth_bound.json",
                          json.dumps({"bytes_per_swap": BYTES_PER_SWAP, "rows": table}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
