"""Closures of the mean-cluster hierarchy (paper Section IV, Tables I–III, Section VI.A–C; docs/model.md §5).

A closure maps singlet and pair concentrations to the 16 triplet concentrations (docs/model.md §4 order,
shape weight included): ``closure(C_single (..., 2), C_pair (..., 3)) -> (..., 16)``.

* `PairApproximation`, `SparseApproximation`, `OptimalApproximation`: equinox modules sharing
  that interface; each prints itself as a table of formulas (`describe`).
* `fit_optimal_closure`: calibrate OA on an annealing trajectory under eq. (16) ("hard",
  "soft" or user bounds) by projected gradient, with a per-type report.
* `closure_errors` (``J_τ``, eq. (15)) and `mean_closure_error` (``ℰ``, eq. (30)).
* `cross_stoichiometry_study`: OA calibrated at some compositions vs PA and SA at all.
* `load_closure` / ``closure.save(path)``: JSON. Closure classes register themselves by
  ``kind`` (`register_closure`, `closure_kinds`), so a new family loads without editing `_io`.
* `predict_triplets`: a closure's triplet concentrations on checked data (NumPy);
  `param_names` / `param_symbols`: the order and symbols of the paper's vector ``V_τ``.
* The paper's compositions, Table II and `composition_label` live in `meanclust_jax.paper`.

Parameter order of ``V_τ``: numerator exponents over the pair types in order of first
appearance among the bonds ``(i,j), (j,k), (i,k)``; then ``ξ1`` on the centre species and
``ξ2`` on the other (our reading of Table II).
"""

from ..dataset import check_concentrations as check_concentrations
from ._base import (
    AbstractClosure as AbstractClosure,
    AbstractMonomialClosure as AbstractMonomialClosure,
    closure_kinds as closure_kinds,
    register_closure as register_closure,
)
from ._calibration import fit_optimal_closure as fit_optimal_closure
from ._errors import (
    closure_errors as closure_errors,
    mean_closure_error as mean_closure_error,
    predict_triplets as predict_triplets,
)
from ._io import load_closure as load_closure
from ._optimal import (
    REGULARIZATIONS as REGULARIZATIONS,
    OptimalApproximation as OptimalApproximation,
    constraint_violation as constraint_violation,
)
from ._pair import PairApproximation as PairApproximation
from ._projection import project_exponents as project_exponents
from ._sparse import SparseApproximation as SparseApproximation
from ._structure import param_names as param_names, param_symbols as param_symbols
from ._study import (
    PAPER_COMPOSITIONS as PAPER_COMPOSITIONS,
    cross_stoichiometry_study as cross_stoichiometry_study,
)
from ._tables import error_table as error_table, exponent_table as exponent_table
