"""The claims audit (issue 13): analytic checks on engine data and on deliberately wrong input,
verdicts that flip when doctored numbers cross their tolerance, and `meanclust audit --quick`."""

from __future__ import annotations

import copy
import json
import time
from fractions import Fraction

import numpy as np
import pytest
from helpers import unchecked

import meanclust_jax as mc
from meanclust_jax import paper, schedules
from meanclust_jax._labels import TRIPLETS
from meanclust_jax.audit import (
    CLAIM_IDS,
    CLAIMS,
    VERDICTS,
    closure_from_vectors,
    closures_at_state,
    evaluate_claims,
    ground_state,
    identifiability,
    ordered_error_floor,
    pair_conservation,
    paper_closures,
    random_state,
    sparse_alpha_ratio,
    sparse_normalisation,
    sqrt3_configuration,
)
from meanclust_jax.audit._claims import (
    ALPHA_RATIO_TOLERANCE,
    EXPONENT_TOLERANCE,
    IMPROVEMENT_TOLERANCE_PP,
    NO_UNCERTAINTY,
    Q_TOLERANCE,
    RATE_SPREAD,
)
from meanclust_jax.audit._sensitivity import Protocol, off_three
from meanclust_jax.cli import main
from meanclust_jax.closures import PairApproximation, SparseApproximation, closure_errors


@pytest.fixture(scope="module")
def runs():
    """Two short 12x12 runs (x = 1/3 and 0.42), two replicas each, local swaps."""
    lattice = mc.TriangularLattice(12, 12)
    out = {}
    for n, x in enumerate((1 / 3, 0.42)):
        ds = mc.anneal(n, lattice, schedule=schedules.paper(10), composition=x, replicas=2, record_every=5,
                       progress=False)
        ds.attrs["composition"] = x
        out[x] = ds
    return out


def _drifting(runs):
    """A doctored trajectory whose composition changes half-way (x = 1/3, then 0.42)."""
    a, b = runs[1 / 3], runs[0.42]
    half = a.sizes["time"] // 2
    doctored = a.copy(deep=True)
    for var in ("C_single", "C_pair", "C_triplet"):
        doctored[var].values[:, half:] = b[var].values[:, half:]
    return doctored


# --------------------------------------------------------------------------- analytic checks


def test_pair_conservation_holds_on_engine_data_and_fails_when_the_composition_drifts(runs):
    for ds in runs.values():
        check = pair_conservation(ds)
        assert check.holds and check.value < 1e-14, check
    bad = pair_conservation(_drifting(runs))
    assert not bad.holds
    assert bad.details["drift"] > 0.01 and bad.details["identity_residual"] < 1e-14
    # the identity itself broken: C++ shifted at fixed singlets (normalisation kept via C+-)
    broken = runs[1 / 3].copy(deep=True)
    broken["C_pair"].values[..., 0] += 0.01
    broken["C_pair"].values[..., 2] -= 0.005
    assert not pair_conservation(broken).holds and pair_conservation(broken).details["identity_residual"] > 0.009


def test_sparse_alpha_ratio_is_one_with_our_pairs_and_c_plus_over_c_minus_per_species(runs):
    ds = runs[1 / 3]
    ours = sparse_alpha_ratio(ds)
    assert ours.holds and abs(ours.value - 1.0) < 1e-12
    cond = sparse_alpha_ratio(ds, normalisation="conditional")
    n_minus = round(144 / 3)
    assert cond.holds and cond.expected == pytest.approx((144 - n_minus) / n_minus)
    assert cond.value == pytest.approx(2.0, abs=1e-9)  # the paper's -0.166 / -0.083
    x = 0.42
    c42 = sparse_alpha_ratio(runs[x], normalisation="conditional")
    assert c42.holds and c42.value == pytest.approx(c42.expected) and abs(c42.value - 2.0) > 0.5
    # a run whose composition drifts: the ratio is no longer 1
    bad = sparse_alpha_ratio(_drifting(runs))
    assert not bad.holds and abs(bad.value - 1.0) > 1e-3
    with unchecked(), pytest.raises(ValueError, match="normalisation"):
        sparse_alpha_ratio(ds, normalisation="per-site")


