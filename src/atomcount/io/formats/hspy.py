"""HyperSpy ``.hspy`` files (HDF5, via RosettaSciIO)."""
from __future__ import annotations

from pathlib import Path

from atomcount.io._base import RawImage
from atomcount.io._units import float_or_none
from atomcount.io.formats._rsciio import pick_signal, raw_from_signal

NAME = "HyperSpy"
EXTENSIONS = (".hspy",)


def read(path: Path) -> RawImage:
    """Read the first image signal of a HyperSpy file.

    The pixel size comes from the signal axes (``scale``, ``units``); the voltage
    (keV of ``beam_energy``, i.e. kV), convergence semi-angle (mrad) and microscope
    from ``Acquisition_instrument/TEM`` where HyperSpy stored them.
    """
    from rsciio.hspy import file_reader

    signal = pick_signal(file_reader(str(path), lazy=False), str(path))
    tem = signal.get("metadata", {}).get("Acquisition_instrument", {}).get("TEM", {})
    metadata = {}
    voltage = float_or_none(tem.get("beam_energy"))
    if voltage:
        metadata["voltage_kV"] = voltage
    convergence = float_or_none(tem.get("convergence_angle"))
    if convergence:
        metadata["convergence_mrad"] = convergence
    if tem.get("microscope"):
        metadata["microscope"] = str(tem["microscope"])
    return raw_from_signal(signal, metadata)
