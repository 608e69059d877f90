"""meanclust_jax: GPU-accelerated, differentiable mean-cluster models of lattice dynamics.

Implements "Data-Driven Optimal Closures for Mean-Cluster Models: Beyond the Classical Pair
Approximation" (Ahmadi, Foster, Protas). The pipeline, one module each:

lattice → energy → engine (annealing) → concentrations → closures → ode → inference → reports

What the paper prints or prescribes (compositions, Table II, ...) is in `meanclust_jax.paper`.

!!! note "float64"
    Importing this package leaves JAX's precision alone. The mean-cluster ODE and everything
    differentiated through it (rate inference, the SA fit, the closure calibration) needs
    float64 (float32 gives NaN gradients and runaway step counts in diffrax): call
    ``meanclust_jax.enable_float64()`` once at the start of your program; those functions raise
    a `RuntimeError` saying so otherwise. The ``meanclust`` command and the study switch it on
    themselves. The annealing engine uses explicit int8/int32/float32 dtypes and runs the same
    either way.
"""

from __future__ import annotations

from . import concentrations as concentrations, paper as paper, schedules as schedules
from ._labels import PAIRS as PAIRS, SPECIES as SPECIES, TRIPLETS as TRIPLETS
from ._precision import enable_float64 as enable_float64
from ._version import __version__ as __version__
from .closures import (
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
from .concentrations import cluster_concentrations as cluster_concentrations
from .dataset import load_trajectory as load_trajectory, save_trajectory as save_trajectory
from .energy import (
    ChargeNeutralityHamiltonian as ChargeNeutralityHamiltonian,
    TriangleBondHamiltonian as TriangleBondHamiltonian,
    total_energy as total_energy,
)
from .engine import anneal as anneal
from .inference import (
    DelayedRejectionMH as DelayedRejectionMH,
    RateProblem as RateProblem,
    compare_posteriors as compare_posteriors,
    convergence as convergence,
    infer_rates as infer_rates,
    infer_sparse as infer_sparse,
    load_posterior as load_posterior,
    make_problem as make_problem,
    multistart as multistart,
    polish as polish,
    posterior_summary as posterior_summary,
    sample_posterior as sample_posterior,
    save_posterior as save_posterior,
)
from .lattice import TriangularLattice as TriangularLattice
from .ode import (
    equilibrium_constants as equilibrium_constants,
    fit_sparse as fit_sparse,
    solve_pairs as solve_pairs,
    sparse_solution as sparse_solution,
)
