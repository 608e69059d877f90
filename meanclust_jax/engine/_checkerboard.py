"""Checkerboard-parallel Metropolis sweeps on the sublattice tiling (docs/model.md §3).

A sweep is ``s_a * s_b`` phases. Each phase draws its parameters at random (independently of the
configuration) and attempts ``N / (s_a s_b)`` mutually independent swaps at once:

* local (Kawasaki): a direction ``v_k``, ``k = (sweep index) mod 3`` (the same for all replicas,
  so that a vmapped run keeps one branch), and an anchor
  class ``(p, q)``; the swaps are the bonds ``(i, i + v_k)`` for all anchors
  ``i ≡ (p, q) mod (s_a, s_b)``. A sweep visits the ``s_a s_b`` classes in a fixed order (so
  every bond of direction ``v_k`` is attempted once); the phases are unrolled with static
  indices, which XLA compiles to in-place slice updates (3-4x faster than dynamic indices);
* global: an anchor class ``(p, q)`` and a displacement ``Δ`` whose residue mod ``(s_a, s_b)`` is
  in `meanclust_jax.lattice.global_residues`; the swaps are ``(i, i + Δ)``.

Each phase is drawn independently of the configuration. The moves of a phase touch disjoint neighbourhoods, so each is an independent Metropolis swap
``min(1, exp(-dE/T))``, reversible with respect to the Boltzmann distribution; the phase (a
product of commuting reversible kernels) and the random mixture of phases keep it stationary.
One sweep attempts exactly ``N`` swaps.

**Layout.** Inside a run the lattice is held as minus-indicators ``m = (σ == -1)`` (int8) in a
sublattice-major, halo-padded array ``y[p, q, 1 + r, 1 + c] = m(r s_a + p, c s_b + q)`` of shape
``(s_a, s_b, R + 2, C + 2)`` with ``R = rows / s_a``, ``C = cols / s_b``, whose outer rows and
columns repeat the periodic neighbours. The values at offset ``(da, db)`` (``|da| < s_a``) from
every anchor of a class are then one contiguous slice, so a phase reads only the ~10 sublattice
slices it needs and writes two.

**Energy change from integer counts.** Write ``D(o) = ε(o+1) - ε(o)`` for a triangle whose two
other sites hold ``o`` ``-`` sites; on ``o ∈ {0,1,2}`` it is exactly ``a + b o + c o(o-1)/2``
with ``b = ε2 - 2ε1 + ε0`` and ``c = ε3 - 3ε2 + 3ε1 - ε0``; bond energies are bilinear,
``J(m, m') = J++ + β (m + m') + γ m m'`` with ``γ = J-- - 2J+- + J++``. Swapping ``i`` and ``j``
then changes the energy by

    dE = (m_j - m_i) (F_i - F_j),     F = b Σ_t o_t + c Σ_t [o_t = 2] + γ Σ_k m_k,

the sums running over the triangles and neighbours of each site that do not hold the other
(the ``a`` and ``β`` terms cancel: both sites have the same number of them). ``F`` is an integer
combination of neighbour indicators; for the default Hamiltonian ``c = γ = 0``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..energy import TriangleBondHamiltonian
from ..lattice import NEIGHBOUR_VECTORS, TriangularLattice, global_residues

_V = np.asarray(NEIGHBOUR_VECTORS, dtype=np.int32)


@dataclasses.dataclass(frozen=True)
class Engine:
    """An engine's pure functions (all jit- and vmap-able).

    - ``encode(sigma (rows, cols) int8) -> state``, ``decode(state) -> sigma``;
    - ``sweep(key, state, T float32, index int32) -> (state, n_changed int32)``: one sweep of
      ``N`` attempted swaps at temperature ``T``; ``index`` is the global sweep number (it
      selects the direction of local phases); ``n_changed`` counts accepted swaps of unequal
      species.
    """

    encode: Callable[[jax.Array], jax.Array]
    decode: Callable[[jax.Array], jax.Array]
    sweep: Callable[[jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]


def energy_coefficients(hamiltonian: TriangleBondHamiltonian) -> tuple[float, float, float]:
    """``(b, c, γ)`` of the module docstring for a triangle/bond table."""
    e, J = hamiltonian.tables()
    b = e[2] - 2 * e[1] + e[0]
    c = e[3] - 3 * e[2] + 3 * e[1] - e[0]
    g = J[1] - 2 * J[2] + J[0]
    return float(b), float(c), float(g)


#: Lattices with more sites than this use statically unrolled local phases (see `make_parallel_engine`).
UNROLL_MIN_SITES = 1024


def make_parallel_engine(
    lattice: TriangularLattice,
    hamiltonian: TriangleBondHamiltonian,
    moves: str,
    unroll: bool | None = None,
) -> Engine:
    """Build the checkerboard-parallel `Engine` for a lattice, Hamiltonian and move set.

    `unroll` selects how local phases are compiled: unrolled with static slices (3-4x faster
    per sweep, ~10 s to compile on a 2-core CPU) or as a ``lax.scan`` with dynamic slices (fast
    to compile). The default unrolls for lattices of more than `UNROLL_MIN_SITES` sites. Both
    give the same Markov chain in distribution (not bit for bit: the random streams differ).
    """
    if unroll is None:
        unroll = lattice.n_sites > UNROLL_MIN_SITES
    sa, sb = lattice.stride(moves)
    rows, cols = lattice.shape
    R, C = rows // sa, cols // sb
    b, c, g = energy_coefficients(hamiltonian)
    V = jnp.asarray(_V)
    residues = jnp.asarray(global_residues(sa, sb) or ((0, 0),), dtype=jnp.int32)
    n_phases = sa * sb

    def refresh_halo(y):
        y = y.at[:, :, 0, :].set(y[:, :, R, :]).at[:, :, R + 1, :].set(y[:, :, 1, :])
        return y.at[:, :, :, 0].set(y[:, :, :, C]).at[:, :, :, C + 1].set(y[:, :, :, 1])

    def encode(sigma):
        m = (sigma < 0).astype(jnp.int8).reshape(R, sa, C, sb).transpose(1, 3, 0, 2)
        return refresh_halo(jnp.pad(m, ((0, 0), (0, 0), (1, 1), (1, 1))))

    def decode(y):
        m = y[:, :, 1 : R + 1, 1 : C + 1].transpose(2, 0, 3, 1).reshape(rows, cols)
        return (1 - 2 * m.astype(jnp.int8)).astype(jnp.int8)

    def near(y, p, q, da, db):
        """(R, C) values at offset (da, db), |da| < s_a and |db| < s_b, from anchors of class (p, q)."""
        pa, qb = p + da, q + db
        start = (pa % sa, qb % sb, 1 + pa // sa, 1 + qb // sb)
        return lax.dynamic_slice(y, start, (1, 1, R, C)).reshape(R, C)

    def write(y, p, q, values):
        return lax.dynamic_update_slice(y, values[None, None], (p, q, 1, 1))

    def wrap(a):
        """Pad an (R, C) sublattice with its periodic halo."""
        return jnp.pad(a, ((1, 1), (1, 1)), mode="wrap")

    def near_static(y, p, q, da, db):
        pa, qb = p + da, q + db
        r0, c0 = 1 + pa // sa, 1 + qb // sb
        return y[pa % sa, qb % sb, r0 : r0 + R, c0 : c0 + C]

    def local_phase(y, key, T, k, p, q):
        """All bonds (i, i + v_k), i ≡ (p, q).

        With Python ints ``k, p, q`` every slice is static (the fast path for large lattices);
        with traced ones the same code uses dynamic slices (quick to compile, for small ones).
        """
        static = all(isinstance(z, int) for z in (k, p, q))
        u = jax.random.uniform(key, (R, C), dtype=jnp.float32)
        if static:
            v = [tuple(int(x) for x in _V[(k + r) % 6]) for r in range(6)]  # v[r] = v_{k+r}
            at = lambda off: near_static(y, p, q, *off)  # noqa: E731
        else:
            v = [V[(k + r) % 6] for r in range(6)]
            at = lambda off: near(y, p, q, off[0], off[1])  # noqa: E731
        m_i = at((0, 0))
        n = [at(v[r]) for r in range(6)]  # n[r]: i + v_{k+r}; n[0] is j
        m_j = n[0]
        # Far neighbours of j = i + v_k: j + v_{k+5}, j + v_k, j + v_{k+1}
        # (j + v_{k+4} = i + v_{k+5}, j + v_{k+2} = i + v_{k+1}, j + v_{k+3} = i).
        f5, f0, f1 = (at((v[0][0] + v[r][0], v[0][1] + v[r][1])) for r in (5, 0, 1))
        nj = {4: n[5], 5: f5, 0: f0, 1: f1, 2: n[1]}
        # i's triangles without j: (v_{k+r}, v_{k+r+1}), r = 1..4; j's without i: r = 4, 5, 0, 1.
        tri_i = [(n[r], n[r + 1]) for r in (1, 2, 3, 4)]
        tri_j = [(nj[r], nj[(r + 1) % 6]) for r in (4, 5, 0, 1)]
        F = jnp.zeros((R, C), jnp.float32)
        if b:
            S1 = sum(x + z for x, z in tri_i) - sum(x + z for x, z in tri_j)
            F = F + b * S1.astype(jnp.float32)
        if c:
            S2 = sum(x * z for x, z in tri_i) - sum(x * z for x, z in tri_j)
            F = F + c * S2.astype(jnp.float32)
        if g:
            M = sum(n[1:6]) - sum(nj.values())
            F = F + g * M.astype(jnp.float32)
        dE = (m_j - m_i).astype(jnp.float32) * F
        accept = (m_i != m_j) & (u < jnp.exp(-dE / T))
        # j's sublattice and block carry: write the partners' new values in their own frame.
        pa, qb = p + v[0][0], q + v[0][1]
        new_j = jnp.roll(jnp.where(accept, m_i, m_j), (pa // sa, qb // sb), axis=(0, 1))
        if static:
            y = y.at[p, q].set(wrap(jnp.where(accept, m_j, m_i)))
            y = y.at[pa % sa, qb % sb].set(wrap(new_j))
        else:
            y = lax.dynamic_update_slice(y, wrap(jnp.where(accept, m_j, m_i))[None, None], (p, q, 0, 0))
            y = lax.dynamic_update_slice(y, wrap(new_j)[None, None], (pa % sa, qb % sb, 0, 0))
        return y, jnp.sum(accept, dtype=jnp.int32)

    def local_sweep(key, y, T, index):
        """Direction k = index mod 3, then every anchor class once (fixed order)."""
        keys = jax.random.split(key, n_phases)
        if not unroll:
            def body(carry, idx):
                y, n = carry
                y, dn = local_phase(y, keys[idx], T, index % 3, idx // sb, idx % sb)
                return (y, n + dn), None

            (y, n), _ = lax.scan(body, (y, jnp.int32(0)), jnp.arange(n_phases))
            return y, n

        def branch(k):
            def run(y):
                n = jnp.int32(0)
                for idx in range(n_phases):
                    y, dn = local_phase(y, keys[idx], T, k, idx // sb, idx % sb)
                    n = n + dn
                return y, n

            return run

        return lax.switch(index % 3, [branch(k) for k in range(3)], y)

    def site_field(y, p, q):
        """(m, F) for every site of class (p, q): F over all 6 triangles and neighbours."""
        m = near(y, p, q, 0, 0)
        n = [near(y, p, q, *V[r]) for r in range(6)]
        F = jnp.zeros((R, C), jnp.float32)
        if b or g:
            F = F + (2 * b + g) * sum(n).astype(jnp.float32)
        if c:
            F = F + c * sum(n[r] * n[(r + 1) % 6] for r in range(6)).astype(jnp.float32)
        return m, F

    def global_phase(y, key, T):
        kp, kq, kr, km, kn, ku = jax.random.split(key, 6)
        p = jax.random.randint(kp, (), 0, sa)
        q = jax.random.randint(kq, (), 0, sb)
        delta = residues[jax.random.randint(kr, (), 0, residues.shape[0])]
        pa = p + delta[0] + sa * jax.random.randint(km, (), 0, R)
        qb = q + delta[1] + sb * jax.random.randint(kn, (), 0, C)
        u = jax.random.uniform(ku, (R, C), dtype=jnp.float32)
        pj, qj, carry = pa % sa, qb % sb, (pa // sa, qb // sb)
        m_i, F_i = site_field(y, p, q)
        m_j, F_j = site_field(y, pj, qj)
        m_j = jnp.roll(m_j, (-carry[0], -carry[1]), axis=(0, 1))
        F_j = jnp.roll(F_j, (-carry[0], -carry[1]), axis=(0, 1))
        dE = (m_j - m_i).astype(jnp.float32) * (F_i - F_j)
        accept = (m_i != m_j) & (u < jnp.exp(-dE / T))
        y = write(y, p, q, jnp.where(accept, m_j, m_i))
        y = write(y, pj, qj, jnp.roll(jnp.where(accept, m_i, m_j), carry, axis=(0, 1)))
        return refresh_halo(y), jnp.sum(accept, dtype=jnp.int32)

    def global_sweep(key, y, T):
        keys = jax.random.split(key, n_phases)

        def body(carry, k):
            y, n = carry
            y, dn = global_phase(y, k, T)
            return (y, n + dn), None

        (y, n), _ = lax.scan(body, (y, jnp.int32(0)), keys)
        return y, n

    def sweep(key, y, T, index):
        T = jnp.asarray(T, jnp.float32)
        return local_sweep(key, y, T, index) if moves == "local" else global_sweep(key, y, T)

    return Engine(encode=encode, decode=decode, sweep=sweep)
