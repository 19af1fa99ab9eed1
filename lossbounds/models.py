"""Temporary: the names of :mod:`lossbounds.layout`, :mod:`lossbounds.network` and
:mod:`lossbounds.symmetry` under their old module (removed in the next commit)."""

from lossbounds.layout import ParamLayout
from lossbounds.network import MLP, Network, forward, forward_numpy
from lossbounds.symmetry import GroupElement, SymmetryGroup

__all__ = [
    "ParamLayout",
    "Network",
    "MLP",
    "GroupElement",
    "SymmetryGroup",
    "forward",
    "forward_numpy",
]
