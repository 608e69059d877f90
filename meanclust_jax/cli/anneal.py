"""``meanclust anneal``: run the annealing engine and write a netCDF trajectory."""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

from ._common import (
    Interrupted,
    add_force,
    add_no_progress,
    add_parser,
    check_output_file,
    integer,
    same_file,
    seed,
    show_progress,
    sigint_checkpoints,
)


def _composition(text: str) -> float:
    try:
        return float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"composition {text!r} is not a number such as 1/3 or 0.42") from None


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``anneal`` sub-command."""
    p = add_parser(
        sub, "anneal",
        help="Metropolis annealing of the Li/Mn layer; writes cluster concentrations to netCDF",
        description=(
            "Checkerboard-parallel Metropolis annealing of a binary Li/Mn layer on a periodic "
            "triangular lattice (Harris et al.'s charge-neutrality energy), recording "
            "temperature, energy and singlet/pair/triplet concentrations. Units: energy in the "
            "Hamiltonian's units (k_B = 1, so temperatures are in the same units); time in "
            "sweeps (one sweep = rows*cols attempted swaps)."
        ),
        examples=("meanclust anneal --composition 1/3 --rows 48 --cols 48 "
                  "--schedule paper:sweeps=200 --replicas 4 --checkpoint run.ckpt.npz --out run.nc",
                  "meanclust anneal --composition 1/3 --rows 48 --cols 48 --replicas 4 "
                  "--schedule constant:T=0.05,sweeps=500 --initial run.nc --reactions --out run2.nc"),
    )
    p.add_argument("--composition", type=_composition, default="1/3",
                   help="fraction x of '-' (Li) sites, in (0, 1); fractions like 1/3 allowed")
    p.add_argument("--rows", type=integer(1), default=96, help="lattice rows (multiple of 3 or 4)")
    p.add_argument("--cols", type=integer(1), default=96, help="lattice columns (multiple of 3 or 4)")
    p.add_argument("--moves", choices=["local", "global"], default="local",
                   help="local: nearest-neighbour (Kawasaki) swaps; global: swaps of any two sites")
    p.add_argument("--schedule", default="paper",
                   help="'constant:T=0.5,sweeps=2000', 'geometric:T0=2,T1=0.05,steps=20,sweeps=500', "
                        "'paper[:sweeps=N]' (N sweeps per temperature step) or a CSV of T,sweeps rows; "
                        "T in energy units, durations in sweeps")
    p.add_argument("--record-every", type=integer(1), default=None,
                   help="sweeps between records (default: total sweeps / 200)")
    p.add_argument("--replicas", type=integer(1), default=1, help="independent replicas run together")
    p.add_argument("--snapshots", type=integer(0), default=0, help="lattice snapshots to keep (0: none)")
    p.add_argument("--engine", choices=["parallel", "sequential"], default="parallel",
                   help="checkerboard-parallel engine or the slow sequential reference")
    p.add_argument("--seed", type=seed, default=0,
                   help="PRNG seed in [0, 2**64 - 1] (same seed, same backend: same file)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file (.npz) to resume from / save to after every chunk; must "
                        "differ from --out; read through a link, but saving replaces the link")
    p.add_argument("--initial", default=None, metavar="RUN.nc",
                   help="chain to a previous run: start from its final configuration and continue its "
                        "clock (same lattice size and composition)")
    p.add_argument("--reactions", action="store_true",
                   help="record the reaction observer (local moves): fluxes and measured rates k1..k8 "
                        "of eq. (5) per record interval")
    add_no_progress(p)
    add_force(p)
    p.add_argument("--out", required=True, help="output netCDF path")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``meanclust anneal``; every argument is checked before the annealing starts."""
    from .. import schedules
    from ..dataset import save_trajectory
    from ..engine import anneal
    from ..lattice import TriangularLattice

    check_output_file(args.out, force=args.force, suffix_hint="run.nc")
    if args.checkpoint is not None:
        if not str(args.checkpoint).strip():
            raise ValueError("--checkpoint must be a file name, got ''")
        if same_file(args.checkpoint, args.out):
            raise ValueError(
                f"--checkpoint {args.checkpoint!r} is the same file as --out; the checkpoint "
                "(.npz) and the trajectory (netCDF) must be two files, e.g. --checkpoint run.ckpt.npz"
            )
    lattice = TriangularLattice(args.rows, args.cols)
    schedule = schedules.parse(args.schedule)
    initial = None
    if args.initial is not None:
        from ..dataset import load_trajectory

        if not Path(args.initial).is_file():
            raise ValueError(f"--initial {args.initial!r}: no such file (a trajectory written by meanclust anneal)")
        if same_file(args.initial, args.out):
            raise ValueError(f"--initial {args.initial!r} is the same file as --out; write the chained run "
                             "to another file")
        initial = load_trajectory(args.initial)
    try:
        with sigint_checkpoints() as check:
            ds = anneal(
                args.seed, lattice, schedule=schedule, composition=args.composition, moves=args.moves,
                record_every=args.record_every, replicas=args.replicas, engine=args.engine,
                snapshots=args.snapshots, progress=show_progress(args), checkpoint=args.checkpoint,
                callback=lambda _done, _total: check(), initial=initial, reactions=args.reactions,
            )
            check()
            save_trajectory(ds, args.out)
    except KeyboardInterrupt:
        raise Interrupted(_interrupted(args)) from None
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


def _interrupted(args: argparse.Namespace) -> str:
    """What an interrupted ``anneal`` leaves behind, and how to go on."""
    out = "--out was not written"
    if args.checkpoint is None:
        return f"{out}, nothing was saved; rerun with --checkpoint FILE to make a long run resumable"
    ckpt = Path(args.checkpoint)
    if not ckpt.is_file():
        return f"{out}; no chunk was finished, so no checkpoint was saved; rerun the same command to start again"
    try:
        from .._io import load_npz

        done = int(load_npz(ckpt, ("chunks_done",))["chunks_done"])
        held = f"holds {done} finished chunk(s)"
    except (ValueError, FileNotFoundError):
        held = "was left as it was"
    return f"{out}; the checkpoint {str(ckpt)!r} {held}: rerun the same command to resume from it"
