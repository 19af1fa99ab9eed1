"""Seeded synthetic datasets, and scikit-learn's bundled real datasets (no downloads).

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
- :func:`make_teacher`: targets from a fixed teacher network (its own width,
  depth and activation), drawn before and independently of the inputs; the
  data are nested in ``m`` (the first m rows of a larger draw), so "growth
  with m" compares one problem with more of its samples.
- :func:`make_xor`: binary labels in {0, 1} for sigmoid-output / BCE networks.
- :func:`load_dataset`: digits, iris, wine, breast cancer (binary, one class
  against the rest) and diabetes (regression), as shipped with scikit-learn,
  standardised, subsampled with a seed, optionally reduced to a few principal
  components.
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
    "make_teacher",
    "SKLEARN_DATASETS",
    "standardize",
    "principal_components",
    "load_dataset",
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
        :class:`lossbounds.landscape.layout.ParamLayout`), otherwise None.

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
        """Convert X and y to float64 arrays and check their shapes."""
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


def check_data(X, y, n_outputs: int = 1) -> None:
    """Raise ``ValueError`` unless ``X`` (m, n) and ``y`` are non-empty, finite and aligned.

    ``y`` has shape (m,) for ``n_outputs == 1`` and (m, C) for ``n_outputs = C > 1``.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array of shape (m, n), got shape {X.shape}")
    if n_outputs > 1 and (y.ndim != 2 or y.shape[1] != n_outputs):
        raise ValueError(
            f"y must have shape (m, C) with C = {n_outputs} outputs, got shape {y.shape}"
        )
    if n_outputs == 1 and y.ndim != 1:
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
    """Make a smooth regression target: y = sin(pi <x, w>) + noise, w = (1, ..., 1)/sqrt(n).

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
    arch : lossbounds.theory.architecture.Architecture
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
    # Local import: network pulls in torch, data alone should not.
    from lossbounds.landscape.layout import ParamLayout
    from lossbounds.landscape.network import forward_numpy

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


#: Separate seeded streams of :func:`make_teacher` (entropy ``[seed, stream]``).
_TEACHER_STREAM, _INPUT_STREAM, _NOISE_STREAM = 0, 1, 2


def make_teacher(
    m: int,
    seed: int,
    n_inputs: int = 1,
    teacher_width: int = 4,
    teacher_layers: int = 1,
    teacher_activation: str = "tanh",
    noise: float = 0.05,
    weight_scale: float = 2.0,
) -> Dataset:
    """Targets of a fixed teacher network; teacher, inputs and noise from independent streams.

    Three generators are seeded with ``numpy.random.default_rng([seed, k])``:
    ``k = 0`` draws the teacher's weights (as :func:`make_teacher_student`
    does, for ``Architecture(n_inputs, teacher_width, teacher_layers,
    activation=teacher_activation)`` with a linear output), ``k = 1`` the
    inputs ``X`` (standard normal, row after row) and ``k = 2`` the noise.
    So the teacher depends on ``seed`` and the teacher settings only, never
    on ``m``, and the data are nested: ``X``, the noise and ``y`` at ``m``
    are the first ``m`` rows of those at any larger ``m``.

    Parameters
    ----------
    m : int
        Number of samples (>= 1).
    seed : int
        Seed of the dataset (>= 0): one teacher and one input sequence per seed.
    n_inputs, teacher_width, teacher_layers : int
        Input dimension and the teacher's width and depth (>= 1).
    teacher_activation : str
        The teacher's activation (a name :class:`~lossbounds.theory.architecture.Architecture`
        accepts, e.g. "tanh", "sigmoid", "gelu").
    noise : float
        Standard deviation of the Gaussian noise on the targets (>= 0).
    weight_scale : float
        Scale of the teacher's weights (> 0), as in :func:`make_teacher_student`.

    Returns
    -------
    Dataset
        ``X`` shape (m, n_inputs), ``y`` shape (m,), ``theta`` the teacher's
        flat parameters.

    Raises
    ------
    ValueError
        For a bad ``m``, ``seed``, size, activation, ``noise`` or ``weight_scale``.
    """
    from lossbounds.landscape.layout import ParamLayout
    from lossbounds.landscape.network import forward_numpy
    from lossbounds.theory.architecture import Architecture

    m = check_int("m", m, 1)
    seed = check_int("seed", seed, 0)
    noise = check_nonnegative("noise", noise)
    weight_scale = float(weight_scale)
    if not np.isfinite(weight_scale) or weight_scale <= 0:
        raise ValueError(f"weight_scale must be a finite number > 0, got {weight_scale!r}")
    teacher = Architecture(
        n_inputs=check_int("n_inputs", n_inputs, 1),
        width=check_int("teacher_width", teacher_width, 1),
        hidden_layers=check_int("teacher_layers", teacher_layers, 1),
        n_samples=m,
        activation=teacher_activation,
        l2=False,
    )
    theta = _teacher_theta(
        ParamLayout(teacher), np.random.default_rng([seed, _TEACHER_STREAM]), weight_scale
    )
    X = np.random.default_rng([seed, _INPUT_STREAM]).standard_normal((m, teacher.n_inputs))
    eps = np.random.default_rng([seed, _NOISE_STREAM]).standard_normal(m)
    return Dataset(X, forward_numpy(teacher, theta, X) + noise * eps, theta=theta)


# ---------------------------------------------------------------------------
# real data: scikit-learn's bundled datasets (shipped with the package, no download)
# ---------------------------------------------------------------------------
#: Names accepted by :func:`load_dataset`.
SKLEARN_DATASETS = ("digits", "iris", "wine", "breast_cancer", "diabetes")

# Default class coded 1 by load_dataset (breast_cancer: scikit-learn's 1 = benign).
_DEFAULT_POSITIVE = {"digits": 0, "iris": 0, "wine": 0, "breast_cancer": 1}


def standardize(X) -> np.ndarray:
    """Columns of ``X`` (m, p) shifted to mean 0 and scaled to variance 1 (ddof 0).

    A column that is constant (standard deviation at most 1e-12 times its
    largest magnitude, or exactly zero) becomes all zeros instead of being
    divided by (almost) zero.

    Returns
    -------
    numpy.ndarray, shape (m, p), float64
    """
    X = np.asarray(X, dtype=np.float64)
    centred = X - X.mean(axis=0)
    std = centred.std(axis=0)
    scale = np.abs(X).max(axis=0, initial=0.0)
    constant = std <= 1e-12 * scale
    return np.where(constant, 0.0, centred / np.where(constant, 1.0, std))


def principal_components(X, k: int) -> np.ndarray:
    """Scores of the first ``k`` principal components of standardised ``X``, each of variance 1.

    ``X`` (m, p) is standardised (:func:`standardize`), decomposed by SVD,
    and projected on the k right singular vectors of largest singular value;
    each loading vector's sign is fixed so that its entry of largest
    magnitude is positive (deterministic across LAPACK builds), and each
    score column is standardised (a component of zero variance, k beyond
    the rank, is all zeros).

    Returns
    -------
    numpy.ndarray, shape (m, k), float64
    """
    Z = standardize(X)
    k = check_int("k", k, 1)
    if k > Z.shape[1]:
        raise ValueError(f"k must be at most the number of columns {Z.shape[1]}, got {k}")
    _, sing, vt = np.linalg.svd(Z, full_matrices=False)
    loadings = vt[:k]
    big = np.argmax(np.abs(loadings), axis=1)
    loadings = loadings * np.sign(loadings[np.arange(len(loadings)), big])[:, None]
    # Components at rounding level (beyond the rank) are zero, not amplified noise.
    null = sing[:k] <= sing[0] * max(Z.shape) * np.finfo(np.float64).eps
    loadings[null] = 0.0
    if len(loadings) < k:  # fewer rows than k: the missing components are zero
        loadings = np.vstack([loadings, np.zeros((k - len(loadings), Z.shape[1]))])
    return standardize(Z @ loadings.T)


def _binary_target(name: str, target: np.ndarray, positive_class) -> np.ndarray:
    """0/1 target of a classification set: 1 for ``positive_class``, 0 for the other classes."""
    classes = sorted(int(c) for c in np.unique(target))
    if positive_class is None:
        positive_class = _DEFAULT_POSITIVE[name]
    if isinstance(positive_class, bool) or positive_class not in classes:
        raise ValueError(
            f"positive_class for {name!r} must be one of {classes}, got {positive_class!r}"
        )
    return (target == positive_class).astype(np.float64)


def load_dataset(
    name: str, m: int | None = None, n_features: int | None = None, positive_class=None,
    seed: int = 0, multiclass: bool = False,
) -> Dataset:  # fmt: skip
    """Load a dataset bundled with scikit-learn (no download), standardised and subsampled.

    Steps: load ``sklearn.datasets.load_<name>()``; keep ``m`` rows drawn
    without replacement by ``numpy.random.default_rng(seed)`` (in their
    original order; all rows when ``m`` is None); standardise the columns of
    those rows (:func:`standardize`: mean 0, variance 1, constant columns
    zero); with ``n_features``, replace the inputs by the scores of the first
    ``n_features`` principal components of the standardised rows, each of
    variance 1 (:func:`principal_components`), so that tiny networks
    (n = 1, 2, 3 inputs) can use them.

    Targets: ``"diabetes"`` is regression (disease progression after one
    year), standardised over the kept rows. The others are classification
    sets, and the target is binary, one class against the rest:
    ``y = 1`` for samples of ``positive_class``, ``0`` otherwise (default
    class 0, i.e. digit 0, iris setosa, wine cultivar 0; for
    ``"breast_cancer"`` 1, scikit-learn's label of benign, so ``y`` is its
    0/1 label unchanged). Binary targets suit a sigmoid output with BCE or
    MSE. With ``multiclass=True`` the target is the class index instead
    (0..C-1, as float64), for ``loss="cross_entropy"`` with C outputs.

    Parameters
    ----------
    name : {"digits", "iris", "wine", "breast_cancer", "diabetes"}
        Dataset (sizes: 1797 x 64, 150 x 4, 178 x 13, 569 x 30, 442 x 10).
    m : int, optional
        Number of rows kept, 2 <= m <= the dataset's size.
    n_features : int, optional
        Number of principal components, 1 <= n_features <= the number of columns.
    positive_class : int, optional
        Class coded 1 (classification sets only).
    seed : int
        Seed of the subsample.
    multiclass : bool
        Class indices as targets (classification sets only; then
        ``positive_class`` must be None).

    Returns
    -------
    Dataset
        ``X`` shape (m, n_features or all columns), ``y`` shape (m,).

    Raises
    ------
    ValueError
        For an unknown name (listing the accepted ones), ``m`` out of range,
        ``n_features`` out of range, a ``positive_class`` that is not a class
        of the dataset, or one given for ``"diabetes"``.
    """
    if name not in SKLEARN_DATASETS:
        raise ValueError(f"name must be one of {', '.join(SKLEARN_DATASETS)}, got {name!r}")
    from sklearn import datasets  # local import: only this loader needs scikit-learn

    bunch = getattr(datasets, f"load_{name}")()
    X, target = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)
    total, p = X.shape
    if m is not None:
        m = check_int("m", m, 2)
        if m > total:
            raise ValueError(f"m must be at most the {total} samples of {name!r}, got {m}")
        rows = np.sort(np.random.default_rng(seed).choice(total, size=m, replace=False))
        X, target = X[rows], target[rows]
    if multiclass:
        if name == "diabetes" or positive_class is not None:
            raise ValueError(
                "multiclass=True needs a classification set (not 'diabetes') and "
                f"positive_class=None, got name={name!r}, positive_class={positive_class!r}"
            )
        y = np.asarray(target, dtype=np.float64)  # scikit-learn labels are 0..C-1
    elif name == "diabetes":
        if positive_class is not None:
            raise ValueError("positive_class must be None for 'diabetes' (a regression target)")
        y = standardize(target[:, None])[:, 0]
    else:
        y = _binary_target(name, target, positive_class)
    if n_features is None:
        return Dataset(standardize(X), y)
    n_features = check_int("n_features", n_features, 1)
    if n_features > p:
        raise ValueError(
            f"n_features must be at most the {p} columns of {name!r}, got {n_features}"
        )
    return Dataset(principal_components(X, n_features), y)
