"""Validation functions whose sublevel sets have known Betti numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import special_ortho_group

from lossbounds._checks import check_int
from lossbounds.topology.persistence import graph_persistence

__all__ = [
    "KnownShape",
    "known_shapes",
    "four_wells",
    "solid_torus",
    "DoubleWells",
    "tilted_double_wells",
    "gaussian_wells",
    "mueller_brown",
    "MUELLER_BROWN_CRITICAL",
    "embedded_saddle",
    "himmelblau",
    "HIMMELBLAU_CRITICAL",
    "lennard_jones",
    "LJ7_MINIMA",
]


@dataclass(frozen=True)
class KnownShape:
    """A function on a box whose sublevel sets have known Betti numbers.

    Attributes
    ----------
    name : str
    dim : int
        Ambient dimension d.
    func : callable
        Maps points of shape (n, d) to values of shape (n,).
    low, high : tuple of float
        Box corners (length d); samples are drawn uniformly in the box.
    level : float
        The level c at which the estimate is checked.
    betti : tuple of int
        (b0, b1) of ``{x in box : func(x) <= c}`` for every c in ``window``.
    window : tuple of float
        Open interval of levels on which the sublevel topology is constant
        (derived by hand in :func:`known_shapes`).
    delta : float
        Half-width used by the estimate
        ``persistent_betti_numbers(dgms, level - delta, level + delta)``;
        ``[level - 2 delta, level + 2 delta]`` lies inside ``window``.
    n_samples : int
        Default sample size (validated in notebook 04 and the tests).
    description : str
        The set in words.
    """

    name: str
    dim: int
    func: Callable[[np.ndarray], np.ndarray]
    low: tuple
    high: tuple
    level: float
    betti: tuple
    window: tuple
    delta: float
    n_samples: int
    description: str

    def sample(self, n: int | None = None, seed: int = 0):
        """Draw ``n`` (default ``n_samples``) uniform points in the box.

        Returns
        -------
        points : ndarray, shape (n, dim)
        values : ndarray, shape (n,)
        """
        n = self.n_samples if n is None else int(n)
        rng = np.random.default_rng(seed)
        pts = rng.uniform(self.low, self.high, size=(n, self.dim))
        return pts, self.func(pts)

    def grid(self, m: int):
        """Evaluate the function on an ``m``-per-axis grid over the box.

        Returns
        -------
        ndarray, shape (m,) * dim
        """
        axes = [np.linspace(lo, hi, int(m)) for lo, hi in zip(self.low, self.high, strict=True)]
        mesh = np.meshgrid(*axes, indexing="ij")
        pts = np.stack([g.ravel() for g in mesh], axis=1)
        return self.func(pts).reshape((int(m),) * self.dim)


def _ring(p, center=(0.0, 0.0), radius=1.0):
    r = np.hypot(p[:, 0] - center[0], p[:, 1] - center[1])
    return (r - radius) ** 2


def _wells(centers):
    centers = np.asarray(centers, dtype=np.float64)

    def f(p):
        return np.min(((p[:, None, :] - centers[None, :, :]) ** 2).sum(-1), axis=1)

    return f


def _torus_xy(p):
    # core: unit circle in the plane x1-x2 centred at the origin; a ball in the other coordinates
    return (np.hypot(p[:, 0], p[:, 1]) - 1.0) ** 2 + (p[:, 2:] ** 2).sum(1)


def _torus_xz(p):
    # core: unit circle in the plane y = 0 centred at (1, 0, 0)
    return (np.hypot(p[:, 0] - 1.0, p[:, 2]) - 1.0) ** 2 + p[:, 1] ** 2


def _shell(p):
    return (np.linalg.norm(p, axis=1) - 1.0) ** 2


def _two_rings(p):
    return np.minimum(_ring(p, (-1.6, 0.0)), _ring(p, (1.6, 0.0)))


def _hopf(p):
    return np.minimum(_torus_xy(p), _torus_xz(p))


_FOUR_CENTRES = [[1, 1], [1, -1], [-1, 1], [-1, -1]]


def four_wells(dim: int, n_samples: int = 20000) -> KnownShape:
    """Return four wells ``min_i |x - m_i|^2``, centres (+-1, +-1, 0, ..., 0) in R^dim.

    The centres are 2 apart, so for 0 < c < 1 the sublevel set is four
    disjoint balls of radius sqrt(c) cut by the box ``[-1.8, 1.8]^2 x
    [-0.8, 0.8]^(dim-2)`` (convex pieces): b0 = 4, read at c = 1/4.
    ``delta`` is NaN: the window of the estimate comes from the samples
    (:func:`lossbounds.topology.diagrams.windowed_betti`).

    Parameters
    ----------
    dim : int
        Ambient dimension (>= 2).
    n_samples : int
        Default sample size.

    Returns
    -------
    KnownShape
        ``betti = (4,)``.
    """
    dim = check_int("dim", dim, 2)
    centres = np.zeros((4, dim))
    centres[:, :2] = _FOUR_CENTRES
    low, high = (-1.8, -1.8) + (-0.8,) * (dim - 2), (1.8, 1.8) + (0.8,) * (dim - 2)
    return KnownShape(
        f"wells{dim}", dim, _wells(centres), low, high,
        level=0.25, betti=(4,), window=(0.0, 1.0), delta=float("nan"), n_samples=n_samples,
        description=f"four disjoint balls of radius 0.5 in R^{dim}",
    )  # fmt: skip


def solid_torus(dim: int, n_samples: int = 20000) -> KnownShape:
    """Return a solid torus S^1 x B^(dim-1) in R^dim: ``(|(x1, x2)| - 1)^2 + sum_{i>=3} x_i^2``.

    In the box ``[-1.6, 1.6]^2 x [-0.6, 0.6]^(dim-2)``, (b0, b1) = (1, 1) for
    0 < c < 1, read at c = 0.09 (tube radius 0.3). ``delta`` is NaN as in
    :func:`four_wells`.

    Parameters
    ----------
    dim : int
        Ambient dimension (>= 3).
    n_samples : int
        Default sample size.

    Returns
    -------
    KnownShape
    """
    dim = check_int("dim", dim, 3)
    low, high = (-1.6, -1.6) + (-0.6,) * (dim - 2), (1.6, 1.6) + (0.6,) * (dim - 2)
    return KnownShape(
        f"solid_torus{dim}", dim, _torus_xy, low, high,
        level=0.09, betti=(1, 1), window=(0.0, 1.0), delta=float("nan"), n_samples=n_samples,
        description=f"S^1 x B^{dim - 1}, tube radius 0.3 at c = 0.09",
    )  # fmt: skip


def known_shapes(include_h2: bool = False) -> dict[str, KnownShape]:
    """Functions whose sublevel sets have known Betti numbers on a window of levels.

    Windows (derived by hand; the box never changes the topology there):

    - ``annulus`` (R^2): ``(|x| - 1)^2``; for 0 < c < 1 the set is the annulus
      ``1 - sqrt(c) <= |x| <= 1 + sqrt(c)``, (b0, b1) = (1, 1); the hole fills
      at c = 1 (value at the origin).
    - ``two_annuli`` (R^2): min of two such rings centred at (+-1.6, 0); they
      touch at c = 0.6^2 = 0.36: (2, 2) on (0, 0.36).
    - ``wells2`` (R^2): ``min_i |x - m_i|^2``, 3 centres 1.2 from the origin,
      2.08 apart: three discs, (3, 0) on (0, 1.039^2 = 1.08).
    - ``wells4`` (R^4): 4 centres (+-1, +-1, 0, 0), neighbours 2 apart:
      four balls, (4, 0) on (0, 1); the box is thinner along x3, x4 (a
      slab cut of a ball is still convex).
    - ``solid_torus`` (R^3): ``(sqrt(x^2 + y^2) - 1)^2 + z^2``: solid torus,
      (1, 1) on (0, 1).
    - ``linked_rings`` (R^3): min of two solid-torus functions with cores the
      unit circle in z = 0 and the unit circle in y = 0 centred at (1, 0, 0),
      a Hopf link. Every point of one core is at distance exactly 1 from the
      other core (for the point (cos t, sin t, 0):
      ``(|cos t - 1| - 1)^2 + sin^2 t = 1``), so the tubes of radius sqrt(c)
      are disjoint for c < 0.25: two linked solid tori, (2, 2) on (0, 0.25).
    - ``spherical_shell`` (R^3, only with ``include_h2=True``): ``(|x| - 1)^2``,
      a thick sphere, (b0, b1, b2) = (1, 0, 1) on (0, 1). Its void is *not*
      recovered by the kNN flag complex, whose own voids swamp H2 (notebook
      04); use ``method="delaunay"``.

    Parameters
    ----------
    include_h2 : bool
        Also return the shapes whose ``betti`` has three entries (b0, b1, b2).

    Returns
    -------
    dict of str to KnownShape
    """
    ang = np.deg2rad([90.0, 210.0, 330.0])
    c3 = np.column_stack([1.2 * np.cos(ang), 1.2 * np.sin(ang)])
    c4 = np.array([[1, 1, 0, 0], [1, -1, 0, 0], [-1, 1, 0, 0], [-1, -1, 0, 0]], dtype=np.float64)
    shapes = [
        KnownShape(
            "annulus", 2, _ring, (-2.0, -2.0), (2.0, 2.0),
            level=0.09, betti=(1, 1), window=(0.0, 1.0), delta=0.04, n_samples=2000,
            description="annulus 0.7 <= |x| <= 1.3",
        ),
        KnownShape(
            "two_annuli", 2, _two_rings, (-3.0, -1.6), (3.0, 1.6),
            level=0.09, betti=(2, 2), window=(0.0, 0.36), delta=0.04, n_samples=2000,
            description="two disjoint annuli, radii 0.7..1.3, centred at (+-1.6, 0)",
        ),
        KnownShape(
            "wells2", 2, _wells(c3), (-2.2, -2.2), (2.2, 2.2),
            level=0.25, betti=(3, 0), window=(0.0, 1.08), delta=0.1, n_samples=2000,
            description="three disjoint discs of radius 0.5",
        ),
        KnownShape(
            "wells4", 4, _wells(c4), (-1.8, -1.8, -0.8, -0.8), (1.8, 1.8, 0.8, 0.8),
            level=0.25, betti=(4, 0), window=(0.0, 1.0), delta=0.1, n_samples=10000,
            description="four disjoint balls of radius 0.5 in R^4",
        ),
        KnownShape(
            "solid_torus", 3, _torus_xy, (-1.6, -1.6, -0.6), (1.6, 1.6, 0.6),
            level=0.09, betti=(1, 1), window=(0.0, 1.0), delta=0.04, n_samples=10000,
            description="solid torus, core radius 1, tube radius 0.3",
        ),
        KnownShape(
            "linked_rings", 3, _hopf, (-1.4, -1.4, -1.4), (2.4, 1.4, 1.4),
            level=0.0625, betti=(2, 2), window=(0.0, 0.25), delta=0.03, n_samples=20000,
            description="two disjoint linked solid tori (Hopf link), tube radius 0.25",
        ),
    ]  # fmt: skip
    if include_h2:
        shapes.append(
            KnownShape(
                "spherical_shell", 3, _shell, (-1.6, -1.6, -1.6), (1.6, 1.6, 1.6),
                level=0.09, betti=(1, 0, 1), window=(0.0, 1.0), delta=0.04, n_samples=4000,
                description="spherical shell 0.7 <= |x| <= 1.3",
            )
        )  # fmt: skip
    return {s.name: s for s in shapes}


@dataclass(frozen=True)
class DoubleWells:
    """Rotated separable tilted double wells ``f(x) = sum_j g_j((Q x)_j)`` on R^d.

    ``g_j(t) = (t^2 - 1)^2 + eps_j t``. With ``0 < |eps_j| < 8 / sqrt(27)``
    each g_j has two minima and one maximum, the roots of ``4t^3 - 4t + eps_j``;
    f has the 2^d minima ``Q^T y`` with every ``y_j`` at a minimum of g_j and
    an index-1 saddle on every edge of that hypercube (one coordinate at the
    maximum of its g_j). Sublevel sets of a separable sum of one-dimensional
    double wells are joined through those saddles only, so union-find over
    the hypercube edges gives the exact H0 diagram.

    Attributes
    ----------
    Q : numpy.ndarray, shape (d, d)
        Rotation.
    eps : numpy.ndarray, shape (d,)
        Tilts.
    """

    Q: np.ndarray
    eps: np.ndarray

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Values (K,) at points x (K, d), differentiable."""
        y = x @ torch.as_tensor(self.Q, dtype=x.dtype).T
        return ((y * y - 1.0) ** 2 + torch.as_tensor(self.eps, dtype=x.dtype) * y).sum(dim=-1)

    def critical_levels(self) -> tuple[np.ndarray, np.ndarray]:
        """Critical points t (d, 3) of every g_j, ascending, and g_j there (d, 3)."""
        t = np.stack([np.sort(np.roots([4.0, 0.0, -4.0, e]).real) for e in self.eps])
        return t, (t * t - 1.0) ** 2 + self.eps[:, None] * t

    def critical_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return all 3^d critical points (3^d, d), their values (3^d,) and Morse indices (3^d,).

        Digit j (base 3) of the row index picks the lower minimum (0), the
        maximum (1) or the upper minimum (2) of g_j; the index is the number
        of coordinates at a maximum.
        """
        d = len(self.eps)
        t, g = self.critical_levels()
        digits = (np.arange(3**d)[:, None] // 3 ** np.arange(d)) % 3
        y = np.take_along_axis(t, digits.T, axis=1).T
        values = np.take_along_axis(g, digits.T, axis=1).T.sum(axis=1)
        return y @ self.Q, values, (digits == 1).sum(axis=1)

    def minima(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the 2^d minima (2^d, d) and their values (2^d,).

        Bit j of the row index picks the upper well of coordinate j.
        """
        d = len(self.eps)
        t, g = self.critical_levels()
        bits = (np.arange(2**d)[:, None] >> np.arange(d)) & 1
        y = np.where(bits == 1, t[:, 2], t[:, 0])
        return y @ self.Q, np.where(bits == 1, g[:, 2], g[:, 0]).sum(axis=1)

    def exact_diagram(self) -> np.ndarray:
        """Exact H0 diagram (2^d, 2) (same convention as :meth:`lossbounds.topology.connectivity.MergeTree.diagram`)."""
        d = len(self.eps)
        _, g = self.critical_levels()
        _, values = self.minima()
        low, j = np.nonzero(((np.arange(2**d)[:, None] >> np.arange(d)) & 1) == 0)
        saddle = values[low] - g[j, 0] + g[j, 1]  # coordinate j moved to its maximum
        edges = np.stack([low, low | (1 << j)], axis=1)
        return graph_persistence(values, edges, maxdim=0, edge_values=saddle)[0]


