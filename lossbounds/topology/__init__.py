"""Topology of sublevel sets.

Persistent homology on grids, graphs and samples, diagram summaries, functions of known
topology, slices, and full-space merge trees.
"""

from lossbounds._lazy import attach

_NAMES = {
    "MergeOptions": "options",
    "Saddles": "mergetree",
    "MergeTree": "mergetree",
    "merge_tree": "connectivity",
    "chao1": "critical",
    "CriticalPoints": "critical",
    "critical_points": "critical",
    "mueller_brown": "shapes",
    "embedded_saddle": "shapes",
    "gaussian_wells": "shapes",
    "himmelblau": "shapes",
    "lennard_jones": "shapes",
    "MUELLER_BROWN_CRITICAL": "shapes",
    "HIMMELBLAU_CRITICAL": "shapes",
    "LJ7_MINIMA": "shapes",
    "betti_numbers": "diagrams",
    "persistent_betti_numbers": "diagrams",
    "betti_curve": "diagrams",
    "sampled_window": "diagrams",
    "windowed_betti": "diagrams",
    "count_long_bars": "diagrams",
    "total_persistence": "diagrams",
    "diagram_distance": "diagrams",
    "grid_persistence": "persistence",
    "grid_graph": "persistence",
    "neighbourhood_graph": "persistence",
    "graph_persistence": "persistence",
    "sample_persistence": "persistence",
    "ripser_max_vertices": "persistence",
    "default_k": "persistence",
    "OrbitPersistence": "orbits",
    "orbit_persistence": "orbits",
    "KnownShape": "shapes",
    "known_shapes": "shapes",
    "four_wells": "shapes",
    "solid_torus": "shapes",
    "DoubleWells": "shapes",
    "tilted_double_wells": "shapes",
    "kernel_agreement": "agreement",
    "random_direction": "slices",
    "line": "slices",
    "plane": "slices",
    "PlaneSlice": "slices",
    "plane_hessians": "slices",
    "l2_convexity_threshold": "slices",
    "slice_persistence": "slices",
}

__all__, __getattr__, __dir__ = attach(__name__, _NAMES)
