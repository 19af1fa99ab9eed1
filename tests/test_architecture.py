"""Tests for lossbounds.theory.architecture: validation and matched deep/shallow families."""

import dataclasses

import pytest
import sympy as sp

from lossbounds.theory.architecture import (
    Architecture,
    equal_params_family,
    equal_units_family,
    width_for_params,
)
from lossbounds.theory.formats import loss_format

n_, h_, K_, m_ = sp.symbols("n h K m", positive=True, integer=True)


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"width": 0}, "width"),
        ({"width": -2}, "width"),
        ({"width": 2.5}, "width"),
        ({"width": 2.0}, "width"),
        ({"width": True}, "width"),
        ({"width": "3"}, "width"),
        ({"n_inputs": 0}, "n_inputs"),
        ({"hidden_layers": 0}, "hidden_layers"),
        ({"n_samples": -1}, "n_samples"),
        ({"n_samples": sp.Symbol("m")}, "n_samples"),  # not declared positive integer
        ({"activation": "relu"}, "relu"),
        ({"activation": "nope"}, "unknown activation"),
        ({"output": "softmax"}, "output"),
        ({"loss": "hinge"}, "loss"),
        ({"loss": "bce"}, "loss='bce' needs output='sigmoid'"),
        ({"skip": "dense"}, "skip"),
        ({"skip": "identity"}, "hidden_layers >= 2"),
        ({"skip": "projection"}, "hidden_layers >= 2"),
        ({"l2": 1}, "l2"),
    ],
)
def test_architecture_validation_names_the_argument(kwargs, name):
    base = {"n_inputs": 2, "width": 3, "hidden_layers": 1, "n_samples": 4}
    with pytest.raises(ValueError) as info:
        Architecture(**{**base, **kwargs})
    assert name in str(info.value)


def test_architecture_normalises_and_is_frozen():
    arch = Architecture(2, sp.Integer(3), 2, 5, activation="TanH")
    assert arch.activation == "tanh" and arch.width == 3 and isinstance(arch.width, int)
    assert arch.n_weight_layers == 3 and not arch.is_symbolic
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch.width = 4
    sym = Architecture(n_, h_, K_, m_)
    assert sym.is_symbolic and sym.n_weight_layers == K_ + 1
    Architecture(2, 2, K_, 3, skip="identity")  # symbolic depth: K >= 2 is assumed


# ------------------------------------------------------- parameter budgets
@pytest.mark.parametrize(
    "n, k, target, width",
    [
        (2, 1, 2000, 500),  # N = 4h + 1: 2001 beats 1997
        (2, 2, 2000, 42),  # N = h^2 + 5h + 1: 1975 beats 2065
        (2, 1, 7, 1),  # N = 4h + 1: 5 and 9 tie, the smaller width wins
        (3, 4, 1, 1),  # the budget is below every network: the smallest width
    ],
)
def test_width_for_params_worked_cases(n, k, target, width):
    assert width_for_params(n, k, target) == width


@pytest.mark.parametrize("n, k, target", [(1, 1, 30), (2, 3, 150), (3, 2, 77)])
def test_width_for_params_matches_loss_format(n, k, target):
    counts = {h: loss_format(Architecture(n, h, k, 1)).n_params for h in range(1, 40)}
    best = min(counts, key=lambda h: (abs(counts[h] - target), h))
    assert width_for_params(n, k, target) == best


@pytest.mark.parametrize(
    "args, name", [((2, 0, 10), "hidden_layers"), ((0, 1, 10), "n_inputs"), ((2, 1, 0), "target")]
)
def test_width_for_params_refuses_bad_sizes(args, name):
    with pytest.raises(ValueError, match=name):
        width_for_params(*args)


def test_equal_units_family():
    family = equal_units_family(2, 12, 100, activation="tanh")
    assert [(a.width, a.hidden_layers) for a in family] == [
        (12, 1),
        (6, 2),
        (4, 3),
        (3, 4),
        (2, 6),
        (1, 12),
    ]
    assert all(a.n_inputs == 2 and a.n_samples == 100 and a.activation == "tanh" for a in family)


def test_equal_params_family():
    family = equal_params_family(2, [2, 1], 2000, 100)
    assert [(a.width, a.hidden_layers, a.n_samples) for a in family] == [
        (42, 2, 100),
        (500, 1, 100),
    ]
    with pytest.raises(ValueError, match="total_units"):
        equal_units_family(2, 0, 100)


def test_architecture_refuses_an_activation_outside_the_catalogue():
    import dataclasses as dc

    from lossbounds.theory.activations import get_activation

    tanh = get_activation("tanh")
    assert Architecture(1, 2, 1, 3, activation=tanh).activation == "tanh"
    copy = dc.replace(tanh, description="a copy")  # same name, not the catalogue's entry
    with pytest.raises(ValueError, match="'tanh' is not in the catalogue"):
        Architecture(1, 2, 1, 3, activation=copy)


def test_architecture_chain_choice():
    from lossbounds.theory.activations import get_activation

    arch = Architecture(2, 3, 2, 4, activation="SiLU", chain="value")
    assert (arch.activation, arch.chain) == ("swish", "value")
    assert arch.pfaffian_activation is get_activation("swish", chain="value")
    assert Architecture(2, 3, 2, 4, activation="swish").chain == "default"
    # an alternative chain's object carries its chain into the architecture
    value = get_activation("gelu", chain="value")
    assert Architecture(2, 3, 2, 4, activation=value).chain == "value"
    with pytest.raises(ValueError, match="chain must be one of 'default' for activation 'tanh'"):
        Architecture(2, 3, 2, 4, activation="tanh", chain="value")
    with pytest.raises(ValueError, match="chain must be one of"):
        Architecture(2, 3, 2, 4, activation="swish", chain=None)


