"""Tests for lossbounds.landscape.layout: the flat parameter vector."""

import sys

import numpy as np
import pytest
import sympy as sp
import torch

from lossbounds.landscape.layout import ParamLayout
from lossbounds.theory.architecture import Architecture


@pytest.mark.parametrize(
    "n,h,H,skip",
    [
        (1, 1, 1, None),
        (2, 3, 1, None),
        (3, 4, 3, None),
        (2, 3, 3, "identity"),
        (2, 3, 3, "projection"),
    ],
)
def test_n_params_matches_hand_formula(n, h, H, skip):
    arch = Architecture(n, h, H, 10, skip=skip)
    # docs/theory.md: h(n+1) + (L-2)h(h+1) + (h+1), L = H + 1; projections add h^2 per skip
    expected = h * (n + 1) + (H - 1) * h * (h + 1) + (h + 1)
    if skip == "projection":
        expected += (H - 1) * h * h
    assert ParamLayout(arch).n_params == expected


def test_layout_is_row_major_in_documented_order():
    arch = Architecture(2, 3, 2, 5, skip="projection")
    lay = ParamLayout(arch)
    theta = np.arange(lay.n_params, dtype=float)
    p = lay.unflatten(theta)
    assert list(p) == ["W1", "b1", "W2", "b2", "P2", "v", "c"]
    # W1[i, j] at offset i * n + j; b1 right after W1 (6 entries), and so on
    assert p["W1"][1, 0] == 2.0 and p["W1"][2, 1] == 5.0
    assert p["b1"].tolist() == [6.0, 7.0, 8.0]
    assert p["W2"][0, 2] == 11.0
    assert p["P2"][0, 0] == 21.0
    assert p["c"].tolist() == [lay.n_params - 1.0]
    assert np.array_equal(lay.flatten(p), theta)
    # batched (K, N) round trip, numpy and torch
    thetas = np.stack([theta, -theta])
    assert np.array_equal(lay.flatten(lay.unflatten(thetas)), thetas)
    tt = torch.as_tensor(thetas)
    back = lay.flatten(lay.unflatten(tt))
    assert isinstance(back, torch.Tensor) and torch.equal(back, tt)


def test_layout_rejects_symbolic_and_wrong_lengths():
    with pytest.raises(ValueError, match="width"):
        ParamLayout(Architecture(2, sp.Symbol("h", positive=True, integer=True), 1, 5))
    lay = ParamLayout(Architecture(2, 3, 2, 5))
    with pytest.raises(ValueError, match=f"N = {lay.n_params}"):
        lay.check(np.zeros(lay.n_params + 1))
    with pytest.raises(ValueError, match="missing blocks \\['c'\\]"):
        lay.flatten({k: v for k, v in lay.unflatten(np.zeros(lay.n_params)).items() if k != "c"})


def test_masks_and_init_follow_the_blocks():
    lay = ParamLayout(Architecture(2, 3, 2, 5, skip="projection"))
    # biases b1 (6..8), b2 (18..20), c (last); weight rows: W1, W2, P2 (3 rows each), v (1)
    assert np.flatnonzero(lay.bias_mask()).tolist() == [6, 7, 8, 18, 19, 20, lay.n_params - 1]
    assert [r for _, _, r in lay.weight_rows()] == [3, 3, 3, 1]
    theta = lay.init(0, scale=2.0, n_points=4000)
    assert theta.shape == (4000, lay.n_params)
    p = lay.unflatten(theta)
    assert np.std(p["W1"]) == pytest.approx(2.0 / np.sqrt(2), rel=0.05)  # fan_in n = 2
    assert np.std(p["b1"]) == pytest.approx(1.0, rel=0.05)  # scale / sqrt(4)
    assert lay.init(0).shape == (lay.n_params,)
    with pytest.raises(ValueError, match="scale"):
        lay.init(0, scale=0.0)


def test_layout_does_not_import_torch():
    code = "import lossbounds.landscape.layout, sys; assert 'torch' not in sys.modules"
    import subprocess

    subprocess.run([sys.executable, "-c", code], check=True)


def test_unequal_widths_blocks():
    arch = Architecture(n_inputs=3, widths=(5, 2, 4), n_samples=1)
    lay = ParamLayout(arch)
    shapes = {b.name: b.shape for b in lay.blocks.values()}
    assert shapes == {
        "W1": (5, 3), "b1": (5,), "W2": (2, 5), "b2": (2,),
        "W3": (4, 2), "b3": (4,), "v": (4,), "c": (1,),
    }  # fmt: skip
    assert lay.n_params == 5 * 4 + 2 * 6 + 4 * 3 + 5 and lay.widths == (5, 2, 4)
    assert [r for _, _, r in lay.weight_rows()] == [5, 2, 4, 1]
    with pytest.raises(ValueError, match=r"unequal hidden widths, widths=\(5, 2, 4\)"):
        _ = lay.width
    assert ParamLayout(Architecture(3, 4, 2, 1)).width == 4
