"""lossbounds: Betti-number bounds and measured topology of neural-network loss surfaces.

Reproduces and extends Bucarelli, D'Inverno, Bianchini, Scarselli, Silvestri,
"A topological description of loss surfaces based on Betti Numbers",
Neural Networks 178 (2024) 106465, arXiv:2401.03824.

Four wings and a roof, imports pointing downward only:

- :mod:`lossbounds.theory` -- activations, architectures, Pfaffian formats, certificates,
  bounds, the symmetry-group order (torch-free);
- :mod:`lossbounds.landscape` -- parameter layout, forward pass, users' modules,
  ``LossSurface``, devices, sampling, optimisation, the group action, datasets;
- :mod:`lossbounds.topology` -- persistence, diagrams, known shapes, slices, merge trees;
- :mod:`lossbounds.experiments` -- sweeps, statistics, the claim analyses;
- :mod:`lossbounds.plot` -- every plot function; :mod:`lossbounds.cli` -- the command.

The names users reach for are served here lazily, so ``import lossbounds`` loads
neither torch nor any wing until a name is used.
"""

from lossbounds._lazy import attach
from lossbounds.config import quick_mode

__version__ = "0.4.0"

_NAMES = {
    "Architecture": "theory.architecture",
    "loss_format": "theory.formats",
    "bound_summary": "theory.bounds",
    "LossSurface": "landscape.surface",
    "from_module": "landscape.modules",
    "load_dataset": "landscape.data",
    "make_teacher": "landscape.data",
    "merge_tree": "topology.connectivity",
    "critical_points": "topology.critical",
    "run_sweep": "experiments.run",
}

__all__ = ["__version__", "quick_mode", *sorted(_NAMES)]
_, __getattr__, _dir = attach(__name__, _NAMES)


def __dir__():
    """List the public names (the lazy ones included)."""
    return sorted(__all__)
