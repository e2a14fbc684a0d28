"""StatSTEM ``.mat`` input files (v5 struct ``input``, top-level variables, v7.3 HDF5) and errors."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
from scipy.io import savemat

from atomcount.core.errors import AtomcountError
from atomcount.io import read_image


@pytest.fixture(scope="module")
def image():
    """Non-square, so a missing transpose of MATLAB's column-major storage shows."""
    return np.random.default_rng(8).normal(0.05, 0.01, size=(40, 52))


def _write_v73(path, variables):
    """A MATLAB v7.3 file: 512-byte user block with the MAT header, then HDF5, arrays column-major."""
    with h5py.File(path, "w", userblock_size=512) as f:
        group = f.create_group("input")
        for name, value in variables.items():
            group[name] = np.asarray(value).T
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as f:
        f.write(header.ljust(116) + b"\0" * 8 + b"\x00\x02IM")


@pytest.mark.parametrize("layout", ["struct", "top_level", "v7.3"])
def test_round_trip(tmp_path, image, layout):
    path = tmp_path / "in.mat"
    if layout == "struct":
        savemat(path, {"input": {"obs": image, "dx": 0.1211, "coordinates": np.zeros((3, 3))}})
    elif layout == "top_level":
        savemat(path, {"obs": image, "dx": np.array([[0.34]]), "model": image})
    else:
        _write_v73(path, {"obs": image, "dx": np.array([[0.1211]])})
    read = read_image(path)
    np.testing.assert_allclose(read.data, image.astype(np.float32))
    assert read.pixel_size == pytest.approx(0.34 if layout == "top_level" else 0.1211)
    assert read.metadata["format"] == "StatSTEM MAT"


def test_missing_dx_needs_a_pixel_size(tmp_path, image):
    savemat(tmp_path / "a.mat", {"input": {"obs": image}})
    with pytest.raises(AtomcountError, match="no pixel size.*no 'dx'"):
        read_image(tmp_path / "a.mat")
    assert read_image(tmp_path / "a.mat", pixel_size=0.2).pixel_size == 0.2


def test_mat_without_obs_is_refused(tmp_path, image):
    savemat(tmp_path / "a.mat", {"picture": image, "dx": 0.1})
    with pytest.raises(AtomcountError, match="no StatSTEM image.*'obs'"):
        read_image(tmp_path / "a.mat")


def test_garbage_is_unreadable(tmp_path):
    (tmp_path / "a.mat").write_bytes(b"not a MATLAB file" * 20)
    with pytest.raises(AtomcountError, match="cannot read .* as StatSTEM MAT"):
        read_image(tmp_path / "a.mat")
