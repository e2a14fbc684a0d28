"""PNG and JPEG images (via Pillow, a Matplotlib dependency). They carry no pixel size."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from atomcount.io._base import RawImage
from atomcount.io._validate import rgb_to_grey

NAME = "PNG/JPEG"
EXTENSIONS = (".png", ".jpg", ".jpeg")


def read(path: Path) -> RawImage:
    """Read a grey (8/16-bit) or colour image; colour is turned into grey levels."""
    from PIL import Image

    with Image.open(path) as img:
        if img.mode == "P":
            img = img.convert("RGBA")
        data = np.asarray(img)
    if data.ndim == 3:
        data = data[..., 0] if data.shape[-1] == 2 else rgb_to_grey(data, str(path))
    return RawImage(data=data, pixel_size_yx=None,
                    calibration_note="PNG and JPEG files carry no pixel size")
