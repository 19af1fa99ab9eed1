"""Classifiers end to end: from_module, LossSurface, symmetry group and CLI.

References: torch's own ``cross_entropy`` / ``mse_loss`` on the module
(float64), hand-counted group orders, exact invariances.
"""

import json
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from lossbounds.cli import main
from lossbounds.landscape.data import load_dataset
from lossbounds.landscape.modules import describe_module, from_module, to_module
from lossbounds.landscape.surface import LossSurface
from lossbounds.theory.architecture import Architecture
from lossbounds.theory.formats import loss_format
from lossbounds.theory.groups import symmetry_group_order

F64 = torch.float64
F = torch.nn.functional


def _data(n, m, C, seed=0, loss="cross_entropy"):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    if loss == "cross_entropy":
        y = np.arange(m) % C  # every class present
        return X, rng.permutation(y)
    return X, rng.standard_normal((m, C)) if C > 1 else rng.standard_normal(m)


def _torch_reference(model, theta, X, y, loss, l2):
    """Loss and gradient of the module by torch's own losses, at theta (float64)."""
    model = model.to(F64)
    vector_to_parameters(torch.as_tensor(theta, dtype=F64), model.parameters())
    out = model(torch.as_tensor(X, dtype=F64))
    if loss == "cross_entropy":
        val = F.cross_entropy(out, torch.as_tensor(y, dtype=torch.int64))
    else:
        val = F.mse_loss(out.reshape(torch.as_tensor(y).shape), torch.as_tensor(y, dtype=F64))
    val = val + l2 * sum((p**2).sum() for p in model.parameters())
    grads = torch.autograd.grad(val, list(model.parameters()))
    return float(val.detach()), torch.cat([g.reshape(-1) for g in grads]).numpy()


MODELS = {
    "4-6-3": lambda: nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)),
    "nobias": lambda: nn.Sequential(
        nn.Linear(4, 5, bias=False), nn.Sigmoid(), nn.Linear(5, 3, bias=False)
    ),
    "unequal-mixed": lambda: nn.Sequential(
        nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3, bias=False), nn.Tanh(), nn.Linear(3, 4)
    ),
}


def test_from_module_counts_every_parameter():
    model = MODELS["4-6-3"]()
    arch = from_module(model, n_samples=20, loss="cross_entropy")
    assert (arch.n_outputs, arch.bias, arch.widths) == (3, True, (6,))
    assert loss_format(arch).n_params == 51 == sum(p.numel() for p in model.parameters())
    d = describe_module(MODELS["unequal-mixed"]())
    assert (d.widths, d.n_outputs, d.bias) == ((5, 3), 4, (True, False, True))


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize(
    "loss, l2", [("cross_entropy", 0.0), ("cross_entropy", 0.03), ("mse", 0.0)]
)
def test_surface_equals_torch_losses(name, loss, l2):
    model = MODELS[name]().to(F64)
    C = model[-1].out_features
    X, y = _data(4, 13, C, seed=1, loss=loss)
    surf = LossSurface.from_module(model, X, y, loss=loss, l2=l2)
    assert surf.arch is not None and surf.n_params == sum(p.numel() for p in model.parameters())
    assert surf.layout.n_params == loss_format(surf.arch).n_params
    rng = np.random.default_rng(2)
    for _ in range(3):
        theta = rng.standard_normal(surf.n_params)
        val, grad = surf.value_and_grad(theta)
        ref_val, ref_grad = _torch_reference(MODELS[name](), theta, X, y, loss, l2)
        assert abs(val - ref_val) <= 1e-10 * max(1.0, abs(ref_val))
        assert np.max(np.abs(grad - ref_grad)) <= 1e-10 * max(1.0, np.max(np.abs(ref_grad)))
        assert surf(theta) == pytest.approx(val, rel=1e-12)


