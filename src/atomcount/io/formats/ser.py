"""FEI/Thermo TIA ``.ser`` series files (via RosettaSciIO)."""
from __future__ import annotations

from pathlib import Path

from atomcount.io._base import RawImage
from atomcount.io.formats._rsciio import pick_signal, raw_from_signal

NAME = "TIA SER"
EXTENSIONS = (".ser",)


def read(path: Path) -> RawImage:
    """Read a TIA image or image series; the calibration is stored in metres."""
    from rsciio.tia import file_reader

    return raw_from_signal(pick_signal(file_reader(str(path)), str(path)), {})
