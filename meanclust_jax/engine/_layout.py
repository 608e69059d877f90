"""The sublattice-major, halo-padded layout of the checkerboard engine's state (docs/model.md §3).

Inside a run the lattice is held as minus-indicators ``m = (σ == -1)`` (int8) in an array

    y[p, q, 1 + r, 1 + c] = m(r s_a + p, c s_b + q),   shape (s_a, s_b, R + 2, C + 2),

with ``R = rows / s_a`` and ``C = cols / s_b``, whose outer rows and columns (the halo) repeat
the periodic neighbours. The values at an offset ``(da, db)`` (``|da| < s_a``, ``|db| < s_b``)
from every anchor of a class ``(p, q)`` are then one contiguous ``(R, C)`` slice, so a phase
reads only the few sublattice slices it needs and writes two.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Int, Int8


def _indices(*values: int | Int[Array, ""]) -> tuple[Int[Array, ""], ...]:
    """Dynamic-slice indices as int32 scalars (`lax.dynamic_slice` wants one integer type)."""
    return tuple(jnp.asarray(v, jnp.int32) for v in values)


class SublatticeLayout(eqx.Module):
    """Geometry of the halo-padded sublattice layout for a ``rows x cols`` lattice and a
    checkerboard stride ``(s_a, s_b)`` (`meanclust_jax.lattice.TriangularLattice.stride`).

    **Fields:** `rows`, `cols`, `sa`, `sb` (Python ints; `sa` divides `rows`, `sb` divides
    `cols`).
    """

    rows: int = eqx.field(static=True)
    cols: int = eqx.field(static=True)
    sa: int = eqx.field(static=True)
    sb: int = eqx.field(static=True)

    @property
    def R(self) -> int:
        """Anchors of one class along the first axis, ``rows / s_a``."""
        return self.rows // self.sa

    @property
    def C(self) -> int:
        """Anchors of one class along the second axis, ``cols / s_b``."""
        return self.cols // self.sb

    @property
    def n_classes(self) -> int:
        """Number of anchor classes ``(p, q)``, ``s_a s_b`` (phases per sweep)."""
        return self.sa * self.sb

    def refresh_halo(self, y: Int8[Array, "sa sb R2 C2"]) -> Int8[Array, "sa sb R2 C2"]:
        """Copy the periodic neighbours into the halo rows and columns of every sublattice."""
        R, C = self.R, self.C
        y = y.at[:, :, 0, :].set(y[:, :, R, :]).at[:, :, R + 1, :].set(y[:, :, 1, :])
        return y.at[:, :, :, 0].set(y[:, :, :, C]).at[:, :, :, C + 1].set(y[:, :, :, 1])

    def encode(self, sigma: Int8[Array, "rows cols"]) -> Int8[Array, "sa sb R2 C2"]:
        """Minus-indicators of ``sigma`` (int8 ±1) in the halo-padded layout."""
        m = (sigma < 0).astype(jnp.int8).reshape(self.R, self.sa, self.C, self.sb).transpose(1, 3, 0, 2)
        return self.refresh_halo(jnp.pad(m, ((0, 0), (0, 0), (1, 1), (1, 1))))

    def decode(self, y: Int8[Array, "sa sb R2 C2"]) -> Int8[Array, "rows cols"]:
        """The configuration (int8 ±1) held by a layout array."""
        m = y[:, :, 1 : self.R + 1, 1 : self.C + 1].transpose(2, 0, 3, 1).reshape(self.rows, self.cols)
        return (1 - 2 * m.astype(jnp.int8)).astype(jnp.int8)

    def near(self, y: Array, p: int | Int[Array, ""], q: int | Int[Array, ""], da: int | Int[Array, ""],
             db: int | Int[Array, ""]) -> Int8[Array, "R C"]:
        """``(R, C)`` minus-indicators at offset ``(da, db)`` (``|da| < s_a``, ``|db| < s_b``) from
        every anchor of class ``(p, q)``.

        With Python ints every index is static (a plain slice, which XLA turns into a view);
        with traced ones the same values come from a `lax.dynamic_slice`.
        """
        pa, qb = p + da, q + db
        if all(isinstance(z, int) for z in (p, q, da, db)):
            r0, c0 = 1 + pa // self.sa, 1 + qb // self.sb
            return y[pa % self.sa, qb % self.sb, r0 : r0 + self.R, c0 : c0 + self.C]
        start = _indices(pa % self.sa, qb % self.sb, 1 + pa // self.sa, 1 + qb // self.sb)
        return lax.dynamic_slice(y, start, (1, 1, self.R, self.C)).reshape(self.R, self.C)

    @staticmethod
    def wrap(values: Int8[Array, "R C"]) -> Int8[Array, "R2 C2"]:
        """``(R, C)`` values of one sublattice padded with their periodic halo."""
        return jnp.pad(values, ((1, 1), (1, 1)), mode="wrap")

    def write(self, y: Array, p: int | Int[Array, ""], q: int | Int[Array, ""],
              values: Int8[Array, "R C"]) -> Int8[Array, "sa sb R2 C2"]:
        """Write the ``(R, C)`` values of sublattice ``(p, q)`` together with their periodic halo."""
        wrapped = self.wrap(values)
        if isinstance(p, int) and isinstance(q, int):
            return y.at[p, q].set(wrapped)
        return lax.dynamic_update_slice(y, wrapped[None, None], _indices(p, q, 0, 0))

    def write_interior(self, y: Array, p: Int[Array, ""], q: Int[Array, ""],
                       values: Int8[Array, "R C"]) -> Int8[Array, "sa sb R2 C2"]:
        """Write the ``(R, C)`` values of sublattice ``(p, q)`` without its halo (call
        `refresh_halo` once after several such writes)."""
        return lax.dynamic_update_slice(y, values[None, None], _indices(p, q, 1, 1))


__all__ = ["SublatticeLayout"]
