"""NumPy ``.npy`` arrays and ``.npz`` archives.

An ``.npy`` file carries no pixel size. An ``.npz`` archive holds the image in
an array named ``image`` (or as its only array) and may hold ``pixel_size``
(Å/px): a scalar, or ``(y, x)``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from atomcount.io._base import RawImage

NAME = "NumPy"
EXTENSIONS = (".npy", ".npz")


def read(path: Path) -> RawImage:
    """Read an ``.npy`` array or the ``image`` (and ``pixel_size``) of an ``.npz``."""
    if path.suffix.lower() == ".npy":
        return RawImage(data=np.load(path, allow_pickle=False), pixel_size_yx=None,
                        calibration_note=".npy files carry no pixel size")
    with np.load(path, allow_pickle=False) as archive:
        names = [n for n in archive.files if n != "pixel_size"]
        if "image" in archive.files:
            data = archive["image"]
        elif len(names) == 1:
            data = archive[names[0]]
        else:
            raise ValueError(f"no array named 'image' among {archive.files}")
        if "pixel_size" not in archive.files:
            return RawImage(data=data, pixel_size_yx=None, calibration_note="no 'pixel_size' array")
        ps = np.asarray(archive["pixel_size"], dtype=np.float64).ravel()
    if ps.size not in (1, 2):
        raise ValueError(f"'pixel_size' must hold 1 or 2 numbers (Å/px), not {ps.size}")
    return RawImage(data=data, pixel_size_yx=(float(ps[0]), float(ps[-1])))
