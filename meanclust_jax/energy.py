"""Lattice energy: triangle/bond Hamiltonians and local energy changes of swaps (docs/model.md §2).

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

**Cluster expansions.** A cluster expansion of the binary triangular lattice truncated at the
nearest-neighbour pair and triplet is exactly such a triangle table and vice versa
(docs/model.md §2.3): `TriangleBondHamiltonian.from_cluster_expansion` builds the table from the
coefficients, `TriangleBondHamiltonian.cluster_expansion` gives them back, and `from_icet` reads an
icet ``ClusterExpansion`` (the optional ``icet`` extra).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np

from ._custom_types import AnyArray, Array, Configuration, Float, Int
from .lattice import NEIGHBOUR_VECTORS, TriangularLattice

if TYPE_CHECKING:
    import ase
    import icet


@dataclasses.dataclass(frozen=True)
class TriangleBondHamiltonian:
    """General triangle/bond energy table (docs/model.md §2).

    **Arguments:**

    - `triangle_energy`: 4 floats ``ε[n]``, the energy of a triangle holding ``n = 0..3``
      ``-`` sites (energy units).
    - `bond_energy`: 3 floats ``J`` for bonds ``++``, ``--``, ``+-`` (default zero).
    - `energy_units`: the units of these energies (and so of temperatures, ``k_B = 1``), a
      UDUNITS string recorded in the trajectories' CF metadata, e.g. ``"eV"``; default ``"1"``
      (dimensionless, as the charge-neutrality energy).

    **Raises:**

    - `ValueError` if the tables have the wrong length or are not finite, or `energy_units` is
      not a non-empty string.
    """

    triangle_energy: tuple[float, float, float, float]
    bond_energy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    energy_units: str = "1"

    def __post_init__(self) -> None:
        _check_table("triangle_energy", self.triangle_energy, 4)
        _check_table("bond_energy", self.bond_energy, 3)
        _check_units(self.energy_units)
        object.__setattr__(self, "triangle_energy", tuple(float(e) for e in self.triangle_energy))
        object.__setattr__(self, "bond_energy", tuple(float(e) for e in self.bond_energy))

    @property
    def has_bonds(self) -> bool:
        """Whether any bond energy is non-zero (the engine skips bond terms otherwise)."""
        return any(j != 0.0 for j in self.bond_energy)

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ε, J)`` as float64 numpy arrays of shapes ``(4,)`` and ``(3,)``."""
        return np.asarray(self.triangle_energy), np.asarray(self.bond_energy)

    @classmethod
    def from_cluster_expansion(
        cls,
        zerolet: float = 0.0,
        singlet: float = 0.0,
        pair: float = 0.0,
        triplet: float = 0.0,
        *,
        per_cluster: bool = False,
        energy_units: str = "1",
    ) -> TriangleBondHamiltonian:
        """The triangle energy table of a cluster expansion truncated at the nearest-neighbour pair
        and triplet of the triangular lattice (docs/model.md §2.3).

        The expansion gives the energy per site as

            E/N = J₀ + J₁ ⟨Θ⟩ + J₂ ⟨Θ_i Θ_j⟩_bonds + J₃ ⟨Θ_i Θ_j Θ_k⟩_triangles

        with the point function ``Θ = σ`` (``+1`` on ``+``, ``-1`` on ``-``) and ``⟨·⟩`` the average
        over the ``N`` sites, ``3N`` bonds and ``2N`` elementary triangles. Since every site lies in
        6 triangles and every bond in 2, this is exactly the triangle table

            ε[n] = J₀/2 + J₁ (3 − 2n)/6 + J₂ P(n)/6 + J₃ (−1)ⁿ/2,   P(n) = (3, −1, −1, 3)[n],

        with no bond energies (``n`` the number of ``-`` sites of the triangle).

        **Arguments:**

        - `zerolet`, `singlet`, `pair`, `triplet`: ``J₀ … J₃`` (energy units per site).
        - `per_cluster`: ``False`` (default): the ``J`` multiply the orbit averages, as icet's
          ``ClusterExpansion.parameters`` (ECI × multiplicity); ``True``: they are the ECIs of
          single clusters (icet's ``eci``) and are multiplied here by the multiplicities per
          site, 1, 1, 3 and 2.
        - `energy_units`: units of the energies (see the class).

        **Returns:**

        A `TriangleBondHamiltonian` whose `total_energy` is ``N`` times the expansion's ``E/N``.

        **Raises:**

        - `ValueError` if a coefficient is not a finite number.
        """
        J = np.array([_finite(v, name) for v, name in
                      ((zerolet, "zerolet"), (singlet, "singlet"), (pair, "pair"), (triplet, "triplet"))])
        if per_cluster:
            J = J * _CE_MULTIPLICITY
        # the plain table class, also when called on a subclass with its own constructor
        return TriangleBondHamiltonian(tuple(float(e) for e in _CE_TO_TRIANGLE @ J), energy_units=energy_units)

    def cluster_expansion(self) -> dict[str, float]:
        """The coefficients ``J₀ … J₃`` of `from_cluster_expansion` (orbit-average convention, icet's
        ``parameters``) of this Hamiltonian, bond energies included.

        A bond energy ``J_b`` over the bond types contributes ``3 b₀``, ``6 b₁`` and ``3 b₂`` to
        ``J₀, J₁, J₂`` with ``b₀ = (J++ + J-- + 2J+-)/4``, ``b₁ = (J++ − J--)/4``,
        ``b₂ = (J++ + J-- − 2J+-)/4``. `from_cluster_expansion` of the result gives a Hamiltonian
        with the same energy for every configuration.

        **Returns:**

        ``{"zerolet": J₀, "singlet": J₁, "pair": J₂, "triplet": J₃}`` (energy units per site).
        """
        eps, (jpp, jmm, jpm) = self.tables()
        J = np.linalg.solve(_CE_TO_TRIANGLE, eps)
        J += np.array([3 * (jpp + jmm + 2 * jpm) / 4, 6 * (jpp - jmm) / 4, 3 * (jpp + jmm - 2 * jpm) / 4, 0.0])
        return dict(zip(("zerolet", "singlet", "pair", "triplet"), (float(v) for v in J), strict=True))

    @classmethod
    def from_icet(
        cls,
        cluster_expansion: icet.ClusterExpansion,
        *,
        plus: str = "Mn",
        minus: str = "Li",
        energy_units: str = "eV",
    ) -> TriangleBondHamiltonian:
        """The Hamiltonian of an icet ``ClusterExpansion`` of the binary triangular lattice whose
        orbits are the zerolet, the singlet, the nearest-neighbour pair and the nearest-neighbour
        triplet (the elementary triangle); docs/model.md §2.3.

        icet's prediction is ``cluster_vector · parameters`` per primitive cell (here: per site),
        its binary point function is ``Θ = −cos(π s)`` with ``s`` the species index in order of
        increasing atomic number, so ``Θ = +1`` on the heavier species; the singlet and triplet
        coefficients change sign when `plus` is the lighter one. Orbits beyond these four are
        refused unless their parameter is exactly zero (e.g. pruned by a sparse fit), since the
        triangle/bond Hamiltonian cannot represent them.

        **Arguments:**

        - `cluster_expansion`: an ``icet.ClusterExpansion`` on a primitive structure of one site
          whose lattice is two-dimensional triangular (the six shortest lattice vectors in one
          plane, other layers, if any, farther away), with two species.
        - `plus`, `minus`: the chemical symbols of the ``+`` (``σ = +1``) and ``-`` species
          (default Mn and Li, as in the paper).
        - `energy_units`: the units of the expansion's energies (those of its training data; icet
          does not record them), recorded in the trajectories' metadata.

        **Returns:**

        A `TriangleBondHamiltonian` with ``total_energy(σ) / N == cluster_expansion.predict(...)``
        of the same configuration.

        **Raises:**

        - `ImportError` if icet (``pip install icet``, the ``icet`` extra) is not installed.
        - `ValueError` naming the problem: not a ``ClusterExpansion``; more than one site in the
          primitive structure or more than one sublattice; species other than `plus` and
          `minus`; a lattice that is not two-dimensional triangular; the nearest-neighbour pair or
          triplet orbit not where a triangular lattice has it; or another orbit with a non-zero
          parameter (the message names its index, order, radius and multiplicity).
        """
        return _from_icet(cluster_expansion, plus=plus, minus=minus, energy_units=energy_units)

    def attrs(self) -> dict[str, object]:
        """Parameters as flat netCDF-safe attributes."""
        return {
            "hamiltonian": type(self).__name__,
            "triangle_energy": list(self.triangle_energy),
            "bond_energy": list(self.bond_energy),
            "energy_units": self.energy_units,
        }


