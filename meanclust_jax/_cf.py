"""CF metadata (Conventions ``CF-1.10``) of every netCDF file the package writes: a ``long_name``
and ``units`` for each variable and coordinate, so that xarray's and ArviZ's plots label their
axes by themselves and other tools read the files without our code.

Units follow the package's conventions (`docs/model.md` §3–§7): concentrations are
dimensionless (``"1"``), time is counted in sweeps (``"sweep"``; one sweep = ``N`` attempted
swaps), rates are per sweep (``"1/sweep"``), temperature and energy are in the Hamiltonian's
energy units (``k_B = 1``; ``"1"`` for the dimensionless charge-neutrality energy). Labels and
indices (``species``, ``triplet``, ``chain``, …) get ``units = "1"``.

The tables are plain dictionaries ``name → (long_name, units)``; `apply_cf` writes them onto a
Dataset, `cf_posterior_attrs` onto the groups of an ArviZ ``InferenceData``. This module imports
nothing of the package above `meanclust_jax._labels`, so every layer may use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import arviz as az
    import xarray as xr

#: The value of the global ``Conventions`` attribute.
CONVENTIONS = "CF-1.10"

#: Where the model and its symbols are stated.
REFERENCES = (
    "A. Ahmadi, J. M. Foster, B. Protas, Data-Driven Optimal Closures for Mean-Cluster Models: "
    "Beyond the Classical Pair Approximation; meanclust_jax docs/model.md"
)

_LABEL = "1"
_TIME = "sweep"

#: Annealing trajectories (`meanclust_jax.dataset.to_dataset`). ``None`` as units means "the
#: Hamiltonian's energy units", filled in by `trajectory_table`.
TRAJECTORY: dict[str, tuple[str, str | None]] = {
    # coordinates
    "time": ("time since the start of the anneal", _TIME),
    "snapshot_time": ("time of the configuration snapshot", _TIME),
    "replica": ("replica index (independent run)", _LABEL),
    "species": ("species: + (Mn), - (Li)", _LABEL),
    "pair": ("pair type; +- is one oriented mixed bond", _LABEL),
    "triplet": ("triplet type shape:pattern, odd species last (docs/model.md section 4)", _LABEL),
    "orientation": ("bond orientation v0=(1,0), v1=(0,1), v2=(-1,1)", _LABEL),
    "n_minus": ("number of - (Li) sites in an elementary triangle", _LABEL),
    "row": ("lattice row, axial coordinate a", _LABEL),
    "col": ("lattice column, axial coordinate b", _LABEL),
    # data variables
    "temperature": ("temperature k_B T", None),
    "energy": ("energy per site", None),
    "acceptance": ("fraction of the swaps attempted since the previous record that changed the configuration",
                   _LABEL),
    "C_single": ("singlet concentration", _LABEL),
    "C_pair": ("pair concentration", _LABEL),
    "C_pair_orientation": ("pair concentration along one bond orientation", _LABEL),
    "C_triplet": ("triplet concentration, including the shape weight w", _LABEL),
    "triangle_histogram": ("number of elementary triangles holding n_minus - (Li) sites", _LABEL),
    "final_configuration": ("final configuration sigma: +1 Mn, -1 Li", _LABEL),
    "snapshot": ("configuration sigma at snapshot_time: +1 Mn, -1 Li", _LABEL),
    "composition": ("composition x, fraction of - (Li) sites", _LABEL),
    "n_minus_sites": ("number of - (Li) sites", _LABEL),
    # reaction observer (meanclust_jax.engine._reactions)
    "reaction": ("reaction class k1..k8 of eq. (5)", _LABEL),
    "reactant": ("reactant triplet type of the reaction class", _LABEL),
    "coefficient": ("coefficient of the reaction class in eq. (5): 4 angled, 2 linear", _LABEL),
    "reaction_flux": ("reaction flux f_r over the record interval: dC++ = (f1+f2-f3-f4) dt, "
                      "dC-- = (f5+f6-f7-f8) dt", "1/sweep"),
    "rate_measured": ("measured rate constant k_r of eq. (5) over the record interval", "1/sweep"),
    "rate_measured_se": ("standard error of rate_measured (the interval's sweeps as clusters)", "1/sweep"),
    "reactant_concentration": ("reactant triplet concentration over the record interval, from the "
                               "attempted swaps", _LABEL),
    "reaction_attempts": ("reactant chains present at the attempted swaps of the record interval", _LABEL),
    "reaction_accepted": ("reaction events (reactant chains at accepted swaps) in the record interval", _LABEL),
}

#: Configuration variables are categorical: CF flag attributes name their two values.
CONFIGURATION_FLAGS: dict[str, Any] = {"flag_values": np.array([-1, 1], dtype=np.int8),
                                       "flag_meanings": "minus_Li plus_Mn"}

#: The closures' cross-stoichiometry study file (`meanclust_jax.closures.cross_stoichiometry_study`).
CLOSURE_STUDY: dict[str, tuple[str, str]] = {
    "closure": ("closure", _LABEL),
    "composition": ("composition x, fraction of - (Li) sites", _LABEL),
    "triplet": TRAJECTORY["triplet"],  # type: ignore[dict-item]
    "errors": ("closure error J_tau (eq. 15): mean square misfit of the triplet concentration over the run",
               _LABEL),
    "mean_error": ("mean closure error E over the 16 triplet types (eq. 30)", _LABEL),
    "improvement_over_pa": ("reduction of the composition-averaged E relative to the pair approximation",
                            "percent"),
    "mean_relative_improvement": ("composition average of the relative reduction of E against the pair "
                                  "approximation", "percent"),
    "wins_over_pa": ("number of compositions where E is below the pair approximation's", _LABEL),
}

#: Rate posteriors (ArviZ ``InferenceData``), by variable or coordinate name in any group.
#: ``"rate"`` in the units stands for one over the model's time unit (`cf_posterior_attrs`).
POSTERIOR: dict[str, tuple[str, str]] = {
    # posterior
    "k": ("reaction rate constants k1..k8 (eq. 5)", "rate"),
    "k_identifiable": ("identifiable rate combinations s_j = 4 k_(2j-1) + k_(2j)", "rate"),
    "k_split": ("angled share u_j = 4 k_(2j-1) / s_j of each rate combination", _LABEL),
    "u": ("angled share u_j = 4 k_(2j-1) / s_j of each rate combination", _LABEL),
    "alpha": ("rate combinations alpha1, alpha2 of the sparse-approximation system (eq. 28)", "rate"),
    "sigma": ("noise standard deviation of the recorded pair concentrations", _LABEL),
    "F": ("error functional F(K) (eq. 17)", "time"),
    # log_likelihood / observed_data
    "C_pair": ("pointwise log likelihood of the recorded pair concentrations", _LABEL),
    # sample_stats
    "lp": ("log posterior density in the sampler's coordinates", _LABEL),
    "diverging": ("divergent NUTS transition", _LABEL),
    "acceptance_rate": ("acceptance probability", _LABEL),
    "n_steps": ("number of leapfrog steps", _LABEL),
    "tree_depth": ("NUTS tree depth", _LABEL),
    "step_size": ("NUTS step size in the sampler's coordinates", _LABEL),
    "energy": ("Hamiltonian energy of the NUTS trajectory", _LABEL),
    "accept_stage": ("DR-MH stage that accepted: 0 none, 1 first, 2 second", _LABEL),
    "accept_prob_1": ("DR-MH first-stage acceptance probability (eq. 23)", _LABEL),
    "accept_prob_2": ("DR-MH second-stage acceptance probability (eq. 24)", _LABEL),
    "num_evals": ("target density evaluations in the step", _LABEL),
    # coordinates
    "chain": ("chain index", _LABEL),
    "draw": ("draw index", _LABEL),
    "rate": ("rate constant", _LABEL),
    "combination": ("rate combination", _LABEL),
    "alpha_index": ("sparse-approximation parameter", _LABEL),
    "obs_pair": ("observed pair type", _LABEL),
    "replica": TRAJECTORY["replica"],  # type: ignore[dict-item]
}


def trajectory_table(energy_units: str = "1") -> dict[str, tuple[str, str]]:
    """`TRAJECTORY` with the energy units filled in.

    **Arguments:**

    - `energy_units`: units string of the Hamiltonian's energies (``"1"`` when dimensionless).

    **Returns:**

    A dict ``name → (long_name, units)``.
    """
    return {k: (ln, energy_units if u is None else u) for k, (ln, u) in TRAJECTORY.items()}


def apply_cf(ds: xr.Dataset, table: Mapping[str, tuple[str, str]], **global_attrs: Any) -> xr.Dataset:
    """Write ``long_name`` and ``units`` from ``table`` onto every variable and coordinate of ``ds``
    that the table names, and set ``Conventions`` (plus ``global_attrs``) on the dataset.

    Existing ``long_name``/``units`` attributes are replaced. Names the table does not know are left
    alone (`missing_cf` lists them; the tests require that there are none).

    **Arguments:**

    - `ds`: an ``xarray.Dataset`` (changed in place).
    - `table`: ``name → (long_name, units)``.
    - `global_attrs`: further dataset attributes.

    **Returns:**

    ``ds``.
    """
    for name in list(ds.variables):
        if name in table:
            long_name, units = table[name]
            ds[name].attrs.update(long_name=long_name, units=units)
    ds.attrs["Conventions"] = CONVENTIONS
    ds.attrs.update(global_attrs)
    return ds


def missing_cf(ds: xr.Dataset) -> list[str]:
    """Names of the variables and coordinates of ``ds`` that lack ``long_name`` or ``units``."""
    return sorted(str(n) for n, v in ds.variables.items() if not {"long_name", "units"} <= set(v.attrs))


def _time_unit(time_scale: float) -> str:
    return _TIME if time_scale == 1.0 else f"{time_scale:g} {_TIME}"


def cf_posterior_attrs(
    idata: az.InferenceData, *, time_scale: float = 1.0, groups: Iterable[str] | None = None
) -> az.InferenceData:
    """Give a rate posterior CF metadata: ``long_name``/``units`` on every variable and coordinate
    the package writes (rates in one over the model's time unit, ``σ`` and log densities
    dimensionless, ``F`` in the time unit), ``Conventions``, and ``time_scale``/``time_units``.

    The model's time unit is ``time_scale`` sweeps (``PairData.from_dataset(ds, time_scale=...)``:
    model time = ``time_scale × sweeps``), so with the default ``time_scale = 1`` rates are in
    ``"1/sweep"``; with ``time_scale = 1e-3`` they are in ``"1/(0.001 sweep)"``. ``F`` has the unit
    of time because the misfit integral ``½ ∫ |C − Ĉ|² dt`` has (concentrations are dimensionless;
    the weight ``a`` of the equilibrium term carries the same unit).

    **Arguments:**

    - `idata`: an ``arviz.InferenceData`` (changed in place).
    - `time_scale`: model time per sweep, a finite float ``> 0``.
    - `groups`: the groups to annotate (default: all of them).

    **Returns:**

    ``idata``.

    **Raises:**

    - `ValueError` if ``time_scale`` is not a finite number ``> 0``.
    """
    import math

    try:
        ts = float(time_scale)
    except (TypeError, ValueError):
        raise ValueError(f"time_scale must be a finite number > 0, got {time_scale!r}") from None
    if not (math.isfinite(ts) and ts > 0):
        raise ValueError(f"time_scale must be a finite number > 0, got {time_scale!r}")
    unit = _time_unit(ts)
    rate = f"1/{unit}" if ts == 1.0 else f"1/({unit})"
    table = {k: (ln, {"rate": rate, "time": unit}.get(u, u)) for k, (ln, u) in POSTERIOR.items()}
    for group in groups if groups is not None else idata.groups():
        ds = idata[group]
        for name in list(ds.variables):
            if name in table:
                ds[name].attrs.update(long_name=table[name][0], units=table[name][1])
            elif name == "obs_time":
                v = ds[name].values
                is_index = v.dtype.kind in "iu" and bool(np.array_equal(v, np.arange(v.size)))
                ds[name].attrs.update(long_name="index of the observation time" if is_index else "observation time",
                                      units=_LABEL if is_index else unit)
        ds.attrs.update(Conventions=CONVENTIONS, time_scale=ts, time_units=unit)
    return idata


__all__ = [
    "CLOSURE_STUDY",
    "CONFIGURATION_FLAGS",
    "CONVENTIONS",
    "POSTERIOR",
    "REFERENCES",
    "TRAJECTORY",
    "apply_cf",
    "cf_posterior_attrs",
    "missing_cf",
    "trajectory_table",
]
