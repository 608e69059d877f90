"""The rate-inference section of the study report (paper Section VI.D, Figs. 13–14; issue 10).

Built only from the inference stage's summary (``stages/inference.json``). Every posterior
number is printed with its MCSE, bulk and tail ESS and R-hat; a posterior that misses the
convergence standard (docs/model.md §7.4) is marked **not converged** in words, and the
agreement of NUTS and DR-MH is shown quantity by quantity. Statements are computed from the
numbers (each could come out either way), never written in advance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import paper
from .markup import Bullets, Figure, Heading, Paragraph, Table, sig as _g

RATES = tuple(f"k{i}" for i in range(1, 9))
COMBINATIONS = ("4k1+k2", "4k3+k4", "4k5+k6", "4k7+k8")
SAMPLER_NAMES = {"nuts": "NUTS", "drmh": "DR-MH (DRAM)"}


def settings_text(cfg, inf: dict[str, Any]) -> str:  # noqa: ANN001 - StudyConfig: reports never import the study
    """One paragraph of the inference settings (for the report's opening section)."""
    return (
        f"Rate inference on the x = 1/3 trajectory (replica mean; time in sweeps, rates per sweep) "
        f"under the Gaussian likelihood (docs/model.md §7.3), ODE solver {inf['solver']}: "
        f"{inf['chains']} chains per sampler; NUTS {cfg.nuts_warmup} warm-up then rounds of "
        f"{cfg.nuts_samples} draws (tree depth ≤ {cfg.nuts_max_tree_depth}) up to "
        f"{cfg.nuts_max_samples} per chain; DRAM {cfg.drmh_warmup} warm-up then rounds of "
        f"{cfg.drmh_samples} iterations up to {cfg.drmh_max_samples}, every "
        f"{cfg.drmh_thinning}th kept; each sampler stops when every quantity converged, or earlier when "
        f"the smallest ESS projects to more than twice the budget (the reason is given below)."
    )


def _verdict(sampler: str, r: dict[str, Any]) -> str:
    conv = r["convergence"]
    draws = f"{conv['num_chains']} chains × {conv['num_draws']} kept draws ({r['rounds']} round(s))"
    if r["converged"]:
        return (f"{SAMPLER_NAMES[sampler]}: converged — {draws}; every quantity has R-hat ≤ {conv['rhat_max']} "
                f"and bulk and tail ESS ≥ {conv['ess_min']:.0f}.")
    fails = conv["failures"]
    stop = f" Sampling stopped: {r['stop_reason']}." if r.get("stop_reason") else ""
    return (f"{SAMPLER_NAMES[sampler]}: **not converged** within its budget ({draws}); its numbers below are "
            f"not results: " + "; ".join(fails[:6]) + (" …" if len(fails) > 6 else ".") + stop)


def _agreement_text(res: dict[str, Any], what: str = "") -> str:
    """NUTS vs DR-MH in words; no verdict when either sampler missed the convergence bar (the MCSE
    of an unconverged chain is not a standard error, so "within 4 MCSE" would mean nothing)."""
    agreement = res["agreement"]
    on = f" on {what}" if what else ""
    if not (res["nuts"]["converged"] and res["drmh"]["converged"]):
        return (f"NUTS vs DR-MH{on}: not assessed — a sampler did not converge, so its MCSE is not a "
                f"standard error (the comparison column is shown for information only).")
    if agreement["agree"]:
        return f"NUTS and DR-MH agree{on}: every posterior mean within 4 combined MCSE."
    return f"NUTS and DR-MH **disagree**{on}: " + "; ".join(agreement["disagreements"]) + "."


def _quantity_rows(res: dict[str, Any], names: list[tuple[str, str]], point: dict[str, float]) -> list[list[str]]:
    rows = []
    agree = res["agreement"]["table"]
    for key, label in names:
        row = [label, _g(point.get(key))]
        for s in ("nuts", "drmh"):
            r = res[s]["summary"].get(key)
            t = res[s]["convergence"]["table"].get(key)
            if r is None or t is None:
                row += ["—"] * 4
                continue
            flag = "" if t["converged"] else " ✗"
            row += [f"{_g(r['mean'])} ± {_g(r['sd'], 2)}", _g(r["mcse_mean"], 2),
                    f"{t['ess_bulk']:.0f} / {t['ess_tail']:.0f}", f"{t['r_hat']:.3f}{flag}"]
        a = agree.get(key)
        row.append("—" if a is None else (f"{a['z']:.1f}" + ("" if a["agree"] else " ✗")))
        rows.append(row)
    return rows


_HEAD = ["quantity", "point estimate", "NUTS mean ± sd", "MCSE", "ESS bulk / tail", "R-hat",
         "DR-MH mean ± sd", "MCSE", "ESS bulk / tail", "R-hat", "|Δ| / MCSE"]


def _point_text(name: str, res: dict[str, Any]) -> str:
    text = (f"{name}: point estimate Y1 = best of the multistart (F = {_g(res['F_multistart'], 4)}) "
            f"polished by Levenberg–Marquardt ({res['polish_steps']} steps) to F = {_g(res['F_Y1'], 4)}.")
    st = res.get("stationarity")
    if st:
        w = np.asarray(st["restricted_hessian_eigenvalues"])
        text += (f" Gradient norm in log-rates {_g(st['gradient_norm'], 2)}; {st['identifiable_rank']} of 8 "
                 f"directions are identifiable (Gauss–Newton spectrum), the Hessian restricted to them has "
                 f"eigenvalues {_g(w.min() if w.size else None, 2)} … {_g(w.max() if w.size else None, 2)}: "
                 + ("a strict local minimum there." if st["is_strict_minimum"] else
                    "**not** a strict minimum to the tolerance 1e-6·(1 + F) — the least-squares minimum lies "
                    "on the boundary of the positive rates (some rates → 0), where log-rates have no minimum."))
    return text


def _identifiability(res: dict[str, Any]) -> str | None:
    r = res["nuts"]
    if not r["converged"]:
        return None
    rel_k = [r["summary"][f"k[{k}]"]["sd"] / abs(r["summary"][f"k[{k}]"]["mean"]) for k in RATES]
    rel_s = [r["summary"][f"k_identifiable[{c}]"]["sd"] / abs(r["summary"][f"k_identifiable[{c}]"]["mean"])
             for c in COMBINATIONS]
    wide = [k for k, v in zip(RATES, rel_k, strict=True) if v > 0.5]
    return (f"Posterior sd / mean of the raw rates: {_g(min(rel_k), 2)} … {_g(max(rel_k), 2)} "
            f"({len(wide)} of 8 above 50%{': ' + ', '.join(wide) if wide else ''}); of the identifiable "
            f"combinations: {_g(min(rel_s), 2)} … {_g(max(rel_s), 2)}. The data determine 4k1+k2, …, "
            f"4k7+k8 far better than how each splits between its angled and linear reaction.")


def _paper_rate_claims(res: dict[str, Any]) -> str | None:
    r = res["nuts"]
    if not r["converged"]:
        return None
    m = {k: r["summary"][f"k[{k}]"]["mean"] for k in RATES}
    top = max(m.values())
    small = [k for k in ("k6", "k8") if m[k] < 0.05 * top]
    return (f"Paper, under PA: {paper.QUALITATIVE['rates']}. Ours (NUTS posterior means, PA): "
            f"k6 = {_g(m['k6'])}, k8 = {_g(m['k8'])} ({len(small)} of 2 below 5% of the largest rate); "
            f"k7 = {_g(m['k7'])} " + (">" if m["k7"] > m["k5"] else "≤") + f" k5 = {_g(m['k5'])}.")


def _noise_checks(inf: dict[str, Any]) -> list[str]:
    lines = []
    for name, res in inf["results"].items():
        rho = res.get("residual_autocorrelation")
        if not rho:
            continue
        worst = max(rho.values())
        factor = np.sqrt((1 + worst) / (1 - worst)) if worst < 1 else float("inf")
        lines.append(
            f"{name}: lag-1 autocorrelation of the residuals at the point estimate {_g(rho['++'], 2)} (C++), "
            f"{_g(rho['--'], 2)} (C--)"
            + (f" — the errors are **not** independent as the likelihood assumes; for AR(1) errors the "
               f"posterior widths would be about {_g(factor, 2)}× larger." if worst > 0.3 else
               " — consistent with the independence the likelihood assumes.")
        )
    pa = inf["results"].get("PA", {})
    rc = pa.get("replica_check")
    if rc:
        d = np.asarray(rc["difference_in_sd"])
        lines.append(
            "Replicas (PA): fitting the replica mean instead of the replicas as separate observations "
            f"moves the least-squares 4k1+k2, …, 4k7+k8 by {', '.join(_g(v, 2) for v in d)} posterior "
            "standard deviations — "
            + ("harmless at this size." if np.all(d < 0.5) else "**not** negligible: fit the replicas "
               "separately (`rate_posterior_model(..., replicas='separate')`).")
        )
    return lines


def _loo_table(inf: dict[str, Any]) -> list:
    loo = inf.get("loo")
    if not loo:
        return []
    rows = []
    for name, r in sorted(loo["table"].items(), key=lambda kv: kv[1]["rank"]):
        rows.append([name, str(r["rank"]), f"{r['elpd_loo']:.1f} ± {r['se']:.1f}",
                     f"{r['elpd_diff']:.1f} ± {r['dse']:.1f}", f"{r['p_loo']:.1f}",
                     f"{100 * r['fraction_pareto_k_above_0.7']:.0f}%"])
    best = min(loo["table"].items(), key=lambda kv: kv[1]["rank"])[0]
    high_k = [n for n, r in loo["table"].items() if r["fraction_pareto_k_above_0.7"] > 0.01]
    notes = [f"PSIS-LOO on the same observations ranks {best} first."]
    if high_k:
        notes.append("Pareto k > 0.7 for more than 1% of the observations of " + ", ".join(high_k)
                     + ": the LOO estimate is unreliable there (influential observations).")
    unconverged = [n for n, res in inf["results"].items() if not res["nuts"]["converged"]]
    if unconverged:
        notes.append("**not converged** (NUTS) for " + ", ".join(unconverged) + ": their rows are not results.")
    return [Table(["closure", "rank", "elpd_loo ± se", "Δelpd ± se", "p_loo", "Pareto k > 0.7"], rows,
                  caption="Expected log predictive density (PSIS-LOO, `arviz.compare`) of the closed "
                          "models, NUTS posteriors; higher is better."),
            Bullets(notes)]


def inference_section(summaries: dict[str, Any], figure: Callable[[str], Figure]) -> list:
    """The report blocks of the rate inference. ``figure(key)`` returns the `Figure` of a key."""
    inf = summaries["inference"]
    blocks: list = [Heading("5. Reaction-rate posteriors (paper Figs. 13, 14)"), Paragraph(
        "Likelihood: independent Gaussian errors on the recorded C++ and C-- (unknown noise levels σ, "
        "half-normal prior of scale 0.1; the replica standard error as a known floor); rates sampled as "
        "4k1+k2, …, 4k7+k8 (uniform prior on [0, 1e3 relaxations per run], moved in log-odds, i.e. "
        "log-rate, coordinates) and the angled shares u_j (uniform). Every "
        "number carries its MCSE, bulk / tail ESS and R-hat; ✗ marks a quantity that misses R-hat ≤ 1.01 "
        "or ESS ≥ 400, and, in the last column, a NUTS/DR-MH difference above 4 combined MCSE.")]
    for name in ("PA", "OA-hard-1/2"):
        res = inf["results"][name]
        names = ([(f"k[{k}]", k) for k in RATES] + [(f"k_identifiable[{c}]", c) for c in COMBINATIONS]
                 + [("sigma[++]", "σ++"), ("sigma[--]", "σ--")])
        point = {f"k[{k}]": v for k, v in zip(RATES, res["Y1"], strict=True)}
        point.update({f"k_identifiable[{c}]": 4 * res["Y1"][2 * i] + res["Y1"][2 * i + 1]
                      for i, c in enumerate(COMBINATIONS)})
        blocks.append(Table(_HEAD, _quantity_rows(res, names, point),
                            caption=f"{name}: rates and identifiable combinations in 1/sweep, σ dimensionless."))
        bullets = [_point_text(name, res), _verdict("nuts", res["nuts"]), _verdict("drmh", res["drmh"]),
                   _agreement_text(res)]
        for extra in (_identifiability(res), _paper_rate_claims(res) if name == "PA" else None):
            if extra:
                bullets.append(extra)
        blocks.append(Bullets(bullets))
    sa = inf["results"]["SA"]
    alpha = np.asarray(sa["alpha"])
    names = [("alpha[alpha1]", "α1"), ("alpha[alpha2]", "α2"), ("sigma[++]", "σ++"), ("sigma[--]", "σ--")]
    point = {"alpha[alpha1]": alpha[0], "alpha[alpha2]": alpha[1]}
    blocks.append(Table(_HEAD, _quantity_rows(sa, names, point),
                        caption=f"SA closure: (α1, α2) in 1/sweep (paper: {paper.SA_ALPHA[0]}, "
                                f"{paper.SA_ALPHA[1]} in its own, unstated, time unit); F at the fit "
                                f"{_g(sa['F_fit'])}."))
    ratio = alpha[1] / alpha[0] if alpha[0] != 0 else float("nan")
    p_ratio = paper.SA_ALPHA[1] / paper.SA_ALPHA[0]
    same_sign = bool(np.all(np.sign(alpha) == np.sign(paper.SA_ALPHA)))
    blocks.append(Bullets([
        _verdict("nuts", sa["nuts"]), _verdict("drmh", sa["drmh"]),
        _agreement_text(sa, "SA"),
        f"SA: paper α2/α1 = {p_ratio:.2f}, ours {_g(ratio)}; signs " + ("agree." if same_sign else "**differ**."),
    ]))
    blocks += _loo_table(inf)
    blocks.append(Heading("Checks of the noise model", 3))
    blocks.append(Bullets(_noise_checks(inf)))
    blocks += [figure("fig13_PA"), figure("fig13_OA"), figure("fig13_marginals"), figure("fig14")]
    return blocks


__all__ = ["inference_section", "settings_text"]