def test_sparse_fit_forces_alpha1_equal_alpha2_with_our_pairs(runs):
    from meanclust_jax.ode import fit_sparse

    ds = runs[1 / 3]
    C = ds["C_pair"].mean("replica").values
    fit = fit_sparse(ds["time"].values, C)
    a1, a2 = (float(v) for v in fit.alpha)
    assert a1 < 0 and abs(a2 / a1 - 1.0) < 1e-6


def test_sparse_normalisation_defect_and_pa_as_the_wrong_closure(runs):
    ds = runs[1 / 3]
    Cs, Cp = ds["C_single"].values, ds["C_pair"].values
    sa = sparse_normalisation(Cs, Cp)
    assert sa.holds and sa.value < 1e-12
    excess = sa.details["marginal_excess_over_wCpm"]
    for shape in ("lin", "ang"):
        for lo_hi in excess[shape].values():
            assert lo_hi == pytest.approx([1.0, 1.0])
    pa = sparse_normalisation(Cs, Cp, closure=PairApproximation())
    assert not pa.holds  # PA is normalised on chains: no w(1 + 4 C+-)
    assert pa.details["shape_sum_over_w"]["lin"] == pytest.approx([1.0, 1.0])
    for lo_hi in pa.details["marginal_excess_over_wCpm"]["ang"].values():
        assert lo_hi == pytest.approx([0.0, 0.0], abs=1e-12)
    with unchecked(), pytest.raises(ValueError, match="C_\\+\\+ \\+ C_-- \\+ 2 C_\\+- = 1"):
        sparse_normalisation(Cs, Cp + 0.01)


