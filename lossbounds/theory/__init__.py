"""The symbolic side of lossbounds (torch-free).

Activations and their Pfaffian chains, architectures, loss formats, their brute-force
certificates, the bounds and the symmetry-group order. A test imports it without torch;
arithmetic is exact (sympy) where it matters.
"""

from lossbounds._lazy import attach

_NAMES = {
    "T": "activations",
    "FLIPS": "activations",
    "PfaffianActivation": "activations",
    "get_activation": "activations",
    "list_activations": "activations",
    "list_chains": "activations",
    "DEFAULT_CHAIN": "activations",
    "weighted_degree": "activations",
    "chain_symbols": "activations",
    "OUTPUTS": "architecture",
    "LOSSES": "architecture",
    "SKIPS": "architecture",
    "Architecture": "architecture",
    "width_for_params": "architecture",
    "equal_units_family": "architecture",
    "equal_params_family": "architecture",
    "BoundTerms": "bounds",
    "gradient_degree": "bounds",
    "zell_log2_symbolic": "bounds",
    "zell_terms_symbolic": "bounds",
    "zell_log2": "bounds",
    "zell_terms": "bounds",
    "khovanskii_log2_symbolic": "bounds",
    "khovanskii_terms_symbolic": "bounds",
    "khovanskii_log2": "bounds",
    "khovanskii_terms": "bounds",
    "format_tuple": "bounds",
    "slice_bounds": "bounds",
    "bounds_for_architectures": "bounds",
    "log10_bounds": "bounds",
    "log10_exact": "bounds",
    "chain_bounds": "bounds",
    "smallest_format": "bounds",
    "bound_summary": "bounds",
    "LOG10_2": "bounds",
    "ChainExpansion": "certificates",
    "expand_chain": "certificates",
    "PfaffianFormat": "formats",
    "LayerDegrees": "formats",
    "layer_degrees": "formats",
    "loss_format": "formats",
    "slice_format": "formats",
    "depth_closed_form": "formats",
    "head_chain": "formats",
    "output_head": "formats",
    "OutputHead": "heads",
    "expand_closed_form": "formats",
    "GroupStructure": "groups",
    "group_structure": "groups",
    "symmetry_group_order": "groups",
    "log2_symmetry_group_order": "groups",
    "symmetry_description": "groups",
}

__all__, __getattr__, __dir__ = attach(__name__, _NAMES)
