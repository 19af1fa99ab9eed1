"""Tests for lossbounds.landscape.modules: reading, building and evaluating torch modules."""

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from lossbounds.landscape.layout import ParamLayout
from lossbounds.landscape.modules import (
    Activation,
    ModuleDescription,
    ModuleLayout,
    ModuleNetwork,
    Residual,
    describe_module,
    from_module,
    to_module,
)
from lossbounds.landscape.network import Network, forward
from lossbounds.landscape.surface import LossSurface, module_loss
from lossbounds.theory.architecture import Architecture
from lossbounds.theory.formats import loss_format
from lossbounds.topology.slices import plane, random_direction

ACTIVATIONS = ["sigmoid", "tanh", "arctan", "softplus", "gaussian", "swish", "erf", "gelu"]
SKIPS = [None, "identity", "projection"]
OUTPUTS = ["linear", "sigmoid"]
F64 = torch.float64


def seq(*layers):
    return nn.Sequential(*layers).to(F64)


def inputs(m=7, n=3, seed=1, scale=3.0):
    return np.random.default_rng(seed).standard_normal((m, n)) * scale


# ------------------------------------------------------------- describe_module
@pytest.mark.parametrize(
    "module,name",
    [
        (nn.Sigmoid(), "sigmoid"),
        (nn.Tanh(), "tanh"),
        (nn.Softplus(), "softplus"),
        (nn.SiLU(), "swish"),
        (nn.GELU(), "gelu"),
        (Activation("atan"), "arctan"),
        (Activation("erf"), "erf"),
    ],
)
def test_describe_reads_each_activation(module, name):
    model = seq(nn.Linear(3, 5), module, nn.Linear(5, 1))
    assert describe_module(model) == ModuleDescription(3, (5,), name, "linear", None)


def test_describe_reads_unequal_widths_nested_sequential_and_sigmoid_output():
    model = seq(
        nn.Sequential(nn.Linear(4, 6), nn.Tanh()),
        nn.Identity(),
        nn.Linear(6, 2),
        nn.Tanh(),
        nn.Sequential(nn.Linear(2, 1), nn.Sigmoid()),
    )
    d = describe_module(model)
    assert d == ModuleDescription(4, (6, 2), "tanh", "sigmoid", None)
    assert d.hidden_layers == 2 and not d.equal_widths


@pytest.mark.parametrize("skip", ["identity", "projection"])
def test_describe_reads_residual_blocks(skip):
    model = seq(
        nn.Linear(2, 3),
        nn.SiLU(),
        Residual(3, nn.SiLU(), skip=skip),
        Residual(3, nn.SiLU(), skip=skip),
        nn.Linear(3, 1),
    )
    assert describe_module(model) == ModuleDescription(2, (3, 3, 3), "swish", "linear", skip)


@pytest.mark.parametrize(
    "model,match",
    [
        (seq(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)), r"model\[1\] \(ReLU\(\)\).*kink"),
        (seq(nn.Linear(2, 3), nn.ELU(), nn.Linear(3, 1)), r"ELU.*not analytic"),
        (seq(nn.Linear(2, 3), nn.Hardtanh(), nn.Linear(3, 1)), r"not Pfaffian"),
        (
            seq(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Tanh(), nn.Linear(3, 1)),
            r"BatchNorm1d.*not a fixed function of the parameters",
        ),
        (seq(nn.Linear(2, 3), nn.Tanh(), nn.Dropout(0.1), nn.Linear(3, 1)), r"Dropout.*random"),
        (
            seq(nn.Linear(2, 3), nn.LayerNorm(3), nn.Tanh(), nn.Linear(3, 1)),
            r"LayerNorm.*not supported; supported modules: nn.Sequential, nn.Linear",
        ),
        (
            seq(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 3), nn.Sigmoid(), nn.Linear(3, 1)),
            r"mixed activations \['sigmoid', 'tanh'\]",
        ),
        (
            seq(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2), nn.Sigmoid()),
            r"final nn.Sigmoid needs a scalar output",
        ),
        (seq(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Tanh()), r"must end with nn.Linear"),
        (seq(nn.Linear(2, 3), nn.GELU("tanh"), nn.Linear(3, 1)), r"tanh approximation"),
        (seq(nn.Linear(2, 3), nn.Softplus(beta=2.0), nn.Linear(3, 1)), r"beta=2.0"),
        (seq(nn.Linear(2, 3), nn.Softplus(threshold=10), nn.Linear(3, 1)), r"jump.*4.5e-05"),
        (seq(nn.Linear(2, 3), nn.Tanh(), nn.Tanh(), nn.Linear(3, 1)), r"expected nn.Linear"),
        (seq(nn.Linear(2, 3), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1)), r"expected nn.Linear"),
        (seq(nn.Linear(2, 1), nn.Sigmoid()), r"at least one hidden layer"),
        (
            seq(nn.Linear(2, 3), nn.Tanh(), nn.Linear(4, 1)),
            r"in_features=4 does not match the previous layer's width 3",
        ),
        (
            seq(Residual(2, nn.Tanh()), nn.Linear(2, 1)),
            r"Residual block cannot be the first hidden layer",
        ),
        (
            seq(nn.Linear(2, 3), nn.Tanh(), Residual(3, nn.ReLU()), nn.Linear(3, 1)),
            r"model\[2\].activation \(ReLU\(\)\).*not Pfaffian",
        ),
        (
            seq(
                nn.Linear(2, 3),
                nn.Tanh(),
                Residual(3, nn.Tanh()),
                nn.Linear(3, 3),
                nn.Tanh(),
                nn.Linear(3, 1),
            ),
            r"mixed skips",
        ),
    ],
)
def test_describe_refuses_with_the_reason(model, match):
    with pytest.raises(ValueError, match=match):
        describe_module(model)


