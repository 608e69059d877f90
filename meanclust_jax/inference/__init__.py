"""Bayesian inference of the reaction rates (paper Section V and VI.D; docs/model.md §7).

data (`PairData`) → loss ``F(K)`` of eq. (17) (`RateProblem`) → point estimate ``Y1``
(`multistart`, then `polish` by Levenberg–Marquardt; `stationarity`) → posterior with the
Gaussian noise model (default) or the paper's ``exp(−βF)`` (`rate_posterior_model`,
`sparse_posterior_model`), sampled by NumPyro NUTS or delayed-rejection Metropolis–Hastings
(`DelayedRejectionMH`: adaptive DRAM, or the paper's Algorithm 1) → ArviZ ``InferenceData``
(`sample_posterior`, `save_posterior`) → `convergence` (R-hat, ESS, MCSE) and
`compare_posteriors` (NUTS vs DR-MH).
"""

from ._data import PairData as PairData
from ._diagnostics import (
    PROJECTION_MARGIN as PROJECTION_MARGIN,
    Agreement as Agreement,
    Convergence as Convergence,
    compare_posteriors as compare_posteriors,
    convergence as convergence,
    projected_draws as projected_draws,
)
from ._drmh import (
    DRMH_VARIANTS as DRMH_VARIANTS,
    DelayedRejectionMH as DelayedRejectionMH,
    DRAMAdaptation as DRAMAdaptation,
    DRMHDraws as DRMHDraws,
    DRMHInfo as DRMHInfo,
    DRMHKernelState as DRMHKernelState,
    DRMHState as DRMHState,
    default_scales as default_scales,
    dram_adaptation_init as dram_adaptation_init,
    dram_adaptation_update as dram_adaptation_update,
    dram_adapted_chol as dram_adapted_chol,
    dram_draw as dram_draw,
    dram_transition as dram_transition,
    drmh_draw as drmh_draw,
    drmh_init as drmh_init,
    drmh_step as drmh_step,
    drmh_transition as drmh_transition,
    first_stage_log_accept as first_stage_log_accept,
    gaussian_logpdf as gaussian_logpdf,
    second_stage_log_accept as second_stage_log_accept,
    uniform_box_logpdf as uniform_box_logpdf,
)
from ._loss import RateProblem as RateProblem, make_problem as make_problem
from ._model import (
    LIKELIHOODS as LIKELIHOODS,
    PosteriorModel as PosteriorModel,
    default_combination_bounds as default_combination_bounds,
    gaussian_log_likelihood as gaussian_log_likelihood,
    rate_posterior_model as rate_posterior_model,
    sparse_posterior_model as sparse_posterior_model,
)
from ._optimise import (
    MultistartResult as MultistartResult,
    PolishResult as PolishResult,
    Stationarity as Stationarity,
    compare_replica_fits as compare_replica_fits,
    multistart as multistart,
    polish as polish,
    stationarity as stationarity,
)
from ._parametrization import (
    IDENTIFIABLE_NAMES as IDENTIFIABLE_NAMES,
    identifiable_combinations as identifiable_combinations,
    rates_from_combinations as rates_from_combinations,
    split_fractions as split_fractions,
)
from ._posterior import (
    SAMPLERS as SAMPLERS,
    diagnostics as diagnostics,
    infer_rates as infer_rates,
    infer_sparse as infer_sparse,
    load_posterior as load_posterior,
    loss_along_chains as loss_along_chains,
    posterior_summary as posterior_summary,
    sample_posterior as sample_posterior,
    save_posterior as save_posterior,
)