def tilted_double_wells(d: int, seed: int = 0, tilt=(0.1, 0.5)) -> DoubleWells:
    """Build a :class:`DoubleWells` with a random rotation and random tilts.

    Parameters
    ----------
    d : int
        Dimension (1 <= d <= 20).
    seed : int
        Seed of the rotation (Haar, ``scipy.stats.special_ortho_group``) and
        the tilts.
    tilt : (float, float)
        ``|eps_j|`` uniform in this range, random signs; ``0 < low < high < 1.5``.

    Returns
    -------
    DoubleWells
    """
    d = check_int("d", d, 1)
    if d > 20:
        raise ValueError(f"d must be <= 20 (2^d minima), got {d}")
    lo, hi = (float(v) for v in tilt)
    if not 0 < lo < hi < 1.5:
        raise ValueError(f"tilt must be (low, high) with 0 < low < high < 1.5, got {tilt!r}")
    rng = np.random.default_rng(seed)
    eps = rng.uniform(lo, hi, d) * rng.choice([-1.0, 1.0], d)
    Q = special_ortho_group.rvs(d, random_state=rng) if d > 1 else np.ones((1, 1))
    return DoubleWells(np.asarray(Q, dtype=np.float64), eps)


# Mueller-Brown potential (K. Mueller and L. D. Brown, Theor. Chim. Acta 53, 75 (1979))
_MB_A = (-200.0, -100.0, -170.0, 15.0)
_MB_a = (-1.0, -1.0, -6.5, 0.7)
_MB_b = (0.0, 0.0, 11.0, 0.6)
_MB_c = (-10.0, -10.0, -6.5, 0.7)
_MB_x0 = (1.0, 0.0, -0.5, -1.0)
_MB_y0 = (0.0, 0.5, 1.5, 1.0)

