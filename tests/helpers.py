"""Constants and helpers shared by several test files.

`batch_means`: batch-means standard errors of Monte Carlo series. `unchecked`: the package as a
user calls it, without the test-time runtime checking of its annotations (for bad-input tests).

The synthetic rate problem of the inference tests: a random lattice at x = 1/3 (singlets
``(2/3, 1/3)``, pairs ``(x_+^2, x_-^2, x_+ x_-) = (4/9, 1/9, 2/9)``), rates ``K_TRUE`` per unit
time, records on ``TS``; `clean_pairs` is its noise-free trajectory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import diffrax
import jax.numpy as jnp
import numpy as np

from meanclust_jax.ode import solve_pairs

C_SINGLE = jnp.array([2 / 3, 1 / 3])
C_PAIR0 = jnp.array([4 / 9, 1 / 9, 2 / 9])
TS = jnp.linspace(0.0, 3.0, 31)
K_TRUE = jnp.array([0.3, 0.2, 0.5, 0.4, 0.1, 0.2, 0.6, 0.3])


def clean_pairs(closure, K=K_TRUE, C0=C_PAIR0, ts=TS, *, rtol: float = 1e-10, atol: float = 1e-12):
    """Noise-free pair concentrations ``(len(ts), 3)`` of the closed model (Tsit5, tight
    tolerances), as a JAX array."""
    return solve_pairs(K, closure, C_SINGLE, C0, ts, solver=diffrax.Tsit5(), rtol=rtol, atol=atol).C_pair


def batch_means(series: np.ndarray, n_batches: int = 10) -> tuple[float, float]:
    """Mean and batch-means standard error of ``series (replicas, time)``.

    Each replica's (equilibrated) series is cut into `n_batches` contiguous batches; the batch
    means of all replicas are treated as independent samples.
    """
    x = np.asarray(series, dtype=float)
    x = x.reshape(1, -1) if x.ndim == 1 else x
    n = (x.shape[1] // n_batches) * n_batches
    means = x[:, :n].reshape(x.shape[0], n_batches, -1).mean(axis=2).ravel()
    return float(means.mean()), float(means.std(ddof=1) / np.sqrt(means.size))


__all__ = ["C_PAIR0", "C_SINGLE", "K_TRUE", "TS", "batch_means", "clean_pairs"]


@contextlib.contextmanager
def unchecked() -> Iterator[None]:
    """Switch off the runtime type checking of the package's annotations (``pyproject.toml``'s
    ``--jaxtyping-packages``) inside the block.

    Tests of bad input call the package the way a user does (no type checker), so that what
    answers a wrong type or shape is the package's own validator (a `ValueError` naming the
    parameter and its allowed range), not beartype's report of the annotation.
    """
    import jaxtyping

    previous = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", previous)
