"""Sphinx extension of the lossbounds site: offline MathJax, name aliases, coverage check.

- Copies MathJax 3 (``es5/tex-svg.js``, one file with its fonts, and its licence) from
  the ``django-static-mathjax`` wheel into the site, so pages load no script from a CDN.
- Resolves references to the lazy public faces (``lossbounds.merge_tree``,
  ``lossbounds.topology.merge_tree``) to the defining submodule's entry.
- Fails the build (a warning under ``-W``) when a public name is not documented: every
  submodule of :mod:`lossbounds` (private ones excepted) must have an API entry, and so
  must every name in its ``__all__`` and every public method or property of a documented
  class.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import shutil
from pathlib import Path

from sphinx.util import logging

__all__ = ["setup"]

logger = logging.getLogger(__name__)
PACKAGE = "lossbounds"


def _copy_mathjax(app, config) -> None:
    """Stage ``mathjax/tex-svg.js`` beside the build and add it to ``html_static_path``."""
    import mathjax  # the django-static-mathjax wheel: MathJax 3.2.2, no Django needed

    source = Path(mathjax.__file__).parent / "static" / "mathjax"
    target = Path(app.outdir).parent / "_mathjax_static"
    (target / "mathjax").mkdir(parents=True, exist_ok=True)
    for name, src in (
        ("tex-svg.js", source / "es5" / "tex-svg.js"),
        ("LICENSE", source / "LICENSE"),
    ):
        dst = target / "mathjax" / name
        if not dst.exists() or dst.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, dst)
    config.html_static_path = [*config.html_static_path, str(target)]


def _public_modules() -> list[str]:
    """Every importable submodule of the package whose name has no leading underscore."""
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{PACKAGE}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _canonical(module, name: str) -> str | None:
    """Where ``module.name`` is documented: its defining module and qualified name.

    None for dunder names (``__version__``) and submodules.
    """
    obj = getattr(module, name)
    if name.startswith("__") or inspect.ismodule(obj):
        return None
    if inspect.isclass(obj) or inspect.isfunction(obj):
        return f"{obj.__module__}.{obj.__qualname__}"
    lazy = getattr(module, "_NAMES", {})  # a constant served by a lazy public face
    if name in lazy:
        return f"{module.__name__}.{lazy[name]}.{name}"
    return f"{module.__name__}.{name}"  # a constant: documented by a ``#:`` comment


def _check_coverage(app, env) -> None:
    """Warn for each public module, name or class member that has no API entry."""
    domain = env.get_domain("py")
    objects, modules = domain.objects, domain.modules
    for modname in _public_modules():
        module = importlib.import_module(modname)
        if modname not in modules:
            logger.warning("undocumented public module %s (add it to a page in docs/api/)", modname)
            continue
        for name in getattr(module, "__all__", []):
            target = _canonical(module, name)
            if target is None:
                continue
            if target not in objects:
                logger.warning("undocumented public name %s.%s (%s)", modname, name, target)
                continue
            obj = getattr(module, name)
            if inspect.isclass(obj):
                _check_members(obj, target, objects)


def _check_members(cls, target: str, objects) -> None:
    for attr, value in vars(cls).items():
        if attr.startswith("_"):
            continue
        if inspect.isfunction(value) or isinstance(value, property | classmethod | staticmethod):
            if f"{target}.{attr}" not in objects:
                logger.warning("undocumented public member %s.%s", target, attr)


def _resolve(app, env, node, contnode):
    """Resolve a Python reference that Sphinx's own lookup missed.

    First a lazy public face (``lossbounds[.wing].name``) to the submodule that defines
    ``name``; then a short name used in a docstring (``expand_chain``,
    ``LossSurface.from_module``) to the one documented object whose full name ends with
    it. An ambiguous or unknown name stays unresolved (a warning, an error under -W).
    """
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    domain = env.get_domain("py")
    canonical = _face(domain, target, node.get("py:module"))
    if canonical is None and not target.startswith(PACKAGE):
        matches = [name for name in domain.objects if name.endswith(f".{target}")]
        matches = [name for name in matches if _is_canonical(name)] if len(matches) > 1 else matches
        canonical = matches[0] if len(matches) == 1 else None
    if canonical is None and node.get("reftype") == "attr":
        canonical = _attribute_owner(domain, target, node.get("py:module"), node.get("py:class"))
        if canonical is not None:
            return domain.resolve_xref(
                env, node["refdoc"], app.builder, "class", canonical, node, contnode
            )
    if canonical is None:
        return None
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], canonical, node, contnode
    )


def _attribute_owner(domain, target: str, module: str | None, cls: str | None) -> str | None:
    """Return the documented class whose numpydoc ``Attributes`` section lists ``target``.

    numpydoc renders that section as a list, not as targets, so ``:attr:`flip``` in a
    docstring links to the class entry (``Class.attr``, or ``attr`` inside ``Class``).
    """
    owner, _, attr = target.rpartition(".")
    owner = owner or cls
    if not owner:
        return None
    names = [owner, f"{module}.{owner}"] if module else [owner]
    found = [n for n in domain.objects if n in names or n.endswith(f".{owner}")]
    found = sorted({n for n in found if domain.objects[n].objtype == "class"})
    if len(found) != 1:
        return None
    modname, _, clsname = found[0].rpartition(".")
    doc = inspect.getdoc(getattr(importlib.import_module(modname), clsname)) or ""
    section = doc.partition("Attributes\n----------")[2]
    return found[0] if re.search(rf"^{re.escape(attr)}\s*:", section, re.M) else None


def _is_canonical(fullname: str) -> bool:
    """Return False for an entry that documents a re-export (a class under a second module)."""
    modname, _, name = fullname.rpartition(".")
    try:
        module = importlib.import_module(modname)
    except ImportError:  # a method or attribute: judge its class
        return _is_canonical(modname)
    obj = getattr(module, name, None)
    return obj is None or getattr(obj, "__module__", modname) == modname


def _face(domain, target: str, current_module: str | None) -> str | None:
    """Return the documented full name behind a lazy public face, or None."""
    candidates = [target]
    if current_module:
        candidates.append(f"{current_module}.{target}")
    for candidate in candidates:
        modname, _, name = candidate.rpartition(".")
        if not modname.startswith(PACKAGE):
            continue
        try:
            module = importlib.import_module(modname)
            canonical = _canonical(module, name) if hasattr(module, name) else None
        except ImportError:
            continue
        if canonical and canonical != candidate and canonical in domain.objects:
            return canonical
    return None


_BARS = re.compile(r"(?<![\\|`])\|([^|\s`][^|`]*?)\|(?![|_`])")
_LITERAL = re.compile(r"(``.*?``)")


def _escape_bars(app, what, name, obj, options, lines) -> None:
    """Escape ``|G|`` (a group order in plain text) so docutils does not read a substitution.

    The package defines no substitutions; text inside double backquotes is left alone.
    """
    for i, line in enumerate(lines):
        stripped = line.strip()
        if "|" in line and not stripped.startswith(("+-", "+=", "| ")):
            parts = _LITERAL.split(line)
            lines[i] = "".join(
                part if part.startswith("``") else _BARS.sub(r"\\|\1\\|", part) for part in parts
            )


def _visit_dict(self, node) -> str:
    """Unparse a dict display, ``**mapping`` items included.

    Sphinx 9.0.4's own version drops the ``None`` keys of ``**`` items and then fails
    (``zip(..., strict=True)``), which silently loses every ``#:`` comment of a module
    containing such a dict in a default value or decorator; the coverage check above
    would then fail the build on each constant.
    """
    items = [
        f"**{self.visit(v)}" if k is None else f"{self.visit(k)}: {self.visit(v)}"
        for k, v in zip(node.keys, node.values, strict=True)
    ]
    return "{" + ", ".join(items) + "}"


def setup(app):
    """Register the MathJax copy, the alias resolver and the coverage check."""
    from sphinx.pycode import ast as sphinx_ast

    sphinx_ast._UnparseVisitor.visit_Dict = _visit_dict
    app.connect("config-inited", _copy_mathjax)
    app.connect("missing-reference", _resolve)
    app.connect("autodoc-process-docstring", _escape_bars)
    app.connect("env-check-consistency", _check_coverage)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
