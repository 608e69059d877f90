"""Convergence diagnostics of posterior draws, and the agreement of two samplers (issue 10).

The standard (docs/model.md §7.4; Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021, "Rank-normalization,
folding, and localization: an improved R-hat"): at least 4 chains, rank-normalised split R-hat
``≤ 1.01``, bulk and tail effective sample sizes ``≥ 400``, and the Monte Carlo standard error
(MCSE) reported with every posterior mean. Everything is computed by ArviZ
(``arviz.summary``, unrounded).

Two samplers agree on a quantity when their posterior means differ by at most ``tol`` (default
4) combined standard errors, ``|m_a − m_b| ≤ tol √(MCSE_a² + MCSE_b²)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import arviz as az

#: Default thresholds of the convergence standard.
RHAT_MAX: float = 1.01
ESS_MIN: float = 400.0
MIN_CHAINS: int = 4


def default_quantities(idata: az.InferenceData) -> list[str]:
    """The reported quantities of a posterior written by `sample_posterior`, in order.

    ``k`` / ``alpha``, ``k_identifiable`` and ``sigma`` where present (``F`` is a derived
    diagnostic and is not part of the convergence contract).
    """
    names = [v for v in ("k", "alpha", "k_identifiable", "sigma") if v in idata.posterior]
    if not names:
        raise ValueError(
            "idata has none of the quantities k, alpha, k_identifiable, sigma in its posterior group"
        )
    return names


@dataclass(frozen=True)
class Convergence:
    """Convergence of every reported quantity of one posterior.

    **Fields:**

    - `table`: a ``pandas.DataFrame``, one row per scalar quantity (e.g. ``k[k1]``), columns
      ``mean, sd, mcse_mean, mcse_sd, ess_bulk, ess_tail, r_hat, converged``.
    - `num_chains`, `num_draws`: chains and draws per chain.
    - `rhat_max`, `ess_min`: the thresholds used.
    - `converged`: every row converged and at least `MIN_CHAINS` chains.
    - `failures`: human-readable reasons, e.g. ``"k[k6]: R-hat 1.04 > 1.01"``; empty when
      converged.
    """

    table: object
    num_chains: int
    num_draws: int
    rhat_max: float
    ess_min: float
    converged: bool
    failures: tuple[str, ...]

    def to_dict(self) -> dict:
        """JSON-able form: thresholds, verdict, failures and the table as ``{row: {col: value}}``."""
        rows = {
            str(name): {col: (bool(v) if col == "converged" else float(v)) for col, v in row.items()}
            for name, row in self.table.to_dict(orient="index").items()
        }
        return {
            "num_chains": self.num_chains,
            "num_draws": self.num_draws,
            "rhat_max": self.rhat_max,
            "ess_min": self.ess_min,
            "converged": self.converged,
            "failures": list(self.failures),
            "table": rows,
        }


def convergence(
    idata: az.InferenceData,
    var_names: Sequence[str] | None = None,
    *,
    rhat_max: float = RHAT_MAX,
    ess_min: float = ESS_MIN,
) -> Convergence:
    """R-hat, bulk and tail ESS and MCSE of every sampled quantity, and the verdict.

    **Arguments:**

    - `idata`: an ``arviz.InferenceData`` with a ``posterior`` group (``chain``, ``draw``).
    - `var_names`: the quantities; default `default_quantities`.
    - `rhat_max`: largest acceptable rank-normalised R-hat (default 1.01).
    - `ess_min`: smallest acceptable bulk and tail ESS (default 400).

    **Returns:**

    A `Convergence`.

    **Raises:**

    - `ValueError` for unknown variables or thresholds out of range (``rhat_max < 1``,
      ``ess_min < 0``).
    """
    import arviz as az

    if not (np.isfinite(rhat_max) and rhat_max >= 1):
        raise ValueError(f"rhat_max must be a finite number >= 1, got {rhat_max!r}")
    if not (np.isfinite(ess_min) and ess_min >= 0):
        raise ValueError(f"ess_min must be a finite number >= 0, got {ess_min!r}")
    names = default_quantities(idata) if var_names is None else list(var_names)
    missing = [v for v in names if v not in idata.posterior]
    if missing:
        raise ValueError(f"var_names {missing} are not in the posterior (have {list(idata.posterior.data_vars)})")
    table = az.summary(idata, var_names=names, round_to="none", kind="all")
    table = table[["mean", "sd", "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat"]].copy()
    n_chains = int(idata.posterior.sizes["chain"])
    n_draws = int(idata.posterior.sizes["draw"])
    failures: list[str] = []
    ok_rows = []
    for name, row in table.iterrows():
        reasons = []
        if not (np.isfinite(row["r_hat"]) and row["r_hat"] <= rhat_max):
            reasons.append(f"R-hat {row['r_hat']:.4g} > {rhat_max}")
        for col, label in (("ess_bulk", "bulk ESS"), ("ess_tail", "tail ESS")):
            if not (np.isfinite(row[col]) and row[col] >= ess_min):
                reasons.append(f"{label} {row[col]:.0f} < {ess_min:.0f}")
        ok_rows.append(not reasons)
        failures.extend(f"{name}: {r}" for r in reasons)
    table["converged"] = ok_rows
    if n_chains < MIN_CHAINS:
        failures.insert(0, f"{n_chains} chain(s) < {MIN_CHAINS}: R-hat cannot be trusted")
    return Convergence(
        table=table, num_chains=n_chains, num_draws=n_draws, rhat_max=float(rhat_max),
        ess_min=float(ess_min), converged=not failures, failures=tuple(failures),
    )


#: A further round of `sample_posterior(until_converged=True)` is drawn only while the projected
#: draws per chain (`projected_draws`) are at most this multiple of the draw budget.
PROJECTION_MARGIN: float = 2.0


def projected_draws(conv: Convergence, draws_per_chain: int) -> float:
    """Draws per chain that would bring the smallest bulk or tail ESS of `conv` to its
    ``ess_min``, if ESS grows linearly with the draws (as it does for a chain that mixes).

    ``draws_per_chain × ess_min / min ESS``; ``inf`` when an ESS is zero or not finite. Used to
    stop `sample_posterior(until_converged=True)` early when even twice the budget would not
    reach the standard (chains stuck in separate modes have ESS of a few per chain, and more
    draws of them do not help).
    """
    table = conv.table
    ess = float(min(np.min(table["ess_bulk"].to_numpy()), np.min(table["ess_tail"].to_numpy())))
    if not (np.isfinite(ess) and ess > 0):
        return float("inf")
    return float(draws_per_chain) * max(conv.ess_min / ess, 1.0)


@dataclass(frozen=True)
class Agreement:
    """Whether two posteriors of the same problem agree (e.g. NUTS and DR-MH).

    **Fields:**

    - `table`: ``pandas.DataFrame`` per scalar quantity: ``mean_a, mean_b, mcse_a, mcse_b, z,
      agree`` with ``z = |mean_a − mean_b| / √(mcse_a² + mcse_b²)``.
    - `tol`: the tolerance in combined standard errors.
    - `agree`: every row agrees.
    - `disagreements`: readable descriptions of the rows that do not.
    """

    table: object
    tol: float
    agree: bool
    disagreements: tuple[str, ...]

    def to_dict(self) -> dict:
        """JSON-able form."""
        rows = {
            str(name): {col: (bool(v) if col == "agree" else float(v)) for col, v in row.items()}
            for name, row in self.table.to_dict(orient="index").items()
        }
        return {"tol": self.tol, "agree": self.agree, "disagreements": list(self.disagreements), "table": rows}


def compare_posteriors(
    idata_a: az.InferenceData,
    idata_b: az.InferenceData,
    var_names: Sequence[str] | None = None,
    *,
    tol: float = 4.0,
) -> Agreement:
    """Compare the posterior means of two samplers quantity by quantity, within ``tol`` MCSE.

    **Arguments:**

    - `idata_a`, `idata_b`: two posteriors of the same model.
    - `var_names`: quantities (default: those of `default_quantities` present in both).
    - `tol`: tolerance in combined MCSE, ``> 0`` (default 4).

    **Returns:**

    An `Agreement`.

    **Raises:**

    - `ValueError` if the posteriors have no common quantity, or shapes differ, or ``tol <= 0``.
    """
    import pandas as pd

    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    if var_names is None:
        names_b = set(default_quantities(idata_b))
        var_names = [v for v in default_quantities(idata_a) if v in names_b]
    if not var_names:
        raise ValueError("the two posteriors have no quantity in common")
    a = convergence(idata_a, var_names).table
    b = convergence(idata_b, var_names).table
    if list(a.index) != list(b.index):
        raise ValueError(f"the posteriors' quantities differ: {list(a.index)} vs {list(b.index)}")
    se = np.sqrt(a["mcse_mean"].to_numpy() ** 2 + b["mcse_mean"].to_numpy() ** 2)
    diff = np.abs(a["mean"].to_numpy() - b["mean"].to_numpy())
    z = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(diff == 0, 0.0, np.inf))
    table = pd.DataFrame({"mean_a": a["mean"], "mean_b": b["mean"], "mcse_a": a["mcse_mean"],
                          "mcse_b": b["mcse_mean"], "z": z})
    table["agree"] = table["z"] <= tol
    bad = tuple(
        f"{name}: {row['mean_a']:.4g} vs {row['mean_b']:.4g} differ by {row['z']:.1f} combined MCSE"
        for name, row in table.iterrows() if not row["agree"]
    )
    return Agreement(table=table, tol=float(tol), agree=not bad, disagreements=bad)


__all__ = [
    "ESS_MIN",
    "MIN_CHAINS",
    "PROJECTION_MARGIN",
    "RHAT_MAX",
    "Agreement",
    "Convergence",
    "compare_posteriors",
    "convergence",
    "default_quantities",
    "projected_draws",
]
