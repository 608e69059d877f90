"""The closed mean-cluster ODE (paper Sections III and VI.B; docs/model.md §6).

``pair_rhs`` / ``solve_pairs`` integrate the pair system (8) closed by any closure with diffrax;
``equilibrium_constants`` gives ``Q(K)`` of eq. (7); ``sparse_solution`` and ``fit_sparse``
are the SA closure's closed form (29) and its two-parameter fit (28); `PiecewiseConstantRates` and
`solve_pairs_with_rates` integrate (8) with time-dependent rates (e.g. measured by the engine).
"""

from ._misfit import trapezoid_misfit as trapezoid_misfit
from ._rates import (
    PiecewiseConstantRates as PiecewiseConstantRates,
    solve_pairs_with_rates as solve_pairs_with_rates,
)
from ._sparse import (
    SparseFit as SparseFit,
    fit_sparse as fit_sparse,
    sparse_alphas as sparse_alphas,
    sparse_misfit as sparse_misfit,
    sparse_solution as sparse_solution,
)
from ._system import (
    AUTO_EXPLICIT_STEPS as AUTO_EXPLICIT_STEPS,
    EQUILIBRIUM_NAMES as EQUILIBRIUM_NAMES,
    RATE_NAMES as RATE_NAMES,
    PairTrajectory as PairTrajectory,
    check_rates as check_rates,
    check_times as check_times,
    check_tolerances as check_tolerances,
    closure_equilibrium_constants as closure_equilibrium_constants,
    equilibrium_constants as equilibrium_constants,
    pair_rhs as pair_rhs,
    solve_pairs as solve_pairs,
)
