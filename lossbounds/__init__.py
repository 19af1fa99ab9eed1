"""lossbounds: Betti-number bounds and measured topology of neural-network loss surfaces.

Reproduces and extends Bucarelli, D'Inverno, Bianchini, Scarselli, Silvestri,
"A topological description of loss surfaces based on Betti Numbers",
Neural Networks 178 (2024) 106465, arXiv:2401.03824.

Modules (one concern each):

- :mod:`lossbounds.activations` -- catalogue of Pfaffian activations
- :mod:`lossbounds.formats` -- Pfaffian format (N, ell, alpha, beta) of a training loss
- :mod:`lossbounds.bounds` -- upper (Zell, Khovanskii) and lower (symmetry) bounds on B(S)
- :mod:`lossbounds.models` -- torch networks, flat parameters, symmetry group
- :mod:`lossbounds.data` -- seeded synthetic datasets
- :mod:`lossbounds.surface` -- batched loss evaluation and derivatives
- :mod:`lossbounds.slices` -- 1-D and 2-D slices, their curvature and persistence
- :mod:`lossbounds.sampling` -- samples of parameter space
- :mod:`lossbounds.optimize` -- minima, polishing, classification, basin census
- :mod:`lossbounds.persistence` -- sublevel-set persistent homology
- :mod:`lossbounds.plotting` -- plot helpers and the figure saver
- :mod:`lossbounds.cli` -- the ``lossbounds`` command

Submodules are imported on demand so that ``import lossbounds`` stays light
(torch is only loaded by the modules that need it).
"""

from lossbounds.config import quick_mode

__version__ = "0.1.0"

__all__ = ["__version__", "quick_mode"]
