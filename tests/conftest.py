"""Shared test fixtures."""

import pytest

from lossbounds.landscape.data import make_regression, make_xor
from lossbounds.landscape.surface import LossSurface
from lossbounds.theory.architecture import Architecture


def _surface_of(act="tanh", skip=None, output="linear", loss="mse", l2=None, m=20, **kw):
    arch = Architecture(
        2, 3, 2, m, activation=act, output=output, loss=loss, skip=skip, l2=l2 is not None
    )
    d = make_xor(m, 2, seed=0) if loss == "bce" else make_regression(m, 2, seed=0)
    return LossSurface(arch, d.X, d.y, l2=l2, **kw), d


@pytest.fixture
def surface_of():
    """Factory: a LossSurface of a 2-3-3-1 network on 20 seeded samples, and its data."""
    return _surface_of