@pytest.mark.parametrize(
    "kw",
    [
        dict(loss="cross_entropy", n_outputs=3),
        dict(loss="cross_entropy", n_outputs=4, bias=(False, True, False), widths=(3, 5)),
        dict(n_outputs=2, bias=False),
    ],
)
def test_builtin_network_equals_to_module(kw):
    widths = kw.pop("widths", (4, 4))
    arch = Architecture(3, widths=widths, n_samples=9, activation="tanh", **kw)
    X, y = _data(3, 9, arch.n_outputs, seed=3, loss=arch.loss)
    surf = LossSurface(arch, X, y)
    model = to_module(arch)
    assert sum(p.numel() for p in model.parameters()) == surf.n_params == loss_format(arch).n_params
    theta = np.random.default_rng(4).standard_normal(surf.n_params)
    val, grad = surf.value_and_grad(theta)
    ref_val, ref_grad = _torch_reference(model, theta, X, y, arch.loss, 0.0)
    assert abs(val - ref_val) <= 1e-12 * max(1.0, abs(ref_val))
    np.testing.assert_allclose(
        grad, ref_grad, rtol=0, atol=1e-12 * max(1.0, np.abs(ref_grad).max())
    )


def test_vector_mse_residuals_give_the_loss():
    arch = Architecture(2, 3, 1, 6, activation="tanh", n_outputs=3)
    X, y = _data(2, 6, 3, loss="mse")
    surf = LossSurface(arch, X, y, l2=0.1)
    theta = np.random.default_rng(0).standard_normal(surf.n_params)
    r = surf.residuals(theta)
    assert r.shape == (6 * 3 + surf.n_params,)
    assert r @ r / 6 == pytest.approx(surf(theta), rel=1e-12)


def test_cross_entropy_targets_are_checked():
    arch = Architecture(2, 3, 1, 4, loss="cross_entropy", n_outputs=3)
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"class indices 0..2"):
        LossSurface(arch, X, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"class indices 0..2"):
        LossSurface(arch, X, np.array([0, 1, 0.5, 0]))


# ------------------------------------------------------- softmax zero modes
def _softmax_directions(surf):
    """Basis of the softmax symmetry: the same vector added to every row of V (and c)."""
    lay, C = surf.layout, surf.n_outputs
    v = lay.blocks["v"]
    h = v.shape[-1]
    dirs = []
    for i in range(h):
        d = np.zeros(surf.n_params)
        d[v.start + i : v.stop : h] = 1.0  # column i of every row
        dirs.append(d)
    if "c" in lay.blocks:
        d = np.zeros(surf.n_params)
        d[lay.blocks["c"].start : lay.blocks["c"].stop] = 1.0
        dirs.append(d)
    assert all(len(np.flatnonzero(d)) == C for d in dirs)
    return np.array(dirs)


@pytest.mark.parametrize("bias", [True, False])
def test_softmax_zero_modes_and_l2(bias):
    arch = Architecture(
        3, 4, 1, 40, activation="tanh", loss="cross_entropy", n_outputs=3, bias=bias
    )
    X, y = _data(3, 40, 3, seed=5)
    theta = np.random.default_rng(6).standard_normal(
        Architecture.__init__ and loss_format(arch).n_params
    )
    dirs = _softmax_directions(LossSurface(arch, X, y))
    assert len(dirs) == 4 + bias  # h_K + 1, or h_K without output bias
    for lam in (0.0, 0.05):
        surf = LossSurface(arch, X, y, l2=lam)
        assert surf(theta + 0.7 * dirs.sum(0)) == pytest.approx(
            surf(theta) + lam * (np.sum((theta + 0.7 * dirs.sum(0)) ** 2) - np.sum(theta**2)),
            rel=1e-12,
        )
        H = surf.hessian(theta)
        scale = np.abs(np.linalg.eigvalsh(H)).max()
        # H d = 2 lambda d on the symmetry directions: exact zero modes at lambda = 0
        assert np.abs(H @ dirs.T - 2 * lam * dirs.T).max() <= 1e-12 * scale
        ev = np.linalg.eigvalsh(H)
        n_small = int(np.sum(np.abs(ev - 2 * lam) <= 1e-9 * scale))
        assert n_small >= len(dirs)
        if lam == 0:
            assert np.sum(np.abs(ev) <= 1e-9 * scale) >= len(dirs)
        else:
            assert np.sum(np.abs(ev) <= 1e-9 * scale) == 0


