"""Shared test fixtures. The tests run in float64, switched on here explicitly (importing
meanclust_jax leaves JAX's precision alone; `tests/test_precision.py` checks that in a fresh
process), with strict dtype promotion and rank promotion "raise": an implicit cast (int with
float, float32 with float64) or an implicit broadcast of arrays of different ranks in the package
fails here instead of passing silently. Third-party code that needs JAX's standard promotion is
scoped off where it is called, with a comment naming the call.

Every call into the package is also checked against its jaxtyping annotations (shapes, dtypes,
types) by beartype at run time, as diffrax's and equinox's suites do: the plugin option
``--jaxtyping-packages`` in ``pyproject.toml`` instruments ``meanclust_jax`` as it is imported,
before this file runs. Tests of our own bad-input errors switch it off around the bad call
(`helpers.unchecked`)."""

from __future__ import annotations

import itertools

import jax
import pytest

import meanclust_jax

meanclust_jax.enable_float64()
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def getkey():
    """Return a function giving a fresh, deterministic PRNG key on each call."""
    counter = itertools.count()
    return lambda: jax.random.key(next(counter))