def test_describe_refuses_custom_containers_and_non_modules():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 3)
            self.b = nn.Linear(3, 1)

        def forward(self, x):
            return self.b(torch.tanh(self.a(x)))

    with pytest.raises(ValueError, match=r"custom container.*nn.Sequential"):
        describe_module(Net())
    with pytest.raises(ValueError, match="model must be a torch.nn.Module"):
        describe_module([nn.Linear(2, 1)])


def test_activation_module_refuses_non_pfaffian_names():
    with pytest.raises(ValueError, match="not Pfaffian"):
        Activation("relu")


def test_residual_checks_its_arguments():
    with pytest.raises(ValueError, match="skip must be one of"):
        Residual(3, nn.Tanh(), skip="dense")
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        Residual(0, nn.Tanh())
    with pytest.raises(ValueError, match="activation must be an nn.Module"):
        Residual(3, torch.tanh)


# ----------------------------------------------------------------- from_module
def test_from_module_gives_the_architecture_and_its_format():
    model = seq(
        nn.Linear(2, 4),
        nn.Tanh(),
        Residual(4, nn.Tanh(), "projection"),
        nn.Linear(4, 1),
        nn.Sigmoid(),
    )
    arch = from_module(model, n_samples=30, loss="bce", l2=True)
    expected = Architecture(
        2, 4, 2, 30, activation="tanh", output="sigmoid", loss="bce", l2=True, skip="projection"
    )
    assert arch == expected
    assert loss_format(arch) == loss_format(expected)


@pytest.mark.parametrize("m", [1, 10])
def test_from_module_unequal_widths(m):
    model = seq(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 1))
    arch = from_module(model, m)
    expected = Architecture(n_inputs=3, widths=(5, 4), n_samples=m, activation="tanh")
    assert arch == expected and arch.widths == (5, 4)
    fmt = loss_format(arch)
    assert fmt == loss_format(expected)
    # N = (3+1)5 + (5+1)4 + (4+1), the module's own parameter count; ell = m * (5 + 4)
    assert fmt.n_params == sum(p.numel() for p in model.parameters()) == 49
    assert fmt.chain_length == 9 * m


