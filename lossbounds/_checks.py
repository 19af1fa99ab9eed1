"""Argument checks shared by the library modules (one message format for all).

Each raises ``ValueError`` naming the argument and what it accepts.
"""

import operator

import numpy as np

__all__ = ["check_int", "check_nonnegative", "check_positive", "check_choice"]


def check_int(name: str, value, minimum: int) -> int:
    """Return ``value`` as an int; refuse bools, non-integers and values below ``minimum``.

    Integers are whatever supports ``operator.index`` (int, numpy and sympy integers).
    """
    try:
        out = None if isinstance(value, bool | np.bool_) else operator.index(value)
    except TypeError:
        out = None
    if out is None or out < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(out)


def _finite_number(value) -> bool:
    """Return True for a finite real number that is not a bool."""
    if isinstance(value, bool | np.bool_):
        return False
    try:
        return bool(np.isfinite(value))
    except TypeError:
        return False


def check_nonnegative(name: str, value) -> float:
    """Return ``value`` as a float; refuse bools, NaN, infinities, negatives and non-numbers."""
    if not (_finite_number(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_positive(name: str, value) -> float:
    """Return ``value`` as a float; refuse bools, NaN, infinities, zero, negatives and non-numbers."""
    if not (_finite_number(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_choice(name: str, value, allowed):
    """Return ``value`` if it is one of ``allowed`` (a sequence), else raise naming them all."""
    if isinstance(value, str | int | float | type(None)) and value in allowed:
        return value
    shown = ", ".join(map(repr, allowed))
    raise ValueError(f"{name} must be one of {shown}, got {value!r}")
