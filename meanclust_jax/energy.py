"""Lattice energy: triangle/bond Hamiltonians and local energy changes of swaps (SPEC §2).

The energy of a configuration is a sum over the ``2N`` elementary triangles (one oxygen over
each) of a triangle energy that depends only on how many ``-`` (Li) sites the triangle holds,
plus an optional energy per nearest-neighbour bond by bond type:

    E(σ) = Σ_triangles ε[n_-(t)] + Σ_bonds J[type(b)],   n_- ∈ {0,1,2,3}, type ∈ {++, --, +-}.

The default, `ChargeNeutralityHamiltonian`, is Harris et al.'s local charge neutrality at
oxygen: ``ε[n] = (V_O(n) - V_target)^2`` with Pauling's electrostatic valence sum
``V_O = Σ_{t ∈ triangle} q_t / 6 + 3 · (1/6)``. With Mn ``+4`` and Li ``+1`` this is
``ε = (1/4, 0, 1/4, 1)`` and, at fixed composition, ``E = (1/4) Σ_bonds σ_i σ_j + const(x)``
(an antiferromagnetic Ising model; the identity is a test). Energies are in the Hamiltonian's
units and temperatures in the same units (``k_B = 1``).
"""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp
import numpy as np

from ._custom_types import Array, Configuration, Float, Int
from .lattice import NEIGHBOUR_VECTORS, TriangularLattice


