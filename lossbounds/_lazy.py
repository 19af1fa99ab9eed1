"""Lazy attribute access for package namespaces (PEP 562).

A package's public names are served from their defining submodules on first
access, so importing the package itself imports neither torch nor any
submodule.
"""

from __future__ import annotations

import importlib

__all__ = ["attach"]


def attach(package: str, names: dict[str, str]):
    """Return ``(__all__, __getattr__, __dir__)`` serving ``names`` lazily.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : dict of str to str
        Public name -> submodule (relative to ``package``) that defines it.

    Returns
    -------
    tuple
        ``__all__`` (the sorted names), the module-level ``__getattr__``
        (raises ``AttributeError`` for other names) and ``__dir__``.
    """

    def __getattr__(name: str):
        if name in names:
            module = importlib.import_module(f"{package}.{names[name]}")
            return getattr(module, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(names)

    return sorted(names), __getattr__, __dir__
