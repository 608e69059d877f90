"""The figures of the study report (`meanclust reproduce`): file names and captions.

`meanclust_jax.study` draws each figure into ``figures/<file name>``; `study_report` places it
in the report with its caption.
"""

from __future__ import annotations

#: Figure files of docs/model.md §8, in report order: key → (file name, caption). Every closure
#: has one colour in all of them (`meanclust_jax.reports.style.closure_colour`).
FIGURES: dict[str, tuple[str, str]] = {
    "fig2": ("fig02_anneal_history.png", "Temperature, energy per site and pair concentrations "
             "against time at x = 1/3 (paper Fig. 2); shading: range over replicas."),
    "fig3": ("fig03_lattice.png", "Initial random and final ordered lattice at x = 1/3 "
             "(paper Fig. 3), each site drawn as its hexagonal cell; Mn (+) purple, Li (−) yellow. "
             "Right: the outlined corner of the final lattice magnified, where the √3×√3 order "
             "(Li at the centres of Mn hexagons) and its domain walls are visible."),
    "fig8": ("fig08_triplets_vs_pairs.png", "Triplet against pair concentrations at x = 1/2 and 1/3: "
             "data and the PA / OA-hard closures calibrated on each (paper Fig. 8)."),
    "fig9": ("fig09_errors_hard.png", "Per-type errors J_τ of PA, SA and OA-hard at the calibration "
             "compositions x = 1/2 (plain bars) and 1/3 (hatched) (paper Fig. 9)."),
    "fig10": ("fig10_errors_soft.png", "Per-type errors J_τ of PA and OA-soft at x = 1/2 (plain bars) "
              "and 1/3 (hatched) (soft regularisation; cf. paper Figs. 9–10)."),
    "fig11a": ("fig11a_mean_error_hard.png", "Mean error ℰ (eq. 30) against composition: PA and "
               "OA-hard calibrated at 1/3 and 1/2 (paper Fig. 11a); beyond the paper, OA-hard and the "
               "consistent closure calibrated on all compositions (in-sample)."),
    "fig11b": ("fig11b_mean_error_soft.png", "Mean error ℰ against composition: PA and OA-soft "
               "(paper Fig. 11b)."),
    "fig12": ("fig12_mean_error_pa_oa_sa.png", "Mean error ℰ against composition for PA, OA-hard-1/3 "
              "and SA (paper Fig. 12), and the consistent closure calibrated on all compositions."),
    "fig12b": ("fig12b_mean_error_loco.png", "Leave-one-composition-out: ℰ on each composition of PA and "
               "of OA-hard and the consistent closure calibrated on the nine others (beyond the paper)."),
    "fig13_PA": ("fig13a_posterior_PA.png", "DR-MH posterior samples of the rates, PA closure "
                 "(paper Fig. 13a,b): k1, k2, k3 as axes, k4, k5, k7 as RGB; size ∝ 1/F."),
    "fig13_OA": ("fig13c_posterior_OA-hard-1_2.png", "DR-MH posterior samples, OA-hard-1/2 closure "
                 "(paper Fig. 13c,d)."),
    "fig14": ("fig14_loss_histograms.png", "Histograms of F along the DR-MH and NUTS chains for PA "
              "and OA-hard-1/2; black line: F of the SA fit (paper Fig. 14)."),
}


__all__ = ["FIGURES"]
