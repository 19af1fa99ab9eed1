"""Hidden-unit symmetry group of an architecture: its structure and its exact order.

Torch-free and exact (integers). :func:`group_structure` decides which
permutations and sign flips are symmetries of the loss, per activation flip kind,
skip connection and l2 term; the action of those elements on parameter vectors is
:class:`lossbounds.landscape.symmetry.SymmetryGroup`, built on the same
structure. Derivations: docs/symmetry.md.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

from lossbounds.theory.activations import FLIPS, get_activation

__all__ = [
    "GroupStructure",
    "group_structure",
    "structure_of",
    "structures_of",
    "symmetry_group_order",
    "log2_symmetry_group_order",
    "symmetry_description",
]

_SKIPS = (None, "identity", "projection")


@dataclass(frozen=True)
class GroupStructure:
    """Which permutations and flips the symmetry group contains.

    Attributes
    ----------
    width, hidden_layers : int
        h and H.
    flip : {"odd", "sigmoid", "even", "shift_odd", None}
        The flip kind kept (None: permutations only).
    tied : bool
        One permutation for all hidden layers (identity skips, H >= 2).
    tied_flips : bool
        One flip pattern for all hidden layers (tied, odd or sigmoid flips).
    flip_layers : tuple of int
        The hidden layers (1-based) whose units can flip: all of them for
        odd, sigmoid and even flips, 2..H for shift-odd flips (projection
        skips), none without flips.
    """

    width: int
    hidden_layers: int
    flip: str | None
    tied: bool
    tied_flips: bool
    flip_layers: tuple[int, ...]

    @property
    def exponents(self) -> tuple[int, int]:
        """(a, b) with |G| = 2^a (h!)^b."""
        h = self.width
        a = h if self.tied_flips else h * len(self.flip_layers)
        return a, 1 if self.tied else self.hidden_layers

    @property
    def order(self) -> int:
        """|G|, exact."""
        a, b = self.exponents
        return (1 << a) * math.factorial(self.width) ** b

    @property
    def log2_order(self) -> float:
        """log2 |G| via lgamma (no big integers)."""
        a, b = self.exponents
        return a + b * math.lgamma(self.width + 1) / math.log(2.0)

    @property
    def description(self) -> str:
        """|G| as an exact closed form, e.g. ``'2^6 * (3!)^2'``."""
        a, b = self.exponents
        fact = f"{self.width}!" if b == 1 else f"({self.width}!)^{b}"
        return fact if a == 0 else f"2^{a} * {fact}"


def _concrete(value):
    """``int(value)`` for an integer >= 1 (int, numpy or sympy Integer), else None."""
    if isinstance(value, bool):
        return None
    try:
        out = operator.index(value)
    except TypeError:
        return None
    return out if out >= 1 else None


def _biases(biases, H: int) -> tuple:
    """One bias flag per weight layer 1..H+1 (all True when ``biases`` is None)."""
    if biases is None:
        return (True,) * (H + 1)
    out = tuple(bool(b) for b in biases)
    if len(out) != H + 1:
        raise ValueError(f"biases must have hidden_layers + 1 = {H + 1} entries, got {out}")
    return out


def _absorbed(flip, skip, biases, layer: int, H: int) -> bool:
    """Whether the constant a flip of ``layer`` adds to the stream can be absorbed.

    A sigmoid flip adds 1 - 2u, i.e. the constant 1; a shift-odd flip adds -b_{l,i}
    (nothing without b_l); odd and even flips add nothing. The constant reaches
    the next weight layer's pre-activation (absorbed by its bias) and, through
    skips, every later layer and the output: those layers need biases.
    """
    constant = flip == "sigmoid" or (flip == "shift_odd" and biases[layer - 1])
    later = (layer + 1,) if skip is None else range(layer + 1, H + 2)
    return not constant or all(biases[a - 1] for a in later)


def group_structure(flip, skip, l2: bool, width, hidden_layers, biases=None) -> GroupStructure:
    """Return the structure of the symmetry group (see the module docstring).

    Parameters
    ----------
    flip : {"odd", "sigmoid", "even", "shift_odd", None}
        The activation's flip kind.
    skip : {None, "identity", "projection"}
        Skip connections between consecutive hidden layers.
    l2 : bool
        Whether the loss has an active l2 term (drops sigmoid and shift-odd
        flips).
    width, hidden_layers : int
        h and H, concrete integers >= 1.
    biases : sequence of H + 1 bool, optional
        Whether weight layers 1..H+1 (output last) have bias vectors; default
        all. A flip whose constant offset (sigmoid; shift-odd with b_l) would
        reach a layer without bias is not a symmetry and is dropped.

    Returns
    -------
    GroupStructure

    Raises
    ------
    ValueError
        If a size is not a concrete integer >= 1, flip/skip is unknown or
        ``biases`` has the wrong length.
    """
    h, H = _concrete(width), _concrete(hidden_layers)
    if h is None or H is None:
        raise ValueError(
            f"width and hidden_layers must be concrete integers for the symmetry group, "
            f"got width={width}, hidden_layers={hidden_layers}"
        )
    if flip not in FLIPS:
        raise ValueError(f"flip must be one of {FLIPS}, got {flip!r}")
    if skip not in _SKIPS:
        raise ValueError(f"skip must be None, 'identity' or 'projection', got {skip!r}")
    biases = _biases(biases, H)
    if flip in ("sigmoid", "shift_odd") and l2:
        flip = None  # these flips change ||theta||
    if flip == "shift_odd" and (skip != "projection" or H < 2):
        flip = None  # the -t is absorbed only by a projection row
    candidates = tuple(range(2 if flip == "shift_odd" else 1, H + 1)) if flip else ()
    layers = tuple(c for c in candidates if _absorbed(flip, skip, biases, c, H))
    tied = skip == "identity" and H >= 2
    if tied and flip in ("odd", "sigmoid") and layers != candidates:
        layers = ()  # one flip pattern for the whole stream: all layers or none
    flip = flip if layers else None
    return GroupStructure(h, H, flip, tied, tied and flip in ("odd", "sigmoid"), layers)


def _arch_biases(arch) -> tuple:
    """(bias of layer 1, ..., bias of the output) of an architecture (all True if unknown)."""
    fn = getattr(arch, "layer_bias", None)
    H = arch.hidden_layers
    return tuple(True if fn is None else bool(fn(layer)) for layer in range(1, H + 2))


def structure_of(arch, l2: bool = False) -> GroupStructure:
    """:func:`group_structure` of an equal-width architecture (l2 active if ``l2`` or ``arch.l2``)."""
    flip = get_activation(arch.activation).flip
    l2 = bool(l2) or bool(getattr(arch, "l2", False))
    return group_structure(
        flip, getattr(arch, "skip", None), l2, arch.width, arch.hidden_layers, _arch_biases(arch)
    )


def structures_of(arch, l2: bool = False) -> list[GroupStructure]:
    """Split the group into structures: one for equal widths, one per layer otherwise.

    Unequal widths admit no skips (Architecture refuses them), so the group is
    the direct product of the single-layer groups of widths h_1, ..., h_H
    (layer l's flips need the bias of layer l + 1 when they add a constant):
    |G| = prod_l 2^{h_l} h_l! with flips, prod_l h_l! without.
    """
    widths = tuple(getattr(arch, "widths", ()))
    if len(set(widths)) <= 1:
        return [structure_of(arch, l2)]
    flip = get_activation(arch.activation).flip
    l2 = bool(l2) or bool(getattr(arch, "l2", False))
    b = _arch_biases(arch)
    return [group_structure(flip, None, l2, h, 1, (b[i], b[i + 1])) for i, h in enumerate(widths)]


def symmetry_group_order(arch) -> int:
    """Order |G| of the hidden-unit symmetry group of an architecture (exact int).

    Parameters
    ----------
    arch : lossbounds.theory.architecture.Architecture
        Concrete width h and hidden_layers H, or unequal concrete widths
        h_1..h_H (then no skips: |G| = prod_l 2^{h_l} h_l! with flips,
        prod_l h_l! without); ``activation``, ``skip`` and ``l2`` select the
        elements (module docstring).

    Returns
    -------
    int
        |G|. For large h prefer :func:`log2_symmetry_group_order` (h! for
        h = 10^6 has 5.5 million digits).

    Raises
    ------
    ValueError
        If width or hidden_layers is symbolic.
    """
    return math.prod(s.order for s in structures_of(arch))


def log2_symmetry_group_order(arch) -> float:
    """log2 |G| via lgamma (no big integers); see :func:`symmetry_group_order`."""
    return math.fsum(s.log2_order for s in structures_of(arch))


def symmetry_description(arch) -> str:
    """Write the group order as an exact closed-form string, e.g. ``'2^6 * (3!)^2'``.

    Unequal widths give one factorial per distinct width, in layer order, e.g.
    ``'2^9 * 5! * 4!'`` for widths (5, 4).
    """
    structures = structures_of(arch)
    if len(structures) == 1:
        return structures[0].description
    a = sum(s.exponents[0] for s in structures)
    counts: dict[int, int] = {}
    for s in structures:
        counts[s.width] = counts.get(s.width, 0) + 1
    facts = [f"{h}!" if b == 1 else f"({h}!)^{b}" for h, b in counts.items()]
    return " * ".join(facts if a == 0 else [f"2^{a}", *facts])