#: ``ε = _CE_TO_TRIANGLE @ (J₀, J₁, J₂, J₃)``: rows ``n = 0..3``, columns ``1/2, (3 − 2n)/6,
#: P(n)/6, (−1)ⁿ/2`` (`TriangleBondHamiltonian.from_cluster_expansion`).
_CE_TO_TRIANGLE = np.array([[0.5, (3 - 2 * n) / 6, (3, -1, -1, 3)[n] / 6, (-1) ** n / 2] for n in range(4)])
#: Clusters per site of the zerolet, singlet, nearest-neighbour pair and triplet orbits.
_CE_MULTIPLICITY = np.array([1.0, 1.0, 3.0, 2.0])


def _finite(value: object, name: str) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return v


def _triangular_spacing(structure: ase.Atoms, tol: float) -> float:
    """Nearest-neighbour distance of a one-site primitive structure whose lattice is 2-D triangular."""
    cell = np.asarray(structure.cell.array, dtype=float)
    coeffs = np.array([c for c in np.ndindex(5, 5, 5) if any(c[i] != 2 for i in range(3))]) - 2
    vectors = coeffs @ cell
    lengths = np.linalg.norm(vectors, axis=1)
    d = float(lengths.min())
    shortest = vectors[np.abs(lengths - d) <= tol * d]
    coplanar = np.linalg.matrix_rank(shortest, tol=tol * d) == 2 if len(shortest) else False
    if len(shortest) != 6 or not coplanar:
        raise ValueError(
            f"cluster_expansion: the lattice is not two-dimensional triangular: {len(shortest)} shortest "
            f"lattice vectors of length {d:.6g}{'' if coplanar else ' not in one plane'}; a triangular layer "
            "has 6 in one plane (and other layers, if any, farther away)"
        )
    return d


