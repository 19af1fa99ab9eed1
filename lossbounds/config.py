"""Run-time configuration read from the environment.

``LOSSBOUNDS_QUICK=1`` asks notebooks and long computations for smaller
samples (``make test`` sets it); ``make figures`` runs at full size.
"""

import os

__all__ = ["quick_mode", "pick"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def quick_mode() -> bool:
    """Return True when ``LOSSBOUNDS_QUICK`` asks for reduced sample sizes.

    Raises
    ------
    ValueError
        If ``LOSSBOUNDS_QUICK`` holds a value that is neither true nor false.
    """
    raw = os.environ.get("LOSSBOUNDS_QUICK", "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(
        f"LOSSBOUNDS_QUICK={raw!r} is not understood; accepted values: "
        f"{sorted(_TRUE)} for quick mode, {sorted(_FALSE - {''})} or unset for full size"
    )


def pick(full, quick):
    """Return ``quick`` in quick mode and ``full`` otherwise.

    Notebooks use it for sample sizes: ``n = pick(full=20_000, quick=2_000)``.
    """
    return quick if quick_mode() else full
