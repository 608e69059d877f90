"""The test-time runtime checking of the package's annotations is on (``pyproject.toml``'s
``--jaxtyping-packages``), and `helpers.unchecked` switches it off."""

from __future__ import annotations

import jaxtyping
import numpy as np
import pytest
from helpers import unchecked

from meanclust_jax.inference import identifiable_combinations


def test_annotations_are_checked_at_run_time():
    # Float[..., "*batch 8"]: a wrong length and a wrong dtype are both refused by the checker.
    with pytest.raises(jaxtyping.TypeCheckError, match="identifiable_combinations"):
        identifiable_combinations(np.zeros(7))
    with pytest.raises(jaxtyping.TypeCheckError, match="identifiable_combinations"):
        identifiable_combinations(np.arange(8))
    np.testing.assert_allclose(identifiable_combinations(np.arange(8.0)), [1.0, 11.0, 21.0, 31.0])
    rates = [float(k) for k in range(8)]  # a list: fine numerically, but not an annotated array
    with pytest.raises(jaxtyping.TypeCheckError):
        identifiable_combinations(rates)
    with unchecked():
        np.testing.assert_allclose(identifiable_combinations(rates), [1.0, 11.0, 21.0, 31.0])
    with pytest.raises(jaxtyping.TypeCheckError):  # and the checking is back after the block
        identifiable_combinations(rates)
