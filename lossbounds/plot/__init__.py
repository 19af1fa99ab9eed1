"""Every plot function of the package: bounds, diagrams, slices, estimates, merge trees.

Plot functions take ``ax=None`` (a new axis is made) and return the axis;
:func:`save_figure` writes byte-stable PDF and PNG files. Computing modules never
import this package.
"""

from lossbounds.plot.barcodes import plot_barcode_r
from lossbounds.plot.core import *  # noqa: F403
from lossbounds.plot.core import __all__ as _core
from lossbounds.plot.trees import plot_death_agreement, plot_merge_tree
from lossbounds.plot.verdicts import plot_claim_tests, plot_dataset_means, plot_quality

__all__ = [
    *_core,
    "plot_merge_tree",
    "plot_death_agreement",
    "plot_claim_tests",
    "plot_quality",
    "plot_dataset_means",
    "plot_barcode_r",
]
