"""Random numbers and counts of one checkerboard phase, generated inside the phase (issue 11).

`jax.random.uniform` lowers Threefry-2x32 on the CPU as a *rolled* loop (5 iterations that
write and read both 32-bit words of every number), and since a phase's random numbers do not
depend on the configuration, XLA computes those of all phases of a sweep before the first
phase: 8 B per site of random bits held across the sweep (``benchmarks/README.md``). Here each
phase evaluates the same Threefry-2x32 hash as plain element-wise operations that XLA fuses into
the phase (`phase_uniform`), with the key tied to the current state so the generation cannot be
hoisted out of its phase. For a Threefry key the numbers are *bit for bit* those of
``jax.random.uniform(key, shape, jnp.float32)`` (a test), so the Markov chain is unchanged.

Two details keep XLA's CPU fusion from undoing the gain: the acceptance mask is materialised once
per phase (`materialise`; otherwise the hash would be recomputed in each of the phase's consumer
fusions), and the phase's counts are one variadic reduction (`count_fields`), which XLA fuses
into a single pass (a single-operand sum is rewritten into a reduce-window that materialises
its input as int32).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray, Shaped, UInt32

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA


def _rotate_left(x: UInt32[Array, "*shape"], r: int) -> UInt32[Array, "*shape"]:
    return (x << jnp.uint32(r)) | (x >> jnp.uint32(32 - r))


def threefry2x32(
    k0: UInt32[Array, ""], k1: UInt32[Array, ""], x0: UInt32[Array, "*shape"], x1: UInt32[Array, "*shape"]
) -> tuple[UInt32[Array, "*shape"], UInt32[Array, "*shape"]]:
    """The Threefry-2x32 block cipher (20 rounds; Salmon et al., SC'11), as in
    ``jax._src.random.threefry2x32`` but written with element-wise operations only.

    **Arguments:** the two key words `k0`, `k1` and the two counter words `x0`, `x1` (uint32).

    **Returns:** the two output words (uint32, the counters' shape).
    """
    ks = (k0, k1, k0 ^ k1 ^ jnp.uint32(_PARITY))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = _rotate_left(x1, r) ^ x0
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + jnp.uint32(i + 1)
    return x0, x1


def key_words(key: PRNGKeyArray) -> UInt32[Array, " 2"]:
    """Two uint32 key words for `threefry2x32`: the key data of a Threefry key, otherwise two
    words drawn from the key (any other `jax.random` implementation)."""
    if str(jax.random.key_impl(key)) == "threefry2x32":
        return jax.random.key_data(key)
    return jax.random.bits(key, (2,), jnp.uint32)


def phase_uniform(
    key: PRNGKeyArray, shape: tuple[int, int], tie: Shaped[Array, ""] | None = None
) -> Float[Array, "*shape"]:
    """Uniform float32 numbers in ``[0, 1)`` for one phase, equal to
    ``jax.random.uniform(key, shape, jnp.float32)`` for a Threefry key.

    **Arguments:**

    - `key`: the phase's `jax.random.key`.
    - `shape`: the 2-D shape (fewer than ``2**32`` numbers).
    - `tie`: optional int8 scalar from the current state holding 0 or 1; it is added to the key
      as ``tie >> 7`` (always 0), which makes the generation depend on the state so XLA cannot
      move it out of its phase.

    **Returns:** float32 array of `shape`.
    """
    words = key_words(key)
    if tie is not None:
        words = words + (tie >> 7).astype(jnp.uint32)
    counter = (lax.broadcasted_iota(jnp.uint32, shape, 0) * jnp.uint32(shape[1])
               + lax.broadcasted_iota(jnp.uint32, shape, 1))
    b0, b1 = threefry2x32(words[0], words[1], jnp.zeros(shape, jnp.uint32), counter)
    mantissa = ((b0 ^ b1) >> jnp.uint32(9)) | jnp.uint32(0x3F800000)
    return lax.bitcast_convert_type(mantissa, jnp.float32) - jnp.float32(1.0)


def materialise(mask: Bool[Array, "*shape"]) -> Bool[Array, "*shape"]:
    """The same boolean mask, computed once into memory by XLA.

    XLA's CPU fusion duplicates cheap element-wise producers into every consumer but keeps
    "expensive" operations (``sqrt``, ``exp``, ...) in one fusion whose result is stored; the
    exact ``sqrt`` of 0 and 1 makes the mask such a result. Values are unchanged.
    """
    return jnp.sqrt(mask.astype(jnp.float32)) > jnp.float32(0.5)


def count_fields(fields: list[Shaped[Array, "*shape"]]) -> Int[Array, " nfields"]:
    """Sums of several small-integer arrays of one shape, as int32, in one variadic reduction."""
    if len(fields) == 1:  # a variadic reduce needs two operands to stay one fused pass
        return count_fields([fields[0], jnp.zeros_like(fields[0])])[:1]
    ops = tuple(f.astype(jnp.int32) for f in fields)
    zeros = tuple(jnp.zeros((), jnp.int32) for _ in ops)
    sums = lax.reduce(ops, zeros, lambda a, b: tuple(x + y for x, y in zip(a, b, strict=True)),
                      tuple(range(ops[0].ndim)))
    return jnp.stack(sums)


def count_fields_separately(fields: list[Shaped[Array, "*shape"]]) -> Int[Array, " nfields"]:
    """The same sums as `count_fields`, one `jnp.sum` each (the previous path, for benchmarks)."""
    return jnp.stack([jnp.sum(f, dtype=jnp.int32) for f in fields])


__all__ = [
    "count_fields",
    "count_fields_separately",
    "key_words",
    "materialise",
    "phase_uniform",
    "threefry2x32",
]
