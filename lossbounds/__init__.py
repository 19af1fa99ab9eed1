"""lossbounds: Betti-number bounds and measured topology of neural-network loss surfaces.

Reproduces and extends Bucarelli, D'Inverno, Bianchini, Scarselli, Silvestri,
"A topological description of loss surfaces based on Betti Numbers",
Neural Networks 178 (2024) 106465, arXiv:2401.03824.

Modules (one concern each):

- :mod:`lossbounds.architecture` -- ``Architecture`` (sizes, activation, output, loss, skips, l2)
- :mod:`lossbounds.activations` -- catalogue of Pfaffian activations and their chains
- :mod:`lossbounds.formats` -- Pfaffian format (N, ell, alpha, beta) of a training loss
- :mod:`lossbounds.certificates` -- a small network's actual chain, checked against the format
- :mod:`lossbounds.bounds` -- Zell's expression, Khovanskii's bound, the group order |G|
- :mod:`lossbounds.symmetry` -- hidden-unit symmetry group: orders, actions, orbits, certificate
- :mod:`lossbounds.layout` -- flat parameter vector theta and its blocks
- :mod:`lossbounds.network` -- the batched forward pass of K networks on m inputs
- :mod:`lossbounds.modules` -- a user's ``torch.nn.Module`` as an architecture and a loss
- :mod:`lossbounds.devices` -- torch device resolution, chunk sizes, out-of-memory retries
- :mod:`lossbounds.surface` -- ``LossSurface``: batched loss, gradients, Hessians
- :mod:`lossbounds.slices` -- 1-D and 2-D slices, their curvature and persistence
- :mod:`lossbounds.sampling` -- samples of parameter space and their losses
- :mod:`lossbounds.optimize` -- minima, polishing, Hessian classification, basin census
- :mod:`lossbounds.connectivity` -- merge trees: minima joined by minimum-energy paths
- :mod:`lossbounds.persistence` -- sublevel-set persistent homology (grids, graphs, samples)
- :mod:`lossbounds.diagrams` -- summaries of persistence diagrams (Betti numbers, distances)
- :mod:`lossbounds.shapes` -- functions with known sublevel-set Betti numbers (validation)
- :mod:`lossbounds.data` -- seeded synthetic and bundled datasets
- :mod:`lossbounds.reparam` -- exact tanh <-> sigmoid reparametrisation
- :mod:`lossbounds.interop` -- slices in the HDF5 layout of Li et al.'s loss-landscape tools
- :mod:`lossbounds.sweep` -- resumable sweeps of measured cells (Dask)
- :mod:`lossbounds.stats` -- bootstrap intervals, paired tests, rank correlations
- :mod:`lossbounds.claims` -- the measured claims: per-setting estimates, paired tests, bound vs measurement
- :mod:`lossbounds.plotting` -- plot helpers and the figure saver
- :mod:`lossbounds.config` -- run-time configuration from the environment (quick mode)
- :mod:`lossbounds.cli` -- the ``lossbounds`` command

Submodules are imported on demand so that ``import lossbounds`` stays light
(torch is only loaded by the modules that need it).
"""

from lossbounds.config import quick_mode

__version__ = "0.1.0"

__all__ = ["__version__", "quick_mode"]