def _from_icet(ce: icet.ClusterExpansion, *, plus: str, minus: str, energy_units: str) -> TriangleBondHamiltonian:
    try:
        import icet  # noqa: F401 - is icet installed?
        from ase.data import atomic_numbers
    except ImportError:
        raise ImportError("from_icet needs icet: pip install icet (or the 'icet' extra of meanclust_jax)") from None
    if not all(hasattr(ce, a) for a in ("parameters", "primitive_structure", "chemical_symbols", "to_dataframe")):
        raise ValueError(f"cluster_expansion must be an icet.ClusterExpansion, got {type(ce).__name__}")
    prim = ce.primitive_structure
    if len(prim) != 1:
        raise ValueError(
            f"cluster_expansion: the primitive structure must hold one site (the triangular layer); got {len(prim)}"
        )
    symbols = [list(s) for s in ce.chemical_symbols]
    if len(symbols) != 1 or sorted(symbols[0]) != sorted([plus, minus]) or plus == minus:
        raise ValueError(
            f"cluster_expansion: its species {symbols} must be exactly plus={plus!r} and minus={minus!r} on one "
            "sublattice; pass plus= and minus= with the expansion's two chemical symbols"
        )
    sign = 1.0 if atomic_numbers[plus] > atomic_numbers[minus] else -1.0  # Θ = +1 on the heavier species
    tol = 1e-5
    d = _triangular_spacing(prim, tol)
    targets = {2: ("nearest-neighbour pair", d / 2, 3), 3: ("nearest-neighbour triplet", d / math.sqrt(3), 2)}
    table = ce.to_dataframe()
    params = np.asarray(ce.parameters, dtype=float)
    J = np.zeros(4)
    found: dict[int, int] = {}
    for i, row in table.iterrows():
        order, radius, mult = int(row["order"]), float(row["radius"]), int(row["multiplicity"])
        p = float(params[i])
        if not math.isfinite(p):
            raise ValueError(f"cluster_expansion: parameter {i} is not finite ({p!r})")
        if order in (0, 1):
            J[order] += p
            continue
        if order in targets:
            name, r0, m0 = targets[order]
            if abs(radius - r0) <= tol * d:
                if mult != m0:
                    raise ValueError(
                        f"cluster_expansion: the {name} orbit (index {i}, radius {radius:.6g}) has multiplicity "
                        f"{mult} per site; the triangular lattice has {m0}"
                    )
                if order in found:
                    raise ValueError(f"cluster_expansion: two orbits (indices {found[order]} and {i}) look like the "
                                     f"{name}")
                found[order] = int(i)
                J[order] += p
                continue
        if p != 0.0:
            kind = {2: "pair", 3: "triplet"}.get(order, f"{order}-body")
            raise ValueError(
                f"cluster_expansion: orbit {i} ({kind}, order {order}, radius {radius:.6g}, multiplicity {mult}) "
                f"has a non-zero parameter {p:.6g}; the triangle/bond Hamiltonian holds only the zerolet, singlet, "
                f"nearest-neighbour pair (radius {d / 2:.6g}) and nearest-neighbour triplet (radius "
                f"{d / math.sqrt(3):.6g}); prune the orbit or fit without it"
            )
    return TriangleBondHamiltonian.from_cluster_expansion(J[0], sign * J[1], J[2], sign * J[3],
                                                          energy_units=energy_units)


