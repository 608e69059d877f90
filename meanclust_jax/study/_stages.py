"""The stages of the end-to-end study; each reads the files of earlier stages and writes its own.

Every stage is a function ``stage(out, cfg, log, progress) -> dict`` returning a JSON-able
summary of its numbers (no timings: the summary is what the report prints, and the same seed
must give the same report). Files are written atomically, so a stage interrupted half-way
leaves no half-written artefact; the runner records a stage as done only after it returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..paper import CALIBRATION_COMPOSITIONS, PAPER_TEMPERATURES, composition_label
from ..reports.study_figures import FIGURES
from ._config import StudyConfig
from ._inference import INFERENCE_CLOSURES, inference_stage

Log = Callable[[str], None]



def file_label(name: str) -> str:
    """A file-name-safe form of a closure or composition label (``OA-hard-1/3`` → ``OA-hard-1_3``)."""
    return name.replace("/", "_")


def trajectory_path(out: Path, x: float) -> Path:
    """Path of the trajectory of composition ``x`` inside the study folder."""
    return out / "trajectories" / f"x{x:.4f}.nc"


def _floats(a: Any) -> Any:
    """NumPy arrays and scalars → nested lists of Python floats (for JSON)."""
    return np.asarray(a, dtype=float).tolist()


# --------------------------------------------------------------------------- anneal


def anneal_stage(out: Path, cfg: StudyConfig, log: Log, progress: bool) -> dict[str, Any]:
    """Anneal all compositions in one compiled call; one netCDF trajectory per composition.

    ``replicas`` lattices per composition; the run checkpoints to ``checkpoints/anneal.npz``
    after every chunk, so an interrupted anneal resumes where it stopped.
    """
    from .. import schedules
    from ..dataset import save_trajectory
    from ..engine import anneal
    from ..lattice import TriangularLattice

    lattice = TriangularLattice(cfg.size, cfg.size)
    schedule = schedules.paper(cfg.sweeps_per_step)
    comps = [x for x in cfg.compositions for _ in range(cfg.replicas)]
    (out / "checkpoints").mkdir(exist_ok=True)
    (out / "trajectories").mkdir(exist_ok=True)
    log(f"{len(cfg.compositions)} compositions x {cfg.replicas} replicas of {cfg.size}x{cfg.size}, "
        f"{cfg.total_sweeps} sweeps ({schedule.name}), local Kawasaki swaps")
    ds = anneal(
        cfg.seed, lattice, schedule=schedule, composition=comps, moves="local",
        replicas=len(comps), record_every=max(1, cfg.total_sweeps // cfg.records),
        snapshots=cfg.snapshots, progress=progress, checkpoint=out / "checkpoints" / "anneal.npz",
        reactions=True,  # the reaction observer (issue 11): measured rates for the `reactions` stage
    )
    summary: dict[str, Any] = {"files": {}, "final": []}
    R = cfg.replicas
    for i, x in enumerate(cfg.compositions):
        part = ds.isel(replica=slice(i * R, (i + 1) * R))
        part = part.assign_coords(replica=np.arange(R))
        part.attrs["composition"] = float(x)
        path = trajectory_path(out, x)
        save_trajectory(part, path)
        last = part.isel(time=-1)
        summary["files"][composition_label(x)] = str(path.relative_to(out))
        summary["final"].append({
            "x": float(x),
            "label": composition_label(x),
            "energy": float(last["energy"].mean()),
            "energy_sd": float(last["energy"].std()),
            "C_pair": _floats(last["C_pair"].mean("replica")),
        })
    (out / "checkpoints" / "anneal.npz").unlink(missing_ok=True)
    summary["lattice"] = [cfg.size, cfg.size]
    summary["total_sweeps"] = cfg.total_sweeps
    summary["records"] = int(ds.sizes["time"])
    summary["temperatures"] = list(PAPER_TEMPERATURES)
    return summary


def load_trajectories(out: Path, cfg: StudyConfig) -> dict[float, Any]:
    """``{x: Dataset}`` of the annealing stage's files."""
    from ..dataset import load_trajectory

    return {x: load_trajectory(trajectory_path(out, x)) for x in cfg.compositions}


# --------------------------------------------------------------------------- closures