# ----------------------------------------------------------- per-layer widths
def test_widths_and_the_equal_width_shorthand_are_one_architecture():
    short = Architecture(n_inputs=2, width=3, hidden_layers=2, n_samples=5)
    long = Architecture(n_inputs=2, widths=(3, 3), n_samples=5)
    assert short == long and hash(short) == hash(long) and len({short, long}) == 1
    assert long.width == 3 and long.hidden_layers == 2 and short.widths == (3, 3)
    assert Architecture(2, 3, 2, 5, widths=[3, 3]) == short  # agreeing forms may be combined
    assert "width=3, hidden_layers=2" in repr(long)


def test_unequal_widths():
    arch = Architecture(n_inputs=3, widths=(5, 4), n_samples=2, activation="tanh")
    assert arch.widths == (5, 4) and arch.hidden_layers == 2 and not arch.equal_widths
    assert arch != Architecture(n_inputs=3, widths=(4, 5), n_samples=2, activation="tanh")
    with pytest.raises(ValueError, match=r"unequal hidden widths, widths=\(5, 4\).*use widths"):
        _ = arch.width
    assert "widths=(5, 4)" in repr(arch)
    copy = dataclasses.replace(arch, n_samples=7)
    assert copy.widths == (5, 4) and copy.n_samples == 7
    swish = Architecture(n_inputs=3, widths=(5, 4), n_samples=2, activation="swish")
    assert dataclasses.replace(swish, chain="value").widths == (5, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch.widths = (1, 1)


def test_symbolic_sizes_keep_one_width():
    sym = Architecture(n_, h_, K_, m_)
    assert sym.widths == (h_,) and sym.width == h_ and sym.is_symbolic
    assert dataclasses.replace(sym, l2=True) == Architecture(n_, h_, K_, m_, l2=True)
    assert Architecture(2, h_, 3, 4).widths == (h_, h_, h_)
    assert Architecture(2, widths=(3, 3), n_samples=m_).is_symbolic


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"widths": (3, 4), "skip": "identity"}, r"skip='identity'.*needs equal widths"),
        ({"widths": (3, 4), "skip": "projection"}, r"skip='projection'.*needs equal widths"),
        ({"widths": ()}, "widths must be a non-empty sequence"),
        ({"widths": "34"}, "widths must be a non-empty sequence"),
        ({"widths": 3}, "widths must be a non-empty sequence"),
        ({"widths": (3, 0)}, r"widths\[1\] must be a positive integer"),
        ({"widths": (3, 2.5)}, r"widths\[1\] must be a positive integer"),
        ({"widths": (h_, 3)}, "symbolic widths must be equal"),
        ({"widths": (3, 3), "width": 4}, r"width=4 disagrees with widths=\(3, 3\)"),
        ({"widths": (3, 3), "hidden_layers": 3}, "hidden_layers=3 disagrees with widths"),
        ({"width": 3}, "give width and hidden_layers .* or widths"),
        ({"hidden_layers": 2}, "give width and hidden_layers .* or widths"),
    ],
)
def test_widths_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Architecture(n_inputs=2, n_samples=3, **kwargs)


def test_n_samples_is_required():
    with pytest.raises(ValueError, match="n_samples"):
        Architecture(n_inputs=2, widths=(3, 4))


def test_architecture_pickles_with_its_widths():
    import pickle

    arch = Architecture(n_inputs=3, widths=[5, 4], n_samples=7, activation="tanh")
    back = pickle.loads(pickle.dumps(arch))
    assert back == arch and back.widths == (5, 4) and hash(back) == hash(arch)


def test_from_flat_is_the_constructor_on_a_flat_record():
    flat = {"inputs": 2, "width": 3, "hidden_layers": 2, "samples": 7, "activation": "TANH"}
    assert Architecture.from_flat(flat) == Architecture(2, 3, 2, 7, activation="tanh")
    # a sweep cell: the l2 coefficient switches the term, "none" means no skip, extra keys ignored
    cell = {**flat, "l2": 1e-3, "skip": "none", "seed": 4, "dataset": "teacher"}
    assert Architecture.from_flat(cell) == Architecture(2, 3, 2, 7, activation="tanh", l2=True)
    assert Architecture.from_flat({**cell, "l2": 0.0}).l2 is False
    assert Architecture.from_flat({**cell, "skip": "identity"}).skip == "identity"
    widths = {"inputs": 1, "widths": (4, 2), "samples": 5}
    assert Architecture.from_flat(widths).widths == (4, 2)
    assert Architecture.from_flat({"inputs": 1, "width": 4, "samples": 5}).hidden_layers == 1


@pytest.mark.parametrize(
    ("flat", "match"),
    [
        ({"width": 3, "samples": 7}, "no 'inputs'"),
        ({"inputs": 1, "width": 3}, "no 'samples'"),
        ({"inputs": 1, "width": 3, "samples": 7, "l2": -1.0}, "l2 must be a finite number >= 0"),
        ({"inputs": 1, "width": 0, "samples": 7}, "width must be a positive integer"),
        ({"inputs": 1, "width": 3, "samples": 7, "skip": "dense"}, "skip must be one of"),
    ],
)
def test_from_flat_errors_name_the_key(flat, match):
    with pytest.raises(ValueError, match=match):
        Architecture.from_flat(flat)
