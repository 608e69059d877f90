"""The claims audit (issue 13; docs/model.md §8.1): every quantitative claim of the paper, our
number beside it, a verdict computed with a stated tolerance, and the reason as a computation
anyone can rerun.

* `meanclust_jax.audit.CLAIMS` / `evaluate_claims`: the claims (id, the paper's words and
  location) and their verdicts from a dict of computed numbers;
* analytic checks (`pair_conservation`, `sparse_alpha_ratio`, `sparse_normalisation`,
  `ground_state`, `closures_at_state`, `ordered_error_floor`, ...);
* `protocol_sensitivity`: how the closure results depend on the protocol that made the data;
* `run_audit`: all of it into a folder (``meanclust audit``), and `audit_stage` for
  ``meanclust reproduce``.
"""

from ._checks import (
    Check as Check,
    GroundState as GroundState,
    closure_bias as closure_bias,
    closure_from_vectors as closure_from_vectors,
    closures_at_state as closures_at_state,
    ground_state as ground_state,
    ordered_error_floor as ordered_error_floor,
    ordered_records as ordered_records,
    pair_conservation as pair_conservation,
    random_state as random_state,
    sparse_alpha_ratio as sparse_alpha_ratio,
    sparse_normalisation as sparse_normalisation,
    sqrt3_configuration as sqrt3_configuration,
)
from ._claims import (
    CLAIM_IDS as CLAIM_IDS,
    CLAIMS as CLAIMS,
    VERDICTS as VERDICTS,
    Claim as Claim,
    evaluate_claims as evaluate_claims,
    verdict_counts as verdict_counts,
)
from ._numbers import (
    claim_numbers as claim_numbers,
    identifiability as identifiability,
    paper_closures as paper_closures,
)
from ._run import run_audit as run_audit, study_inputs as study_inputs
from ._sensitivity import (
    Protocol as Protocol,
    default_protocols as default_protocols,
    protocol_sensitivity as protocol_sensitivity,
)