def closures_stage(out: Path, cfg: StudyConfig, log: Log, progress: bool) -> dict[str, Any]:  # noqa: ARG001 - the stage signature
    """Calibrate OA (hard and soft) at x = 1/3 and 1/2; errors of PA, SA and OA at every x.

    Writes ``closures/<name>.json`` for each fitted closure and ``closures/study.nc`` (the
    `cross_stoichiometry_study` dataset: ``J_τ`` per closure, composition and type, ``ℰ``,
    improvements over PA).
    """
    from .._io import save_netcdf
    from ..closures import (
        PairApproximation,
        SparseApproximation,
        beyond_paper_study,
        cross_stoichiometry_study,
        loco_summary,
    )

    datasets = load_trajectories(out, cfg)
    (out / "closures").mkdir(exist_ok=True)
    log("beyond the paper: OA-hard and the consistent closure on all compositions, and leave-one-composition-out")
    extra, loco = beyond_paper_study(datasets, num_starts=cfg.closure_starts, seed=cfg.seed)
    save_netcdf(loco, out / "closures" / "loco.nc")
    log(f"calibrating OA (hard, soft) at x = 1/3 and 1/2, {cfg.closure_starts} starts per type; "
        f"evaluating on {len(datasets)} compositions")
    study, fitted = cross_stoichiometry_study(
        datasets, calibrate_at=CALIBRATION_COMPOSITIONS, regularizations=("hard", "soft"),
        num_starts=cfg.closure_starts, seed=cfg.seed, closures=extra,
    )
    files = {}
    for name, closure in {**fitted, **extra}.items():
        path = out / "closures" / f"{file_label(name)}.json"
        closure.save(path)
        files[name] = str(path.relative_to(out))
    save_netcdf(study, out / "closures" / "study.nc")
    all_closures = {"PA": PairApproximation(), "SA": SparseApproximation(), **fitted}
    return {
        "files": files,
        "study": "closures/study.nc",
        "closures": list(study["closure"].values),
        "compositions": _floats(study["composition"].values),
        "mean_error": {c: _floats(study["mean_error"].sel(closure=c).values) for c in study["closure"].values},
        "improvement_over_pa": {c: float(study["improvement_over_pa"].sel(closure=c))
                                for c in study["closure"].values},
        "errors": {
            composition_label(xc): {
                c: _floats(study["errors"].sel(closure=c).sel(composition=xc, method="nearest").values)
                for c in study["closure"].values
            }
            for xc in CALIBRATION_COMPOSITIONS
        },
        "exponents": {name: {t: _floats(v) for t, v in c.parameter_vectors().items()}
                      for name, c in all_closures.items()},
        "beyond_paper": {"loco": loco_summary(loco), "loco_file": "closures/loco.nc",
                         "formulas": extra["consistent-all"].formulas()},
    }


# --------------------------------------------------------------------------- inference: see _inference.py


# --------------------------------------------------------------------------- reactions


def reactions_stage(out: Path, cfg: StudyConfig, log: Log, progress: bool) -> dict[str, Any]:  # noqa: ARG001 - the stage signature
    """Measured reaction rates at x = 1/3 against the PA and OA-hard-1/2 posteriors (issue 11):
    `meanclust_jax.reports.reaction_rates.reaction_rate_study` (figure, time averages, the paper's
    PA statement, ODE with measured vs fitted constant rates)."""
    from ..closures import PairApproximation, load_closure
    from ..reports.reaction_rates import reaction_rate_study

    names = ("PA", "OA-hard-1/2")
    (out / "figures").mkdir(exist_ok=True)
    log("measured rates at x = 1/3 against the PA and OA-hard-1/2 posteriors; ODE with measured rates")
    inference = json.loads((out / "stages" / "inference.json").read_text(encoding="utf-8"))
    summary = reaction_rate_study(
        trajectory_path(out, 1 / 3), figure=out / "figures" / "fig_measured_rates.png",
        closures={n: PairApproximation() if n == "PA" else load_closure(out / "closures" / f"{file_label(n)}.json")
                  for n in names},
        posterior_files={n: {s: out / "posteriors" / f"{file_label(n)}.{s}.nc" for s in ("nuts", "drmh")}
                         for n in names},
        fitted={n: np.asarray(inference["results"][n]["Y1"]) for n in names},
    )
    summary["figure"] = "figures/fig_measured_rates.png"
    return summary


# --------------------------------------------------------------------------- figures

