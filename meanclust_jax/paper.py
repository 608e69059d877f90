"""The paper in one place: what "Data-Driven Optimal Closures for Mean-Cluster Models" (Ahmadi,
Foster & Protas) prints or prescribes, and the few choices we make where it is silent.

* `PAPER_COMPOSITIONS`: the ten compositions of the robustness study (Section VI.C);
  `CALIBRATION_COMPOSITIONS`: where the optimal closure is calibrated (Section VI.A).
* `PAPER_TEMPERATURES`: the temperatures of our paper-like stepwise cooling (Fig. 2a). The paper
  does not print its temperatures: these are our choice, stated as such.
* `TABLE_II`, `SA_IMPROVEMENT_OVER_PA_PERCENT`, `SA_ALPHA`, `QUALITATIVE`: the numbers and
  statements the paper prints, for side-by-side comparison in reports. Most of its results
  (Figs. 9–14) are figures without printed numbers, and the report says so instead of guessing.
* `composition_label`: how a composition is written (``1/3``, ``1/2``, ``0.36``).

This module imports nothing of the package, so every layer may use it.

**Table II** (optimal closure with hard regularisation ``β1 = 0, β2 = δ = 2``, calibrated on
Li_1/3 Mn_2/3 (``OA-1/3``) and Li_1/2 Mn_1/2 (``OA-1/2``)) is transcribed from the OCR text of the
paper. The OCR lost the row labels, so each row's triplet type is our reading of the table's
layout: three blocks by parameter structure (``[γ, ξ]``, ``[γ, ξ1, ξ2]``, ``[γ1, γ2, ξ1, ξ2]``),
rows within a block in the order of Table I (linear, angled, then triangle; ``+++`` before
``---``, ``+-+`` before ``-+-``, ``++-`` before ``--+``). The reading is supported by three
checks: every transcribed row satisfies the units constraint ``Σγ − Σξ = 1`` within rounding;
the pair-approximation columns match the exponents of eq. (13) for the inferred types (e.g.
``γ = 3`` only on the triangle rows); and the OA-1/2 rows of ``ang:++-``, ``ang:--+`` and
``tri:---`` equal the non-integer exponents of the paper's Table III (0.72/0.28, 0.15/0.85,
1.18/0.18). Parameter vectors follow `meanclust_jax.closures` (``ξ1`` on the centre species).
"""

from __future__ import annotations

from fractions import Fraction

#: The ten compositions ``x`` (fraction of ``-`` sites, Li) of the paper's robustness study
#: (Section VI.C, Figs. 11–12).
PAPER_COMPOSITIONS: tuple[float, ...] = (0.25, 0.30, 1 / 3, 0.36, 0.42, 0.50, 0.58, 0.64, 0.70, 0.75)

#: Compositions at which the paper calibrates the optimal closure (Section VI.A, Table II).
CALIBRATION_COMPOSITIONS: tuple[float, ...] = (1 / 3, 1 / 2)

#: Temperatures of the paper-like stepwise protocol (energy units of the charge-neutrality
#: Hamiltonian, ``k_B = 1``). Our choice, not the paper's (it prints none): they start well
#: inside the disordered phase, lower in steps through the ordering of the x = 1/3 layer (which
#: sets in near T ≈ 0.2 on our lattices), and end in the ordered state.
PAPER_TEMPERATURES: tuple[float, ...] = (1.0, 0.6, 0.4, 0.3, 0.25, 0.2, 0.17, 0.14, 0.11, 0.08, 0.05)