#: Published critical points of :func:`mueller_brown` (x, y, value, Morse index), to the
#: precision of the literature (3 decimals in x, y; 2 in the value): three minima, two
#: index-1 saddles.
MUELLER_BROWN_CRITICAL = np.array(
    [
        [-0.558, 1.442, -146.70, 0],
        [0.623, 0.028, -108.17, 0],
        [-0.050, 0.467, -80.77, 0],
        [-0.822, 0.624, -40.67, 1],
        [0.212, 0.293, -72.25, 1],
    ]
)


def embedded_saddle(d: int, seed: int = 0, sign: float = 1.0):
    """Return a curved 2-D double well plus a positive-definite quadratic in d - 2 dims, rotated.

    ``F(a, b, z) = (a^2 - 1)^2 + sign (b - a^2/2)^2 + z^T Q z / 2 + a^2 ||z||^2 / 10`` at
    ``(a, b, z) = R^T (x - c)``, with R a seeded random orthogonal matrix, Q of
    eigenvalues 0.5 and ``linspace(1, 5, d - 3)`` and c a seeded normal vector.
    For ``sign=1`` its index-1 saddle is x = c, value 1, Hessian eigenvalues
    -4, 0.5, 1, ..., 5 (the one between the minima at a = +-1, b = 1/2, z = 0, value
    0); for ``sign=-1``, x = c is an index-2 critical point (eigenvalues -4, -2, 0.5, ...).

    Parameters
    ----------
    d : int
        Dimension (>= 4).
    seed : int
    sign : float

    Returns
    -------
    f : callable
        Batched (K, d) float64 tensor -> (K,), works under ``torch.func``.
    c : numpy.ndarray, shape (d,)
        The critical point.
    """
    d = check_int("d", d, 4)
    rng = np.random.default_rng(seed)
    R, _ = np.linalg.qr(rng.standard_normal((d, d)))
    S, _ = np.linalg.qr(rng.standard_normal((d - 2, d - 2)))
    Q = (S * np.concatenate([[0.5], np.linspace(1.0, 5.0, d - 3)])) @ S.T
    c = rng.standard_normal(d)
    Rt, Qt, ct = (torch.as_tensor(a) for a in (R, Q, c))

    def f(X):
        Y = (X - ct.to(X.device)) @ Rt.to(X.device)
        a, b, z = Y[:, 0], Y[:, 1], Y[:, 2:]
        quad = 0.5 * ((z @ Qt.to(X.device)) * z).sum(1) + 0.1 * a**2 * (z * z).sum(1)
        return (a**2 - 1) ** 2 + sign * (b - a**2 / 2) ** 2 + quad

    return f, c


