"""Bayesian inference of the reaction rates (paper Section V and VI.D; docs/model.md §7).

data (`PairData`) → loss ``F(K)`` of eq. (17) (`RateProblem`) → multistart point estimate
``Y1`` (`multistart`) → posterior ``∝ exp(−F)`` (`rate_posterior_model`,
`sparse_posterior_model`) sampled by NumPyro NUTS or the paper's delayed-rejection
Metropolis–Hastings (`DelayedRejectionMH`) → ArviZ ``InferenceData`` (`sample_posterior`,
`save_posterior`).
"""

from ._data import PairData as PairData
from ._drmh import (
    DelayedRejectionMH as DelayedRejectionMH,
    DRMHDraws as DRMHDraws,
    DRMHInfo as DRMHInfo,
    DRMHKernelState as DRMHKernelState,
    DRMHState as DRMHState,
    default_scales as default_scales,
    drmh_draw as drmh_draw,
    drmh_init as drmh_init,
    drmh_step as drmh_step,
    drmh_transition as drmh_transition,
    first_stage_log_accept as first_stage_log_accept,
    second_stage_log_accept as second_stage_log_accept,
    uniform_box_logpdf as uniform_box_logpdf,
)
from ._loss import RateProblem as RateProblem, make_problem as make_problem
from ._model import (
    PosteriorModel as PosteriorModel,
    rate_posterior_model as rate_posterior_model,
    sparse_posterior_model as sparse_posterior_model,
)
from ._optimise import MultistartResult as MultistartResult, multistart as multistart
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
