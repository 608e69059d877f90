"""The periodic triangular lattice of the Li/Mn transition-metal layer (docs/model.md §1, paper Fig. 1, 7).

Sites have axial coordinates ``(a, b)``, ``0 <= a < rows``, ``0 <= b < cols``, stored as a
``(rows, cols)`` array. The six neighbour vectors, in cyclic (counter-clockwise) order, are

    v0 = (1, 0), v1 = (0, 1), v2 = (-1, 1), v3 = (-1, 0), v4 = (0, -1), v5 = (1, -1),

so that ``v_l`` and ``v_{l+1}`` bound an elementary triangle (60°), ``v_l`` and ``v_{l+2}`` an
angled triplet (120°) and ``v_l`` and ``v_{l+3}`` a linear one (180°). The graph distance
between sites is ``max(|da|, |db|, |da + db|)``.

**Checkerboard tiling.** The parallel engine groups moves into phases of mutually independent
moves: no site of one move lies within graph distance 1 of a site of another, so their energy
changes do not interact and they commute (docs/model.md §3). The triangular lattice is not bipartite, so
a two-colour checkerboard is wrong here. We tile the lattice by the sublattice of stride
``(s_a, s_b)`` with ``s_a, s_b ∈ {3, 4}`` (``s_a`` dividing ``rows`` and ``s_b`` dividing ``cols``):

* local (Kawasaki) phase: one direction ``v_k`` (``k ∈ {0, 1, 2}``) and one anchor class
  ``(p, q)``; it swaps every bond ``(i, i + v_k)`` with ``i ≡ (p, q) mod (s_a, s_b)``. Two such
  bonds are at graph distance ≥ 2 for every stride ≥ 3 (checked exhaustively in the tests).
* global phase: one anchor class ``(p, q)`` and one displacement ``Δ`` with
  ``Δ mod (s_a, s_b)`` in the residue set `global_residues`; it swaps every pair
  ``(i, i + Δ)``. Residues are chosen so that all sites of the phase are pairwise at distance ≥ 2.
  With stride ``(3, 3)`` the only such residues are ``(1, 1)`` and ``(2, 2)``, which keep both
  sites of a swap on one colour of the 3-colouring ``(a - b) mod 3``; that conserves the
  composition of each colour and is not ergodic. Global moves therefore need a stride other than
  ``(3, 3)``: ``rows`` or ``cols`` must be a multiple of 4.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np

from ._validate import check_float, check_int

#: Neighbour vectors ``v0..v5`` in cyclic order.
NEIGHBOUR_VECTORS: tuple[tuple[int, int], ...] = ((1, 0), (0, 1), (-1, 1), (-1, 0), (0, -1), (1, -1))

MOVES: tuple[str, ...] = ("local", "global")
_STRIDES = (3, 4)


def graph_distance(da: int, db: int) -> int:
    """Graph distance on the infinite triangular lattice between sites differing by ``(da, db)``."""
    return max(abs(da), abs(db), abs(da + db))


def _periodic_distance(da: int, db: int, rows: int, cols: int) -> int:
    return min(
        graph_distance(da + m * rows, db + n * cols) for m in (-1, 0, 1) for n in (-1, 0, 1)
    )


@functools.cache
def global_residues(sa: int, sb: int) -> tuple[tuple[int, int], ...]:
    """Displacement residues ``δ`` (mod ``(sa, sb)``) allowed in a global-swap phase.

    ``δ`` is allowed when every vector ``δ + (m sa, n sb)`` has graph length ≥ 2, so that the sites
    ``{i, i + Δ}`` of all pairs of a phase are pairwise non-adjacent.
    """
    out = []
    for da in range(sa):
        for db in range(sb):
            if (da, db) == (0, 0):
                continue
            if min(
                graph_distance(da + m * sa, db + n * sb)
                for m in range(-3, 4)
                for n in range(-3, 4)
            ) >= 2:
                out.append((da, db))
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class TriangularLattice:
    """A periodic ``rows x cols`` triangular lattice (docs/model.md §1).

    **Arguments:**

    - `rows`, `cols`: number of sites along the two axial directions ``v0 = (1, 0)`` and
      ``v1 = (0, 1)``. Each must be a multiple of 3 or of 4 (the checkerboard strides, see the
      module docstring); global moves also need one of them to be a multiple of 4. The ordered
      √3×√3 state of ``x = 1/3`` needs both to be multiples of 3.

    **Raises:**

    - `ValueError` if `rows` or `cols` is not an integer ≥ 3 that the checkerboard can tile.
    """

    rows: int
    cols: int

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            value = getattr(self, name)
            value = check_int(value, name)
            if value < 3 or all(value % s for s in _STRIDES):
                raise ValueError(
                    f"{name}={value} cannot be tiled by the checkerboard: {name} must be a "
                    "multiple of 3 or of 4 (e.g. 12, 24, 96, 384, 1536, 4096, 8192)"
                )
            object.__setattr__(self, name, int(value))

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return (self.rows, self.cols)

    @property
    def n_sites(self) -> int:
        """Number of sites ``N = rows * cols`` (one sweep is ``N`` attempted swaps)."""
        return self.rows * self.cols

    def local_stride(self) -> tuple[int, int]:
        """Checkerboard stride ``(s_a, s_b)`` of nearest-neighbour (Kawasaki) swaps: the smallest
        stride in {3, 4} dividing each dimension."""
        sa = next(s for s in _STRIDES if self.rows % s == 0)
        sb = next(s for s in _STRIDES if self.cols % s == 0)
        return (sa, sb)

    def global_stride(self) -> tuple[int, int]:
        """Checkerboard stride ``(s_a, s_b)`` of swaps between any two sites: the local stride,
        with one side raised to 4 where it is ``(3, 3)`` (see the module docstring).

        **Raises:**

        - `ValueError` if neither dimension is a multiple of 4.
        """
        sa, sb = self.local_stride()
        if (sa, sb) != (3, 3):
            return (sa, sb)
        if self.cols % 4 == 0:
            return (3, 4)
        if self.rows % 4 == 0:
            return (4, 3)
        raise ValueError(
            f"moves='global' on a {self.rows}x{self.cols} lattice: the checkerboard for "
            "global swaps needs rows or cols to be a multiple of 4 (stride (3, 3) keeps "
            "every swap on one colour of the 3-colouring and is not ergodic); "
            "e.g. use 12x12, 24x24 or 96x96"
        )

    def stride(self, moves: object = "local") -> tuple[int, int]:
        """Checkerboard stride ``(s_a, s_b)`` used by the parallel engine for a move set.

        `moves` is a move set of `meanclust_jax.engine` (``LocalSwaps()``, ``GlobalSwaps()``,
        anything with a ``stride(lattice)`` method) or its name, ``"local"`` or ``"global"``
        (`local_stride`, `global_stride`).

        **Raises:**

        - `ValueError` for an unknown move-set name, or global moves on a lattice where neither
          dimension is a multiple of 4.
        """
        if not isinstance(moves, str) and hasattr(moves, "stride"):
            return moves.stride(self)
        return _STRIDE_OF[check_moves(moves)](self)

    def site_index(self, a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray | np.integer:
        """Flat index ``a * cols + b`` of site ``(a, b)`` (periodic)."""
        return (np.asarray(a) % self.rows) * self.cols + (np.asarray(b) % self.cols)

    def neighbour_table(self) -> np.ndarray:
        """``(N, 6)`` int32 flat indices of the neighbours ``i + v_l``, ``l = 0..5``."""
        a, b = np.divmod(np.arange(self.n_sites), self.cols)
        return np.stack(
            [self.site_index(a + da, b + db) for da, db in NEIGHBOUR_VECTORS], axis=1
        ).astype(np.int32)

    def triangle_table(self) -> np.ndarray:
        """``(2N, 3)`` int32 flat site indices of the up and down triangles (docs/model.md §1).

        Rows ``0..N-1`` are the up triangles ``{(a,b), (a+1,b), (a,b+1)}``, rows ``N..2N-1``
        the down triangles ``{(a+1,b), (a,b+1), (a+1,b+1)}``, indexed by ``(a, b)``.
        """
        a, b = np.divmod(np.arange(self.n_sites), self.cols)
        up = np.stack([self.site_index(a, b), self.site_index(a + 1, b), self.site_index(a, b + 1)], 1)
        down = np.stack(
            [self.site_index(a + 1, b), self.site_index(a, b + 1), self.site_index(a + 1, b + 1)], 1
        )
        return np.concatenate([up, down]).astype(np.int32)

    def site_triangles(self) -> np.ndarray:
        """``(N, 6)`` int32 indices (into `triangle_table`) of the six triangles holding each site."""
        tri = self.triangle_table()
        out = [[] for _ in range(self.n_sites)]
        for t, sites in enumerate(tri):
            for s in sites:
                out[s].append(t)
        return np.asarray(out, dtype=np.int32)

    def minority_count(self, composition: float) -> int:
        """Number of ``-`` (Li) sites, ``round(x N)``, for composition ``x``.

        **Raises:**

        - `ValueError` if `composition` is not a finite number in (0, 1) or leaves no site of a
          species on this lattice.
        """
        x = check_composition(composition)
        n_minus = int(round(x * self.n_sites))
        if not 0 < n_minus < self.n_sites:
            raise ValueError(
                f"composition={x} leaves no site of one species on a {self.rows}x{self.cols} "
                f"lattice (round(x*N) = {n_minus} of N = {self.n_sites}); use a composition in "
                f"[{1 / self.n_sites:.3g}, {1 - 1 / self.n_sites:.3g}]"
            )
        return n_minus


_STRIDE_OF = {"local": TriangularLattice.local_stride, "global": TriangularLattice.global_stride}


def check_moves(moves: str) -> str:
    """Return `moves` if it is ``"local"`` or ``"global"``, else raise `ValueError`."""
    if not isinstance(moves, str) or moves not in MOVES:
        raise ValueError(f"moves={moves!r} is unknown: use 'local' (Kawasaki) or 'global'")
    return moves


def check_composition(composition: float) -> float:
    """Return `composition` as a float if it is finite and in (0, 1), else raise `ValueError`."""
    return check_float(composition, "composition", minimum=0.0, maximum=1.0, open_min=True, open_max=True)


def phases_are_independent(lattice: TriangularLattice, moves: object) -> bool:
    """Check exhaustively that every phase of the checkerboard holds mutually independent moves.

    Two moves are independent when no site of one lies within graph distance 1 of a site of the
    other (periodic distance). `moves` is a move-set name or object (its ``name``). Used by the
    tests; cost ``O(phases * (N / s_a s_b)^2)``.
    """
    name = check_moves(moves if isinstance(moves, str) else getattr(moves, "name", moves))
    sa, sb = lattice.stride(name)
    rows, cols = lattice.shape
    anchors = [(sa * m, sb * n) for m in range(rows // sa) for n in range(cols // sb)]
    if name == "local":
        offsets = NEIGHBOUR_VECTORS[:3]
    else:
        offsets = [
            (da + sa * m, db + sb * n)
            for da, db in global_residues(sa, sb)
            for m in range(rows // sa)
            for n in range(cols // sb)
        ]
    for p, q in itertools.product(range(sa), range(sb)):
        for d in offsets:
            moves_sites = [
                ((a + p) % rows, (b + q) % cols, (a + p + d[0]) % rows, (b + q + d[1]) % cols)
                for a, b in anchors
            ]
            for x, y in itertools.combinations(moves_sites, 2):
                for s1 in ((x[0], x[1]), (x[2], x[3])):
                    for s2 in ((y[0], y[1]), (y[2], y[3])):
                        if _periodic_distance(s1[0] - s2[0], s1[1] - s2[1], rows, cols) < 2:
                            return False
    return True
