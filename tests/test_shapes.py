"""Tests for lossbounds.topology.shapes: the stated Betti numbers hold on exact grid persistence."""

import numpy as np
import pytest

from lossbounds.topology import diagrams as D
from lossbounds.topology import persistence as P
from lossbounds.topology import shapes as S


@pytest.mark.parametrize("construction", ["vertex", "top"])
def test_known_shapes_on_grids(construction):
    shapes = S.known_shapes()
    for name, m in [("annulus", 81), ("two_annuli", 81), ("wells2", 61), ("solid_torus", 33)]:
        s = shapes[name]
        d = P.grid_persistence(s.grid(m), maxdim=1, construction=construction)
        got = D.betti_numbers(d, s.level)
        assert tuple(got.tolist()) == s.betti, (name, got)


def test_sample_and_grid_shapes_and_seeds():
    s = S.known_shapes()["wells4"]
    pts, vals = s.sample(50, seed=3)
    assert pts.shape == (50, 4) and vals.shape == (50,)
    assert (pts >= np.array(s.low)).all() and (pts <= np.array(s.high)).all()
    np.testing.assert_array_equal(s.sample(50, seed=3)[0], pts)
    assert s.grid(5).shape == (5, 5, 5, 5)
    assert len(s.sample()[1]) == s.n_samples


def test_windows_contain_the_estimate_interval():
    for s in S.known_shapes(include_h2=True).values():
        lo, hi = s.window
        assert lo < s.level - 2 * s.delta and s.level + 2 * s.delta < hi, s.name
