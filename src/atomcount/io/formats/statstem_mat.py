"""StatSTEM input files: MATLAB ``.mat`` with the image ``obs`` and pixel size ``dx`` (Å).

StatSTEM (Van Aert group, EMAT) stores its input as a struct ``input`` with fields
``obs`` (the image, rows = y) and ``dx`` (Å/px); older GMM atom-counting outputs hold
``obs`` and ``dx`` as top-level variables. Both are read, from MATLAB v5 files (via
SciPy) and v7.3 files (HDF5, via h5py; MATLAB stores arrays column-major there, so
they are transposed back). StatSTEM 3 class objects (``inputStatSTEM``) are not
plain data and cannot be read: re-save ``input.obs`` and ``input.dx`` as variables.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from atomcount.io._base import RawImage

NAME = "StatSTEM MAT"
EXTENSIONS = (".mat",)

_NOT_FOUND = ("no StatSTEM image in the file: expected a variable 'obs' or a struct 'input' "
              "with the field 'obs' (StatSTEM 3 class objects must be re-saved as plain variables)")


def read(path: Path) -> RawImage:
    """Read ``obs`` and ``dx`` from a StatSTEM ``.mat`` file (v5 or v7.3)."""
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path), variable_names=["input", "obs", "dx"])
    except NotImplementedError:  # MATLAB v7.3: an HDF5 file
        obs, dx = _read_hdf5(path)
    else:
        obs, dx = _read_v5(mat)
    if obs is None or np.ndim(obs) < 2:
        raise ValueError(_NOT_FOUND)
    if dx is None:
        return RawImage(data=obs, pixel_size_yx=None, calibration_note="the file holds no 'dx'")
    return RawImage(data=obs, pixel_size_yx=(dx, dx))


def _read_v5(mat: dict) -> tuple[np.ndarray | None, float | None]:
    """``obs`` and ``dx`` of a SciPy-loaded v5 file, from the ``input`` struct or top level."""
    source = mat
    struct = mat.get("input")
    if isinstance(struct, np.ndarray) and struct.dtype.names and "obs" in struct.dtype.names:
        source = {name: struct[name].flat[0] for name in struct.dtype.names}
    obs = source.get("obs")
    return (None if obs is None else np.asarray(obs)), _scalar(source.get("dx"))


def _read_hdf5(path: Path) -> tuple[np.ndarray | None, float | None]:
    """``obs`` and ``dx`` of a v7.3 file (HDF5 datasets, column-major, so transposed)."""
    import h5py

    with h5py.File(path, "r") as f:
        group = f["input"] if "input" in f and isinstance(f["input"], h5py.Group) else f
        obs = np.asarray(group["obs"][()]).T if "obs" in group else None
        dx = _scalar(group["dx"][()]) if "dx" in group else None
    return obs, dx


def _scalar(value) -> float | None:
    """The single number in ``value`` (any shape), or None when absent or not one number."""
    if value is None:
        return None
    a = np.asarray(value)
    if a.size != 1 or a.dtype.kind not in "iuf":
        return None
    return float(a.ravel()[0])