def mueller_brown(x: torch.Tensor) -> torch.Tensor:
    """Mueller-Brown potential at points x (K, 2) -> (K,), differentiable.

    ``sum_i A_i exp(a_i (x - x0_i)^2 + b_i (x - x0_i)(y - y0_i) + c_i (y - y0_i)^2)``
    with the four terms of Mueller and Brown (1979); see
    :data:`MUELLER_BROWN_CRITICAL`.
    """
    out = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for A, a, b, c, x0, y0 in zip(_MB_A, _MB_a, _MB_b, _MB_c, _MB_x0, _MB_y0, strict=True):
        dx, dy = x[:, 0] - x0, x[:, 1] - y0
        out = out + A * torch.exp(a * dx * dx + b * dx * dy + c * dy * dy)
    return out


#: Published critical points of :func:`himmelblau` (x, y, value, Morse index): the four
#: minima (value 0) and the maximum (value 181.617) as listed with the function
#: (Himmelblau 1972; 6 decimals in x, y).
HIMMELBLAU_CRITICAL = np.array(
    [
        [3.0, 2.0, 0.0, 0],
        [-2.805118, 3.131312, 0.0, 0],
        [-3.779310, -3.283186, 0.0, 0],
        [3.584428, -1.848126, 0.0, 0],
        [-0.270845, -0.923039, 181.617, 2],
    ]
)