def test_from_module_passes_architecture_errors_through():
    model = seq(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    with pytest.raises(ValueError, match="loss='bce' needs output='sigmoid'"):
        from_module(model, 10, loss="bce")


# ------------------------------------------------------------------- to_module
def test_to_module_parameter_order_is_param_layout_order():
    arch = Architecture(2, 3, 3, 5, activation="tanh", output="sigmoid", skip="projection")
    layout = ParamLayout(arch)
    theta = np.arange(layout.n_params, dtype=np.float64)
    model = to_module(arch, theta=theta)
    p = layout.unflatten(torch.as_tensor(theta))
    lin0, res1, res2, out = model[0], model[2], model[3], model[4]
    torch.testing.assert_close(lin0.weight, p["W1"], rtol=0, atol=0)
    torch.testing.assert_close(lin0.bias, p["b1"], rtol=0, atol=0)
    for res, layer in ((res1, 2), (res2, 3)):
        torch.testing.assert_close(res.linear.weight, p[f"W{layer}"], rtol=0, atol=0)
        torch.testing.assert_close(res.linear.bias, p[f"b{layer}"], rtol=0, atol=0)
        torch.testing.assert_close(res.projection.weight, p[f"P{layer}"], rtol=0, atol=0)
    torch.testing.assert_close(out.weight[0], p["v"], rtol=0, atol=0)
    torch.testing.assert_close(out.bias, p["c"], rtol=0, atol=0)
    vec = nn.utils.parameters_to_vector(model.parameters())
    assert torch.equal(vec, torch.as_tensor(theta))


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("skip", SKIPS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_to_module_equals_package_forward(act, skip, output):
    arch = Architecture(3, 4, 3, 7, activation=act, output=output, skip=skip)
    theta = ParamLayout(arch).init(0, scale=3.0)  # large pre-activations: softplus shortcut
    X = inputs()
    model = to_module(arch, theta=theta)
    with torch.no_grad():
        out = model(torch.as_tensor(X))
    assert out.shape == (7, 1)
    expected = forward(arch, theta, X)
    torch.testing.assert_close(out[:, 0], expected, rtol=0, atol=1e-12)
    assert from_module(model, 7) == arch


def test_to_module_unequal_widths_round_trip():
    arch = Architecture(n_inputs=3, widths=(5, 2, 4), n_samples=7, activation="swish")
    theta = ParamLayout(arch).init(1, scale=1.5)
    model = to_module(arch, theta=theta)
    assert [lin.out_features for lin in model if isinstance(lin, nn.Linear)] == [5, 2, 4, 1]
    assert torch.equal(nn.utils.parameters_to_vector(model.parameters()), torch.as_tensor(theta))
    X = inputs()
    with torch.no_grad():
        out = model(torch.as_tensor(X))[:, 0]
    torch.testing.assert_close(out, forward(arch, theta, X), rtol=0, atol=1e-12)
    assert from_module(model, 7) == arch


def test_to_module_float32_and_errors():
    arch = Architecture(2, 3, 1, 5, activation="softplus")
    model = to_module(arch, dtype=torch.float32)
    assert model[0].weight.dtype == torch.float32
    assert model[1].threshold == 20.0
    with pytest.raises(ValueError, match=r"theta must have shape \(N,\) or \(K, N\) with N = 13"):
        to_module(arch, theta=np.zeros(12))
    with pytest.raises(ValueError, match=r"theta must have shape \(N,\), got \(2, 13\)"):
        to_module(arch, theta=np.zeros((2, 13)))
    import sympy as sp

    h = sp.Symbol("h", positive=True, integer=True)
    with pytest.raises(ValueError, match="concrete Architecture"):
        to_module(Architecture(2, h, 1, 5))


# --------------------------------------------------------------- ModuleNetwork
def per_point(model, thetas, X, logits_of=None):
    """Reference: load each vector into a copy of the module and run it."""
    outs = []
    for theta in thetas:
        m = copy.deepcopy(model)
        nn.utils.vector_to_parameters(theta, m.parameters())
        outs.append(m(X).reshape(-1))
    return torch.stack(outs)


def user_models():
    """Networks a user might write: unequal widths, residual, sigmoid output."""
    torch.manual_seed(0)
    return {
        "unequal": seq(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2), nn.Tanh(), nn.Linear(2, 1)),
        "residual": seq(
            nn.Linear(3, 4), nn.GELU(), Residual(4, nn.GELU(), "projection"), nn.Linear(4, 1)
        ),
        "sigmoid": seq(
            nn.Linear(3, 4),
            nn.SiLU(),
            Residual(4, nn.SiLU()),
            nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()),
        ),
        "relu_flat_output": nn.Sequential(
            nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 1), nn.Flatten(0)
        ).to(F64),
    }


@pytest.mark.parametrize("name", ["unequal", "residual", "sigmoid", "relu_flat_output"])
def test_module_network_equals_per_point_loop(name):
    model = user_models()[name]
    net = ModuleNetwork(model)
    N = sum(p.numel() for p in model.parameters())
    assert net.n_params == net.layout.n_params == N
    thetas = torch.as_tensor(np.random.default_rng(3).standard_normal((6, N)))
    X = torch.as_tensor(inputs())
    with torch.no_grad():
        got = net(thetas, X)
        ref = per_point(model, thetas, X)
    assert got.shape == (6, 7)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-10)


