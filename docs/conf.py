"""Sphinx configuration of the lossbounds site (built by ``make docs``).

``scripts/build_docs.py`` stages the sources (this folder's pages and the committed
notebooks, unexecuted) into ``docs/_build/src`` and runs Sphinx on them with this
configuration, warnings as errors. Nothing is fetched at build or view time: no
intersphinx, and MathJax is copied from the ``django-static-mathjax`` wheel.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

project = "lossbounds"
author = "the lossbounds authors"
copyright = "2026, the lossbounds authors"  # noqa: A001
release = version = "0.4.0"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "lossbounds_docs",
]

root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md"]
nitpicky = True
# Types in signatures and docstrings that no page of this site documents (no intersphinx:
# the build reaches no network). Listed one by one so that any other broken reference fails.
nitpick_ignore = [
    (role, name)
    for name in (
        "pathlib.Path",
        "Path",
        "numpy.ndarray",
        "np.ndarray",
        "numpy.random.Generator",
        "np.random.Generator",
        "numpy.typing.ArrayLike",
        "scipy.sparse.linalg.LinearOperator",
        "scipy.sparse.linalg._interface.LinearOperator",
        "torch.Tensor",
        "torch.device",
        "torch.dtype",
        "torch.nn.Module",
        "torch.nn.modules.module.Module",
        "matplotlib.axes.Axes",
        "matplotlib.axes._axes.Axes",
        "matplotlib.figure.Figure",
        "sympy.Expr",
        "sympy.core.expr.Expr",
        "sympy.Symbol",
        "scipy.sparse.csr_matrix",
        "scipy.sparse.coo_matrix",
        "dask.distributed.Client",
        "distributed.Client",
        "collections.abc.Callable",
        "collections.abc.Sequence",
        "collections.abc.Iterable",
        "collections.abc.Iterator",
        "collections.abc.Mapping",
        "os.PathLike",
        "argparse.ArgumentParser",
        "sympy.core.symbol.Symbol",
        "torch.nn.modules.container.Sequential",
    )
    for role in ("py:class", "py:obj")
]

# -- MyST and notebooks ---------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # render the committed outputs, never re-execute
nb_ipywidgets_js = {}  # no widget JavaScript from a CDN
nb_merge_streams = True

# -- API reference --------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"special-members": "__call__"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- HTML -----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "lossbounds"
html_static_path = []  # the MathJax folder is added by lossbounds_docs at build time
mathjax_path = "mathjax/tex-svg.js"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "icon_links": [],
}
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
