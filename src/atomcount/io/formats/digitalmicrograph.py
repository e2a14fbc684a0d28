"""Gatan DigitalMicrograph ``.dm3`` / ``.dm4`` images (via RosettaSciIO)."""
from __future__ import annotations

from pathlib import Path

from atomcount.io._base import RawImage
from atomcount.io._units import float_or_none
from atomcount.io.formats._rsciio import pick_signal, raw_from_signal

NAME = "DigitalMicrograph"
EXTENSIONS = (".dm3", ".dm4")


def read(path: Path) -> RawImage:
    """Read the first non-thumbnail image of a DM3/DM4 file.

    The pixel size comes from ``ImageData/Calibrations/Dimension[]`` (``Scale``
    and ``Units``); the voltage from ``ImageTags/Microscope Info/Voltage`` (V).
    """
    from rsciio.digitalmicrograph import file_reader

    signal = pick_signal(file_reader(str(path)), str(path))
    image_list = signal["original_metadata"].get("ImageList", {})
    tags = next(iter(image_list.values()), {}).get("ImageTags", {})
    info = tags.get("Microscope Info", {}) if isinstance(tags, dict) else {}
    metadata = {}
    voltage = float_or_none(info.get("Voltage"))
    if voltage:
        metadata["voltage_kV"] = voltage / 1e3
    for key in ("Name", "Microscope"):
        if isinstance(info.get(key), str) and info[key]:
            metadata["microscope"] = info[key]
            break
    magnification = float_or_none(info.get("Indicated Magnification"))
    if magnification:
        metadata["magnification"] = magnification
    return raw_from_signal(signal, metadata)
