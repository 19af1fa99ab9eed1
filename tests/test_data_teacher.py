"""make_teacher: one teacher per seed, drawn apart from the inputs; data nested in m."""

import numpy as np
import pytest

import lossbounds
from lossbounds.landscape import make_teacher
from lossbounds.landscape.data import make_teacher_student
from lossbounds.theory.architecture import Architecture


@pytest.mark.parametrize("n_inputs", [1, 2])
def test_data_are_nested_in_m(n_inputs):
    small = make_teacher(7, seed=3, n_inputs=n_inputs)
    large = make_teacher(50, seed=3, n_inputs=n_inputs)
    assert small.X.shape == (7, n_inputs) and large.y.shape == (50,)
    np.testing.assert_array_equal(small.X, large.X[:7])
    np.testing.assert_array_equal(small.y, large.y[:7])


def test_teacher_does_not_change_with_m():
    thetas = [make_teacher(m, seed=5).theta for m in (6, 12, 24, 48)]
    for theta in thetas[1:]:
        np.testing.assert_array_equal(theta, thetas[0])
    # the confound this fixes: the old generator draws X first, so its teacher moves with m
    arch = Architecture(1, 4, 1, 6, activation="tanh", l2=False)
    old = [make_teacher_student(arch, m, seed=5).theta for m in (6, 12)]
    assert not np.array_equal(old[0], old[1])


def test_streams_are_the_documented_independent_generators():
    m, seed, noise = 30, 11, 0.2
    data = make_teacher(m, seed, n_inputs=2, noise=noise)
    clean = make_teacher(m, seed, n_inputs=2, noise=0.0)
    np.testing.assert_array_equal(data.X, np.random.default_rng([seed, 1]).standard_normal((m, 2)))
    eps = np.random.default_rng([seed, 2]).standard_normal(m)
    np.testing.assert_allclose(data.y - clean.y, noise * eps, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(data.theta, clean.theta)


def test_inputs_do_not_depend_on_the_teacher():
    base = make_teacher(20, seed=2)
    for kwargs in ({"teacher_width": 6}, {"teacher_layers": 2}, {"teacher_activation": "sigmoid"}):
        other = make_teacher(20, seed=2, **kwargs)
        np.testing.assert_array_equal(other.X, base.X)
        assert not np.allclose(other.y, base.y)  # another teacher function on the same inputs


def test_teacher_output_by_hand_for_one_unit():
    # width 1, depth 1: y = c + v tanh(w x + b); the flat layout is (w, b, v, c)
    data = make_teacher(9, seed=4, teacher_width=1, noise=0.0)
    w, b, v, c = data.theta
    np.testing.assert_allclose(
        data.y, c + v * np.tanh(w * data.X[:, 0] + b), rtol=1e-14, atol=1e-14
    )


def test_noise_is_uncorrelated_with_inputs_and_seeds_differ():
    data = make_teacher(4000, seed=0, noise=1.0)
    eps = data.y - make_teacher(4000, seed=0, noise=0.0).y
    assert abs(np.corrcoef(eps, data.X[:, 0])[0, 1]) < 4 / np.sqrt(4000)
    assert not np.allclose(make_teacher(10, seed=1).theta, make_teacher(10, seed=2).theta)


def test_public_and_checked():
    assert lossbounds.make_teacher is make_teacher
    with pytest.raises(ValueError, match="m"):
        make_teacher(0, seed=0)
    with pytest.raises(ValueError, match="noise"):
        make_teacher(5, seed=0, noise=-1.0)
    with pytest.raises(ValueError, match="teacher_width"):
        make_teacher(5, seed=0, teacher_width=0)
    with pytest.raises(ValueError, match="activation"):
        make_teacher(5, seed=0, teacher_activation="relu6")


def test_sweep_cells_of_the_make_teacher_kind_use_it():
    from lossbounds.experiments import make_data, parse_spec

    fixed = {"dataset": "make_teacher", "teacher_width": 3, "teacher_activation": "sigmoid",
             "inputs": 2, "noise": 0.1, "seed": 4, "width": 2, "hidden_layers": 1}  # fmt: skip
    spec = parse_spec(
        {"name": "t", "measurement": "census", "fixed": fixed, "axes": {"samples": [5, 9]}}, "t"
    )
    small, large = (make_data(c) for c in spec.cells)
    direct = make_teacher(
        9, 4, n_inputs=2, teacher_width=3, teacher_activation="sigmoid", noise=0.1
    )
    np.testing.assert_array_equal(large.y, direct.y)
    np.testing.assert_array_equal(small.X, large.X[:5])  # nested across the cells of one seed
    np.testing.assert_array_equal(small.theta, large.theta)
