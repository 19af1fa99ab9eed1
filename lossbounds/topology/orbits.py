"""Sampled sublevel persistence around a symmetry orbit of a strict minimum.

The cloud: the orbit points, Hessian-shaped samples around the minimum
mapped to every orbit point by the group (a G-invariant cloud), points on
the straight segments between orbit points, and a box around the orbit.
H0 of a kNN graph's lower-star filtration (:func:`sample_persistence`)
then gives the components holding orbit points at a level and the levels
where they merge (notebook 09).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossbounds._checks import check_int, check_nonnegative
from lossbounds.landscape.sampling import sample_hessian_shaped, sample_points
from lossbounds.topology.diagrams import betti_numbers, count_long_bars, persistent_betti_numbers
from lossbounds.topology.persistence import sample_persistence

__all__ = ["OrbitPersistence", "orbit_persistence"]


@dataclass(frozen=True)
class OrbitPersistence:
    """H0 sublevel persistence of a cloud around an orbit, read at ``level``.

    Attributes
    ----------
    diagrams : list of ndarray
        ``[H0]`` diagram of the cloud (births and deaths are loss values).
    sizes : tuple of int
        Samples: orbit points, Hessian-shaped, on segments, in the box.
    level : float
        The level c read.
    b0 : int
        Raw b0 of the sampled sublevel set at c (spurious components included).
    b0_persistent : int
        Components of S_c still separate at ``loss + 10 eps`` (short-lived
        spurious ones left out).
    orbit_alive : int
        Components at c that hold an orbit point (classes born at the orbit
        level and alive at c).
    n_born : int
        Classes born at or below the orbit's loss (one per orbit point unless
        a sample lies lower).
    n_infinite : int
        Infinite bars (1: the kNN graph is connected).
    merge_levels : ndarray
        Deaths of the classes born at the orbit level, minus ``loss``, sorted
        (inf for the last one).
    segment_barriers : ndarray, shape (n_pairs,)
        Max of L - loss along each straight segment between two orbit points.
    """

    diagrams: list
    sizes: tuple
    level: float
    b0: int
    b0_persistent: int
    orbit_alive: int
    n_born: int
    n_infinite: int
    merge_levels: np.ndarray
    segment_barriers: np.ndarray

    @property
    def n_samples(self) -> int:
        """Size of the cloud."""
        return int(sum(self.sizes))


def _segments(orbit: np.ndarray, res: int) -> np.ndarray:
    """Interior points of the straight segments between every pair of orbit points, (pairs, res-2, N)."""
    ts = np.linspace(0.0, 1.0, res)
    pairs = [(i, j) for i in range(len(orbit)) for j in range(i + 1, len(orbit))]
    return np.stack([orbit[i] + ts[1:-1, None] * (orbit[j] - orbit[i]) for i, j in pairs])


def orbit_persistence(
    surface, theta, group, eps: float, n_local: int, n_box: int,
    segment_res: int = 201, k: int = 10, margin: float = 0.5, seed: int = 0,
) -> OrbitPersistence:  # fmt: skip
    """Measure the components of S_c, c = L(theta) + eps, that hold the orbit of ``theta``.

    Parameters
    ----------
    surface : LossSurface
        The loss; ``theta`` a strict minimum of it.
    theta : numpy.ndarray, shape (N,)
    group : SymmetryGroup
        Its orbit of ``theta`` is the set of orbit points.
    eps : float
        The level read, above the loss at ``theta`` (>= 0).
    n_local : int
        Hessian-shaped samples around ``theta`` (:func:`sample_hessian_shaped`),
        before mapping them to every orbit point.
    n_box : int
        Scrambled Sobol samples in the orbit's bounding box enlarged by ``margin``.
    segment_res : int
        Points per segment, end points included (>= 3).
    k : int
        Neighbours of the kNN graph.
    margin : float
        Enlargement of the box in every coordinate (>= 0).
    seed : int
        Seed of the local and the box samples.

    Returns
    -------
    OrbitPersistence
    """
    eps = check_nonnegative("eps", eps)
    theta = np.asarray(theta, dtype=np.float64)
    orbit = group.orbit(theta)
    loss = float(surface(theta[None])[0])
    local = sample_hessian_shaped(
        theta, surface.hessian(theta), check_int("n_local", n_local, 1), seed
    )
    local = np.concatenate([group.apply(local, g) for g in group.elements()])
    seg = _segments(orbit, check_int("segment_res", segment_res, 3))
    margin = check_nonnegative("margin", margin)
    box = sample_points(
        n_box, len(theta), region="box", low=orbit.min(0) - margin, high=orbit.max(0) + margin,
        seed=seed,
    )  # fmt: skip
    pts = np.concatenate([orbit, local, seg.reshape(-1, len(theta)), box])
    vals = surface(pts)
    dgm = sample_persistence(pts, vals, maxdim=0, k=k)
    top = vals[: len(orbit)].max()  # the orbit's level
    born = dgm[0][dgm[0][:, 0] <= top]
    c = loss + eps
    seg_vals = vals[len(orbit) + len(local) : len(orbit) + len(local) + seg[:, :, 0].size]
    return OrbitPersistence(
        diagrams=dgm,
        sizes=(len(orbit), len(local), seg[:, :, 0].size, len(box)),
        level=c,
        b0=int(betti_numbers(dgm, c)[0]),
        b0_persistent=int(persistent_betti_numbers(dgm, c, loss + 10 * eps)[0]),
        orbit_alive=int(persistent_betti_numbers(dgm, top, c)[0]),
        n_born=len(born),
        n_infinite=int(count_long_bars(dgm, np.inf)[0]),
        merge_levels=np.sort(born[:, 1]) - loss,
        segment_barriers=seg_vals.reshape(seg.shape[:2]).max(axis=1) - loss,
    )
