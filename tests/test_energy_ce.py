"""Hamiltonians from cluster expansions (docs/model.md §2.3): the ECI constructor against a
brute-force evaluation of the expansion, the round trip, and icet's own `predict`."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import unchecked

import meanclust_jax as mc
from meanclust_jax.energy import from_icet

# spglib (under icet) warns about its own error handling on every symmetry analysis
pytestmark = pytest.mark.filterwarnings("ignore:Set OLD_ERROR_HANDLING:DeprecationWarning")

NEIGHBOURS = ((1, 0), (0, 1), (-1, 1))  # v0, v1, v2: each bond once


def _shift(s: np.ndarray, da: int, db: int) -> np.ndarray:
    """``s`` at site ``i + (da, db)`` (periodic)."""
    return np.roll(s, (-da, -db), axis=(-2, -1))


def _expansion_per_site(sigma: np.ndarray, J: np.ndarray) -> np.ndarray:
    """``J₀ + J₁⟨σ⟩ + J₂⟨σσ⟩_bonds + J₃⟨σσσ⟩_triangles``, counted directly (independent of the
    triangle-table formula)."""
    s = sigma.astype(np.float64)
    axes = (-2, -1)
    singlet = s.mean(axis=axes)
    pair = np.mean([(s * _shift(s, *v)).mean(axis=axes) for v in NEIGHBOURS], axis=0)
    up = s * _shift(s, 1, 0) * _shift(s, 0, 1)
    down = _shift(s, 1, 0) * _shift(s, 0, 1) * _shift(s, 1, 1)
    triplet = (up.mean(axis=axes) + down.mean(axis=axes)) / 2
    return J[0] + J[1] * singlet + J[2] * pair + J[3] * triplet


def _random_configurations(rng, n: int, rows: int, cols: int) -> np.ndarray:
    x = rng.uniform(0.1, 0.9, (n, 1, 1))
    return np.where(rng.random((n, rows, cols)) < x, -1, 1).astype(np.int8)


def test_constructor_matches_the_expansion_counted_directly():
    rng = np.random.default_rng(0)
    sigma = _random_configurations(rng, 20, 6, 9)
    for _ in range(5):
        J = rng.normal(size=4)
        h = mc.TriangleBondHamiltonian.from_cluster_expansion(*J)
        assert h.bond_energy == (0.0, 0.0, 0.0)
        np.testing.assert_allclose(mc.total_energy(sigma, h) / 54, _expansion_per_site(sigma, J), rtol=0, atol=1e-12)
        # per-cluster ECIs: the multiplicities 1, 1, 3, 2 per site
        h_eci = mc.TriangleBondHamiltonian.from_cluster_expansion(*(J / [1, 1, 3, 2]), per_cluster=True)
        np.testing.assert_allclose(h_eci.triangle_energy, h.triangle_energy, rtol=0, atol=1e-14)


def test_paper_hamiltonian_as_a_cluster_expansion():
    """ε = (1/4, 0, 1/4, 1) is J = (1/2, −3/4, 3/4, 0): E = (1/4) Σ_bonds σσ + const at fixed x."""
    J = mc.ChargeNeutralityHamiltonian().cluster_expansion()
    assert J == pytest.approx({"zerolet": 0.5, "singlet": -0.75, "pair": 0.75, "triplet": 0.0}, abs=1e-14)


def test_round_trip_including_bond_energies():
    rng = np.random.default_rng(1)
    sigma = _random_configurations(rng, 10, 6, 6)
    h = mc.TriangleBondHamiltonian((0.3, -0.2, 0.7, 1.9), (0.15, -0.4, 0.05))
    back = mc.TriangleBondHamiltonian.from_cluster_expansion(**h.cluster_expansion())
    np.testing.assert_allclose(mc.total_energy(sigma, back), mc.total_energy(sigma, h), rtol=0, atol=1e-11)
    again = mc.TriangleBondHamiltonian.from_cluster_expansion(**back.cluster_expansion())
    np.testing.assert_allclose(again.triangle_energy, back.triangle_energy, rtol=0, atol=1e-14)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "x", None])
def test_constructor_rejects_bad_coefficients(bad):
    with unchecked(), pytest.raises(ValueError, match="pair"):
        mc.TriangleBondHamiltonian.from_cluster_expansion(0.0, 0.0, bad, 0.0)


# --------------------------------------------------------------------------- icet


def _icet_setup(cutoffs=(1.2, 1.2), spacing=2.9, symbols=("Li", "Mn"), height=10.0):
    icet = pytest.importorskip("icet")
    from ase import Atoms

    cell = [[spacing, 0, 0], [spacing / 2, spacing * np.sqrt(3) / 2, 0], [0, 0, height]]
    prim = Atoms(symbols[1], cell=cell, pbc=True)
    cs = icet.ClusterSpace(prim, cutoffs=[c * spacing for c in cutoffs], chemical_symbols=list(symbols))
    return icet, prim, cs


def _supercell(prim, sigma: np.ndarray, plus: str, minus: str):
    """The ase supercell of ``sigma[a, b]``: site ``(a, b)`` sits at ``b·e1 + a·e2`` with
    ``e1 = (d, 0)``, ``e2 = (d/2, d√3/2)`` (the geometry of `meanclust_jax.lattice`)."""
    rows, cols = sigma.shape
    sc = prim.repeat((cols, rows, 1))
    frac = np.linalg.solve(prim.cell.array[:2, :2].T, sc.positions[:, :2].T).T
    b, a = np.rint(frac).astype(int).T
    sc.set_chemical_symbols([plus if sigma[i % rows, j % cols] > 0 else minus for i, j in zip(a, b, strict=True)])
    return sc


@pytest.mark.parametrize(("plus", "minus"), [("Mn", "Li"), ("Li", "Mn")])
def test_from_icet_equals_icet_predict(plus, minus):
    """Energies per site equal icet's `predict` on random configurations of one supercell to 1e-10."""
    icet, prim, cs = _icet_setup()
    rng = np.random.default_rng(2)
    rows, cols = 6, 9
    sigma = _random_configurations(rng, 12, rows, cols)
    worst = 0.0
    for _ in range(3):
        ce = icet.ClusterExpansion(cs, rng.normal(size=len(cs)))
        h = from_icet(ce, plus=plus, minus=minus, energy_units="eV")
        assert h.energy_units == "eV"
        ours = np.asarray(mc.total_energy(sigma, h), dtype=np.float64) / (rows * cols)
        theirs = np.array([ce.predict(_supercell(prim, s, plus, minus)) for s in sigma])
        worst = max(worst, float(np.max(np.abs(ours - theirs))))
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
    assert worst < 1e-10


