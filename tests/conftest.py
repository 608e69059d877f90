"""Shared test fixtures. Importing meanclust_jax switches JAX to float64."""

from __future__ import annotations

import itertools

import jax
import pytest

import meanclust_jax  # noqa: F401  (enables float64)


@pytest.fixture
def getkey():
    """Return a function giving a fresh, deterministic PRNG key on each call."""
    counter = itertools.count()
    return lambda: jax.random.key(next(counter))
