import numpy as np
import pytest

from lossbounds._checks import check_choice, check_int, check_nonnegative, check_positive


def test_check_int_accepts_python_and_numpy_integers():
    assert check_int("k", 3, 1) == 3
    assert type(check_int("k", np.int32(0), 0)) is int


@pytest.mark.parametrize("value", [True, 2.0, "3", None, 0])
def test_check_int_refuses(value):
    with pytest.raises(ValueError, match=r"k must be an integer >= 1, got"):
        check_int("k", value, 1)


def test_check_nonnegative_accepts_and_converts():
    assert check_nonnegative("eps", 0) == 0.0
    assert check_nonnegative("eps", np.float32(0.5)) == 0.5


@pytest.mark.parametrize("value", [-1e-9, np.nan, np.inf, "x", None])
def test_check_nonnegative_refuses(value):
    with pytest.raises(ValueError, match=r"eps must be a finite number >= 0, got"):
        check_nonnegative("eps", value)


def test_check_nonnegative_refuses_bools():
    with pytest.raises(ValueError, match=r"eps must be a finite number >= 0, got True"):
        check_nonnegative("eps", True)


def test_check_positive():
    assert check_positive("step", 2) == 2.0
    for value in (0, -1.0, np.nan, np.inf, True, "1"):
        with pytest.raises(ValueError, match=r"step must be a finite number > 0, got"):
            check_positive("step", value)


def test_check_choice():
    assert check_choice("loss", "mse", ("mse", "bce")) == "mse"
    for value in ("MSE", None, ["mse"]):
        with pytest.raises(ValueError, match=r"loss must be one of 'mse', 'bce', got"):
            check_choice("loss", value, ("mse", "bce"))
