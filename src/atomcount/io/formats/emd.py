"""``.emd`` files: Thermo Fisher Velox and NCEM/Berkeley EMD (via RosettaSciIO)."""
from __future__ import annotations

from pathlib import Path

from atomcount.io._base import RawImage
from atomcount.io._units import float_or_none, to_angstrom
from atomcount.io.formats._rsciio import pick_signal, raw_from_signal

NAME = "EMD"
EXTENSIONS = (".emd",)


def read(path: Path) -> RawImage:
    """Read the first image of an EMD file.

    Velox files give the pixel size in ``BinaryResult/PixelSize`` and the
    voltage (V) and defocus (m) in ``Optics``; NCEM files give it through the
    ``dim1``/``dim2`` axis datasets and their ``units`` attributes.
    """
    from rsciio.emd import file_reader

    signal = pick_signal(file_reader(str(path), select_type="images"), str(path))
    optics = signal["original_metadata"].get("Optics", {})
    metadata = {}
    voltage = float_or_none(optics.get("AccelerationVoltage"))
    if voltage:
        metadata["voltage_kV"] = voltage / 1e3
    defocus = to_angstrom(optics.get("Defocus"), "m")
    if defocus is not None:
        metadata["defocus_nm"] = defocus / 10.0
    model = signal["original_metadata"].get("Instrument", {}).get("InstrumentModel")
    if model:
        metadata["microscope"] = str(model)
    return raw_from_signal(signal, metadata)
