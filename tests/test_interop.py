"""Tests for lossbounds.landscape.interop: surface files of Li et al.'s loss-landscape tools."""

import sys
import tomllib
from pathlib import Path

import h5py  # a dev dependency (and the [interop] extra)
import numpy as np
import pytest

from lossbounds.landscape.interop import (
    read_loss_landscape_h5,
    write_loss_landscape_h5,
    write_plane_slice_h5,
)
from lossbounds.topology.slices import PlaneSlice

ROOT = Path(__file__).resolve().parents[1]


def grid(nx=5, ny=3):
    """A non-square grid and values[i, j] = f(x[i], y[j]) with f known in closed form."""
    x = np.linspace(-1.0, 1.0, nx)
    y = np.linspace(-0.5, 2.0, ny)
    return x, y, x[:, None] + 10.0 * y[None, :] ** 2


def test_file_reads_like_their_plot_2d_and_h52vtp(tmp_path):
    x, y, values = grid()
    path = tmp_path / "surf.h5"
    write_loss_landscape_h5(path, x, y, values)
    with h5py.File(path, "r") as f:
        assert sorted(f.keys()) == ["train_loss", "xcoordinates", "ycoordinates"]
        fx, fy, Z = f["xcoordinates"][:], f["ycoordinates"][:], f["train_loss"][:]
    # plot_2D: X, Y = meshgrid(x, y); contour(X, Y, Z) needs Z of the mesh's shape
    X, Y = np.meshgrid(fx, fy)
    assert Z.shape == X.shape == (3, 5)
    np.testing.assert_array_equal(Z, X + 10.0 * Y**2)
    # h52vtp / scheduler: flat mesh order zipped with the flat values
    np.testing.assert_array_equal(Z.ravel(), X.ravel() + 10.0 * Y.ravel() ** 2)


def test_round_trip_and_their_writers_shape(tmp_path):
    x, y, values = grid()
    path = tmp_path / "surf.h5"
    write_loss_landscape_h5(path, x, y, values, surf_name="test_loss")
    rx, ry, rv = read_loss_landscape_h5(path, surf_name="test_loss")
    np.testing.assert_array_equal(rx, x)
    np.testing.assert_array_equal(ry, y)
    np.testing.assert_array_equal(rv, values)
    # their writer: dataset shape (nx, ny), filled in the mesh's flat order
    theirs = tmp_path / "theirs.h5"
    X, Y = np.meshgrid(x, y)
    with h5py.File(theirs, "w") as f:
        f["xcoordinates"], f["ycoordinates"] = x, y
        f["train_loss"] = (X + 10.0 * Y**2).ravel().reshape(len(x), len(y))
    np.testing.assert_array_equal(read_loss_landscape_h5(theirs)[2], values)


def test_plane_slice_and_1d_slice(tmp_path):
    x, y, values = grid(4, 6)
    plane = PlaneSlice(x, y, values, np.zeros(2), np.ones(2), np.ones(2))
    write_plane_slice_h5(tmp_path / "plane.h5", plane)
    np.testing.assert_array_equal(read_loss_landscape_h5(tmp_path / "plane.h5")[2], values)
    write_loss_landscape_h5(tmp_path / "line.h5", x, None, x**2)
    with h5py.File(tmp_path / "line.h5", "r") as f:
        assert "ycoordinates" not in f
        np.testing.assert_array_equal(f["train_loss"][:], x**2)
    rx, ry, rv = read_loss_landscape_h5(tmp_path / "line.h5")
    assert ry is None
    np.testing.assert_array_equal(rv, x**2)


@pytest.mark.parametrize(
    "args,match",
    [
        ((np.zeros((2, 2)), [0.0, 1.0], np.zeros((4, 2))), "xcoordinates must be a non-empty 1-D"),
        (([0.0, np.nan], [0.0, 1.0], np.zeros((2, 2))), "xcoordinates must be finite"),
        (([0.0, 1.0], [], np.zeros((2, 0))), "ycoordinates must be a non-empty 1-D"),
        (([0.0, 1.0], [0.0, 1.0, 2.0], np.zeros((3, 2))), r"values must have shape \(2, 3\)"),
        (([0.0, 1.0], None, np.zeros(3)), r"values must have shape \(2,\)"),
    ],
)
def test_write_refuses_bad_input(tmp_path, args, match):
    with pytest.raises(ValueError, match=match):
        write_loss_landscape_h5(tmp_path / "bad.h5", *args)
    assert not (tmp_path / "bad.h5").exists()


def test_bad_names_and_missing_datasets(tmp_path):
    x, y, values = grid()
    with pytest.raises(ValueError, match="surf_name must be a non-empty dataset name"):
        write_loss_landscape_h5(tmp_path / "s.h5", x, y, values, surf_name="xcoordinates")
    write_loss_landscape_h5(tmp_path / "s.h5", x, y, values)
    with pytest.raises(ValueError, match=r"no dataset 'test_loss' \(it has \['train_loss'"):
        read_loss_landscape_h5(tmp_path / "s.h5", surf_name="test_loss")
    with h5py.File(tmp_path / "short.h5", "w") as f:
        f["xcoordinates"], f["ycoordinates"], f["train_loss"] = x, y, np.zeros(7)
    with pytest.raises(ValueError, match="'train_loss' has 7 values, the coordinates span 15"):
        read_loss_landscape_h5(tmp_path / "short.h5")


def test_missing_h5py_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` raise ImportError
    x, y, values = grid()
    with pytest.raises(ImportError, match="pip install h5py"):
        write_loss_landscape_h5(tmp_path / "s.h5", x, y, values)
    with pytest.raises(ImportError, match=r"lossbounds\[interop\]"):
        read_loss_landscape_h5(tmp_path / "s.h5")


def test_interop_extra_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("h5py") for d in project["optional-dependencies"]["interop"])
    pins = (ROOT / "constraints.txt").read_text().splitlines()
    assert any(line.startswith("h5py==") for line in pins)
