"""Numbers printed in the paper, for side-by-side comparison in reports.

They live in `meanclust_jax.paper` (the paper in one place); this module keeps the names it has
always offered.
"""

from __future__ import annotations

from ..paper import (
    QUALITATIVE as QUALITATIVE,
    SA_ALPHA as SA_ALPHA,
    SA_IMPROVEMENT_OVER_PA_PERCENT as SA_IMPROVEMENT_OVER_PA_PERCENT,
    TABLE_II as TABLE_II,
)

__all__ = ["QUALITATIVE", "SA_ALPHA", "SA_IMPROVEMENT_OVER_PA_PERCENT", "TABLE_II"]