def test_sqrt3_state_exact_triplets_and_ground_state_tables():
    sigma = sqrt3_configuration(6, 9)
    conc = mc.cluster_concentrations(sigma)
    assert np.allclose(conc["C_pair"], [1 / 3, 0, 1 / 3])
    exact = {"lin:++-": Fraction(1, 15), "lin:+-+": Fraction(1, 15), "ang:+++": Fraction(2, 15),
             "ang:+-+": Fraction(2, 15), "ang:-+-": Fraction(2, 15), "tri:++-": Fraction(2, 15)}
    want = np.array([float(exact.get(t, 0)) for t in TRIPLETS])  # derived by hand, docs/model.md §4
    assert np.allclose(conc["C_triplet"], want, atol=1e-15)
    gs = ground_state(1 / 3)
    assert np.allclose(gs.C_triplet, want) and gs.energy == 0.0 and len(gs.determined) == 16
    assert float(mc.total_energy(sigma, mc.ChargeNeutralityHamiltonian())) == pytest.approx(0.0, abs=1e-12)
    with unchecked(), pytest.raises(ValueError, match="multiples of 3"):
        sqrt3_configuration(6, 8)
    # x = 1/4: Li on half the sites of one sublattice: no Li-Li bond, the ground-state pairs and energy
    sigma = np.ones((12, 12), np.int8)
    a, b = np.meshgrid(np.arange(12), np.arange(12), indexing="ij")
    on = ((a - b) % 3 == 0)
    sigma[on & ((a // 3 + b // 3) % 4 != 0)] = -1  # 3/4 of the sublattice
    x = float(np.mean(sigma < 0))
    gs = ground_state(x)
    c = mc.cluster_concentrations(sigma)
    assert np.allclose(c["C_pair"], gs.C_pair, atol=1e-12)
    energy = float(mc.total_energy(sigma, mc.ChargeNeutralityHamiltonian())) / sigma.size
    assert energy == pytest.approx(gs.energy, abs=1e-12)
    for t in gs.determined:
        assert c["C_triplet"][TRIPLETS.index(t)] == pytest.approx(gs.C_triplet[TRIPLETS.index(t)], abs=1e-12), t
    # a random configuration at the same composition is not a ground state
    rng = np.random.default_rng(0)
    rand = rng.permutation(sigma.ravel()).reshape(sigma.shape)
    assert not np.allclose(mc.cluster_concentrations(rand)["C_pair"], gs.C_pair, atol=1e-3)
    assert float(mc.total_energy(rand, mc.ChargeNeutralityHamiltonian())) / sigma.size > gs.energy + 0.01


def test_closures_at_the_ordered_state_flag_the_triplets_it_lacks():
    gs = ground_state(1 / 3)
    res = closures_at_state({"PA": PairApproximation(), "SA": SparseApproximation(), **paper_closures()},
                            np.array([2 / 3, 1 / 3]), gs.C_pair, gs.C_triplet)
    # the brief's example: OA-1/3 lin:+++ (gamma 1.12) predicts linear +++ the ordered state lacks
    assert "lin:+++" in res["Table II OA-1/3"]["zero_missed"]
    assert res["Table II OA-1/3"]["g"][TRIPLETS.index("lin:+++")] > 0.05
    assert set(res["PA"]["zero_missed"]) == {"lin:+++", "lin:-+-", "ang:++-", "tri:+++"}
    assert {"lin:--+", "tri:--+"} <= set(res["Table II OA-1/2"]["zero_missed"])  # no C-- factor
    assert res["SA"]["mean_error"] > res["PA"]["mean_error"] > 0
    # the uncorrelated state: PA is exact there, SA is not
    rp, rt = random_state(1 / 3)
    at_random = closures_at_state({"PA": PairApproximation(), "SA": SparseApproximation()},
                                  np.array([2 / 3, 1 / 3]), rp, rt)
    assert at_random["PA"]["mean_error"] < 1e-30 < at_random["SA"]["mean_error"]


def test_ordered_error_floor_is_a_lower_bound_of_j(runs):
    ds = runs[0.42]  # reaches its ground-state pairs within the run
    for closure in (PairApproximation(), SparseApproximation(), paper_closures()["Table II OA-1/2"]):
        res = ordered_error_floor(closure, ds, pair_tolerance=0.02)
        J = closure_errors(closure, ds).values
        assert 0 < res["ordered_fraction"] < 1
        assert np.all(np.asarray(res["floor"]) <= J + 1e-18)
    none = ordered_error_floor(PairApproximation(), ds, pair_tolerance=0.0)
    assert none["ordered_fraction"] == 0.0 and not np.any(none["floor"])


def test_identifiability_pa_sees_four_rate_combinations(runs):
    ds = runs[1 / 3]
    assert identifiability(PairApproximation(), ds)["rank"] == 4
    assert identifiability(paper_closures()["Table II OA-1/3"], ds)["rank"] > 4


def test_closure_from_vectors_round_trip_and_errors():
    pa = PairApproximation()
    back = closure_from_vectors(pa.parameter_vectors())
    assert np.allclose(back.gamma, pa.exponents()[0]) and np.allclose(back.xi, pa.exponents()[1])
    vec = {t: paper.TABLE_II[t]["OA-1/3"] for t in TRIPLETS}
    assert closure_from_vectors(vec).parameter_vectors()["ang:++-"] == pytest.approx(vec["ang:++-"])
    with unchecked(), pytest.raises(ValueError, match="missing"):
        closure_from_vectors({t: v for t, v in vec.items() if t != "lin:+++"})
    with unchecked(), pytest.raises(ValueError, match="entries"):
        closure_from_vectors({**vec, "lin:+++": (1.0,)})


# --------------------------------------------------------------------------- verdicts


def _numbers() -> dict:
    """Numbers under which the claims are reproduced; the tests doctor one at a time."""
    xs = list(paper.PAPER_COMPOSITIONS)
    near = np.abs(np.asarray(xs) - 1 / 3) < 0.05
    pa = np.full(len(xs), 1e-3)
    oa13 = np.where(near, 1e-5, 3e-5)
    return {
        "exponents": {f"OA-hard-{lab}": {t: list(paper.TABLE_II[t][f"OA-{lab}"]) for t in TRIPLETS}
                      for lab in ("1/3", "1/2")},
        "errors": {lab: {"PA": [1e-3] * 16, f"OA-hard-{lab}": [1e-6] * 16, "SA": [1e-6] * 16}
                   for lab in ("1/3", "1/2")},
        "compositions": xs,
        "mean_error": {"PA": pa.tolist(), "OA-hard-1/3": oa13.tolist(),
                       "OA-soft-1/3": np.where(near, 5e-6, 1e-4).tolist(),
                       "OA-hard-1/2": (0.5 * oa13).tolist(), "SA": np.where(near, 2e-5, 1e-5).tolist()},
        "improvement_over_pa": {"SA": 36.0}, "mean_relative_improvement": {"SA": 30.0},
        "improvement_se": {"SA": None},
        "sa_fit": {"alpha": [-0.083, -0.166]},
        "sa_linear": {"linearity_residual": 1e-17, "closed_form_residual": 1e-16},
        "Q_hat": {"OA-hard-1/2": [0.5, 1.0, 0.5, 1.0], "PA": [0.5, 0.5, 0.02, 0.02]},
        "identifiability": {"PA": {"rank": 4, "condition": 10.0}, "OA-hard-1/2": {"rank": 8, "condition": 1e4}},
        "inference": None,
        "measured_rates": None,
    }


def _verdicts(numbers: dict) -> dict[str, str]:
    return {r["id"]: r["verdict"] for r in evaluate_claims(numbers)}


def _posterior(spread: float, converged: bool = True) -> dict:
    rows = {f"k[k{i}]": {"mean": 1.0, "sd": 0.3, "hdi_3%": 0.5, "hdi_97%": 0.5 + spread} for i in range(1, 9)}
    return {"nuts": {"converged": converged, "summary": rows}, "drmh": {"converged": False, "summary": rows}}


def test_every_claim_is_listed_once_with_its_location_and_gets_a_record():
    assert len(CLAIM_IDS) == len(set(CLAIM_IDS)) == len(CLAIMS) >= 32 + 19
    assert sum(i.startswith("table2/") for i in CLAIM_IDS) == 32
    assert all(c.location and c.words and c.paper for c in CLAIMS)
    records = evaluate_claims(_numbers())
    assert [r["id"] for r in records] == list(CLAIM_IDS)
    for r in records:
        assert set(r) == {"id", "claim", "paper", "ours", "verdict", "reason"} and r["verdict"] in VERDICTS
        assert all(isinstance(v, str) and v for v in r.values()), r
    # nothing computed: nothing can be judged
    assert set(_verdicts({}).values()) == {"not testable"}
    with unchecked(), pytest.raises(ValueError, match="mapping"):
        evaluate_claims([1, 2])


def test_reference_numbers_reproduce_the_closure_claims():
    v = _verdicts(_numbers())
    for cid in CLAIM_IDS:
        if cid.startswith(("table2/", "fig9/", "fig11", "fig12", "sec6a/", "sec6b", "sec6d/alpha", "sec6d/q2")):
            assert v[cid] == "reproduced", cid
    assert v["fig13/uncertain/PA"] == "reproduced"  # rank 4 < 8
    assert v["fig13/uncertain/OA"] == v["fig14/sa-worse"] == v["sec6d/k6-k8"] == "not testable"


@pytest.mark.parametrize(("delta", "verdict"), [(EXPONENT_TOLERANCE - 0.01, "reproduced"),
                                                  (EXPONENT_TOLERANCE + 0.01, "not reproduced")])
def test_table2_verdict_flips_at_the_exponent_tolerance(delta, verdict):
    n = _numbers()
    n["exponents"]["OA-hard-1/3"]["ang:++-"][1] += delta
    v = _verdicts(n)
    assert v["table2/OA-1/3/ang:++-"] == verdict and v["table2/OA-1/2/ang:++-"] == "reproduced"


@pytest.mark.parametrize(("value", "verdict"), [(36.13 + IMPROVEMENT_TOLERANCE_PP - 0.5, "reproduced"),
                                                  (36.13 - IMPROVEMENT_TOLERANCE_PP + 0.5, "reproduced"),
                                                  (36.13 + IMPROVEMENT_TOLERANCE_PP + 0.5, "not reproduced"),
                                                  (-695.0, "not reproduced")])
def test_sa_gain_verdict_flips_at_its_tolerance(value, verdict):
    n = _numbers()
    n["improvement_over_pa"]["SA"] = n["mean_relative_improvement"]["SA"] = value
    assert _verdicts(n)["fig12/sa-36"] == verdict
    n["improvement_se"]["SA"] = 10.0  # a noisy run widens the tolerance to 4 SE = 40 points
    n["improvement_over_pa"]["SA"] = n["mean_relative_improvement"]["SA"] = 36.13 + 39.0
    assert _verdicts(n)["fig12/sa-36"] == "reproduced"


@pytest.mark.parametrize(("alpha", "verdict"), [((-0.1, -0.1 * (2 + ALPHA_RATIO_TOLERANCE - 0.01)), "reproduced"),
                                                  ((-0.1, -0.1 * (2 + ALPHA_RATIO_TOLERANCE + 0.01)), "not reproduced"),
                                                  ((-5e-4, -5e-4), "not reproduced"),
                                                  ((0.083, 0.166), "not reproduced")])
def test_alpha_verdict_compares_sign_and_ratio(alpha, verdict):
    n = _numbers()
    n["sa_fit"] = {"alpha": list(alpha)}
    assert _verdicts(n)["sec6d/alpha"] == verdict


@pytest.mark.parametrize(("n_good", "verdict"), [(14, "reproduced"), (13, "not reproduced")])
def test_fig9_verdict_counts_types_at_a_hundredfold(n_good, verdict):
    n = _numbers()
    n["errors"]["1/3"]["OA-hard-1/3"] = [1e-5] * n_good + [2e-5] * (16 - n_good)  # 100x and 50x below PA
    assert _verdicts(n)["fig9/1/3"] == verdict


@pytest.mark.parametrize(("q", "verdict"),
                         [(1 + Q_TOLERANCE - 0.01, "reproduced"), (1 + Q_TOLERANCE + 0.01, "not reproduced")])
def test_q2_q4_verdict_flips_at_its_tolerance(q, verdict):
    n = _numbers()
    n["Q_hat"]["OA-hard-1/2"] = [0.5, q, 0.5, 2 - q]
    assert _verdicts(n)["sec6d/q2-q4"] == verdict


def test_composition_claims_flip_with_the_errors():
    n = _numbers()
    v = _verdicts(n)
    assert v["fig12/sa-vs-oa"] == v["fig11/tradeoff"] == v["fig12/oa-vs-pa"] == "reproduced"
    m = copy.deepcopy(n)
    m["mean_error"]["SA"] = [1e-3] * 10  # SA no longer better than OA anywhere
    assert _verdicts(m)["fig12/sa-vs-oa"] == "not reproduced"
    m = copy.deepcopy(n)
    m["mean_error"]["OA-soft-1/3"] = [1e-6] * 10  # soft better everywhere: no trade-off
    assert _verdicts(m)["fig11/tradeoff"] == "not reproduced"
    m = copy.deepcopy(n)
    m["mean_error"]["OA-hard-1/3"][0] = 0.97e-3  # better than PA by only 3% at x = 0.25
    assert _verdicts(m)["fig12/oa-vs-pa"] == "not reproduced"


@pytest.mark.parametrize(("spread", "converged", "verdict"), [(RATE_SPREAD + 0.1, True, "reproduced"),
                                                                (RATE_SPREAD - 0.1, True, "not reproduced"),
                                                                (RATE_SPREAD + 0.1, False, "not testable")])
def test_rate_uncertainty_uses_converged_posteriors_only(spread, converged, verdict):
    n = _numbers()
    n["identifiability"] = None
    n["inference"] = {"results": {"PA": _posterior(spread, converged), "OA-hard-1/2": _posterior(spread, converged)}}
    v = _verdicts(n)
    assert v["fig13/uncertain/PA"] == v["fig13/uncertain/OA"] == verdict
    if converged:  # the identifiable combinations, when the posterior has them, are stated beside
        n["inference"]["results"]["PA"]["nuts"]["summary"]["k_identifiable[4k1+k2]"] = {
            "mean": 2.0, "sd": 0.01, "hdi_3%": 1.98, "hdi_97%": 2.02}
        reason = next(r["reason"] for r in evaluate_claims(n) if r["id"] == "fig13/uncertain/PA")
        assert "at most 2% of their mean" in reason


@pytest.mark.parametrize(("rel", "verdict"),
                         [(NO_UNCERTAINTY - 0.01, "reproduced"), (NO_UNCERTAINTY + 0.01, "not reproduced")])
def test_sa_certainty_from_a_converged_posterior(rel, verdict):
    n = _numbers()
    rows = {f"alpha[{a}]": {"mean": -0.1, "sd": 0.1 * rel} for a in ("alpha1", "alpha2")}
    n["inference"] = {"results": {"SA": {"nuts": {"converged": True, "summary": rows}, "F_fit": 2.0},
                                  "PA": {"F_Y1": 1.0}, "OA-hard-1/2": {"F_Y1": 1.85}}}
    v = _verdicts(n)
    assert v["fig14/sa-certain"] == verdict
    assert v["fig14/sa-worse"] == "reproduced"
    n["inference"]["results"]["OA-hard-1/2"]["F_Y1"] = 1.95  # within 5%: not "worse"
    assert _verdicts(n)["fig14/sa-worse"] == "not reproduced"
    n["inference"]["results"]["SA"]["nuts"]["converged"] = False  # unconverged numbers never count
    record = next(r for r in evaluate_claims(n) if r["id"] == "fig14/sa-certain")
    assert record["verdict"] == "not testable" and "did not meet the convergence standard" in record["reason"]


@pytest.mark.parametrize(("parts", "verdict"), [(("holds", "holds", "holds"), "reproduced"),
                                                  (("holds", "fails", "holds"), "not reproduced"),
                                                  (("holds", "holds", "undecided"), "not testable")])
def test_k6_k8_claim_from_measured_rates(parts, verdict):
    n = _numbers()
    n["measured_rates"] = {"check": {"k6_close_to_zero": parts[0], "k8_close_to_zero": parts[1], "k7_gt_k5": parts[2],
                                     "k6_over_median": 0.01, "k8_over_median": 0.02, "k7_minus_k5": 0.1,
                                     "k7_minus_k5_se": 0.01}}
    assert _verdicts(n)["sec6d/k6-k8"] == verdict


def test_rate_numbers_use_the_engine_checker_on_measured_rates_and_converged_posteriors(runs, monkeypatch):
    """The measured rates (issue 11) and a converged PA posterior go through the engine's
    `check_pa_statement`; here a stand-in module records what it is given."""
    import types

    import meanclust_jax.reports as reports
    from meanclust_jax.audit._numbers import measured_rate_numbers, posterior_rate_numbers

    seen = []
    fake = types.ModuleType("meanclust_jax.reports.reaction_rates")
    fake.time_averaged_rates = lambda _ds: {"rate": np.arange(1.0, 9.0), "se": np.full(8, 0.1)}
    fake.check_pa_statement = lambda rate, _se: seen.append(np.asarray(rate)) or {"k7_gt_k5": "holds"}
    monkeypatch.setitem(__import__("sys").modules, "meanclust_jax.reports.reaction_rates", fake)
    monkeypatch.setattr(reports, "reaction_rates", fake, raising=False)
    ds = runs[1 / 3]
    assert measured_rate_numbers(ds) is None  # no observer variables in this trajectory
    observed = ds.assign(reaction_attempts=ds["C_pair"])  # any variable of that name marks the observer
    got = measured_rate_numbers(observed)
    assert got["rate"] == list(np.arange(1.0, 9.0)) and got["check"] == {"k7_gt_k5": "holds"}
    inference = {"results": {"PA": _posterior(1.0, converged=True)}}
    post = posterior_rate_numbers(inference)
    assert post["sampler"] == "nuts" and post["mean"] == [1.0] * 8 and len(seen) == 2
    assert posterior_rate_numbers({"results": {"PA": _posterior(1.0, converged=False)}}) is None


# --------------------------------------------------------------------------- protocols and CLI


def test_protocols_validate_their_settings():
    assert off_three(48) == 44 and off_three(24) == 20 and off_three(96) == 92
    with unchecked(), pytest.raises(ValueError, match="weighting"):
        Protocol("p", "", 24, weighting="log")
    with unchecked(), pytest.raises(ValueError):
        Protocol("p", "", 30, moves="global")  # 30x30 cannot host global swaps


def _fails_fast(args: list[str], capsys, match: str) -> None:
    t0 = time.perf_counter()
    rc = main(["audit", *args])
    assert rc == 2
    assert match in capsys.readouterr().err
    assert time.perf_counter() - t0 < 10.0


def test_audit_cli_fails_fast(tmp_path, capsys):
    _fails_fast(["--quick", "--size", "30", "--out", str(tmp_path / "a")], capsys, "--size 30")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _fails_fast(["--quick", "--out", str(blocker)], capsys, "not a folder")
    _fails_fast(["--quick", "--study", str(tmp_path), "--out", str(tmp_path / "b")], capsys, "no finished anneal stage")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "audit.json").write_text("[]")
    _fails_fast(["--quick", "--out", str(tmp_path / "c")], capsys, "already holds an audit (audit.json); use --force")
    assert (tmp_path / "c" / "audit.json").read_text() == "[]"


@pytest.mark.slow
def test_audit_quick_end_to_end(tmp_path, capsys):
    out = tmp_path / "audit"
    t0 = time.perf_counter()
    assert main(["audit", "--quick", "--out", str(out), "--no-progress"]) == 0
    elapsed = time.perf_counter() - t0
    assert elapsed < 300, f"meanclust audit --quick took {elapsed:.0f} s"
    records = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    assert [r["id"] for r in records] == list(CLAIM_IDS)
    assert all(set(r) == {"id", "claim", "paper", "ours", "verdict", "reason"} for r in records)
    assert all(r["verdict"] in VERDICTS for r in records)
    by_id = {r["id"]: r for r in records}
    # computed, not written in advance: our data satisfy conservation, so alpha2/alpha1 = 1, not 2
    assert by_id["sec6d/alpha"]["verdict"] == "not reproduced" and "1.0000" in by_id["sec6d/alpha"]["ours"]
    assert by_id["sec6b/sa-linear"]["verdict"] == "reproduced"
    numbers = json.loads((out / "audit_numbers.json").read_text(encoding="utf-8"))
    assert all(c["holds"] for c in numbers["numbers"]["checks"]["pair_conservation"].values())
    sens = numbers["sensitivity"]
    assert len(sens["protocols"]) == 7 and {"sa_gain", "table2", "claims"} == set(sens["closest"])
    report = (out / "audit.md").read_text(encoding="utf-8")
    assert "| id | claim | paper | ours | verdict | reason |" in report
    for f in ("audit_sensitivity.png", "audit_ordered_state.png"):
        assert (out / "figures" / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"(figures/{f})" in report
    assert "data:image/png;base64," in (out / "audit.html").read_text(encoding="utf-8")
    assert "reproduced" in capsys.readouterr().out
