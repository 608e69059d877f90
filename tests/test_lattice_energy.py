"""Lattice tiling, energies, local dE and the Ising identity (docs/model.md §1-3)."""

from __future__ import annotations

import itertools

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import unchecked

from meanclust_jax.energy import (
    ChargeNeutralityHamiltonian,
    TriangleBondHamiltonian,
    bond_counts,
    swap_energy_change,
    total_energy,
)
from meanclust_jax.engine._checkerboard import energy_coefficients
from meanclust_jax.lattice import TriangularLattice, global_residues, phases_are_independent


def random_config(rng, rows, cols, x):
    n = rows * cols
    flat = np.ones(n, np.int8)
    flat[rng.choice(n, round(x * n), replace=False)] = -1
    return flat.reshape(rows, cols)


@pytest.mark.parametrize("shape", [(12, 12), (12, 16), (16, 12), (9, 12), (8, 8)])
@pytest.mark.parametrize("moves", ["local", "global"])
def test_checkerboard_phases_are_independent(shape, moves):
    lat = TriangularLattice(*shape)
    if moves == "global" and all(s % 4 for s in shape):
        pytest.skip("global moves need a multiple of 4")
    assert phases_are_independent(lat, moves)


def test_stride_3x3_global_residues_stay_on_one_colour():
    # The reason global moves refuse a (3, 3) stride: every allowed residue keeps (a - b) mod 3.
    assert all((da - db) % 3 == 0 for da, db in global_residues(3, 3))
    assert any((da - db) % 3 != 0 for da, db in global_residues(3, 4))


def test_bad_sizes_raise():
    with unchecked(), pytest.raises(ValueError, match="rows=10 cannot be tiled.*multiple of 3 or of 4"):
        TriangularLattice(10, 12)
    with unchecked(), pytest.raises(ValueError, match="cols"):
        TriangularLattice(12, 2)
    with unchecked(), pytest.raises(ValueError, match="multiple of 4"):
        TriangularLattice(9, 9).stride("global")
    with unchecked(), pytest.raises(ValueError, match="moves='diagonal'"):
        TriangularLattice(12, 12).stride("diagonal")


def test_charge_neutrality_table():
    h = ChargeNeutralityHamiltonian()
    assert h.triangle_energy == pytest.approx((0.25, 0.0, 0.25, 1.0))
    # Li2MnO3 valences differ: charges are parameters.
    h2 = ChargeNeutralityHamiltonian(charge_plus=3.0, target_valence=1.5)
    assert h2.triangle_energy[3] == pytest.approx((3 / 6 + 0.5 - 1.5) ** 2)
    with unchecked(), pytest.raises(ValueError, match="charge_plus"):
        ChargeNeutralityHamiltonian(charge_plus=float("nan"))
    with unchecked(), pytest.raises(ValueError, match="triangle_energy"):
        TriangleBondHamiltonian((1.0, 2.0))


@pytest.mark.parametrize("x", [1 / 3, 0.5, 0.75])
def test_ising_identity(x):
    """E = (1/4) Σ_bonds σ_i σ_j + N/2 - (3/4) Σ_i σ_i for the charge-neutrality Hamiltonian."""
    rng = np.random.default_rng(0)
    h = ChargeNeutralityHamiltonian()
    for _ in range(20):
        s = random_config(rng, 12, 12, x)
        bc = np.asarray(bond_counts(jnp.asarray(s))).sum(axis=0)
        ising = 0.25 * (bc[0] + bc[1] - bc[2])
        const = s.size / 2 - 0.75 * s.sum()
        assert float(total_energy(jnp.asarray(s), h)) == pytest.approx(ising + const, abs=1e-9)


HAMILTONIANS = [
    ChargeNeutralityHamiltonian(),
    TriangleBondHamiltonian((0.3, -0.2, 0.7, 1.9), (0.15, -0.4, 0.05)),
]


@pytest.mark.parametrize("h", HAMILTONIANS, ids=["charge", "general"])
def test_local_dE_equals_total_energy_difference(h):
    rng = np.random.default_rng(1)
    lat = TriangularLattice(9, 12)
    nb = lat.neighbour_table()
    for trial in range(60):
        s = random_config(rng, 9, 12, rng.uniform(0.2, 0.8))
        i = int(rng.integers(lat.n_sites))
        j = int(nb[i, rng.integers(6)]) if trial % 2 == 0 else int(rng.integers(lat.n_sites))
        ai, bi = divmod(i, 12)
        aj, bj = divmod(j, 12)
        t = s.copy()
        t[ai, bi], t[aj, bj] = s[aj, bj], s[ai, bi]
        expect = float(total_energy(jnp.asarray(t), h) - total_energy(jnp.asarray(s), h))
        assert swap_energy_change(s, (ai, bi), (aj, bj), h) == pytest.approx(expect, abs=1e-9)


@pytest.mark.parametrize("h", HAMILTONIANS, ids=["charge", "general"])
def test_engine_energy_decomposition(h):
    """The engines' dE = (m_j - m_i)(F_i - F_j) equals the exact change for all swaps of a site."""
    b, c, g = energy_coefficients(h)
    rng = np.random.default_rng(2)
    lat = TriangularLattice(6, 6)
    nb = lat.neighbour_table()
    for _ in range(30):
        s = random_config(rng, 6, 6, 0.5)
        m = (s.reshape(-1) < 0).astype(int)
        i = int(rng.integers(36))
        for k, j in enumerate(nb[i]):
            # exclusive triangles/neighbours as in the local phase of _checkerboard
            n = [m[nb[i][(k + r) % 6]] for r in range(6)]
            nj = {r: m[nb[j][(k + r) % 6]] for r in (4, 5, 0, 1, 2)}
            ti = [(n[r], n[r + 1]) for r in (1, 2, 3, 4)]
            tj = [(nj[r], nj[(r + 1) % 6]) for r in (4, 5, 0, 1)]
            F = (b * (sum(x + z for x, z in ti) - sum(x + z for x, z in tj))
                 + c * (sum(x * z for x, z in ti) - sum(x * z for x, z in tj))
                 + g * (sum(n[1:]) - sum(nj.values())))
            dE = (m[j] - m[i]) * F
            ai, bi = divmod(i, 6)
            aj, bj = divmod(int(j), 6)
            assert dE == pytest.approx(swap_energy_change(s, (ai, bi), (aj, bj), h), abs=1e-9)


def test_site_triangles_and_tables():
    lat = TriangularLattice(6, 8)
    tri = lat.triangle_table()
    assert tri.shape == (2 * lat.n_sites, 3)
    assert len({tuple(sorted(t)) for t in tri}) == 2 * lat.n_sites
    counts = np.bincount(tri.ravel(), minlength=lat.n_sites)
    assert np.all(counts == 6)  # each site in 6 triangles
    # each bond lies in exactly 2 triangles
    bonds = {}
    for t in tri:
        for a, b in itertools.combinations(sorted(t), 2):
            bonds[(a, b)] = bonds.get((a, b), 0) + 1
    assert len(bonds) == 3 * lat.n_sites and set(bonds.values()) == {2}
