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

    Velox files give the pixel size in ``BinaryResult/PixelSize``, the voltage
    (V), defocus (m) and convergence semi-angle (rad) in ``Optics``, the dwell
    time (s) in ``Scan`` and the collection angles (rad) of the image's detector
    (``BinaryResult/Detector``) in ``Detectors``; NCEM files give the pixel size
    through the ``dim1``/``dim2`` axis datasets and their ``units`` attributes.
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
    return raw_from_signal(signal, metadata | _velox_stem(signal["original_metadata"]))


def _velox_stem(om: dict) -> dict:
    """STEM acquisition of a Velox image: ``convergence_mrad``, ``detector``,
    ``inner_mrad``/``outer_mrad`` (collection semi-angles) and ``dwell_s``, where present."""
    metadata = {}
    convergence = float_or_none(om.get("Optics", {}).get("BeamConvergence"))
    if convergence:
        metadata["convergence_mrad"] = convergence * 1e3
    dwell = float_or_none(om.get("Scan", {}).get("DwellTime"))
    if dwell:
        metadata["dwell_s"] = dwell
    name = om.get("BinaryResult", {}).get("Detector")
    for detector in om.get("Detectors", {}).values():
        if name and detector.get("DetectorName") == name:
            metadata["detector"] = str(name)
            angles = detector.get("CollectionAngleRange", {})
            inner, outer = float_or_none(angles.get("begin")), float_or_none(angles.get("end"))
            if inner is not None and outer:
                metadata["inner_mrad"], metadata["outer_mrad"] = inner * 1e3, outer * 1e3
    return metadata
