import numpy as np
import pytest

from lossbounds._checks import check_int, check_nonnegative


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
