"""The engine interface: encode a configuration, run sweeps on the encoded state, decode it back.

Both engines (`CheckerboardEngine`, the checkerboard-parallel one, and `SequentialEngine`, the
one-swap-at-a-time reference of docs/model.md §3) are final subclasses of `AbstractEngine`; the driver
(`meanclust_jax.engine.anneal`) only uses this interface.
"""

from __future__ import annotations

import abc

import equinox as eqx
from jaxtyping import Array, Float, Int, Int8, PRNGKeyArray, Shaped

#: An engine's internal representation of one configuration (layout private to the engine).
EngineState = Shaped[Array, "..."]
#: Integer counts of one sweep, laid out as `meanclust_jax.engine.SWEEP_COUNTS` (int32).
SweepCounts = Int[Array, " counts"]


class AbstractEngine(eqx.Module):
    """A Metropolis engine's pure functions (all jit- and vmap-able).

    Subclasses implement:

    - `encode`: ``sigma (rows, cols) int8 ±1 → state``;
    - `decode`: ``state → sigma``;
    - `sweep`: one sweep of ``N`` attempted swaps at one temperature.
    """

    @abc.abstractmethod
    def encode(self, sigma: Int8[Array, "rows cols"]) -> EngineState:
        """The engine's state for a configuration ``sigma`` (``+1`` Mn, ``-1`` Li)."""

    @abc.abstractmethod
    def decode(self, state: EngineState) -> Int8[Array, "rows cols"]:
        """The configuration ``sigma`` (int8 ±1) held by a state."""

    @abc.abstractmethod
    def sweep(
        self,
        key: PRNGKeyArray,
        state: EngineState,
        temperature: Float[Array, ""],
        index: Int[Array, ""],
    ) -> tuple[EngineState, SweepCounts]:
        """One sweep of ``N`` attempted swaps.

        **Arguments:**

        - `key`: a `jax.random.key` for this sweep.
        - `state`: the state from `encode` or a previous sweep.
        - `temperature`: ``T`` (energy units, ``k_B = 1``), float scalar (cast to float32).
        - `index`: the global number of this sweep, int32 scalar (the parallel engine takes the
          direction of its local phases from it; the sequential one ignores it).

        **Returns:** ``(state, counts)``: the new state and the sweep's int32 counts, laid out as
        `meanclust_jax.engine.SWEEP_COUNTS` (accepted swaps of unequal species first).
        """


#: The name the engine interface had before it became an abstract class.
Engine = AbstractEngine

__all__ = ["AbstractEngine", "Engine", "EngineState", "SweepCounts"]
