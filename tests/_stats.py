"""Statistical helpers for the tests: batch-means standard errors."""

from __future__ import annotations

import numpy as np


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
