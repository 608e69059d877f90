"""Bad input is refused before any work (issue 14): a table of bad command lines and API calls.

Every CLI case runs ``meanclust_jax.cli.main`` in this process and asserts a non-zero exit, a
message that names the parameter and its allowed range (or what to do), one line on stderr with
no traceback, and that no output file was created or changed. Every API case asserts a
`ValueError` with such a message. Both run with the test-time type checking of the annotations
switched off (`helpers.unchecked`), as a user runs them, so that our own validators answer.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from pathlib import Path

import jax
import numpy as np
import pytest
from helpers import unchecked

import meanclust_jax as mc
from meanclust_jax.cli import main

SEED_RANGE = "[0, 18446744073709551615]"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Inputs shared by the cases: trajectories with 1 and 2 replicas, a closure, bad files."""
    d = tmp_path_factory.mktemp("inputs")
    ds = mc.anneal(jax.random.key(0), mc.TriangularLattice(12, 12), schedule=mc.schedules.constant(1.0, 20),
                   composition=1 / 3, replicas=2, record_every=5, progress=False)
    mc.save_trajectory(ds, d / "run2.nc")
    mc.save_trajectory(ds.isel(replica=0, drop=True), d / "run1.nc")
    bad = ds.isel(replica=0, drop=True).copy(deep=True)
    bad["C_pair"][1, 0] = 1.7  # C++ outside [0, 1]
    mc.save_trajectory(bad, d / "c_outside.nc")
    raw = (d / "run1.nc").read_bytes()
    (d / "truncated.nc").write_bytes(raw[: len(raw) // 2])
    (d / "empty.nc").write_bytes(b"")
    (d / "empty.npz").write_bytes(b"")
    (d / "truncated.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    (d / "folder").mkdir()

    closure = mc.closures.OptimalApproximation.from_closure(mc.closures.PairApproximation())
    good = closure.to_json_dict()
    (d / "pa.json").write_text(json.dumps(good))

    def variant(name, edit):
        data = json.loads(json.dumps(good))
        edit(data)
        (d / name).write_text(json.dumps(data))

    variant("null_exponent.json", lambda x: x["exponents"]["lin:+++"]["gamma"].update({"++": None}))
    variant("list_exponent.json", lambda x: x["exponents"]["lin:+++"]["xi"].update({"+": [1.0]}))

    def negative_gamma(x):
        x["bounds"] = {"beta1": 0.0, "beta2": 2.0, "delta": 2.0}
        x["exponents"]["lin:+++"]["gamma"]["++"] = -0.5
        x["exponents"]["lin:+++"]["xi"]["+"] = -1.5

    variant("breaks_bounds.json", negative_gamma)
    variant("beta1_above_beta2.json", lambda x: x.update(bounds={"beta1": 3.0, "beta2": 1.0, "delta": 2.0}))
    variant("unknown_kind.json", lambda x: x.update(kind="magic"))
    (d / "truncated.json").write_text(json.dumps(good)[:100])
    (d / "empty.json").write_text("")
    (d / "sweeps.csv").write_text("T,sweeps\n1.0,10\n0.5,2.7\n")
    return d


def _state(folder: Path) -> dict[str, tuple[int, int] | str]:
    """Every file under ``folder`` (hidden ones included) with its size and modification time,
    and every sub-folder."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else "folder"
            for p in sorted(folder.rglob("*"))}


def run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse
            rc = exc.code
    return rc, err.getvalue()


# --------------------------------------------------------------------------- the CLI table
# (id, argv with {in}/{out} placeholders, fragments the message must contain, files to create
# in the output folder before the call: {name: text})

ANNEAL = ["anneal", "--rows", "12", "--cols", "12", "--schedule", "constant:T=1,sweeps=4", "--no-progress"]
FIT = ["fit-closures", "{in}/run1.nc", "--starts", "1"]
INFER = ["infer-rates", "{in}/run1.nc", "--closure", "pa", "--samples", "4", "--starts", "1",
         "--opt-steps", "1", "--no-progress"]
REPRO = ["reproduce", "--quick", "--compile-cache", "none", "--no-progress"]
AUDIT = ["audit", "--quick", "--no-progress"]

CLI_CASES = [
    # anneal
    ("anneal-composition-nan", ANNEAL + ["--composition", "nan", "--out", "{out}/o.nc"], ["--composition", "1/3"], {}),
    ("anneal-composition-1.5", ANNEAL + ["--composition", "1.5", "--out", "{out}/o.nc"], ["composition", "(0, 1)"], {}),
    ("anneal-composition-no-site", ANNEAL + ["--composition", "0.001", "--out", "{out}/o.nc"], ["composition", "leaves no site"], {}),
    ("anneal-rows-0", ANNEAL + ["--rows", "0", "--out", "{out}/o.nc"], ["--rows", ">= 1"], {}),
    ("anneal-rows-10", ANNEAL + ["--rows", "10", "--out", "{out}/o.nc"], ["rows=10", "multiple of 3 or of 4"], {}),
    ("anneal-global-3x3", ANNEAL + ["--rows", "9", "--cols", "9", "--moves", "global", "--out", "{out}/o.nc"], ["global", "4"], {}),
    ("anneal-replicas-0", ANNEAL + ["--replicas", "0", "--out", "{out}/o.nc"], ["--replicas", ">= 1"], {}),
    ("anneal-replicas-abc", ANNEAL + ["--replicas", "abc", "--out", "{out}/o.nc"], ["--replicas", "integer >= 1"], {}),
    ("anneal-record-every-0", ANNEAL + ["--record-every", "0", "--out", "{out}/o.nc"], ["--record-every", ">= 1"], {}),
    ("anneal-snapshots-neg", ANNEAL + ["--snapshots", "-1", "--out", "{out}/o.nc"], ["--snapshots", ">= 0"], {}),
    ("anneal-seed-neg", ANNEAL + ["--seed", "-1", "--out", "{out}/o.nc"], ["--seed", SEED_RANGE], {}),
    ("anneal-seed-2**64", ANNEAL + ["--seed", str(2**64), "--out", "{out}/o.nc"], ["--seed", SEED_RANGE], {}),
    ("anneal-sweeps-nan", ANNEAL + ["--schedule", "constant:T=1,sweeps=nan", "--out", "{out}/o.nc"], ["sweeps", "[1, 2147483647]"], {}),
    ("anneal-paper-sweeps-1e30", ANNEAL + ["--schedule", "paper:sweeps=1e30", "--out", "{out}/o.nc"], ["sweeps", "[1, 2147483647]"], {}),
    ("anneal-T-negative", ANNEAL + ["--schedule", "constant:T=-1,sweeps=4", "--out", "{out}/o.nc"], ["T", "> 0"], {}),
    ("anneal-schedule-unknown", ANNEAL + ["--schedule", "warm:T=1", "--out", "{out}/o.nc"], ["schedule", "constant:T="], {}),
    ("anneal-csv-2.7-sweeps", ANNEAL + ["--schedule", "{in}/sweeps.csv", "--out", "{out}/o.nc"], ["line 3", "sweeps", "integer", "2.7"], {}),
    ("anneal-out-folder", ANNEAL + ["--out", "{out}"], ["--out", "existing folder"], {}),
    ("anneal-out-empty", ANNEAL + ["--out", ""], ["--out", "file name"], {}),
    ("anneal-out-missing-folder", ANNEAL + ["--out", "{out}/no/such/o.nc"], ["--out", "does not exist"], {}),
    ("anneal-out-exists", ANNEAL + ["--out", "{out}/o.nc"], ["--out", "exists", "--force"], {"o.nc": "keep me"}),
    ("anneal-checkpoint-is-out", ANNEAL + ["--checkpoint", "{out}/o.nc", "--out", "{out}/o.nc"], ["--checkpoint", "--out"], {}),
    ("anneal-checkpoint-empty", ANNEAL + ["--checkpoint", "{in}/empty.npz", "--out", "{out}/o.nc"], ["empty.npz", "empty", "checkpoint"], {}),
    ("anneal-checkpoint-truncated", ANNEAL + ["--checkpoint", "{in}/truncated.npz", "--out", "{out}/o.nc"], ["truncated.npz", "not a readable checkpoint"], {}),
    ("anneal-checkpoint-netcdf", ANNEAL + ["--checkpoint", "{in}/run1.nc", "--out", "{out}/o.nc"], ["run1.nc", "not a readable checkpoint"], {}),
    ("anneal-checkpoint-folder", ANNEAL + ["--checkpoint", "{in}/folder", "--out", "{out}/o.nc"], ["checkpoint", "folder"], {}),
    ("anneal-memory-sites", ANNEAL + ["--rows", "1000002", "--cols", "1000002", "--out", "{out}/o.nc"], ["needs about", "GiB", "available", "1000002x1000002"], {}),
    ("anneal-memory-records", ANNEAL + ["--schedule", "constant:T=1,sweeps=2000000000", "--record-every", "1", "--out", "{out}/o.nc"], ["needs about", "GiB", "available", "--record-every"], {}),
    # fit-closures
    ("fit-digits-neg", FIT + ["--digits", "-1", "--out", "{out}/c.json"], ["--digits", "[0, 15]"], {}),
    ("fit-delta-minus-inf", FIT + ["--delta=-inf", "--out", "{out}/c.json"], ["--delta", "finite number", "'inf'"], {}),
    ("fit-beta2-minus-inf", FIT + ["--beta2=-inf", "--out", "{out}/c.json"], ["--beta2", "finite number"], {}),
    ("fit-beta1-plus-inf", FIT + ["--beta1=inf", "--out", "{out}/c.json"], ["--beta1", "finite number", "'-inf'"], {}),
    ("fit-beta1-above-beta2", FIT + ["--beta1", "3", "--beta2", "1", "--out", "{out}/c.json"], ["--beta1/--beta2/--delta", "beta1 <= beta2"], {}),
    ("fit-delta-negative", FIT + ["--delta", "-1", "--out", "{out}/c.json"], ["--beta1/--beta2/--delta", "delta >= 0"], {}),
    ("fit-starts-0", FIT + ["--starts", "0", "--out", "{out}/c.json"], ["--starts", ">= 1"], {}),
    ("fit-seed-neg", FIT + ["--seed", "-3", "--out", "{out}/c.json"], ["--seed", SEED_RANGE], {}),
    ("fit-regularization", FIT + ["--regularization", "medium", "--out", "{out}/c.json"], ["--regularization", "hard"], {}),
    ("fit-run-missing", ["fit-closures", "{in}/nope.nc", "--out", "{out}/c.json"], ["nope.nc", "no such"], {}),
    ("fit-run-empty", ["fit-closures", "{in}/empty.nc", "--out", "{out}/c.json"], ["empty.nc", "empty"], {}),
    ("fit-run-truncated", ["fit-closures", "{in}/truncated.nc", "--out", "{out}/c.json"], ["truncated.nc", "not a readable"], {}),
    ("fit-run-is-json", ["fit-closures", "{in}/pa.json", "--out", "{out}/c.json"], ["pa.json", "not a readable"], {}),
    ("fit-run-C-outside", ["fit-closures", "{in}/c_outside.nc", "--out", "{out}/c.json"], ["C_pair", "[0, 1]"], {}),
    ("fit-out-exists", FIT + ["--out", "{out}/c.json"], ["--out", "exists", "--force"], {"c.json": "{}"}),
    ("fit-out-folder", FIT + ["--out", "{out}"], ["--out", "existing folder"], {}),
    # evaluate-closures
    ("eval-closure-missing", ["evaluate-closures", "{in}/nope.json", "{in}/run1.nc"], ["nope.json", "no such closure file"], {}),
    ("eval-null-exponent", ["evaluate-closures", "{in}/null_exponent.json", "{in}/run1.nc"], ["exponents['lin:+++']['gamma']['++']", "finite number", "None"], {}),
    ("eval-list-exponent", ["evaluate-closures", "{in}/list_exponent.json", "{in}/run1.nc"], ["exponents['lin:+++']['xi']['+']", "finite number"], {}),
    ("eval-breaks-own-bounds", ["evaluate-closures", "{in}/breaks_bounds.json", "{in}/run1.nc"], ["own \"bounds\"", "0 <= gamma <= delta", "lin:+++"], {}),
    ("eval-beta1-above-beta2", ["evaluate-closures", "{in}/beta1_above_beta2.json", "{in}/run1.nc"], ["beta1 <= beta2"], {}),
    ("eval-unknown-kind", ["evaluate-closures", "{in}/unknown_kind.json", "{in}/run1.nc"], ["kind", "magic"], {}),
    ("eval-truncated-json", ["evaluate-closures", "{in}/truncated.json", "{in}/run1.nc"], ["truncated.json", "not valid JSON"], {}),
    ("eval-empty-json", ["evaluate-closures", "{in}/empty.json", "{in}/run1.nc"], ["empty.json", "empty"], {}),
    ("eval-closure-folder", ["evaluate-closures", "{in}/folder", "{in}/run1.nc"], ["folder", "not a closure"], {}),
    ("eval-run-truncated", ["evaluate-closures", "pair", "{in}/truncated.nc"], ["truncated.nc", "not a readable"], {}),
    # infer-rates
    ("infer-replica-abc", INFER + ["--replica", "abc", "--out", "{out}/p.nc"], ["--replica", "'mean' or a replica index >= 0"], {}),
    ("infer-replica-5-of-1", INFER + ["--replica", "5", "--out", "{out}/p.nc"], ["replica=5", "single trajectory", "'mean' or 0"], {}),
    ("infer-replica-5-of-2", ["infer-rates", "{in}/run2.nc", "--closure", "pa", "--replica", "5", "--out", "{out}/p.nc"], ["replica", "[0, 1]"], {}),
    ("infer-beta-neg", INFER + ["--beta", "-1", "--out", "{out}/p.nc"], ["--beta", "> 0"], {}),
    ("infer-beta-nan", INFER + ["--beta", "nan", "--out", "{out}/p.nc"], ["--beta", "finite number > 0"], {}),
    ("infer-upper-nan", INFER + ["--upper", "nan", "--out", "{out}/p.nc"], ["--upper", "finite number > 0"], {}),
    ("infer-upper-0", INFER + ["--upper", "0", "--out", "{out}/p.nc"], ["--upper", "> 0"], {}),
    ("infer-time-scale-0", INFER + ["--time-scale", "0", "--out", "{out}/p.nc"], ["--time-scale", "> 0"], {}),
    ("infer-weight-a-neg", INFER + ["--weight-a", "-1", "--out", "{out}/p.nc"], ["--weight-a", ">= 0"], {}),
    ("infer-samples-0", INFER + ["--samples", "0", "--out", "{out}/p.nc"], ["--samples", ">= 1"], {}),
    ("infer-chains-0", INFER + ["--chains", "0", "--out", "{out}/p.nc"], ["--chains", ">= 1"], {}),
    ("infer-warmup-neg", INFER + ["--warmup", "-1", "--out", "{out}/p.nc"], ["--warmup", ">= 0"], {}),
    ("infer-starts-0", INFER + ["--starts", "0", "--out", "{out}/p.nc"], ["--starts", ">= 1"], {}),
    ("infer-seed-2**64", INFER + ["--seed", str(2**64), "--out", "{out}/p.nc"], ["--seed", SEED_RANGE], {}),
    ("infer-out-folder", INFER + ["--out", "{out}"], ["--out", "existing folder"], {}),
    ("infer-out-exists", INFER + ["--out", "{out}/p.nc"], ["--out", "exists", "--force"], {"p.nc": "keep"}),
    ("infer-both-out-exists", INFER + ["--sampler", "both", "--out", "{out}/p.nc"], ["p.drmh.nc", "--force"], {"p.drmh.nc": "keep"}),
    ("infer-closure-missing", INFER[:3] + ["{in}/nope.json", "--out", "{out}/p.nc"], ["--closure", "'pa', 'sa'"], {}),
    ("infer-figures-is-file", INFER + ["--figures", "{out}/fig", "--out", "{out}/p.nc"], ["--figures", "not a folder"], {"fig": "x"}),
    ("infer-figures-exist", INFER + ["--figures", "{out}/figs", "--out", "{out}/p.nc"], ["--figures", "loss_histograms_pa.png", "--force"],
     {"figs/loss_histograms_pa.png": "png"}),
    ("infer-C-outside", ["infer-rates", "{in}/c_outside.nc", "--closure", "pa", "--out", "{out}/p.nc"], ["C_pair", "[0, 1]"], {}),
    # reproduce
    ("reproduce-size-10", REPRO + ["--size", "10", "--out", "{out}/s"], ["--size", ">= 12"], {}),
    ("reproduce-size-13", REPRO + ["--size", "13", "--out", "{out}/s"], ["--size 13", "multiple of 3 or 4"], {}),
    ("reproduce-size-abc", REPRO + ["--size", "abc", "--out", "{out}/s"], ["--size", "integer lattice side"], {}),
    ("reproduce-size-1e6", REPRO + ["--size", "1000002", "--out", "{out}/s"], ["--size 1000002", "needs about", "GiB", "available"], {}),
    ("reproduce-out-is-file", REPRO + ["--out", "{out}/s"], ["--out", "not a folder"], {"s": "x"}),
    ("reproduce-seed-neg", REPRO + ["--seed", "-1", "--out", "{out}/s"], ["--seed", SEED_RANGE], {}),
    ("reproduce-stop-after", REPRO + ["--stop-after", "lunch", "--out", "{out}/s"], ["--stop-after", "anneal"], {}),
    ("reproduce-other-settings", REPRO + ["--out", "{out}"], ["other settings", "--force"], {"study.json": json.dumps({"size": 48})}),
    ("reproduce-settings-truncated", REPRO + ["--out", "{out}"], ["study.json", "not readable JSON", "--force"], {"study.json": '{"size": 4'}),
    ("reproduce-locked", REPRO + ["--out", "{out}"], ["in use by another run", f"process {os.getpid()}"],
     {".reproduce.lock": json.dumps({"pid": os.getpid(), "host": os.uname().nodename, "started": "now"})}),
    # audit
    ("audit-size-20", AUDIT + ["--size", "20", "--out", "{out}/a"], ["--size", ">= 24"], {}),
    ("audit-size-30", AUDIT + ["--size", "30", "--out", "{out}/a"], ["--size 30", "multiple of 4"], {}),
    ("audit-out-is-file", AUDIT + ["--out", "{out}/a"], ["--out", "not a folder"], {"a": "x"}),
    ("audit-out-has-audit", AUDIT + ["--out", "{out}"], ["already holds an audit", "--force"], {"audit.json": "[]"}),
    ("audit-study-unfinished", AUDIT + ["--study", "{in}", "--out", "{out}/a"], ["--study", "no finished anneal stage"], {}),
    ("audit-seed-neg", AUDIT + ["--seed", "-1", "--out", "{out}/a"], ["--seed", SEED_RANGE], {}),
]


@pytest.mark.parametrize(("argv", "fragments", "existing"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_refuses(files, tmp_path, argv, fragments, existing):
    out = tmp_path / "out"
    out.mkdir()
    for name, text in existing.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    before = _state(out)
    argv = [a.replace("{in}", str(files)).replace("{out}", str(out)) for a in argv]
    with unchecked():  # as a user runs it: our validators answer, not the test-time type checker
        rc, err = run_cli(argv)
    assert rc not in (0, None), err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"meanclust {argv[0]}: error: "), err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert "allow_pickle" not in err and "BadZipFile" not in err
    assert _state(out) == before  # nothing created, changed or removed


def test_cli_unwritable_out_folder(files):
    """A folder the process cannot write (here a read-only system folder) is found before work."""
    folder = Path("/sys")
    if not folder.is_dir():
        pytest.skip("no read-only /sys on this system")
    rc, err = run_cli(INFER[:1] + [str(files / "run1.nc"), "--closure", "pa", "--out", str(folder / "p.nc")])
    assert rc == 2 and "--out" in err and "is not writable" in err and "Traceback" not in err


def test_cli_table_is_large_enough():
    assert len(CLI_CASES) + len(API_CASES) >= 60
    assert {c[1][0] for c in CLI_CASES} == {"anneal", "fit-closures", "evaluate-closures", "infer-rates", "reproduce",
                                            "audit"}


# --------------------------------------------------------------------------- the API table


def _pairdata(C_pair=None, C_single=(2 / 3, 1 / 3)):
    t = np.linspace(0.0, 10.0, 4)
    C = np.tile([0.4, 0.1, 0.25], (4, 1)) if C_pair is None else C_pair
    return mc.inference.PairData(t, np.asarray(C_single), np.asarray(C, dtype=float))


def _problem():
    return mc.inference.make_problem(_pairdata(), mc.closures.PairApproximation())


def _anneal(**kw):
    args = dict(schedule=mc.schedules.constant(1.0, 2), composition=1 / 3, progress=False)
    args.update(kw)
    key = args.pop("key", 0)
    return mc.anneal(key, mc.TriangularLattice(12, 12), **args)


def _load_bad_closure(files, name):
    return mc.closures.load_closure(files / name)


API_CASES = [
    ("anneal-records_per_chunk-0", lambda f: _anneal(records_per_chunk=0), ["records_per_chunk", ">= 1"]),
    ("anneal-key-string", lambda f: _anneal(key="abc"), ["key", "int seed in [0, 2**64 - 1]"]),
    ("anneal-key-float", lambda f: _anneal(key=1.5), ["key", "int seed"]),
    ("anneal-seed-neg", lambda f: _anneal(key=-1), ["key", SEED_RANGE]),
    ("anneal-seed-2**64", lambda f: _anneal(key=2**64), ["key", SEED_RANGE]),
    ("anneal-callback-int", lambda f: _anneal(callback=5), ["callback", "function"]),
    ("anneal-initial-255", lambda f: _anneal(initial=np.where(np.arange(144).reshape(12, 12) < 48, 255, 1).astype(np.uint8)),
     ["initial", "+1", "-1", "255"]),
    ("anneal-initial-bool", lambda f: _anneal(initial=np.ones((12, 12), bool)), ["initial", "dtype bool"]),
    ("anneal-initial-shape", lambda f: _anneal(initial=np.ones((6, 6), np.int8)), ["initial", "shape"]),
    ("anneal-checkpoint-folder", lambda f: _anneal(checkpoint=f / "folder"), ["checkpoint", "folder"]),
    ("anneal-checkpoint-empty", lambda f: _anneal(checkpoint=f / "empty.npz"), ["checkpoint", "empty"]),
    ("anneal-memory", lambda f: mc.anneal(0, mc.TriangularLattice(1000002, 1000002), schedule=mc.schedules.constant(1.0, 1),
                                         composition=0.5, progress=False), ["needs about", "GiB", "available"]),
    ("anneal-replicas-0", lambda f: _anneal(replicas=0), ["replicas", ">= 1"]),
    ("schedule-scaled-neg", lambda f: mc.schedules.paper(10).scaled(-1), ["factor", "> 0"]),
    ("schedule-scaled-nan", lambda f: mc.schedules.paper(10).scaled(math.nan), ["factor", "> 0"]),
    ("schedule-sweeps-nan", lambda f: mc.schedules.constant(1.0, math.nan), ["sweeps", "[1, 2147483647]"]),
    ("schedule-sweeps-2.7", lambda f: mc.schedules.constant(1.0, 2.7), ["sweeps", "integer", "2.7"]),
    ("schedule-paper-1e30", lambda f: mc.schedules.paper(1e30), ["sweeps_per_step", "[1, 195225786]"]),
    ("schedule-too-long", lambda f: mc.schedules.from_steps([(1.0, 2**31 - 1), (0.5, 1)]), ["total sweeps", "2147483647"]),
    ("lattice-rows-0", lambda f: mc.TriangularLattice(0, 12), ["rows", "multiple of 3 or of 4"]),
    ("pairdata-C-1.7", lambda f: _pairdata(C_pair=np.tile([1.7, 0.1, 0.25], (4, 1))), ["C_pair", "[0, 1]"]),
    ("pairdata-C-neg", lambda f: _pairdata(C_pair=np.tile([-0.5, 0.1, 0.25], (4, 1))), ["C_pair", "[0, 1]"]),
    ("pairdata-C-3.0", lambda f: _pairdata(C_pair=np.tile([0.4, 3.0, 0.25], (4, 1))), ["C_pair", "[0, 1]"]),
    ("pairdata-C_single-0", lambda f: _pairdata(C_single=(1.0, 0.0)), ["C_single", "(0, 1]"]),
    ("pairdata-replica-5-of-1", lambda f: mc.inference.PairData.from_dataset(mc.load_trajectory(f / "run1.nc"), replica=5),
     ["replica=5", "'mean' or 0"]),
    ("pairdata-replica-string", lambda f: mc.inference.PairData.from_dataset(mc.load_trajectory(f / "run2.nc"), replica="first"),
     ["replica", "'mean' or an integer in [0, 1]"]),
    ("infer_rates-init-nan", lambda f: mc.inference.infer_rates(_problem(), jax.random.key(0), init=np.full(8, np.nan)),
     ["init", "8 finite rates"]),
    ("infer_rates-upper-below-init", lambda f: mc.inference.infer_rates(_problem(), jax.random.key(0), init=np.ones(8), upper=0.5),
     ["upper", "initial point", "prior must contain it"]),
    ("infer_rates-paper-upper-below-init", lambda f: mc.inference.infer_rates(
        _problem(), jax.random.key(0), likelihood="paper", init=np.ones(8), upper=0.5),
     ["upper", "initial point", "prior must contain it"]),
    ("infer_rates-beta-0", lambda f: mc.inference.infer_rates(_problem(), jax.random.key(0), likelihood="paper",
                                                              beta=0.0), ["beta", "> 0"]),
    ("infer_rates-beta-gaussian", lambda f: mc.inference.infer_rates(_problem(), jax.random.key(0), beta=2.0),
     ["beta", "likelihood='paper' only"]),
    ("infer_rates-likelihood", lambda f: mc.inference.infer_rates(_problem(), jax.random.key(0), likelihood="poisson"),
     ["likelihood", "'gaussian', 'paper'"]),
    ("infer_rates-chains-0", lambda f: mc.inference.infer_rates(_problem(), jax.random.key(0), num_chains=0),
     ["num_chains", ">= 1"]),
    ("infer_rates-upper-inf", lambda f: mc.inference.infer_rates(_problem(), jax.random.key(0), upper=math.inf), ["upper", "finite"]),
    ("infer_sparse-bound-neg", lambda f: mc.inference.infer_sparse(_pairdata(), jax.random.key(0), bound=-1.0), ["bound", "> 0"]),
    ("multistart-starts-0", lambda f: mc.inference.multistart(_problem(), jax.random.key(0), num_starts=0), ["num_starts", ">= 1"]),
    ("make_problem-weight-neg", lambda f: mc.inference.make_problem(_pairdata(), mc.closures.PairApproximation(), weight_a=-1.0),
     ["weight_a", "[0, inf)"]),
    ("load_trajectory-empty", lambda f: mc.load_trajectory(f / "empty.nc"), ["empty.nc", "empty"]),
    ("load_trajectory-truncated", lambda f: mc.load_trajectory(f / "truncated.nc"), ["truncated.nc", "not a readable"]),
    ("load_trajectory-folder", lambda f: mc.load_trajectory(f / "folder"), ["folder", "not a"]),
    ("load_posterior-truncated", lambda f: mc.inference.load_posterior(f / "truncated.nc"), ["truncated.nc", "not a readable posterior"]),
    ("load_closure-null", lambda f: _load_bad_closure(f, "null_exponent.json"), ["exponents['lin:+++']['gamma']['++']", "finite number"]),
    ("load_closure-list", lambda f: _load_bad_closure(f, "list_exponent.json"), ["exponents['lin:+++']['xi']['+']", "finite number"]),
    ("load_closure-bounds", lambda f: _load_bad_closure(f, "breaks_bounds.json"), ["own \"bounds\"", "lin:+++"]),
    ("resolve_bounds-beta2-minus-inf", lambda f: mc.closures.resolve_bounds("soft", {"beta2": -math.inf}), ["beta2", "> -inf"]),
    ("resolve_bounds-delta-neg", lambda f: mc.closures.resolve_bounds("hard", {"delta": -1.0}), ["delta >= 0"]),
    ("check_concentrations", lambda f: mc.dataset.check_concentrations("C_pair", [0.2, 1.7, 0.1]), ["C_pair", "[0, 1]"]),
]


@pytest.mark.parametrize(("call", "fragments"), [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_refuses(files, call, fragments):
    with unchecked(), pytest.raises(ValueError) as info:
        call(files)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "allow_pickle" not in message


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize("command", ["anneal", "fit-closures", "evaluate-closures", "infer-rates", "reproduce", "audit"])
def test_help_ends_with_an_example_and_prints_defaults_once(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    last = text.strip().splitlines()
    assert last[-2].strip() in ("example:", "examples:") or "example" in "".join(last[-4:-1])
    assert last[-1].strip().startswith(f"meanclust {command} ")
    assert "(default: default" not in text and "default 1) (default" not in text
    if command == "anneal":
        assert "(default: 1/3)" in text and "0.333" not in text
