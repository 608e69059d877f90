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

Beyond the paper:

* `ConsistentClosure`: chain triplets fixed by the pairs up to one log odds ratio per shape
  and centre species (Plackett's 2×2 table), triangles up to their three-factor interaction;
  consistent, normalised and in ``[0, w]`` for any parameters; the five free quantities are
  linear in learned coefficients over log-space features of the pair state.
* `fit_consistent_closure`, `fit_closure` (``family="optimal" | "consistent"``): joint
  calibration on several runs (compositions), replicas as separate observations;
  `fit_optimal_closure` also accepts several runs.
* `leave_one_composition_out`: each family calibrated without a composition, tested on it.
* `discover_closure`, `sparse_discovery_study`: sparse selection in log space (OLS, ARD, LASSO,
  RFE with scikit-learn) and refit under the family's constraints.
* `closure_committee`, `committee_disagreement`, `active_learning_curve`: query by committee
  over compositions (which composition to anneal next).

Parameter order of ``V_τ``: numerator exponents over the pair types in order of first
appearance among the bonds ``(i,j), (j,k), (i,k)``; then ``ξ1`` on the centre species and
``ξ2`` on the other (our reading of Table II).
"""

from ..dataset import check_concentrations as check_concentrations
from ._active import (
    active_learning_curve as active_learning_curve,
    closure_committee as closure_committee,
    committee_disagreement as committee_disagreement,
)
from ._base import (
    AbstractClosure as AbstractClosure,
    AbstractMonomialClosure as AbstractMonomialClosure,
    closure_kinds as closure_kinds,
    register_closure as register_closure,
)
from ._calibration import fit_optimal_closure as fit_optimal_closure
from ._consistent import (
    BASE_LOGS as BASE_LOGS,
    DEFAULT_BASIS as DEFAULT_BASIS,
    QUANTITIES as QUANTITIES,
    ConsistentClosure as ConsistentClosure,
    empirical_quantities as empirical_quantities,
    feature_library as feature_library,
    parse_feature as parse_feature,
    plackett_table as plackett_table,
    triangle_from_pairs as triangle_from_pairs,
)
from ._consistent_fit import fit_consistent_closure as fit_consistent_closure, resolve_ridge as resolve_ridge
from ._discovery import (
    METHODS as METHODS,
    discover_closure as discover_closure,
    select_terms as select_terms,
    sparse_discovery_study as sparse_discovery_study,
)
from ._errors import (
    closure_errors as closure_errors,
    mean_closure_error as mean_closure_error,
    predict_triplets as predict_triplets,
)
from ._families import FAMILIES as FAMILIES, fit_closure as fit_closure
from ._io import load_closure as load_closure
from ._optimal import (
    REGULARIZATIONS as REGULARIZATIONS,
    OptimalApproximation as OptimalApproximation,
    constraint_violation as constraint_violation,
    resolve_bounds as resolve_bounds,
)
from ._pair import PairApproximation as PairApproximation
from ._projection import project_exponents as project_exponents
from ._sparse import SparseApproximation as SparseApproximation
from ._structure import param_names as param_names, param_symbols as param_symbols
from ._study import (
    PAPER_COMPOSITIONS as PAPER_COMPOSITIONS,
    beyond_paper_study as beyond_paper_study,
    cross_stoichiometry_study as cross_stoichiometry_study,
    leave_one_composition_out as leave_one_composition_out,
    loco_summary as loco_summary,
)
from ._tables import error_table as error_table, exponent_table as exponent_table