def _check_units(units: object) -> None:
    if not isinstance(units, str) or not units.strip():
        raise ValueError(f"energy_units must be a non-empty units string such as '1' or 'eV', got {units!r}")


def _check_table(name: str, values: object, n: int) -> None:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {n} finite numbers, got {values!r}") from None
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be {n} finite numbers, got {values!r}")


@dataclasses.dataclass(frozen=True, init=False)
class ChargeNeutralityHamiltonian(TriangleBondHamiltonian):
    """Harris et al.'s local charge neutrality at oxygen, the paper's energy (docs/model.md §2).

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
        object.__setattr__(self, "energy_units", "1")

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


def from_icet(cluster_expansion: icet.ClusterExpansion, *, plus: str = "Mn", minus: str = "Li",
              energy_units: str = "eV") -> TriangleBondHamiltonian:
    """`TriangleBondHamiltonian.from_icet` as a function (same arguments, result and errors)."""
    return _from_icet(cluster_expansion, plus=plus, minus=minus, energy_units=energy_units)


def _minus(sigma: AnyArray) -> AnyArray:
    """``m = 1`` where ``sigma = -1`` (Li), else 0, as int32."""
    return (sigma < 0).astype(jnp.int32)


def triangle_histogram(sigma: Configuration) -> Int[Array, "*batch 4"]:
    """Number of triangles holding ``n = 0..3`` ``-`` sites, for each configuration.

    **Arguments:**

    - `sigma`: int8 array ``(*batch, rows, cols)`` of ±1.

    **Returns:** int32 array ``(*batch, 4)`` summing to ``2N``.
    """
    m = _minus(sigma)

    def r(x: Int[AnyArray, "*batch rows cols"], da: int, db: int) -> Int[Array, "*batch rows cols"]:
        return jnp.roll(x, (-da, -db), axis=(-2, -1))  # value at i + v

    up = m + r(m, 1, 0) + r(m, 0, 1)
    down = r(m, 1, 0) + r(m, 0, 1) + r(m, 1, 1)
    n = jnp.arange(4, dtype=m.dtype).reshape((1,) * m.ndim + (4,))

    def count(t: Int[Array, "*batch rows cols"]) -> Int[Array, "*batch 4"]:
        return jnp.sum(t[..., None] == n, axis=(-3, -2), dtype=jnp.int32)

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
    tri_hist: Int[AnyArray, "*batch 4"], bonds: Int[AnyArray, "*batch 3 3"], hamiltonian: TriangleBondHamiltonian
) -> Float[AnyArray, " *batch"]:
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
    # Counts are cast to the tables' float dtype (the promotion JAX's standard mode makes).
    eps, J = jnp.asarray(eps), jnp.asarray(J)
    tri_hist = jnp.asarray(tri_hist).astype(eps.dtype)
    bonds = jnp.sum(jnp.asarray(bonds), axis=-2).astype(J.dtype)
    e = jnp.sum(tri_hist * jnp.broadcast_to(eps, tri_hist.shape), axis=-1)
    return e + jnp.sum(bonds * jnp.broadcast_to(J, bonds.shape), axis=-1)


def total_energy(sigma: Configuration, hamiltonian: TriangleBondHamiltonian) -> Float[Array, " *batch"]:
    """Total energy ``E(σ)`` of docs/model.md §2 (energy units), float64 if x64 is on.

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

    Only the triangles and bonds holding ``i`` or ``j`` are visited (docs/model.md §3). The swap of
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

        def btype(a: np.integer, b: np.integer) -> int:
            return 2 if a != b else (0 if a > 0 else 1)

        dE += float(sum(J[btype(after[x], after[y])] - J[btype(flat[x], flat[y])] for x, y in bonds))
    return dE
