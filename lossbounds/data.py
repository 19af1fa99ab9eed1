"""Seeded synthetic datasets (no downloads).

Every generator takes the number of samples ``m``, the input dimension ``n``
(where it is free) and a ``seed``, and returns a :class:`Dataset` of float64
arrays. Equal seeds give equal data on every machine (numpy's PCG64 stream).

Which dataset for which purpose
-------------------------------
- :func:`make_regression`: a smooth target (a sine ridge) plus noise, for
  slices and samples. Minima of small sigmoidal networks on it may lie at
  infinity (saturated units), so they need not be strict.
- :func:`make_teacher_student`: targets produced by a network of the *same*
  architecture with moderate weights, plus small noise: a candidate interior
  strict minimum (when ``m >= n_params``) for the symmetry-orbit lower bound.
- :func:`make_xor`: binary labels in {0, 1} for sigmoid-output / BCE networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossbounds._checks import check_int, check_nonnegative

__all__ = [
    "Dataset",
    "check_data",
    "make_regression",
    "make_xor",
    "make_teacher_student",
]


@dataclass(frozen=True)
class Dataset:
    """Training data: inputs ``X`` of shape (m, n) and scalar targets ``y`` of shape (m,).

    Attributes
    ----------
    X : numpy.ndarray, shape (m, n), float64
        Inputs, one sample per row.
    y : numpy.ndarray, shape (m,), float64
        Targets (real values for regression, 0/1 or probabilities for classification).
    theta : numpy.ndarray of shape (N,) or None
        The teacher's flat parameter vector for teacher-student data (layout of
        :class:`lossbounds.models.ParamLayout`), otherwise None.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, ``y`` not 1-D, their lengths differ, either is
        empty, or either holds NaN or infinite values.
    """

    X: np.ndarray
    y: np.ndarray
    theta: np.ndarray | None = None

    def __post_init__(self):
        X = np.asarray(self.X, dtype=np.float64)
        y = np.asarray(self.y, dtype=np.float64)
        check_data(X, y)
        # Frozen dataclass: normalised copies are installed with object.__setattr__.
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        if self.theta is not None:
            object.__setattr__(self, "theta", np.asarray(self.theta, dtype=np.float64))

    @property
    def m(self) -> int:
        """Number of samples."""
        return self.X.shape[0]

    @property
    def n(self) -> int:
        """Input dimension."""
        return self.X.shape[1]


def check_data(X, y) -> None:
    """Raise ``ValueError`` unless ``X`` (m, n) and ``y`` (m,) are non-empty, finite and aligned."""
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array of shape (m, n), got shape {X.shape}")
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of shape (m,), got shape {y.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"X must be non-empty (m >= 1 samples, n >= 1 inputs), got shape {X.shape}"
        )
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y must have one target per row of X: X has {X.shape[0]} rows, y has {y.shape[0]}"
        )
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite (no NaN or infinite values)")
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite (no NaN or infinite values)")


def make_regression(m: int, n: int = 1, noise: float = 0.05, seed: int = 0) -> Dataset:
    """A smooth regression target: y = sin(pi * <x, w>) + noise, w = (1, ..., 1)/sqrt(n).

    Parameters
    ----------
    m, n : int
        Number of samples (>= 1) and input dimension (>= 1).
    noise : float
        Standard deviation of the additive Gaussian noise (>= 0).
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    Dataset
        ``X`` uniform on [-1, 1]^n, shape (m, n); ``y`` shape (m,).
    """
    m = check_int("m", m, 1)
    n = check_int("n", n, 1)
    noise = check_nonnegative("noise", noise)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(m, n))
    w = np.ones(n) / np.sqrt(n)
    y = np.sin(np.pi * X @ w) + noise * rng.standard_normal(m)
    return Dataset(X, y)


def make_xor(m: int, n: int = 2, noise: float = 0.1, seed: int = 0) -> Dataset:
    """XOR of the signs of the first two coordinates; further coordinates are pure noise.

    The four clusters sit at (+-1, +-1) with Gaussian spread ``noise``; the
    label is 1 when the two signs differ and 0 otherwise.

    Parameters
    ----------
    m : int
        Number of samples (>= 1).
    n : int
        Input dimension (>= 2).
    noise : float
        Standard deviation of the cluster spread (>= 0).
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    Dataset
        ``X`` shape (m, n), ``y`` in {0., 1.} shape (m,).
    """
    m = check_int("m", m, 1)
    n = check_int("n", n, 2)
    noise = check_nonnegative("noise", noise)
    rng = np.random.default_rng(seed)
    corners = rng.choice([-1.0, 1.0], size=(m, 2))
    X = noise * rng.standard_normal((m, n))
    X[:, :2] += corners
    y = (corners[:, 0] != corners[:, 1]).astype(np.float64)
    return Dataset(X, y)


def _teacher_theta(layout, rng, scale: float) -> np.ndarray:
    """Teacher weights with magnitudes bounded away from 0 (see make_teacher_student)."""
    theta = np.empty(layout.n_params)
    for b in layout.blocks.values():
        sl = slice(b.start, b.stop)
        if b.name[0] == "b" or b.name == "c":
            theta[sl] = rng.uniform(-0.5, 0.5, b.size) * scale
        else:
            fan_in = b.shape[1] if len(b.shape) == 2 else b.shape[0]
            sign = rng.choice([-1.0, 1.0], b.size)
            theta[sl] = sign * rng.uniform(0.5, 1.5, b.size) * scale / np.sqrt(fan_in)
    return theta


def make_teacher_student(
    arch, m: int, noise: float = 1e-2, seed: int = 0, weight_scale: float = 2.0
) -> Dataset:
    """Targets from a teacher network of architecture ``arch`` with moderate random weights.

    Inputs are standard normal. Every teacher weight of a layer with fan-in
    ``f`` (output weights included) is ``+-u * weight_scale / sqrt(f)`` with a
    random sign and ``u`` uniform in [0.5, 1.5]; biases are uniform in
    ``[-weight_scale/2, weight_scale/2]``. Pre-activations are O(1) and no
    weight is near zero, so units are neither dead, saturated nor linear, and
    the teacher is a candidate *interior* strict minimum of the student's
    loss when ``m >= n_params``. Strictness is not guaranteed: check the
    Hessian before relying on it. With a sigmoid output the targets are the teacher's
    probabilities plus noise, clipped to [0, 1].

    Parameters
    ----------
    arch : lossbounds.architecture.Architecture
        Teacher (and student) architecture; ``arch.n_inputs`` fixes n.
        ``arch.n_samples`` is not used: ``m`` is passed explicitly.
    m : int
        Number of samples (>= 1).
    noise : float
        Standard deviation of the Gaussian noise on the targets (>= 0).
    seed : int
        Seed for inputs, teacher weights and noise.
    weight_scale : float
        Scale of the teacher's weights (> 0).

    Returns
    -------
    Dataset
        ``X`` shape (m, n), ``y`` shape (m,), ``theta`` the teacher's flat
        parameters, shape (N,).
    """
    # Local import: models pulls in torch, data alone should not.
    from lossbounds.models import ParamLayout, forward_numpy

    m = check_int("m", m, 1)
    noise = check_nonnegative("noise", noise)
    weight_scale = float(weight_scale)
    if not np.isfinite(weight_scale) or weight_scale <= 0:
        raise ValueError(f"weight_scale must be a finite number > 0, got {weight_scale!r}")
    layout = ParamLayout(arch)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, arch.n_inputs))
    theta = _teacher_theta(layout, rng, weight_scale)
    out = forward_numpy(arch, theta, X)
    y = out + noise * rng.standard_normal(m)
    if arch.output == "sigmoid":
        y = np.clip(y, 0.0, 1.0)
    return Dataset(X, y, theta=theta)