@dataclasses.dataclass(frozen=True)
class TriangleBondHamiltonian:
    """General triangle/bond energy table (SPEC §2).

    **Arguments:**

    - `triangle_energy`: 4 floats ``ε[n]``, the energy of a triangle holding ``n = 0..3``
      ``-`` sites (energy units).
    - `bond_energy`: 3 floats ``J`` for bonds ``++``, ``--``, ``+-`` (default zero).

    **Raises:**

    - `ValueError` if the tables have the wrong length or are not finite.
    """

    triangle_energy: tuple[float, float, float, float]
    bond_energy: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        _check_table("triangle_energy", self.triangle_energy, 4)
        _check_table("bond_energy", self.bond_energy, 3)
        object.__setattr__(self, "triangle_energy", tuple(float(e) for e in self.triangle_energy))
        object.__setattr__(self, "bond_energy", tuple(float(e) for e in self.bond_energy))

    @property
    def has_bonds(self) -> bool:
        """Whether any bond energy is non-zero (the engine skips bond terms otherwise)."""
        return any(j != 0.0 for j in self.bond_energy)

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ε, J)`` as float64 numpy arrays of shapes ``(4,)`` and ``(3,)``."""
        return np.asarray(self.triangle_energy), np.asarray(self.bond_energy)

    def attrs(self) -> dict[str, object]:
        """Parameters as flat netCDF-safe attributes."""
        return {
            "hamiltonian": type(self).__name__,
            "triangle_energy": list(self.triangle_energy),
            "bond_energy": list(self.bond_energy),
        }


def _check_table(name: str, values: object, n: int) -> None:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {n} finite numbers, got {values!r}") from None
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be {n} finite numbers, got {values!r}")


@dataclasses.dataclass(frozen=True, init=False)
class ChargeNeutralityHamiltonian(TriangleBondHamiltonian):
    """Harris et al.'s local charge neutrality at oxygen, the paper's energy (SPEC §2).

    ``ε[n] = (V_O(n) - target_valence)^2``, ``V_O(n) = ((3 - n) q_+ + n q_-) / coordination
    + lithium_layer``, where ``n`` is the number of ``-`` sites of the triangle.

    **Arguments:**

    - `charge_plus`: charge of a ``+`` (Mn) cation, default 4.
    - `charge_minus`: charge of a ``-`` (Li) cation, default 1.
    - `target_valence`: the oxygen's valence to be matched, default 2.
    - `coordination`: oxygens each transition-metal cation is shared between, default 6.
    - `lithium_layer`: valence the oxygen receives from the lithium layer, default
      ``3 · (1/6) = 0.5`` (three Li⁺ each shared between six oxygens).

    **Raises:**

    - `ValueError` for non-finite parameters or a non-positive `coordination`.
    """

    charge_plus: float
    charge_minus: float
    target_valence: float
    coordination: float
    lithium_layer: float

    def __init__(
        self,
        charge_plus: float = 4.0,
        charge_minus: float = 1.0,
        target_valence: float = 2.0,
        coordination: float = 6.0,
        lithium_layer: float = 0.5,
    ) -> None:
        params = dict(
            charge_plus=charge_plus,
            charge_minus=charge_minus,
            target_valence=target_valence,
            coordination=coordination,
            lithium_layer=lithium_layer,
        )
        for name, value in params.items():
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if coordination <= 0:
            raise ValueError(f"coordination must be > 0, got {coordination!r}")
        eps = tuple(
            (((3 - n) * charge_plus + n * charge_minus) / coordination + lithium_layer
             - target_valence) ** 2
            for n in range(4)
        )
        object.__setattr__(self, "triangle_energy", eps)
        object.__setattr__(self, "bond_energy", (0.0, 0.0, 0.0))

    def attrs(self) -> dict[str, object]:
        out = super().attrs()
        out.update(
            charge_plus=self.charge_plus,
            charge_minus=self.charge_minus,
            target_valence=self.target_valence,
            coordination=self.coordination,
            lithium_layer=self.lithium_layer,
        )
        return out


def _minus(sigma: Array) -> Array:
    """``m = 1`` where ``sigma = -1`` (Li), else 0, as int32."""
    return (sigma < 0).astype(jnp.int32)


def triangle_histogram(sigma: Configuration) -> Int[Array, "*batch 4"]:
    """Number of triangles holding ``n = 0..3`` ``-`` sites, for each configuration.

    **Arguments:**

    - `sigma`: int8 array ``(*batch, rows, cols)`` of ±1.

    **Returns:** int32 array ``(*batch, 4)`` summing to ``2N``.
    """
    m = _minus(sigma)
    r = lambda x, da, db: jnp.roll(x, (-da, -db), axis=(-2, -1))  # noqa: E731  value at i + v
    up = m + r(m, 1, 0) + r(m, 0, 1)
    down = r(m, 1, 0) + r(m, 0, 1) + r(m, 1, 1)
    n = jnp.arange(4)
    count = lambda t: jnp.sum(t[..., None] == n, axis=(-3, -2), dtype=jnp.int32)  # noqa: E731
    return count(up) + count(down)


def bond_counts(sigma: Configuration) -> Int[Array, "*batch 3 3"]:
    """Number of bonds ``++``, ``--``, ``+-`` along each orientation ``v0, v1, v2``.

    **Returns:** int32 array ``(*batch, 3, 3)`` indexed ``[orientation, type]``; each
    orientation has ``N`` bonds.
    """
    m = _minus(sigma)
    n_minus = jnp.sum(m, axis=(-2, -1), dtype=jnp.int32)
    n_sites = sigma.shape[-2] * sigma.shape[-1]
    out = []
    for da, db in NEIGHBOUR_VECTORS[:3]:
        mm = jnp.sum(m * jnp.roll(m, (-da, -db), axis=(-2, -1)), axis=(-2, -1), dtype=jnp.int32)
        pm = 2 * n_minus - 2 * mm
        out.append(jnp.stack([n_sites - mm - pm, mm, pm], axis=-1))
    return jnp.stack(out, axis=-2)


def energy_from_counts(
    tri_hist: Int[Array, "*batch 4"], bonds: Int[Array, "*batch 3 3"], hamiltonian: TriangleBondHamiltonian
) -> Float[Array, " *batch"]:
    """Total energy from the triangle histogram and bond counts (exact sums of table entries).

    **Arguments:**

    - `tri_hist`: integer array ``(*batch, 4)``, triangles holding 0..3 ``-`` sites
      (`triangle_histogram`).
    - `bonds`: integer array ``(*batch, 3, 3)``, bonds ``[orientation, ++/--/+-]`` (`bond_counts`).
    - `hamiltonian`: the `TriangleBondHamiltonian`.

    **Returns:**

    The total energy ``(*batch,)`` (energy units). NumPy inputs give a float64 NumPy array
    (the host-side path of `meanclust_jax.dataset`, exact whatever JAX's precision setting);
    JAX inputs give a JAX array (float64 only if ``jax_enable_x64`` is on).
    """
    eps, J = hamiltonian.tables()
    if isinstance(tri_hist, np.ndarray) and isinstance(bonds, np.ndarray):
        return tri_hist.astype(np.float64) @ eps + bonds.sum(axis=-2).astype(np.float64) @ J
    e = jnp.sum(tri_hist * jnp.asarray(eps), axis=-1)
    return e + jnp.sum(jnp.sum(bonds, axis=-2) * jnp.asarray(J), axis=-1)


def total_energy(sigma: Configuration, hamiltonian: TriangleBondHamiltonian) -> Float[Array, " *batch"]:
    """Total energy ``E(σ)`` of SPEC §2 (energy units), float64 if x64 is on.

    **Arguments:**

    - `sigma`: int8 array ``(*batch, rows, cols)`` of ±1 (``+1`` Mn, ``-1`` Li).
    - `hamiltonian`: a `TriangleBondHamiltonian` (e.g. `ChargeNeutralityHamiltonian()`).

    **Returns:** array ``(*batch,)``.
    """
    return energy_from_counts(triangle_histogram(sigma), bond_counts(sigma), hamiltonian)


def swap_energy_change(
    sigma: Configuration,
    site_i: tuple[int, int],
    site_j: tuple[int, int],
    hamiltonian: TriangleBondHamiltonian,
) -> float:
    """Energy change ``dE`` of swapping the species of two sites, computed locally.

    Only the triangles and bonds holding ``i`` or ``j`` are visited (SPEC §3). The swap of
    equal species has ``dE = 0``. This is the plain, readable version used by tests and the
    sequential reference; the engines use vectorised versions of the same sums.

    **Arguments:**

    - `sigma`: int8 array ``(rows, cols)``.
    - `site_i`, `site_j`: axial coordinates ``(a, b)`` of the two sites (periodic).
    - `hamiltonian`: the energy table.

    **Returns:** ``dE`` as a Python float (energy units).
    """
    s = np.asarray(sigma)
    rows, cols = s.shape
    lat = TriangularLattice(rows, cols) if rows >= 3 and cols >= 3 else None
    if lat is None:
        raise ValueError("sigma must be at least 3x3")
    i = int(lat.site_index(*site_i))
    j = int(lat.site_index(*site_j))
    flat = s.reshape(-1).astype(np.int64)
    after = flat.copy()
    after[i], after[j] = flat[j], flat[i]
    tri = lat.triangle_table()
    st = lat.site_triangles()
    touched = np.unique(np.concatenate([st[i], st[j]]))
    eps, J = hamiltonian.tables()
    n_before = (flat[tri[touched]] < 0).sum(axis=1)
    n_after = (after[tri[touched]] < 0).sum(axis=1)
    dE = float(np.sum(eps[n_after] - eps[n_before]))
    if hamiltonian.has_bonds:
        nb = lat.neighbour_table()
        bonds = {tuple(sorted((int(x), int(y)))) for x in (i, j) for y in nb[x]}
        btype = lambda a, b: 2 if a != b else (0 if a > 0 else 1)  # noqa: E731
        dE += float(sum(J[btype(after[x], after[y])] - J[btype(flat[x], flat[y])] for x, y in bonds))
    return dE