def figures_stage(out: Path, cfg: StudyConfig, log: Log, progress: bool) -> dict[str, Any]:  # noqa: ARG001 - the stage signature
    """Draw every figure of docs/model.md §8 from the files of the earlier stages into ``figures/``."""
    from .._io import load_netcdf
    from ..closures import PairApproximation, load_closure
    from ..inference import load_posterior
    from ..reports.anneal_figures import plot_anneal_history, plot_lattice_snapshots
    from ..reports.closure_figures import (
        plot_closure_errors,
        plot_mean_error_vs_composition,
        plot_triplets_vs_pairs,
    )
    from ..reports.inference_figures import plot_loss_densities, plot_posterior_rates, plot_rate_marginals

    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    path = {k: fig_dir / f for k, (f, _) in FIGURES.items()}
    datasets = load_trajectories(out, cfg)
    x13 = datasets[1 / 3]
    log("Figs. 2, 3 (annealing)")
    plot_anneal_history(x13, path["fig2"], title=f"Li$_{{1/3}}$Mn$_{{2/3}}$, {cfg.size}×{cfg.size}")
    if "snapshot" in x13:
        snaps = x13["snapshot"].isel(replica=0)
        times = snaps["snapshot_time"].values
        configs = [snaps.isel(snapshot_time=0).values, snaps.isel(snapshot_time=-1).values]
        labels = [f"initial (t = {times[0]:.0f} sweeps)", f"final (t = {times[-1]:.0f} sweeps)"]
    else:
        configs, labels = [x13["final_configuration"].isel(replica=0).values], ["final"]
    plot_lattice_snapshots(configs, path["fig3"], labels=labels, zoom=min(24, cfg.size // 2))

    log("Figs. 8-12 (closures)")
    study = load_netcdf(out / "closures" / "study.nc")
    oa = {name: load_closure(out / "closures" / f"{file_label(name)}.json")
          for name in ("OA-hard-1/3", "OA-hard-1/2", "OA-soft-1/3", "OA-soft-1/2")}
    plot_triplets_vs_pairs({"x = 1/2": datasets[1 / 2], "x = 1/3": datasets[1 / 3]},
                           {"PA": PairApproximation(), "OA-hard-1/2": oa["OA-hard-1/2"],
                            "OA-hard-1/3": oa["OA-hard-1/3"]}, path["fig8"])

    def errs(x: float, names: list[str]) -> dict[str, np.ndarray]:
        e = study["errors"].sel(composition=x, method="nearest")
        return {f"{n} @ x={composition_label(x)}": e.sel(closure=n).values for n in names}

    plot_closure_errors({**errs(1 / 2, ["PA", "SA", "OA-hard-1/2"]), **errs(1 / 3, ["PA", "OA-hard-1/3"])},
                        path["fig9"], title="hard regularisation (β1 = 0, β2 = δ = 2)")
    plot_closure_errors({**errs(1 / 2, ["PA", "OA-soft-1/2"]), **errs(1 / 3, ["PA", "OA-soft-1/3"])},
                        path["fig10"], title="soft regularisation (β unbounded, δ = 6)")
    beyond = [n for n in ("OA-hard-all", "consistent-all") if n in study["closure"].values]
    plot_mean_error_vs_composition(study, path["fig11a"], closures=["PA", "OA-hard-1/3", "OA-hard-1/2", *beyond],
                                   title="hard regularisation")
    plot_mean_error_vs_composition(study, path["fig11b"], closures=["PA", "OA-soft-1/3", "OA-soft-1/2"],
                                   title="soft regularisation")
    plot_mean_error_vs_composition(study, path["fig12"], closures=["PA", "OA-hard-1/3", "SA", *beyond[1:]])
    if (out / "closures" / "loco.nc").is_file():
        plot_mean_error_vs_composition(load_netcdf(out / "closures" / "loco.nc"), path["fig12b"],
                                       title="each closure calibrated without the composition it is tested on")

    log("Figs. 13, 14 (inference)")
    post = {(name, s): load_posterior(out / "posteriors" / f"{file_label(name)}.{s}.nc")
            for name in INFERENCE_CLOSURES for s in ("nuts", "drmh")}
    for key, name in (("fig13_PA", "PA"), ("fig13_OA", "OA-hard-1/2")):
        idata = post[(name, "nuts")]
        verdict = "converged" if int(idata.posterior.attrs.get("converged", 0)) else "NOT CONVERGED: not a result"
        plot_posterior_rates(idata, path[key], seed=cfg.seed,
                             title=f"{name}: NUTS posterior (Gaussian likelihood; {verdict})")
    plot_rate_marginals({n: {s: post[(n, s)] for s in ("nuts", "drmh")} for n in ("PA", "OA-hard-1/2")},
                        path["fig13_marginals"])
    plot_loss_densities({n: {s: post[(n, s)] for s in ("nuts", "drmh")} for n in INFERENCE_CLOSURES},
                        path["fig14"])
    return {"files": {k: str(p.relative_to(out)) for k, p in path.items()}}


# --------------------------------------------------------------------------- audit


def audit_stage(out: Path, cfg: StudyConfig, log: Log, progress: bool) -> dict[str, Any]:
    """Judge every claim of the paper on this study's numbers (issue 13; `meanclust_jax.audit`).

    Writes ``audit/`` (``audit.json``, ``audit_numbers.json``, ``audit.md``/``.html``, figures);
    the claims use the study's trajectories, fitted closures and converged posteriors, the
    protocol sweep runs on 48×48 lattices (24×24 with ``--quick``).
    """
    from ..audit import run_audit

    summary = run_audit(out / "audit", quick=cfg.quick, size=24 if cfg.quick else 48, study=out,
                        seed=cfg.seed, force=True, progress=progress, log=log)  # the stage's own folder
    summary["figures"] = {k: f"audit/{v}" for k, v in summary["figures"].items()}
    summary["files"] = [f"audit/{f}" for f in summary["files"]]
    summary["settings"]["study"] = "."  # the folder itself: the summary does not depend on where it lies
    return summary


__all__ = [
    "INFERENCE_CLOSURES",
    "audit_stage",
    "anneal_stage",
    "closures_stage",
    "figures_stage",
    "file_label",
    "inference_stage",
    "load_trajectories",
    "reactions_stage",
    "trajectory_path",
]
