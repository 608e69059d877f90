"""``meanclust reproduce``: the paper's study end to end, with a report (the project's main job).

    meanclust reproduce [--out DIR] [--size N] [--quick] [--device cpu|gpu] [--seed S]

Anneals the ten compositions with our engine, fits PA/OA/SA closures and compares them across
compositions, infers the rates with NUTS and DR-MH, draws every figure of docs/model.md §8 and writes
``DIR/report.md`` and ``DIR/report.html`` (layout: `meanclust_jax.reports.study_report`).
Finished stages are recorded in ``DIR/stages/``; running the same command again resumes after
the last finished stage.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_OUT = "meanclust-study"


def _default_cache() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "meanclust_jax", "jax-compilation-cache")


def _size(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer lattice side such as 96, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """Add the ``reproduce`` sub-command."""
    from ..study import STAGES

    p = sub.add_parser(
        "reproduce",
        help="run the paper's whole study (anneal, closures, rate posteriors) and write a report",
        description=(
            "Reproduce the study of Ahmadi, Foster & Protas end to end on data made by our own "
            "engine: anneal Li_x Mn_(1-x) at the paper's ten compositions, calibrate and compare "
            "the pair, optimal and sparse closures, infer the reaction rates with NUTS and "
            "delayed-rejection MH, draw every figure, and write DIR/report.md and report.html "
            "with the paper's numbers beside ours. Resumes after the last finished stage."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="study folder (created if missing)")
    p.add_argument("--size", type=_size, default=None, metavar="N",
                   help="lattice side N (N x N sites; a multiple of 3 or 4, >= 12); default 96, "
                        "or 24 with --quick; larger sizes are for GPUs")
    p.add_argument("--quick", action="store_true",
                   help="a small smoke-test study (about 2 minutes on a 2-core CPU)")
    p.add_argument("--device", choices=("cpu", "gpu"), default=None,
                   help="JAX platform; default: JAX's default (a GPU when one is visible)")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed (same seed, same device: same report)")
    p.add_argument("--stop-after", choices=STAGES, default=None, metavar="STAGE",
                   help=f"stop after this stage, one of {', '.join(STAGES)}")
    p.add_argument("--force", action="store_true",
                   help="start over in DIR, forgetting finished stages and stored settings")
    p.add_argument("--compile-cache", default=_default_cache(), metavar="DIR",
                   help="JAX persistent compilation cache (reruns skip most compilation); 'none' disables")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
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
    from ..study import StudyConfig, prepare_output, run_study

    cfg = StudyConfig.preset(size=args.size, quick=args.quick, seed=args.seed)  # checks --size
    select_device(args.device)  # checks --device
    out = prepare_output(args.out)  # checks --out
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
    run_study(out, cfg, progress=not args.no_progress, stop_after=args.stop_after, force=args.force,
              log=lambda m: print(m, flush=True))
    if (out / "report.md").is_file() and args.stop_after in (None, "report"):
        print(f"report: {out / 'report.md'} and {out / 'report.html'}")
    return 0
