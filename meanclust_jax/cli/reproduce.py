"""``meanclust reproduce``: the paper's study end to end, with a report (the project's main job).

    meanclust reproduce [--out DIR] [--size N] [--quick] [--device cpu|gpu] [--seed S]

Anneals the ten compositions with our engine, fits PA/OA/SA closures and compares them across
compositions, infers the rates with NUTS and DR-MH, draws every figure of docs/model.md §8 and writes
``DIR/report.md`` and ``DIR/report.html`` (layout: `meanclust_jax.reports.study_report`).
Finished stages are recorded in ``DIR/stages/``; running the same command again resumes after
the last finished stage (and inside the annealing and inference stages, from the anneal
checkpoint and the posteriors already written). One study runs in a folder at a time (the lock
file ``DIR/.reproduce.lock``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ._common import (
    Interrupted,
    add_no_progress,
    add_parser,
    check_output_folder,
    seed,
    show_progress,
    sigint_checkpoints,
)

DEFAULT_OUT = "meanclust-study"


def _default_cache() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "meanclust_jax", "jax-compilation-cache")


def _size(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer lattice side such as 96, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``reproduce`` sub-command."""
    from ..study import STAGES

    p = add_parser(
        sub, "reproduce",
        examples=("meanclust reproduce --quick --out study-quick",
                  "meanclust reproduce --size 96 --device gpu --out study"),
        help="run the paper's whole study (anneal, closures, rate posteriors) and write a report",
        description=(
            "Reproduce the study of Ahmadi, Foster & Protas end to end on data made by our own "
            "engine: anneal Li_x Mn_(1-x) at the paper's ten compositions, calibrate and compare "
            "the pair, optimal and sparse closures, infer the reaction rates with NUTS and "
            "delayed-rejection MH, draw every figure, and write DIR/report.md and report.html "
            "with the paper's numbers beside ours. Resumes after the last finished stage."
        ),
    )
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="study folder (created if missing)")
    p.add_argument("--size", type=_size, default=None, metavar="N",
                   help="lattice side N (N x N sites; a multiple of 3 or 4, >= 12); default 96, "
                        "or 24 with --quick; larger sizes are for GPUs")
    p.add_argument("--quick", action="store_true",
                   help="a small smoke-test study (about 2 minutes on a 2-core CPU)")
    p.add_argument("--device", choices=("cpu", "gpu"), default=None,
                   help="JAX platform; default: JAX's default (a GPU when one is visible)")
    p.add_argument("--seed", type=seed, default=0,
                   help="PRNG seed in [0, 2**64 - 1] (same seed, same device: same report)")
    p.add_argument("--stop-after", choices=STAGES, default=None, metavar="STAGE",
                   help=f"stop after this stage, one of {', '.join(STAGES)}")
    p.add_argument("--force", action="store_true",
                   help="start over in DIR, forgetting finished stages and stored settings")
    p.add_argument("--compile-cache", default=_default_cache(), metavar="DIR",
                   help="JAX persistent compilation cache (reruns skip most compilation); 'none' disables")
    add_no_progress(p)
    p.set_defaults(func=run)


def select_device(device: str | None) -> None:
    """Make JAX use `device` (``cpu``/``gpu``) and check it exists; call before any JAX work.

    **Raises:** `ValueError` naming ``--device`` if no such device is visible, or if JAX was
    already initialised on another platform.
    """
    import jax

    if device is None:
        return
    try:
        if device == "cpu":
            jax.config.update("jax_platforms", "cpu")
            devices = jax.devices()
        else:
            devices = jax.devices("gpu")
            jax.config.update("jax_default_device", devices[0])
    except (RuntimeError, AssertionError) as err:
        raise ValueError(
            f"--device {device}: JAX finds no {device.upper()} ({err or type(err).__name__}); install "
            "the CUDA build of JAX (pip install -e '.[cuda]') or use --device cpu"
        ) from None
    if devices[0].platform not in ({"cpu"} if device == "cpu" else {"gpu", "cuda", "rocm"}):
        raise ValueError(f"--device {device}: JAX is already running on {devices[0].platform}")


def run(args: argparse.Namespace) -> int:
    """Execute ``meanclust reproduce``; every check that can fail runs before any computation."""
    from ..study import StudyConfig, check_study_memory, prepare_output, run_study

    cfg = StudyConfig.preset(size=args.size, quick=args.quick, seed=args.seed)  # checks --size
    check_output_folder(args.out, flag="--out")  # checks --out (creates nothing)
    select_device(args.device)  # checks --device
    check_study_memory(cfg)  # checks --size against the memory, before anything is written
    out = prepare_output(args.out)
    if args.compile_cache and args.compile_cache.lower() != "none":
        import jax

        try:
            Path(args.compile_cache).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"--compile-cache {args.compile_cache!r} cannot be created: {err}") from None
        jax.config.update("jax_compilation_cache_dir", str(args.compile_cache))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    print(f"meanclust reproduce: {'quick ' if cfg.quick else ''}study in {out} "
          f"({cfg.size}x{cfg.size}, seed {cfg.seed})", flush=True)
    try:
        with sigint_checkpoints() as check:

            def log(message: str) -> None:
                check()  # a Ctrl-C that Python could not deliver stops the study here
                print(message, flush=True)

            run_study(out, cfg, progress=show_progress(args), stop_after=args.stop_after, force=args.force,
                      log=log)
    except KeyboardInterrupt:
        raise Interrupted(interrupted_message(out)) from None
    if (out / "report.md").is_file() and args.stop_after in (None, "report"):
        print(f"report: {out / 'report.md'} and {out / 'report.html'}")
    return 0


def interrupted_message(out: Path) -> str:
    """What an interrupted study has saved in ``out`` and how to resume (one line)."""
    from ..study import STAGES, completed_stages

    done = completed_stages(out)
    running = next((s for s in STAGES if s not in done), None)
    saved = f"finished stages {', '.join(done)} are saved" if done else "no stage had finished"
    partial = ""
    if running == "anneal" and (out / "checkpoints" / "anneal.npz").is_file():
        partial = "; the annealing checkpoint holds its finished chunks"
    elif running == "inference":
        n = len(list((out / "posteriors").glob("*.nc"))) if (out / "posteriors").is_dir() else 0
        partial = f"; {n} posterior(s) of the inference stage are on disk and will be reused"
    where = f" (stopped during {running})" if running else ""
    return (f"{saved} in {str(out)!r}{where}{partial}; run the same command again to resume "
            "(--force starts over)")
