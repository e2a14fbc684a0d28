"""TIFF ``.tif`` / ``.tiff`` images and stacks (via tifffile).

The pixel size is taken, in this order, from

1. FEI/Thermo Fisher metadata (``[Scan] PixelWidth``/``PixelHeight``, m),
2. ImageJ metadata: ``unit`` with the X/YResolution tags (pixels per unit),
3. the X/YResolution tags with a metric ResolutionUnit (cm, mm, µm).

A ResolutionUnit of inch (or none) is a print resolution, not a pixel size.
"""
from __future__ import annotations

import re
from pathlib import Path

from atomcount.io._base import RawImage
from atomcount.io._units import float_or_none, to_angstrom
from atomcount.io._validate import rgb_to_grey

NAME = "TIFF"
EXTENSIONS = (".tif", ".tiff")

#: TIFF ResolutionUnit codes that are lengths (codes 4 and 5 are tifffile extensions).
_RESOLUTION_UNITS = {3: "cm", 4: "mm", 5: "µm"}


def read(path: Path) -> RawImage:
    """Read the first image series of a TIFF file (all pages of a stack)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        data = series.asarray()
        page = tif.pages[0]
        pixel_size, note = _pixel_size(tif, page)
        metadata = _fei_acquisition(tif.fei_metadata) if tif.is_fei else {}
        colour = series.axes.endswith("S") and data.shape[-1] in (3, 4)
    if colour:
        data = rgb_to_grey(data, str(path))
    return RawImage(data=data, pixel_size_yx=pixel_size, metadata=metadata, calibration_note=note)


def _pixel_size(tif, page) -> tuple[tuple[float, float] | None, str]:
    """Pixel size (y, x) in Å/px and, if None, the reason."""
    if tif.is_fei:
        scan = tif.fei_metadata.get("Scan", {}) or tif.fei_metadata.get("EScan", {})
        x = to_angstrom(scan.get("PixelWidth"), "m")
        y = to_angstrom(scan.get("PixelHeight", scan.get("PixelWidth")), "m")
        if x and y:
            return (y, x), ""
    per_unit = _pixels_per_unit(page)
    if tif.is_imagej:
        unit = _unescape(str(tif.imagej_metadata.get("unit", "")))
        if unit and per_unit is not None:
            size = tuple(to_angstrom(1.0 / v, unit) if v > 0 else None for v in per_unit)
            if None not in size:
                return size, ""
            return None, f"ImageJ unit {unit!r} is not a length"
    unit_code = int(page.tags["ResolutionUnit"].value) if "ResolutionUnit" in page.tags else 2
    if unit_code in _RESOLUTION_UNITS and per_unit is not None and min(per_unit) > 0:
        unit = _RESOLUTION_UNITS[unit_code]
        return (to_angstrom(1.0 / per_unit[0], unit), to_angstrom(1.0 / per_unit[1], unit)), ""
    return None, "no FEI, ImageJ or metric resolution calibration"


def _pixels_per_unit(page) -> tuple[float, float] | None:
    """(YResolution, XResolution) tag values as floats, or None if absent."""
    values = []
    for name in ("YResolution", "XResolution"):
        if name not in page.tags:
            return None
        num, den = page.tags[name].value
        values.append(num / den if den else 0.0)
    return values[0], values[1]


def _unescape(unit: str) -> str:
    r"""Resolve ImageJ's ``\uXXXX`` escapes (e.g. ``\u00B5m`` → ``µm``)."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), unit).strip()


def _fei_acquisition(fei: dict) -> dict:
    """Voltage (kV) from FEI/Thermo ``[Beam] HV`` (V)."""
    voltage = float_or_none(fei.get("Beam", {}).get("HV"))
    return {"voltage_kV": voltage / 1e3} if voltage else {}
