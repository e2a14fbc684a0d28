"""HyperSpy ``.hspy`` reading: pixel size from the axes, acquisition metadata, errors."""
from __future__ import annotations

import numpy as np
import pytest
from rsciio.hspy import file_writer

from atomcount.core.errors import AtomcountError
from atomcount.io import read_image


def _write(path, data, scale, units, tem=None):
    """A HyperSpy file written by RosettaSciIO, axes (y, x) with ``scale`` in ``units``."""
    axes = [{"name": n, "size": s, "scale": scale, "offset": 0.0, "units": units, "navigate": False,
             "index_in_array": i} for i, (n, s) in enumerate(zip(("y", "x"), data.shape))]
    metadata = {"General": {"title": "HAADF"}, "Signal": {"signal_type": ""}}
    if tem:
        metadata["Acquisition_instrument"] = {"TEM": tem}
    file_writer(str(path), {"data": data, "axes": axes, "metadata": metadata, "original_metadata": {},
                            "tmp_parameters": {}, "attributes": {"_lazy": False}, "learning_results": {},
                            "models": {}, "package_info": {"package": "", "package_version": ""}})


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(7).normal(1e4, 100.0, size=(40, 48)).astype(np.float32)


@pytest.mark.parametrize("scale, units", [(0.02575, "nm"), (0.2575, "Å"), (2.575e-5, "µm")])
def test_round_trip_pixels_and_pixel_size(tmp_path, image, scale, units):
    _write(tmp_path / "a.hspy", image, scale, units)
    read = read_image(tmp_path / "a.hspy")
    np.testing.assert_array_equal(read.data, image)       # no transpose, no flip
    assert read.pixel_size == pytest.approx(0.2575, rel=1e-9)
    assert read.metadata["format"] == "HyperSpy" and read.metadata["title"] == "HAADF"


def test_acquisition_metadata(tmp_path, image):
    _write(tmp_path / "a.hspy", image, 0.02, "nm",
           tem={"beam_energy": 300.0, "convergence_angle": 21.0, "microscope": "Titan"})
    meta = read_image(tmp_path / "a.hspy").metadata
    assert meta["voltage_kV"] == 300.0 and meta["convergence_mrad"] == 21.0 and meta["microscope"] == "Titan"


def test_reciprocal_axes_have_no_pixel_size(tmp_path, image):
    _write(tmp_path / "a.hspy", image, 0.1, "1/nm")
    with pytest.raises(AtomcountError, match="no pixel size.*not a length"):
        read_image(tmp_path / "a.hspy")


def test_not_hyperspy_hdf5_is_unreadable(tmp_path):
    import h5py

    with h5py.File(tmp_path / "a.hspy", "w") as f:
        f["data"] = np.zeros((40, 40))
    with pytest.raises(AtomcountError, match="cannot read .* as HyperSpy"):
        read_image(tmp_path / "a.hspy")