def test_module_network_logits_before_final_sigmoid():
    model = user_models()["sigmoid"]
    net = ModuleNetwork(model)
    assert net.output == "sigmoid"
    thetas = torch.as_tensor(np.random.default_rng(4).standard_normal((3, net.n_params)))
    X = torch.as_tensor(inputs())
    z = net._forward(thetas, X, logits=True, fast=True)
    torch.testing.assert_close(torch.sigmoid(z), net(thetas, X), rtol=0, atol=1e-14)
    assert ModuleNetwork(user_models()["unequal"]).output == "linear"


def test_module_network_equals_package_network():
    arch = Architecture(2, 3, 3, 7, activation="erf", output="sigmoid", skip="identity")
    layout = ParamLayout(arch)
    net = ModuleNetwork(to_module(arch))
    thetas = torch.as_tensor(layout.init(5, n_points=4))
    X = torch.as_tensor(inputs(n=2))
    for logits in (False, True):
        ref = Network(arch)._forward(thetas, X, logits, fast=False)
        torch.testing.assert_close(net._forward(thetas, X, logits), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "arch",
    [
        Architecture(2, 3, 3, 5, activation="tanh", skip="projection"),
        Architecture(3, 2, 2, 5, activation="sigmoid", output="sigmoid"),
    ],
)
def test_module_layout_matches_param_layout(arch):
    layout, mlay = ParamLayout(arch), ModuleNetwork(to_module(arch)).layout
    assert mlay.n_params == layout.n_params
    assert mlay.weight_rows() == layout.weight_rows()
    np.testing.assert_array_equal(mlay.bias_mask(), layout.bias_mask())
    theta = layout.init(1)
    d_pkg = random_direction(layout, theta, rng=7)
    d_mod = random_direction(mlay, theta, rng=7)
    np.testing.assert_array_equal(d_mod, d_pkg)