def test_from_icet_accepts_zero_parameters_on_other_orbits_and_refuses_the_rest():
    icet, prim, cs = _icet_setup(cutoffs=(1.9, 1.2))  # adds the second-neighbour pair (distance √3)
    names = cs.as_list
    k = next(i for i, o in enumerate(names) if o["order"] == 2 and o["radius"] > 0.6 * 2.9)
    params = np.random.default_rng(3).normal(size=len(cs))
    params[k] = 0.0
    mc.TriangleBondHamiltonian.from_icet(icet.ClusterExpansion(cs, params))
    params[k] = 0.1
    with unchecked(), pytest.raises(ValueError, match=rf"orbit {k} \(pair, order 2, radius 2\.51"):
        mc.TriangleBondHamiltonian.from_icet(icet.ClusterExpansion(cs, params))


def test_from_icet_refuses_what_it_cannot_represent():
    icet, prim, cs = _icet_setup()
    ce = icet.ClusterExpansion(cs, np.ones(len(cs)))
    with unchecked(), pytest.raises(ValueError, match="plus= and minus="):
        from_icet(ce, plus="Ni", minus="Li")
    with unchecked(), pytest.raises(ValueError, match="ClusterExpansion"):
        from_icet(object())
    # layers closer than the in-plane spacing: not a two-dimensional triangular lattice
    icet, prim, cs = _icet_setup(height=2.0)
    with unchecked(), pytest.raises(ValueError, match="not two-dimensional triangular"):
        from_icet(icet.ClusterExpansion(cs, np.ones(len(cs))))
    # a three-dimensional lattice (fcc)
    from ase.build import bulk

    cs = icet.ClusterSpace(bulk("Ni", "fcc", a=3.5), cutoffs=[3.0], chemical_symbols=["Ni", "Li"])
    with unchecked(), pytest.raises(ValueError, match="not two-dimensional triangular"):
        from_icet(icet.ClusterExpansion(cs, np.ones(len(cs))), plus="Ni", minus="Li")