# ------------------------------------------------------------ symmetry group
GROUPS = [  # (arch kwargs, |G| counted by hand)
    (dict(activation="sigmoid", widths=(3,), bias=(True, False)), 6),  # flips need c: 3!
    (dict(activation="sigmoid", widths=(3, 3), bias=(True, False, True)), 6 * 48),  # 3! * 2^3 3!
    (dict(activation="tanh", widths=(3, 2), bias=False), 48 * 8),  # odd flips need no bias
    (
        dict(activation="gaussian", widths=(2, 3), bias=False, loss="cross_entropy", n_outputs=3),
        8 * 48,
    ),
    (dict(activation="softplus", widths=(3, 3, 3), skip="projection", bias=False), 6**3 * 2**6),
    (
        dict(
            activation="softplus", widths=(3, 3, 3), skip="projection", bias=(True,) * 3 + (False,)
        ),
        6**3,
    ),
    (dict(activation="sigmoid", widths=(3, 3), skip="identity", bias=(True, True, False)), 6),
    (dict(activation="sigmoid", widths=(3, 3), skip="identity"), 48),
    (dict(activation="tanh", widths=(4, 2, 3), loss="cross_entropy", n_outputs=3), 384 * 8 * 48),
    (dict(activation="sigmoid", widths=(3, 2), loss="cross_entropy", n_outputs=4), 48 * 8),
]


@pytest.mark.parametrize("kw, order", GROUPS, ids=lambda v: str(v) if isinstance(v, int) else "")
def test_group_orders_and_every_generator_leaves_the_loss_unchanged(kw, order):
    arch = Architecture(2, n_samples=11, **kw)
    assert symmetry_group_order(arch) == order
    X, y = _data(2, 11, arch.n_outputs, seed=7, loss=arch.loss)
    if arch.loss == "mse" and arch.n_outputs == 1:
        y = y.reshape(-1)
    for lam in (0.0, 0.02):
        surf = LossSurface(arch, X, y, l2=lam)
        group = surf.symmetry_group()
        if lam == 0:  # l2 drops sigmoid and shift-odd flips (tests/test_symmetry.py)
            assert group.order == order
        theta = np.random.default_rng(8).standard_normal(surf.n_params)
        base = surf(theta)
        elements = (
            list(group.elements())
            if group.order <= 400
            else [group.random_element(s) for s in range(40)]
        )
        for g in elements:
            assert surf(group.apply(theta, g)) == pytest.approx(base, rel=1e-10, abs=0)
        canon = group.canonical(theta)
        g = group.random_element(9)
        np.testing.assert_allclose(group.canonical(group.apply(theta, g)), canon, rtol=0, atol=1e-9)


def test_unequal_width_group_acts_on_a_user_module():
    model = MODELS["unequal-mixed"]().to(F64)
    X, y = _data(4, 12, 4, seed=2)
    surf = LossSurface.from_module(model, X, y, loss="cross_entropy")
    group = surf.symmetry_group()
    assert group.order == (2**5 * math.factorial(5)) * (2**3 * math.factorial(3))
    theta = parameters_to_vector(model.parameters()).detach().numpy()
    for s in range(10):
        assert surf(group.apply(theta, group.random_element(s))) == pytest.approx(
            surf(theta), rel=1e-10
        )


# ---------------------------------------------------------------- CLI, data
def test_cli_bound_classes(capsys):
    argv = ["bound", "--inputs", "4", "--width", "6", "--samples", "10", "--activation", "tanh"]
    assert main([*argv, "--classes", "3", "--loss", "cross_entropy", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["n_params"], out["chain_length"], out["chain_degree"]) == (51, 10 * (6 + 5), 6)
    assert main([*argv, "--loss", "cross_entropy"]) == 2
    assert "--classes >= 2" in capsys.readouterr().err


def test_load_dataset_multiclass():
    d = load_dataset("digits", m=300, n_features=5, multiclass=True, seed=0)
    assert d.X.shape == (300, 5) and set(np.unique(d.y)) == set(range(10))
    with pytest.raises(ValueError, match="multiclass=True needs a classification set"):
        load_dataset("diabetes", multiclass=True)
