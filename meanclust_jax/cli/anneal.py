"""``meanclust anneal``: run the annealing engine and write a netCDF trajectory."""

from __future__ import annotations

import argparse
import os
from fractions import Fraction
from pathlib import Path


def _composition(text: str) -> float:
    try:
        return float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"composition {text!r} is not a number such as 1/3 or 0.42") from None


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """Add the ``anneal`` sub-command."""
    p = sub.add_parser(
        "anneal",
        help="Metropolis annealing of the Li/Mn layer; writes cluster concentrations to netCDF",
        description=(
            "Checkerboard-parallel Metropolis annealing of a binary Li/Mn layer on a periodic "
            "triangular lattice (Harris et al.'s charge-neutrality energy), recording "
            "temperature, energy and singlet/pair/triplet concentrations. Units: energy in the "
            "Hamiltonian's units (k_B = 1, so temperatures are in the same units); time in "
            "sweeps (one sweep = rows*cols attempted swaps)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--composition", type=_composition, default=1 / 3,
                   help="fraction x of '-' (Li) sites, in (0, 1); fractions like 1/3 allowed")
    p.add_argument("--rows", type=int, default=96, help="lattice rows (multiple of 3 or 4)")
    p.add_argument("--cols", type=int, default=96, help="lattice columns (multiple of 3 or 4)")
    p.add_argument("--moves", choices=["local", "global"], default="local",
                   help="local: nearest-neighbour (Kawasaki) swaps; global: swaps of any two sites")
    p.add_argument("--schedule", default="paper",
                   help="'constant:T=0.5,sweeps=2000', 'geometric:T0=2,T1=0.05,steps=20,sweeps=500', "
                        "'paper[:sweeps=N]' (N sweeps per temperature step) or a CSV of T,sweeps rows; "
                        "T in energy units, durations in sweeps")
    p.add_argument("--record-every", type=int, default=None,
                   help="sweeps between records (default: total sweeps / 200)")
    p.add_argument("--replicas", type=int, default=1, help="independent replicas run together")
    p.add_argument("--snapshots", type=int, default=0, help="lattice snapshots to keep (0: none)")
    p.add_argument("--engine", choices=["parallel", "sequential"], default="parallel",
                   help="checkerboard-parallel engine or the slow sequential reference")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed (same seed, same backend: same file)")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (.npz) to resume from / save to")
    p.add_argument("--initial", default=None, metavar="RUN.nc",
                   help="chain to a previous run: start from its final configuration and continue its "
                        "clock (same lattice size and composition)")
    p.add_argument("--reactions", action="store_true",
                   help="record the reaction observer (local moves): fluxes and measured rates k1..k8 "
                        "of eq. (5) per record interval")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--out", required=True, help="output netCDF path")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``meanclust anneal``."""
    from .. import schedules
    from ..dataset import save_trajectory
    from ..engine import anneal
    from ..lattice import TriangularLattice

    lattice = TriangularLattice(args.rows, args.cols)
    schedule = schedules.parse(args.schedule)
    parent = Path(args.out).resolve().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ValueError(f"--out {args.out!r}: folder {str(parent)!r} does not exist or is not writable")
    initial = None
    if args.initial is not None:
        from ..dataset import load_trajectory

        if not Path(args.initial).is_file():
            raise ValueError(f"--initial {args.initial!r}: no such file (a trajectory written by meanclust anneal)")
        initial = load_trajectory(args.initial)
    ds = anneal(
        args.seed, lattice, schedule=schedule, composition=args.composition, moves=args.moves,
        record_every=args.record_every, replicas=args.replicas, engine=args.engine,
        snapshots=args.snapshots, progress=not args.no_progress, checkpoint=args.checkpoint,
        initial=initial, reactions=args.reactions,
    )
    save_trajectory(ds, args.out)
    last = ds.isel(time=-1)
    if "replica" in last.dims:
        last = last.mean("replica")
    print(
        f"wrote {args.out}: {lattice.rows}x{lattice.cols}, x={args.composition:.4g}, {args.moves} moves, "
        f"t = {int(ds.time[0])}..{int(ds.time[-1])} sweeps; final T={float(last.temperature):.4g}, "
        f"E/site={float(last.energy):.4g}, C++={float(last.C_pair[0]):.4f}, "
        f"C--={float(last.C_pair[1]):.4f}, C+-={float(last.C_pair[2]):.4f}"
    )
    return 0
