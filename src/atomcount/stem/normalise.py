"""Normalising an ADF-STEM image to the incident beam.

A cross-section in Å² (comparable with a simulated PPISCS) needs the image in units of
the incident beam: ``(I − black) / (vacuum − black)``, with the detector's black level
(no beam) and vacuum level (the full beam on the detector), both in the image's raw units.
The vacuum level can come from a detector scan: the mean over the detector's active area.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atomcount.core.errors import AtomcountError


@dataclass(frozen=True)
class Normalisation:
    """How an image was brought to cross-section units.

    Attributes
    ----------
    absolute : bool
        True when the image is in units of the incident beam, so cross-sections are in Å².
    black_level, vacuum_level : float or None
        Levels used (raw image units), None when the image came normalised or raw.
    note : str
        One sentence for the summary.
    """

    absolute: bool
    black_level: float | None
    vacuum_level: float | None
    note: str


def detector_levels(detector_map: np.ndarray, *, black_level: float | None = None) -> tuple[float, float]:
    """Black and vacuum levels from a detector scan (the beam swept over the detector).

    The scan shows the detector's active area bright and the rest dark. Pixels are split
    into the two groups with Otsu's threshold; the vacuum level is the mean of the active
    group, the black level the median of the dark group unless ``black_level`` is given (the
    median, because the dark group also holds the blurred edge of the active area: on
    atomap's real scan the mean is 1419, the median 1254, the off-detector level ≈ 1230).

    Parameters
    ----------
    detector_map : ndarray, 2-D
        Detector scan in the same raw units as the image.
    black_level : float, optional
        Known black level (raw units); replaces the dark-group median.

    Returns
    -------
    (float, float)
        Black level and vacuum level (raw units).

    Raises
    ------
    AtomcountError
        If the map is not a finite 2-D array with two distinct levels.
    """
    from skimage.filters import threshold_otsu

    m = np.asarray(detector_map, dtype=float)
    if m.ndim != 2 or m.size < 4:
        raise AtomcountError(f"detector map must be a 2-D array, got shape {m.shape}")
    if not np.isfinite(m).all():
        raise AtomcountError("detector map has NaN or infinite pixels")
    if np.ptp(m) <= 0:
        raise AtomcountError("detector map is flat: no active detector area to read the vacuum level from")
    t = threshold_otsu(m)
    active, dark = m[m > t], m[m <= t]
    black = float(np.median(dark)) if black_level is None else float(black_level)
    return black, float(active.mean())


def normalise_image(image: np.ndarray, *, normalised: bool = False, black_level: float | None = None,
                    vacuum_level: float | None = None, detector_map: np.ndarray | None = None,
                    require_absolute: bool = False) -> tuple[np.ndarray, Normalisation]:
    """Return the image in units of the incident beam when the levels allow it.

    Parameters
    ----------
    image : ndarray, 2-D
        ADF-STEM image (raw detector units, or already normalised).
    normalised : bool
        The image is already in units of the incident beam.
    black_level, vacuum_level : float, optional
        Detector levels (raw units); both are needed unless a ``detector_map`` gives the vacuum
        level (and, when ``black_level`` is missing, the black level).
    detector_map : ndarray, optional
        Detector scan (see :func:`detector_levels`).
    require_absolute : bool
        Refuse a raw image without levels (the library and hybrid routes need Å²).

    Returns
    -------
    (ndarray, Normalisation)
        The image (float64; unchanged when already normalised or raw) and how it was treated.

    Raises
    ------
    AtomcountError
        Contradictory options, vacuum not above black, or no normalisation when required.
    """
    img = np.asarray(image, dtype=float)
    levels_given = black_level is not None or vacuum_level is not None or detector_map is not None
    if normalised:
        if levels_given:
            raise AtomcountError("the image is declared normalised; do not also give black/vacuum levels or a detector map")
        return img, Normalisation(True, None, None, "image given normalised to the incident beam; cross-sections in Å²")
    if detector_map is not None:
        if vacuum_level is not None:
            raise AtomcountError("give either a vacuum level or a detector map, not both")
        black_level, vacuum_level = detector_levels(detector_map, black_level=black_level)
        source = "detector map"
    else:
        source = "given levels"
    if black_level is None and vacuum_level is None:
        if require_absolute:
            raise AtomcountError("the image is not normalised: give black and vacuum levels (or a detector map), "
                                 "or declare it normalised; the library and hybrid routes need cross-sections in Å²")
        return img, Normalisation(False, None, None, "raw image without detector levels: cross-sections in relative "
                                  "units (raw intensity × Å²), counts from the mixture only")
    if black_level is None or vacuum_level is None:
        missing = "black" if black_level is None else "vacuum"
        raise AtomcountError(f"the {missing} level is missing: normalisation needs both the black and the vacuum level")
    black, vacuum = float(black_level), float(vacuum_level)
    if not (np.isfinite(black) and np.isfinite(vacuum)) or vacuum <= black:
        raise AtomcountError(f"vacuum level {vacuum:g} must be finite and above the black level {black:g}")
    note = f"normalised as (I − {black:g}) / ({vacuum:g} − {black:g}) from {source}; cross-sections in Å²"
    return (img - black) / (vacuum - black), Normalisation(True, black, vacuum, note)