def himmelblau(x: torch.Tensor) -> torch.Tensor:
    """Himmelblau's function ``(x^2 + y - 11)^2 + (x + y^2 - 7)^2`` at x (K, 2) -> (K,).

    Nine critical points: four minima (value 0), four index-1 saddles and
    one maximum (see :data:`HIMMELBLAU_CRITICAL`).
    """
    a = x[:, 0] * x[:, 0] + x[:, 1] - 11.0
    b = x[:, 0] + x[:, 1] * x[:, 1] - 7.0
    return a * a + b * b


#: The four minimum energies of the 7-atom Lennard-Jones cluster (epsilon = sigma = 1,
#: pair energy ``4 (r^-12 - r^-6)``), Cambridge Cluster Database (Wales and Doye):
#: pentagonal bipyramid, capped octahedron, tricapped tetrahedron, bicapped trigonal bipyramid.
LJ7_MINIMA = np.array([-16.50538417, -15.93504306, -15.59321094, -15.53306005])


def lennard_jones(x: torch.Tensor) -> torch.Tensor:
    """Lennard-Jones cluster energy ``sum_{i<j} 4 (r_ij^-12 - r_ij^-6)`` at x (K, 3n) -> (K,).

    Each row holds the coordinates of n atoms (x1, y1, z1, x2, ...). Every
    minimum has six zero Hessian modes (translations and rotations).
    """
    K, d = x.shape
    if d % 3:
        raise ValueError(f"x must have 3n columns (n atoms in R^3), got {d}")
    n = d // 3
    P = x.reshape(K, n, 3)
    i, j = torch.triu_indices(n, n, offset=1, device=x.device)
    r2 = ((P[:, i] - P[:, j]) ** 2).sum(dim=-1)
    inv6 = r2.reciprocal() ** 3
    return (4.0 * (inv6 * inv6 - inv6)).sum(dim=1)


