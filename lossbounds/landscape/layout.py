"""Flat parameter vector of an :class:`~lossbounds.theory.architecture.Architecture`.

One vector theta of length N, blocks in this order, each block row-major
(``W[i, j]`` at ``offset + i * fan_in + j``, the layout of ``nn.Linear.weight``)::

    W1 (h1, n), b1 (h1,), W2 (h2, h1), b2 (h2,), [P2 (h, h)], ..., WH, bH, [PH], v (hH,), c (1,)

with ``H = arch.hidden_layers``, ``(h1, ..., hH) = arch.widths``, ``P_l``
present only for projection skips (equal widths h), so
N = sum_l (h_{l-1}+1) h_l + (h_H+1) with h_0 = n; for equal widths
N = h(n+1) + (H-1)h(h+1) + (h+1), plus (H-1)h^2 with projection skips.
With C = ``arch.n_outputs`` > 1 outputs ``v`` is (C, hH) and ``c`` (C,) (the
``weight`` and ``bias`` of ``nn.Linear(hH, C)``); a layer without bias
(``arch.layer_bias(l)`` false) has no ``b_l`` block (no ``c`` for the output).
The network these blocks parametrise is described in :mod:`lossbounds.landscape.network`.

Works on numpy arrays and torch tensors alike; torch is not imported here.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

__all__ = ["Block", "ParamLayout"]

_SKIPS = (None, "identity", "projection")
_OUTPUTS = ("linear", "sigmoid")


def _layer_bias(arch, layer: int) -> bool:
    """Whether weight layer ``layer`` of ``arch`` has a bias (True for objects without biases)."""
    fn = getattr(arch, "layer_bias", None)
    return True if fn is None else bool(fn(layer))


def _is_tensor(x) -> bool:
    """Whether ``x`` is a torch tensor (without importing torch: none exists before it)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _check_arch(arch) -> None:
    """Validate the fields this module uses (the Architecture class checks the rest)."""
    widths = tuple(getattr(arch, "widths", ()))
    sizes = [(name, getattr(arch, name, None)) for name in ("n_inputs", "hidden_layers")]
    sizes += [(f"widths[{i}]", w) for i, w in enumerate(widths)]
    for name, value in sizes:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"arch.{name} must be a concrete integer >= 1, got {value!r}")
    if len(widths) != arch.hidden_layers:
        raise ValueError(
            f"arch.widths must have hidden_layers = {arch.hidden_layers} entries, got {widths}"
        )
    if getattr(arch, "skip", None) not in _SKIPS:
        raise ValueError(f"arch.skip must be one of {_SKIPS}, got {arch.skip!r}")
    if getattr(arch, "output", None) not in _OUTPUTS:
        raise ValueError(f"arch.output must be one of {_OUTPUTS}, got {arch.output!r}")


@dataclass(frozen=True)
class Block:
    """One named block of the flat vector: ``theta[start:stop].reshape(shape)``."""

    name: str
    layer: int
    shape: tuple
    start: int
    stop: int

    @property
    def size(self) -> int:
        """Number of parameters in the block."""
        return self.stop - self.start


