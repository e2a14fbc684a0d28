"""What a format reader hands back to :func:`atomcount.io.read_image`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RawImage:
    """Pixels and calibration exactly as one file stores them.

    Attributes
    ----------
    data : ndarray
        Pixel values in the file's dtype, axes ``(..., y, x)``.
    pixel_size_yx : tuple of float or None
        Pixel size along y and x (Å/px); None when the file carries no length
        calibration.
    metadata : dict
        Acquisition parameters found in the file, e.g. ``voltage_kV`` (kV),
        ``defocus_nm`` (nm), ``microscope``, ``title``.
    calibration_note : str
        Why ``pixel_size_yx`` is None (e.g. "axis unit '1/nm' is not a length"),
        used in the error message; empty otherwise.
    """

    data: np.ndarray
    pixel_size_yx: tuple[float, float] | None
    metadata: dict = field(default_factory=dict)
    calibration_note: str = ""