_GW_CENTRES = ((-1.5, 0.0), (1.2, 0.6), (0.2, -1.3), (0.3, 1.4))
_GW_DEPTHS = (1.0, 0.8, 0.9, 0.6)
_GW_WIDTHS = (0.5, 0.4, 0.45, 0.35)


def gaussian_wells(x: torch.Tensor) -> torch.Tensor:
    """Four Gaussian wells in a shallow bowl on R^2, at x (K, 2) -> (K,), differentiable.

    ``f(x) = -sum_i a_i exp(-|x - c_i|^2 / (2 s_i^2)) + 0.05 |x|^2`` with centres
    (-1.5, 0), (1.2, 0.6), (0.2, -1.3), (0.3, 1.4), depths 1, 0.8, 0.9, 0.6 and
    widths 0.5, 0.4, 0.45, 0.35: four minima (notebook 10 compares its merge
    tree with fine-grid persistence).
    """
    c = torch.tensor(_GW_CENTRES, dtype=x.dtype, device=x.device)
    a = torch.tensor(_GW_DEPTHS, dtype=x.dtype, device=x.device)
    s2 = torch.tensor(_GW_WIDTHS, dtype=x.dtype, device=x.device) ** 2
    r2 = ((x[:, None, :] - c[None]) ** 2).sum(-1)
    return -(a * torch.exp(-r2 / (2 * s2))).sum(-1) + 0.05 * (x * x).sum(-1)