class ParamLayout:
    """Flat parameter vector layout of an architecture (see the module docstring).

    Parameters
    ----------
    arch : lossbounds.theory.architecture.Architecture
        The architecture (``n_inputs``, ``widths``, ``hidden_layers``, ``skip``).

    Attributes
    ----------
    n_inputs, hidden_layers, n_outputs : int
        n, H and C.
    widths : tuple of int
        (h_1, ..., h_H).
    width : int
        The common width h (property; ``ValueError`` naming ``widths`` when
        they differ).
    n_params : int
        N, the length of theta.
    blocks : dict[str, Block]
        ``"W1", "b1", ..., "P2", ..., "v", "c"`` in vector order (no ``b_l``
        / ``c`` for bias-free layers).

    Raises
    ------
    ValueError
        If a size is not a concrete integer >= 1, or skip/output is unknown.
    """

    def __init__(self, arch):
        _check_arch(arch)
        self.arch = arch
        n, H = int(arch.n_inputs), int(arch.hidden_layers)
        self.n_inputs, self.hidden_layers = n, H
        self.widths = tuple(int(w) for w in arch.widths)
        hs = (n, *self.widths)
        specs = []
        self.n_outputs = C = int(getattr(arch, "n_outputs", 1))
        for layer in range(1, H + 1):
            h, fan_in = hs[layer], hs[layer - 1]
            specs.append((f"W{layer}", layer, (h, fan_in)))
            if _layer_bias(arch, layer):
                specs.append((f"b{layer}", layer, (h,)))
            if arch.skip == "projection" and layer >= 2:
                specs.append((f"P{layer}", layer, (h, fan_in)))
        specs.append(("v", H + 1, (hs[-1],) if C == 1 else (C, hs[-1])))
        if _layer_bias(arch, H + 1):
            specs.append(("c", H + 1, (C,)))
        self.blocks: dict[str, Block] = {}
        offset = 0
        for name, layer, shape in specs:
            size = math.prod(shape)
            self.blocks[name] = Block(name, layer, shape, offset, offset + size)
            offset += size
        self.n_params = offset

    @property
    def width(self) -> int:
        """The width h of every hidden layer (``ValueError`` for unequal widths)."""
        if len(set(self.widths)) != 1:
            raise ValueError(
                f"this layout has unequal hidden widths, widths={self.widths}: "
                "a single width is not defined here (use widths)"
            )
        return self.widths[0]

    def __repr__(self) -> str:
        """Show N and the blocks with their shapes."""
        parts = ", ".join(f"{b.name}{list(b.shape)}" for b in self.blocks.values())
        return f"ParamLayout(N={self.n_params}: {parts})"

    def check(self, theta, name: str = "theta"):
        """Raise ``ValueError`` unless the last axis of ``theta`` has length N."""
        shape = tuple(theta.shape)
        if len(shape) == 0 or shape[-1] != self.n_params:
            raise ValueError(
                f"{name} must have shape (N,) or (K, N) with N = {self.n_params} parameters "
                f"for this architecture, got shape {shape}"
            )
        return theta

    def unflatten(self, theta) -> dict:
        """Return views of the blocks of ``theta`` (numpy or torch, shape (..., N)).

        Returns
        -------
        dict[str, array]
            ``name -> theta[..., block].reshape(..., *shape)``; views where the
            backend allows, so writing into them writes into ``theta``.
        """
        self.check(theta)
        lead = tuple(theta.shape[:-1])
        if _is_tensor(theta):  # one split call instead of one slice per block
            parts = theta.split([b.size for b in self.blocks.values()], dim=-1)
            return {
                b.name: part.reshape(*lead, *b.shape)
                for b, part in zip(self.blocks.values(), parts, strict=True)
            }
        return {
            b.name: theta[..., b.start : b.stop].reshape(*lead, *b.shape)
            for b in self.blocks.values()
        }

    def flatten(self, params: dict):
        """Inverse of :meth:`unflatten`: concatenate the blocks into shape (..., N)."""
        missing = [k for k in self.blocks if k not in params]
        if missing:
            raise ValueError(f"params is missing blocks {missing}")
        first = params["v"]
        lead = tuple(first.shape[: first.ndim - len(self.blocks["v"].shape)])
        parts = [params[b.name].reshape(*lead, b.size) for b in self.blocks.values()]
        if _is_tensor(first):
            import torch

            return torch.cat(parts, dim=-1)
        return np.concatenate(parts, axis=-1)

    def weight_rows(self) -> list[tuple[int, int, int]]:
        """Return the "filters" of Li et al.: (start, stop, n_rows) of each weight matrix.

        Every block ``W_l``, ``P_l`` (rows = units) and ``v`` (one row: the
        output unit) is listed; biases (``b_l``, ``c``) are not.
        """
        out = []
        for b in self.blocks.values():
            if b.name[0] in "WP":
                out.append((b.start, b.stop, b.shape[0]))
            elif b.name == "v":
                out.append((b.start, b.stop, self.n_outputs))
        return out

    def bias_mask(self) -> np.ndarray:
        """Boolean mask of shape (N,), True on bias entries (``b_l`` and ``c``)."""
        mask = np.zeros(self.n_params, dtype=bool)
        for b in self.blocks.values():
            if b.name[0] == "b" or b.name == "c":
                mask[b.start : b.stop] = True
        return mask

    def init(self, rng, scale: float = 1.0, n_points: int | None = None) -> np.ndarray:
        """Random parameters: weights N(0, scale^2 / fan_in), biases N(0, scale^2 / 4).

        Parameters
        ----------
        rng : numpy.random.Generator or int
            Generator or seed.
        scale : float
            Overall scale (> 0).
        n_points : int or None
            None for one vector (N,), otherwise (n_points, N).

        Returns
        -------
        numpy.ndarray, float64

        Raises
        ------
        ValueError
            If ``scale`` is not a finite number > 0.
        """
        rng = np.random.default_rng(rng)
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
        K = 1 if n_points is None else int(n_points)
        theta = rng.standard_normal((K, self.n_params))
        for b in self.blocks.values():
            fan_in = b.shape[-1] if b.name == "v" else (b.shape[1] if len(b.shape) == 2 else 4)
            theta[:, b.start : b.stop] *= scale / np.sqrt(fan_in)
        return theta[0] if n_points is None else theta
