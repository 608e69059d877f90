"""Closures of the mean-cluster hierarchy (paper Section IV, Tables I and III; SPEC §5)."""

from ._base import AbstractClosure as AbstractClosure
