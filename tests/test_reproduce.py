"""`meanclust reproduce`: bad input fails fast; --quick end to end; resume; same seed, same report."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import unchecked

from meanclust_jax.cli import main
from meanclust_jax.closures import param_names
from meanclust_jax.reports import paper_values
from meanclust_jax.reports.markup import Figure, Heading, Paragraph, Table, to_html, to_markdown
from meanclust_jax.study import STAGES, StudyConfig

CLI = [sys.executable, "-m", "meanclust_jax.cli", "reproduce"]


def _run_cli(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run(CLI + args, capture_output=True, text=True, timeout=timeout, env=env)


# --------------------------------------------------------------------------- fail fast


def _fails_fast(args: list[str], capsys, match: str) -> None:
    t0 = time.perf_counter()
    rc = main(["reproduce", *args])
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert rc == 2
    assert re.search(match, err), err
    assert elapsed < 10.0, f"took {elapsed:.1f} s: the check must come before any computation"


@pytest.mark.parametrize("size", ["50", "10", "97"])
def test_untileable_size_fails_fast(tmp_path, capsys, size) -> None:
    _fails_fast(["--quick", "--size", size, "--out", str(tmp_path / "s")], capsys, r"--size")
    assert not (tmp_path / "s").exists()


def test_unwritable_out_fails_fast(tmp_path, capsys) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    _fails_fast(["--quick", "--out", str(blocker / "study")], capsys, r"--out .*not a writable folder")
    _fails_fast(["--quick", "--out", str(blocker)], capsys, r"--out .*not a folder")


def test_other_settings_in_out_fail_fast(tmp_path, capsys) -> None:
    out = tmp_path / "study"
    out.mkdir()
    (out / "study.json").write_text(StudyConfig.preset(quick=True, seed=1).to_json())
    _fails_fast(["--quick", "--seed", "2", "--out", str(out)], capsys, r"other settings \(differing: seed\)")


def test_unknown_device_fails_fast(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--quick", "--device", "tpu", "--out", str(tmp_path / "s")])
    assert exc.value.code == 2
    assert "invalid choice: 'tpu'" in capsys.readouterr().err


def test_missing_gpu_fails_fast(tmp_path) -> None:
    import jax

    if any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("a GPU is present")
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    t0 = time.perf_counter()
    proc = subprocess.run(CLI + ["--quick", "--device", "gpu", "--out", str(tmp_path / "s")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "--device gpu: JAX finds no GPU" in proc.stderr
    assert time.perf_counter() - t0 < 60
    assert not (tmp_path / "s" / "stages").exists()


# --------------------------------------------------------------------------- pieces


def test_paper_table_ii_transcription_is_consistent() -> None:
    """Every transcribed row has the right length and satisfies Σγ − Σξ = 1 within rounding."""
    for label, cols in paper_values.TABLE_II.items():
        names = param_names(label)
        for col, v in cols.items():
            assert len(v) == len(names), (label, col)
            signs = np.array([1.0 if kind == "gamma" else -1.0 for kind, _ in names])
            assert abs(float(signs @ np.asarray(v)) - 1.0) <= 0.015, (label, col, v)


def test_markup_renders_and_escapes() -> None:
    blocks = [Heading("A <b>", 1), Paragraph("x **bold** and `code` & more"),
              Table(["a", "b"], [["1", "2|3"]], caption="cap"), Figure("figures/f.png", "the figure")]
    md = to_markdown(blocks)
    assert md.startswith("# A <b>")
    assert "| 1 | 2\\|3 |" in md and "![the figure](figures/f.png)" in md
    html = to_html(blocks, "t")
    assert "A &lt;b&gt;" in html and "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert '<img src="figures/f.png"' in html and "&amp; more" in html
    with unchecked(), pytest.raises(ValueError, match="2 columns"):
        to_markdown([Table(["a", "b"], [["only one"]])])


def test_html_embeds_figures(tmp_path) -> None:
    (tmp_path / "figures").mkdir()
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
    (tmp_path / "figures" / "f.png").write_bytes(png)
    blocks = [Figure("figures/f.png", "here"), Figure("figures/missing.png", "gone")]
    html = to_html(blocks, "t", embed_from=tmp_path)
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' in html
    assert 'src="figures/missing.png"' in html  # not found: stays a link


# --------------------------------------------------------------------------- end to end


def _check_artefacts(out: Path, cfg: StudyConfig) -> None:
    from meanclust_jax._io import load_netcdf
    from meanclust_jax.closures import ConsistentClosure, OptimalApproximation, load_closure
    from meanclust_jax.dataset import load_trajectory
    from meanclust_jax.inference import load_posterior

    records = cfg.records + 1
    for x in cfg.compositions:
        ds = load_trajectory(out / "trajectories" / f"x{x:.4f}.nc")
        for var in ("temperature", "energy", "C_single", "C_pair", "C_triplet", "final_configuration", "snapshot"):
            assert var in ds, var
        assert ds.sizes["replica"] == cfg.replicas and ds.sizes["time"] == records
        assert ds.sizes["row"] == ds.sizes["col"] == cfg.size and ds.sizes["triplet"] == 16
        assert np.allclose(ds["composition"].values, x, atol=1 / cfg.size**2)
    for name in ("OA-hard-1_3", "OA-soft-1_3", "OA-hard-1_2", "OA-soft-1_2"):
        assert isinstance(load_closure(out / "closures" / f"{name}.json"), OptimalApproximation)
    study = load_netcdf(out / "closures" / "study.nc")
    assert study["errors"].shape == (8, len(cfg.compositions), 16)  # + OA-hard-all, consistent-all
    assert isinstance(load_closure(out / "closures" / "consistent-all.json"), ConsistentClosure)
    loco = load_netcdf(out / "closures" / "loco.nc")
    assert list(loco["closure"].values) == ["PA", "OA-hard-LOCO", "consistent-LOCO"]
    assert np.all(np.isfinite(loco["mean_error"].values))
    assert np.all(np.isfinite(study["mean_error"].values))
    for stem, site, dim in (("PA", "k", 8), ("OA-hard-1_2", "k", 8), ("SA", "alpha", 2)):
        # One round each in the quick study; DRAM keeps every drmh_thinning-th iteration.
        for sampler, draws in (("nuts", cfg.nuts_samples), ("drmh", cfg.drmh_samples // cfg.drmh_thinning)):
            idata = load_posterior(out / "posteriors" / f"{stem}.{sampler}.nc")
            post = idata.posterior
            assert post[site].shape == (cfg.chains, draws, dim), (stem, sampler)
            assert "F" in post and np.isfinite(post["F"].values).any()
    figures = sorted(p.name for p in (out / "figures").iterdir())
    from meanclust_jax.reports.study_figures import FIGURES

    # docs/model.md §8, beyond the paper, rate marginals (issue 10): FIGURES; + measured rates (issue 11)
    assert figures == sorted([f for f, _ in FIGURES.values()] + ["fig_measured_rates.png"])
    for f in figures:
        assert (out / "figures" / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f
    report = (out / "report.md").read_text(encoding="utf-8")
    html = (out / "report.html").read_text(encoding="utf-8")
    for f in figures:
        assert f"(figures/{f})" in report, f"report.md does not show {f}"
        data = base64.b64encode((out / "figures" / f).read_bytes()).decode("ascii")
        assert f'src="data:image/png;base64,{data}"' in html, f"report.html does not embed {f}"
    assert 'src="figures/' not in html  # self-contained: no link to a file beside it
    for heading in ("Table II", "Figs. 11, 12", "Figs. 13, 14", "36.13", "Leave-one-composition-out",
                    "Claims audit", "Measured reaction rates", "k7 > k5"):
        assert heading in report
    x13 = load_trajectory(out / "trajectories" / f"x{1 / 3:.4f}.nc")
    assert "rate_measured" in x13 and x13.sizes["reaction"] == 8
    claims = json.loads((out / "audit" / "audit.json").read_text(encoding="utf-8"))
    assert claims and all(set(r) == {"id", "claim", "paper", "ours", "verdict", "reason"} for r in claims)
    for f in ("audit_sensitivity.png", "audit_ordered_state.png"):
        assert f"(audit/figures/{f})" in report


def _numbers(text: str) -> list[str]:
    return re.findall(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)


@pytest.mark.slow
def test_reproduce_quick_end_to_end_resume_and_determinism(tmp_path) -> None:
    cache = tmp_path / "jax-cache"
    cfg = StudyConfig.preset(quick=True)
    a, b = tmp_path / "a", tmp_path / "b"

    # A: one uninterrupted run.
    proc = _run_cli(["--quick", "--out", str(a), "--compile-cache", str(cache), "--no-progress"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for n, stage in enumerate(STAGES, start=1):
        assert f"[{n}/{len(STAGES)} {stage}] done in" in proc.stdout
    _check_artefacts(a, cfg)

    # B: interrupted after the annealing stage, then resumed without re-annealing.
    proc = _run_cli(["--quick", "--out", str(b), "--stop-after", "anneal", "--compile-cache", str(cache),
                     "--no-progress"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.stem for p in (b / "stages").iterdir()) == ["anneal"]
    assert not (b / "report.md").exists()
    trajectories = sorted((b / "trajectories").iterdir())
    stamps = {p: p.stat().st_mtime_ns for p in trajectories}

    # Ctrl-C inside the inference stage, once the first posterior is on disk: one line on stderr.
    args = CLI + ["--quick", "--out", str(b), "--compile-cache", str(cache), "--no-progress"]
    live = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "JAX_PLATFORMS": "cpu"})
    first = b / "posteriors" / "PA.nuts.nc"
    t0 = time.time()
    while not first.exists() and live.poll() is None and time.time() - t0 < 600:
        time.sleep(0.5)
    assert first.exists(), live.communicate()[1][-3000:]
    live.send_signal(signal.SIGINT)
    out_text, err_text = live.communicate(timeout=600)
    assert live.returncode == 130, err_text[-3000:]
    assert f"[1/{len(STAGES)} anneal] already done, skipped" in out_text
    lines = err_text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err_text, err_text[-3000:]
    assert lines[0].startswith("meanclust reproduce: interrupted: finished stages anneal, closures are saved")
    assert "(stopped during inference)" in lines[0] and "run the same command again to resume" in lines[0]
    assert not (b / ".reproduce.lock").exists()

    # The rerun resumes inside the inference stage: what is on disk is reused, not redone.
    proc = _run_cli(["--quick", "--out", str(b), "--compile-cache", str(cache), "--no-progress"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"[1/{len(STAGES)} anneal] already done, skipped" in proc.stdout
    assert f"[2/{len(STAGES)} closures] already done, skipped" in proc.stdout
    assert f"[1/{len(STAGES)} anneal] started" not in proc.stdout
    assert "PA: point estimate Y1 already on disk, reused" in proc.stdout
    assert "PA: nuts posterior already on disk, reused" in proc.stdout
    assert {p: p.stat().st_mtime_ns for p in trajectories} == stamps

    # Same seed, same numbers: the interrupted-and-resumed study equals the uninterrupted one.
    report_a = (a / "report.md").read_text(encoding="utf-8")
    report_b = (b / "report.md").read_text(encoding="utf-8")
    assert _numbers(report_a) == _numbers(report_b)
    assert report_a == report_b
    for stage in STAGES:
        assert json.loads((a / "stages" / f"{stage}.json").read_text()) == json.loads(
            (b / "stages" / f"{stage}.json").read_text()), stage
