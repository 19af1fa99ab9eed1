"""Argument checks shared by the library modules (one message format for all).

Each raises ``ValueError`` naming the argument and what it accepts.
"""

import operator

import numpy as np

__all__ = ["check_int", "check_nonnegative"]


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


def check_nonnegative(name: str, value) -> float:
    """Return ``value`` as a float; refuse NaN, infinities, negatives and non-numbers."""
    try:
        ok = bool(np.isfinite(value)) and value >= 0
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)
