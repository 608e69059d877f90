"""meanclust_jax: GPU-accelerated, differentiable mean-cluster models of lattice dynamics.

Implements "Data-Driven Optimal Closures for Mean-Cluster Models: Beyond the Classical Pair
Approximation" (Ahmadi, Foster, Protas). The pipeline, one module each:

lattice → energy → engine (annealing) → concentrations → closures → ode → inference → reports

!!! note "float64"
    Importing this package switches JAX to 64-bit mode (``jax_enable_x64``): the mean-cluster
    ODE and everything differentiated through it needs float64 (float32 gives NaN gradients and
    runaway step counts in diffrax). The annealing engine uses explicit int8/int32/float32 dtypes
    and is unaffected.
"""

from __future__ import annotations

import jax as _jax

_jax.config.update("jax_enable_x64", True)

from ._version import __version__ as __version__  # noqa: E402
from ._labels import PAIRS as PAIRS, SPECIES as SPECIES, TRIPLETS as TRIPLETS  # noqa: E402

from . import schedules as schedules  # noqa: E402
from .concentrations import concentrations as concentrations  # noqa: E402
from .dataset import load_trajectory as load_trajectory, save_trajectory as save_trajectory  # noqa: E402
from .energy import (  # noqa: E402
    ChargeNeutralityHamiltonian as ChargeNeutralityHamiltonian,
    TriangleBondHamiltonian as TriangleBondHamiltonian,
    total_energy as total_energy,
)
from .engine import anneal as anneal  # noqa: E402
from .lattice import TriangularLattice as TriangularLattice  # noqa: E402
from .closures import (  # noqa: E402
    AbstractClosure as AbstractClosure,
    ConsistentClosure as ConsistentClosure,
    OptimalApproximation as OptimalApproximation,
    PairApproximation as PairApproximation,
    SparseApproximation as SparseApproximation,
    closure_errors as closure_errors,
    fit_closure as fit_closure,
    fit_consistent_closure as fit_consistent_closure,
    fit_optimal_closure as fit_optimal_closure,
    load_closure as load_closure,
    mean_closure_error as mean_closure_error,
)
from .ode import (  # noqa: E402
    equilibrium_constants as equilibrium_constants,
    fit_sparse as fit_sparse,
    solve_pairs as solve_pairs,
    sparse_solution as sparse_solution,
)
from .inference import (  # noqa: E402
    DelayedRejectionMH as DelayedRejectionMH,
    RateProblem as RateProblem,
    infer_rates as infer_rates,
    infer_sparse as infer_sparse,
    load_posterior as load_posterior,
    make_problem as make_problem,
    multistart as multistart,
    posterior_summary as posterior_summary,
    sample_posterior as sample_posterior,
    save_posterior as save_posterior,
)
