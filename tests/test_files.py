"""The file policies of issue 14: no silent overwrite (``--force``), orphan temporary files
removed, symbolic links replaced and never written through, one study per folder (lock), Ctrl-C
ends with one line saying what was saved, and the study's inference stage resumes per posterior."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import unchecked

import meanclust_jax as mc
from meanclust_jax._io import STALE_TMP_SECONDS, atomic_path, lock_file, remove_stale_tmp, write_text_atomic
from meanclust_jax.cli import main
from meanclust_jax.study import LOCK_NAME, StudyConfig, posterior_exists, saved_result
from meanclust_jax.study._resume import mark_posterior, result_settings, save_result

ANNEAL = ["anneal", "--rows", "12", "--cols", "12", "--schedule", "constant:T=1,sweeps=4", "--no-progress"]


def _dead_pid() -> int:
    """The process id of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --------------------------------------------------------------------------- overwrite


def test_existing_output_needs_force_and_a_link_is_replaced_not_its_target(tmp_path, capsys):
    out = tmp_path / "run.nc"
    assert main(ANNEAL + ["--out", str(out)]) == 0
    first = out.read_bytes()
    assert main(ANNEAL + ["--seed", "1", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == first
    assert main(ANNEAL + ["--seed", "1", "--force", "--out", str(out)]) == 0
    assert out.read_bytes() != first  # replaced, as asked

    target = tmp_path / "target.nc"
    target.write_text("the link's target")
    link = tmp_path / "link.nc"
    link.symlink_to(target)
    assert main(ANNEAL + ["--out", str(link)]) == 2
    assert "is a link" in capsys.readouterr().err
    assert main(ANNEAL + ["--overwrite", "--out", str(link)]) == 0
    assert not link.is_symlink() and mc.load_trajectory(link).sizes["time"] >= 2
    assert target.read_text() == "the link's target"


# --------------------------------------------------------------------------- orphan temporary files


def test_stale_temporary_files_of_the_same_target_are_removed(tmp_path):
    target = tmp_path / "out.json"
    dead = tmp_path / f".out.json.pid{_dead_pid()}.abc123.tmp"
    live = tmp_path / f".out.json.pid{os.getpid()}.def456.tmp"
    old_style = tmp_path / ".out.json.k2j4h5.tmp"
    young_old_style = tmp_path / ".out.json.zz9zz9.tmp"
    other = tmp_path / f".out.json.bak.pid{_dead_pid()}.ghi789.tmp"  # another target's
    for p in (dead, live, old_style, young_old_style, other):
        p.write_text("partial")
    past = time.time() - 2 * STALE_TMP_SECONDS
    os.utime(old_style, (past, past))
    write_text_atomic(target, "{}")
    assert target.read_text() == "{}"
    assert not dead.exists() and not old_style.exists()
    assert live.exists() and young_old_style.exists() and other.exists()
    assert remove_stale_tmp(target) == []


def test_atomic_write_leaves_no_temporary_file_on_error_or_interrupt(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    for exc in (RuntimeError, KeyboardInterrupt):
        with pytest.raises(exc), atomic_path(target) as tmp:
            tmp.write_text("half")
            raise exc
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


# --------------------------------------------------------------------------- symbolic links


def test_checkpoint_is_read_through_a_link_and_saving_replaces_the_link(tmp_path):
    kw = dict(schedule=mc.schedules.constant(1.0, 8), composition=1 / 3, record_every=1,
              records_per_chunk=2, progress=False)
    lattice = mc.TriangularLattice(12, 12)
    full = mc.anneal(3, lattice, **kw)

    real = tmp_path / "real.npz"

    def stop(done, _total):
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mc.anneal(3, lattice, checkpoint=real, callback=stop, **kw)
    saved = real.read_bytes()
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    resumed = mc.anneal(3, lattice, checkpoint=link, **kw)
    np.testing.assert_array_equal(resumed["C_triplet"].values, full["C_triplet"].values)
    assert not link.is_symlink()  # the first save replaced the link ...
    assert real.read_bytes() == saved  # ... and never wrote through it


# --------------------------------------------------------------------------- lock


def test_lock_refuses_a_live_holder_and_takes_over_a_stale_one(tmp_path):
    lock = tmp_path / LOCK_NAME
    with lock_file(lock, "--out 'x'"):
        held = json.loads(lock.read_text())
        assert held["pid"] == os.getpid()
        busy = rf"--out 'x' is in use by another run \(process {os.getpid()}"
        with unchecked(), pytest.raises(ValueError, match=busy), lock_file(lock, "--out 'x'"):
            pass
        assert lock.exists()  # the refused attempt left the holder's lock alone
    assert not lock.exists()  # released

    lock.write_text(json.dumps({"pid": _dead_pid(), "host": os.uname().nodename, "started": "yesterday"}))
    with lock_file(lock, "--out 'x'"):  # stale: its process has ended
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()


def test_second_reproduce_in_the_same_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "study"
    out.mkdir()
    with lock_file(out / LOCK_NAME, f"--out {str(out)!r}"):
        rc = main(["reproduce", "--quick", "--compile-cache", "none", "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "is in use by another run" in err and len(err.strip().splitlines()) == 1
    assert not (out / "study.json").exists()


# --------------------------------------------------------------------------- Ctrl-C


def test_sigint_during_anneal_says_what_was_saved(tmp_path):
    ckpt, out = tmp_path / "run.ckpt.npz", tmp_path / "run.nc"
    cmd = [sys.executable, "-m", "meanclust_jax.cli", "anneal", "--rows", "12", "--cols", "12",
           "--schedule", "constant:T=1,sweeps=2000000", "--record-every", "1000", "--no-progress",
           "--checkpoint", str(ckpt), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "JAX_PLATFORMS": "cpu"})
    t0 = time.time()
    while not ckpt.exists() and proc.poll() is None and time.time() - t0 < 120:
        time.sleep(0.2)
    assert ckpt.exists(), proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("meanclust anneal: interrupted: --out was not written; the checkpoint")
    assert "finished chunk" in lines[0] and "rerun the same command to resume" in lines[0]
    assert not out.exists()


def test_sigint_during_reproduce_says_what_was_saved(tmp_path, monkeypatch, capsys):
    from meanclust_jax.study import _runner

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setitem(_runner._STAGE_FUNCTIONS, "anneal", interrupted)
    out = tmp_path / "study"
    rc = main(["reproduce", "--quick", "--compile-cache", "none", "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 130 and len(err) == 1
    assert err[0].startswith("meanclust reproduce: interrupted: no stage had finished")
    assert "(stopped during anneal)" in err[0] and "run the same command again to resume" in err[0]
    assert not (out / LOCK_NAME).exists()  # the lock is released on the way out


# --------------------------------------------------------------------------- resume inside a stage


def test_posterior_exists_only_for_the_same_settings(tmp_path):
    import arviz as az

    from meanclust_jax.inference import save_posterior

    cfg = StudyConfig.preset(quick=True)
    settings = result_settings(cfg, stage="inference", closure="PA", sampler="nuts")
    idata = az.from_dict(posterior={"k": np.ones((1, 3, 8)), "F": np.ones((1, 3))})
    path = tmp_path / "PA.nuts.nc"
    assert not posterior_exists(path, settings)
    save_posterior(mark_posterior(idata, settings), path)
    assert posterior_exists(path, settings)
    assert not posterior_exists(path, {**settings, "sampler": "drmh"})
    other = result_settings(StudyConfig.preset(quick=True, seed=1), stage="inference", closure="PA",
                            sampler="nuts")
    assert not posterior_exists(path, other)
    path.write_bytes(path.read_bytes()[:200])  # truncated by a crash: redone, not an error
    assert not posterior_exists(path, settings)

    point = tmp_path / "PA.point.json"
    assert saved_result(point, settings) is None
    save_result(point, settings, {"Y1": [0.1] * 8, "F_Y1": 2.5})
    assert saved_result(point, settings) == {"Y1": [0.1] * 8, "F_Y1": 2.5}
    assert saved_result(point, other) is None
    point.write_text("{")
    assert saved_result(point, settings) is None


def test_a_swallowed_ctrl_c_is_honoured_at_the_next_safe_point(capsys):
    """A KeyboardInterrupt raised where Python cannot propagate it (a ``__del__``, a gc callback)
    or caught by a library is recorded; ``check()`` raises it, and nothing is printed."""
    from meanclust_jax.cli._common import sigint_checkpoints

    class Dies:
        def __del__(self):
            signal.raise_signal(signal.SIGINT)

    with sigint_checkpoints() as check:
        check()  # nothing recorded yet
        Dies()  # the interrupt lands in __del__: "ignored" by Python
        with pytest.raises(KeyboardInterrupt):
            check()
    assert "KeyboardInterrupt" not in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