#: Paper Table II, OA exponents per triplet type: ``{type: {"OA-1/3": V, "OA-1/2": V}}`` with
#: ``V`` in the order of `meanclust_jax.closures.param_names` (rounded to two decimals, as printed).
TABLE_II: dict[str, dict[str, tuple[float, ...]]] = {
    "lin:+++": {"OA-1/3": (1.12, 0.12), "OA-1/2": (1.00, 0.00)},
    "lin:---": {"OA-1/3": (1.19, 0.19), "OA-1/2": (1.00, 0.00)},
    "ang:+++": {"OA-1/3": (1.00, 0.00), "OA-1/2": (1.00, 0.00)},
    "ang:---": {"OA-1/3": (1.39, 0.39), "OA-1/2": (1.00, 0.00)},
    "tri:+++": {"OA-1/3": (2.00, 0.99), "OA-1/2": (2.00, 0.99)},
    "tri:---": {"OA-1/3": (1.76, 0.76), "OA-1/2": (1.18, 0.18)},
    "lin:+-+": {"OA-1/3": (1.00, 0.00, 0.00), "OA-1/2": (0.99, 0.00, 0.00)},
    "lin:-+-": {"OA-1/3": (2.00, 0.99, 0.00), "OA-1/2": (0.99, 0.00, 0.00)},
    "ang:+-+": {"OA-1/3": (1.00, 0.00, 0.00), "OA-1/2": (1.00, 0.00, 0.00)},
    "ang:-+-": {"OA-1/3": (0.99, 0.00, 0.00), "OA-1/2": (1.00, 0.00, 0.00)},
    "lin:++-": {"OA-1/3": (2.00, 0.00, 0.00, 1.00), "OA-1/2": (0.00, 1.00, 0.00, 0.00)},
    "lin:--+": {"OA-1/3": (0.38, 0.62, 0.00, 0.00), "OA-1/2": (0.00, 1.00, 0.00, 0.00)},
    "ang:++-": {"OA-1/3": (2.00, 0.52, 1.52, 0.00), "OA-1/2": (0.72, 0.28, 0.00, 0.00)},
    "ang:--+": {"OA-1/3": (0.66, 0.34, 0.00, 0.00), "OA-1/2": (0.15, 0.85, 0.00, 0.00)},
    "tri:++-": {"OA-1/3": (2.00, 0.00, 0.00, 0.99), "OA-1/2": (0.00, 1.00, 0.00, 0.00)},
    "tri:--+": {"OA-1/3": (0.60, 0.40, 0.00, 0.00), "OA-1/2": (0.00, 1.00, 0.00, 0.00)},
}

#: Section VI.C: "when averaged over all stoichiometries, the performance of the sparse
#: approximation model is improved by 36.13% over the performance of the pair approximation".
SA_IMPROVEMENT_OVER_PA_PERCENT: float = 36.13

#: Section VI.D: the SA model's fitted parameters ``(α1*, α2*)`` (in the paper's time unit,
#: which the paper does not state; only their signs and ratio are comparable).
SA_ALPHA: tuple[float, float] = (-0.083, -0.166)

#: Qualitative statements of the paper that have no printed numbers, quoted for the report.
QUALITATIVE: dict[str, str] = {
    "fig9": "for almost all 3-cluster types the optimal closure leads to errors smaller by a few "
            "orders of magnitude than the pair approximation (Fig. 9)",
    "fig11": "harder regularization gives larger errors near x = 1/3 but better predictions for "
             "other stoichiometries (Fig. 11)",
    "fig12": "SA performs better than OA-1/3 for most stoichiometries except those close to 1/3 "
             "(Fig. 12)",
    "fig13": "good fits form several clusters, with some rates varying by 200% or more: the "
             "inverse problem is ill-posed (Fig. 13)",
    "fig14": "fit quality with PA and OA-1/2 is comparable and uncertain; SA fits worse but with "
             "effectively no uncertainty (Fig. 14)",
    "rates": "under PA, k6 and k8 are close to zero, and k7 > k5 (Section VI.D)",
}


def composition_label(x: float) -> str:
    """How a composition is written: ``1/3`` for 0.3333.., ``1/2`` for 0.5, else three
    significant digits (``0.36``).

    **Arguments:**

    - `x`: the composition, a float.

    **Returns:**

    The label, a string (used in closure names such as ``OA-hard-1/3`` and in reports).
    """
    f = Fraction(x).limit_denominator(12)
    if abs(float(f) - x) < 1e-6 and f.denominator <= 4:
        return f"{f.numerator}/{f.denominator}"
    return f"{x:.3g}"


__all__ = [
    "CALIBRATION_COMPOSITIONS",
    "PAPER_COMPOSITIONS",
    "PAPER_TEMPERATURES",
    "QUALITATIVE",
    "SA_ALPHA",
    "SA_IMPROVEMENT_OVER_PA_PERCENT",
    "TABLE_II",
    "composition_label",
]
