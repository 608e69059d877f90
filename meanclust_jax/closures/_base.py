"""The closure interface shared by every closure (paper Section IV, SPEC §5)."""

from __future__ import annotations

import abc

import equinox as eqx

from .._custom_types import PairConcentrations, SingletConcentrations, TripletConcentrations


class AbstractClosure(eqx.Module):
    """A closure maps singlet and pair concentrations to the 16 triplet concentrations.

    Subclasses implement `__call__`. Any leading batch shape is allowed: ``C_single`` has shape
    ``(*batch, 2)`` ordered ``(C_+, C_-)``, ``C_pair`` has shape ``(*batch, 3)`` ordered
    ``(C_++, C_--, C_+-)``; the result has shape ``(*batch, 16)`` in the order of
    ``meanclust_jax.TRIPLETS`` (SPEC §4), already multiplied by the shape weight ``w``.
    """

    @abc.abstractmethod
    def __call__(
        self, C_single: SingletConcentrations, C_pair: PairConcentrations
    ) -> TripletConcentrations:
        raise NotImplementedError