def test_module_layout_names_and_checks():
    model = user_models()["residual"]
    lay = ModuleLayout(model)
    assert lay.names == (
        "0.weight", "0.bias", "2.linear.weight", "2.linear.bias", "2.projection.weight",
        "3.weight", "3.bias",
    )  # fmt: skip
    assert lay.starts[2] == 16 and lay.n_params == 16 + 20 + 16 + 5
    assert lay.weight_rows() == [(0, 12, 4), (16, 32, 4), (36, 52, 4), (52, 56, 1)]
    assert lay.bias_mask().sum() == 4 + 4 + 1
    assert "ModuleLayout(N=57" in repr(lay)
    with pytest.raises(ValueError, match=r"thetas must have shape \(N,\) or \(K, N\) with N = 57"):
        ModuleNetwork(model)(torch.zeros(2, 56, dtype=F64), torch.zeros(3, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"thetas must have shape \(K, N\), got \(57,\)"):
        ModuleNetwork(model)(torch.zeros(57, dtype=F64), torch.zeros(3, 3, dtype=F64))
    with pytest.raises(ValueError, match="model has no parameters"):
        ModuleLayout(nn.Tanh())
    with pytest.raises(ValueError, match="model must be a torch.nn.Module"):
        ModuleNetwork("net")


def test_module_network_refuses_vector_outputs():
    net = ModuleNetwork(seq(nn.Linear(3, 2)))
    with pytest.raises(ValueError, match=r"1 value\(s\) per input row.*got shape \(7, 2\)"):
        net(torch.zeros(1, net.n_params, dtype=F64), torch.as_tensor(inputs()))


# ------------------------------------------------------------------ module_loss
def per_sample_loss(out, y, loss):
    if loss == "bce":
        return nn.functional.binary_cross_entropy(out, y.expand_as(out), reduction="none")
    return (out - y) ** 2


def reference_loss(model, thetas, X, y, loss, l2):
    per = per_sample_loss(per_point(model, thetas, X), y, loss)
    return per.mean(dim=1) + l2 * (thetas**2).sum(dim=1)


def reference_grads(model, thetas, X, y, loss, l2):
    """Per-point loop: load the vector, backward through the module, read the grads."""
    grads = []
    for theta in thetas:
        m = copy.deepcopy(model)
        nn.utils.vector_to_parameters(theta, m.parameters())
        value = per_sample_loss(m(X).reshape(-1), y, loss).mean()
        g = torch.autograd.grad(value, list(m.parameters()))
        grads.append(nn.utils.parameters_to_vector(g) + 2 * l2 * theta)
    return torch.stack(grads)


@pytest.mark.parametrize(
    "name,loss,l2",
    [("unequal", "mse", 0.0), ("residual", "mse", 0.01), ("sigmoid", "bce", 0.0),
     ("sigmoid", "mse", 0.1)],
)  # fmt: skip
def test_module_loss_and_gradients_equal_per_point_loop(name, loss, l2):
    model = user_models()[name]
    rng = np.random.default_rng(5)
    X = inputs(scale=1.0)
    y = (rng.random(7) < 0.5).astype(float) if loss == "bce" else rng.standard_normal(7)
    fn = module_loss(model, X, y, loss=loss, l2=l2)
    N = ModuleLayout(model).n_params
    thetas = torch.as_tensor(rng.standard_normal((5, N)) * 0.7).requires_grad_(True)
    vals = fn(thetas)
    (grads,) = torch.autograd.grad(vals.sum(), thetas)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    ref = reference_loss(model, thetas.detach(), Xt, yt, loss, l2)
    torch.testing.assert_close(vals.detach(), ref, rtol=0, atol=1e-10)
    ref_g = reference_grads(model, thetas.detach(), Xt, yt, loss, l2)
    torch.testing.assert_close(grads, ref_g, rtol=0, atol=1e-10)


# torch.func.hessian scripts a helper internally (a torch deprecation, not ours).
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_module_loss_float32_and_torch_func_hessian():
    model = user_models()["unequal"]
    X, y = inputs(scale=1.0), np.linspace(-1, 1, 7)
    fn = module_loss(model, X, y, device="cpu")
    theta = torch.as_tensor(np.random.default_rng(6).standard_normal(ModuleLayout(model).n_params))
    v32 = fn(theta[None].float())
    assert v32.dtype == torch.float32
    assert math.isclose(float(v32[0]), float(fn(theta[None])[0]), rel_tol=1e-5)
    H = torch.func.hessian(lambda t: fn(t[None])[0])(theta)
    assert H.shape == (theta.numel(), theta.numel())
    torch.testing.assert_close(H, H.T, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="dtype must be torch.float32 or torch.float64"):
        fn(theta[None].half())


def test_module_loss_checks_arguments():
    model = user_models()["unequal"]
    X, y = inputs(), np.zeros(7)
    with pytest.raises(ValueError, match="loss must be one of"):
        module_loss(model, X, y, loss="mae")
    with pytest.raises(ValueError, match="needs a module ending with nn.Sigmoid"):
        module_loss(model, X, y, loss="bce")
    with pytest.raises(ValueError, match=r"y must lie in \[0, 1\]"):
        module_loss(user_models()["sigmoid"], X, y + 2, loss="bce")
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        module_loss(model, X, y, l2=-1.0)
    with pytest.raises(ValueError, match="y must have one target per row"):
        module_loss(model, X, np.zeros(6))


# torch.func / batched double backward through vmap may script helpers (torch's deprecation).
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_module_network_drops_into_loss_surface():
    """LossSurface.from_module (a ModuleNetwork inside) gives the built-in surface's
    filter-normalised plane, gradient and Hessian, here for BCE on a sigmoid output."""
    arch = Architecture(2, 3, 2, 9, activation="tanh", output="sigmoid", loss="bce")
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((9, 2)), (rng.random(9) < 0.5).astype(float)
    theta = ParamLayout(arch).init(3)
    ref = LossSurface(arch, X, y)
    swapped = LossSurface.from_module(to_module(arch), X, y, loss="bce")
    assert isinstance(swapped.network, ModuleNetwork) and swapped.arch == arch
    a, b = plane(ref, theta, res=5, seed=2), plane(swapped, theta, res=5, seed=2)
    np.testing.assert_allclose(b.values, a.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(swapped.gradient(theta), ref.gradient(theta), rtol=0, atol=1e-12)
    np.testing.assert_allclose(swapped.hessian(theta), ref.hessian(theta), rtol=0, atol=1e-10)


def test_softplus_shortcut_of_torch_and_of_to_module():
    t = torch.tensor([25.0], dtype=F64)
    exact = 25.0 + math.log1p(math.exp(-25.0))  # log(1 + e^25), 25 + 1.4e-11
    assert nn.Softplus()(t).item() == 25.0  # torch's default threshold 20: returns t
    built = to_module(Architecture(1, 1, 1, 1, activation="softplus"))[1]
    assert built.threshold == 40.0
    assert built(t).item() == pytest.approx(exact, rel=0, abs=4e-15)
