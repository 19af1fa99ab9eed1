"""Slices in the HDF5 layout of Li et al.'s loss-landscape tools.

Li, Xu, Taylor, Studer, Goldstein, "Visualizing the Loss Landscape of Neural
Nets" (NeurIPS 2018) ship scripts that plot a surface file (contours,
heat maps, 3-D surfaces) and convert it for ParaView. A surface file is an
HDF5 file with

- ``xcoordinates``: 1-D, the nx coordinates along the first direction;
- ``ycoordinates``: 1-D, the ny coordinates along the second direction
  (absent for a 1-D slice);
- ``train_loss``: the loss values.

Orientation. Their plotting code builds ``X, Y = numpy.meshgrid(x, y)``
(shape (ny, nx)) and plots ``train_loss`` against it, and their scheduler
fills the values in the flat order of that mesh: flat index ``iy * nx + ix``
holds the loss at ``(x[ix], y[iy])``. Their own writer allocates the
dataset with shape (nx, ny), which only agrees with that flat order for
square grids; :func:`write_loss_landscape_h5` writes shape (ny, nx),
``train_loss[iy, ix] = L(x[ix], y[iy])``, the shape their contour and
ParaView scripts need for any grid. The package's convention
(:class:`lossbounds.topology.slices.PlaneSlice`) is the transpose,
``values[i, j] = L(alphas[i], betas[j])``; the functions here take and
return that convention and transpose on the way.

h5py is an optional dependency (``pip install h5py`` or
``pip install "lossbounds[interop]"``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["write_loss_landscape_h5", "write_plane_slice_h5", "read_loss_landscape_h5"]


def _h5py():
    """Import h5py, or raise ImportError saying how to install it."""
    try:
        import h5py
    except ImportError as exc:
        raise ImportError(
            "lossbounds.landscape.interop needs the optional package h5py: pip install h5py "
            '(or pip install "lossbounds[interop]")'
        ) from exc
    return h5py


def _coordinates(name: str, values) -> np.ndarray:
    """Return a non-empty, finite 1-D float64 array, or raise ValueError naming ``name``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def write_loss_landscape_h5(
    path, xcoordinates, ycoordinates, values, surf_name: str = "train_loss"
) -> None:
    """Write a 1-D or 2-D slice as a loss-landscape surface file (created or overwritten).

    Parameters
    ----------
    path : str or os.PathLike
        File to write.
    xcoordinates : array, shape (nx,)
        Coordinates along the first direction (finite).
    ycoordinates : array of shape (ny,), or None
        Coordinates along the second direction; None for a 1-D slice.
    values : array, shape (nx, ny), or (nx,) for a 1-D slice
        ``values[i, j]`` the loss at ``(xcoordinates[i], ycoordinates[j])``
        (the package's convention; the file holds the transpose, see the
        module docstring).
    surf_name : str
        Dataset name of the values (``"train_loss"`` is what the plotting
        scripts read by default; ``"test_loss"`` etc. also exist there).

    Raises
    ------
    ValueError
        For coordinates that are not finite 1-D arrays, values of the wrong
        shape, or an empty ``surf_name`` or one that clashes with a coordinate.
    ImportError
        When h5py is not installed (the message says how to install it).
    """
    x = _coordinates("xcoordinates", xcoordinates)
    vals = np.asarray(values, dtype=np.float64)
    if ycoordinates is None:
        expected, data = (x.size,), vals
    else:
        y = _coordinates("ycoordinates", ycoordinates)
        expected, data = (x.size, y.size), vals.T
    if vals.shape != expected:
        raise ValueError(
            f"values must have shape {expected} (len(xcoordinates), len(ycoordinates)), "
            f"got {vals.shape}"
        )
    if not isinstance(surf_name, str) or surf_name in ("", "xcoordinates", "ycoordinates"):
        raise ValueError(
            f"surf_name must be a non-empty dataset name other than the coordinates, "
            f"got {surf_name!r}"
        )
    h5py = _h5py()
    with h5py.File(path, "w") as f:
        f["xcoordinates"] = x
        if ycoordinates is not None:
            f["ycoordinates"] = y
        f[surf_name] = np.ascontiguousarray(data)


def write_plane_slice_h5(path, plane, surf_name: str = "train_loss") -> None:
    """Write a :class:`lossbounds.topology.slices.PlaneSlice` as a surface file.

    ``plane.alphas`` become ``xcoordinates``, ``plane.betas``
    ``ycoordinates``; see :func:`write_loss_landscape_h5`.
    """
    write_loss_landscape_h5(path, plane.alphas, plane.betas, plane.values, surf_name=surf_name)


def read_loss_landscape_h5(path, surf_name: str = "train_loss"):
    """Read a surface file (written here or by Li et al.'s tools).

    The values are read in the flat order their tools fill (``iy * nx + ix``
    holds ``(x[ix], y[iy])``), whatever the stored shape, (ny, nx) or their
    writer's (nx, ny).

    Parameters
    ----------
    path : str or os.PathLike
        Surface file.
    surf_name : str
        Dataset of the values.

    Returns
    -------
    xcoordinates : numpy.ndarray, shape (nx,)
    ycoordinates : numpy.ndarray of shape (ny,), or None for a 1-D file
    values : numpy.ndarray, shape (nx, ny) or (nx,)
        ``values[i, j]`` at ``(xcoordinates[i], ycoordinates[j])``.

    Raises
    ------
    ValueError
        When the file lacks ``xcoordinates`` or ``surf_name``, or their sizes disagree.
    ImportError
        When h5py is not installed.
    """
    h5py = _h5py()
    with h5py.File(path, "r") as f:
        for key in ("xcoordinates", surf_name):
            if key not in f:
                raise ValueError(f"{path} has no dataset {key!r} (it has {sorted(f.keys())})")
        x = np.asarray(f["xcoordinates"][:], dtype=np.float64)
        y = np.asarray(f["ycoordinates"][:], dtype=np.float64) if "ycoordinates" in f else None
        flat = np.asarray(f[surf_name][...], dtype=np.float64).ravel()
    size = x.size * (1 if y is None else y.size)
    if flat.size != size:
        raise ValueError(
            f"{surf_name!r} has {flat.size} values, the coordinates span {size} points"
        )
    if y is None:
        return x, None, flat
    return x, y, flat.reshape(y.size, x.size).T
