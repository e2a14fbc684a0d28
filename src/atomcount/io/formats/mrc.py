"""MRC ``.mrc`` images and stacks (via RosettaSciIO)."""
from __future__ import annotations

from pathlib import Path

from atomcount.io._base import RawImage
from atomcount.io.formats._rsciio import pick_signal, raw_from_signal

NAME = "MRC"
EXTENSIONS = (".mrc",)


def read(path: Path) -> RawImage:
    """Read an MRC file.

    The pixel size is the cell length over the sampling (``Xlen/MX``, Å) of the
    standard header, or the FEI extended header's ``pixel_size`` (m). A header
    with a zero cell length carries no calibration (RosettaSciIO then reports
    1 nm, which is discarded here).
    """
    from rsciio.mrc import file_reader

    signal = pick_signal(file_reader(str(path)), str(path))
    raw = raw_from_signal(signal, {})
    om = signal["original_metadata"]
    header = om.get("std_header", {})
    uncalibrated = "fei_header" not in om and any(
        float(header.get(k, 0)) == 0 for k in ("Xlen", "Ylen", "MX", "MY"))
    if uncalibrated:
        raw.pixel_size_yx = None
        raw.calibration_note = "the header cell size is zero"
    return raw
