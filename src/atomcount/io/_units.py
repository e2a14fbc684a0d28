"""Length units as written by microscope software, converted to ångström."""
from __future__ import annotations

import math

#: Å per unit, keyed by the lower-cased unit spelling.
_ANGSTROM_PER_UNIT = {
    **dict.fromkeys(("m", "meter", "meters", "metre", "metres"), 1e10),
    **dict.fromkeys(("cm", "centimeter", "centimeters", "centimetre", "centimetres"), 1e8),
    **dict.fromkeys(("mm", "millimeter", "millimeters", "millimetre", "millimetres"), 1e7),
    **dict.fromkeys(("µm", "μm", "um", "micron", "microns", "micrometer", "micrometers",
                     "micrometre", "micrometres"), 1e4),
    **dict.fromkeys(("nm", "nanometer", "nanometers", "nanometre", "nanometres"), 10.0),
    **dict.fromkeys(("å", "Å", "a", "ang", "angstrom", "angstroms", "ångström", "ångströms"), 1.0),
    **dict.fromkeys(("pm", "picometer", "picometers", "picometre", "picometres"), 0.01),
}


def angstrom_per_unit(unit: str | bytes | None) -> float | None:
    """Return how many Å one ``unit`` is, or None if ``unit`` is not a length.

    Parameters
    ----------
    unit : str or bytes or None
        Unit spelling, e.g. ``"nm"``, ``"µm"``, ``"micron"``, ``"Å"``, ``"meters"``.

    Returns
    -------
    float or None
        Å per unit; None for empty, reciprocal (``"1/nm"``) or unknown units.

    Examples
    --------
    >>> angstrom_per_unit("nm")
    10.0
    >>> angstrom_per_unit("1/nm") is None
    True
    """
    if unit is None:
        return None
    if isinstance(unit, bytes):
        unit = unit.decode("utf-8", errors="replace")
    return _ANGSTROM_PER_UNIT.get(str(unit).strip().lower())


def to_angstrom(value: float, unit: str | bytes | None) -> float | None:
    """Convert a length ``value`` in ``unit`` to Å; None if impossible.

    Parameters
    ----------
    value : float
        Length in ``unit``.
    unit : str or bytes or None
        Unit of ``value``.

    Returns
    -------
    float or None
        Length (Å), or None when the unit is not a length or the value is not a
        finite number.

    Examples
    --------
    >>> to_angstrom(0.025, "nm")
    0.25
    """
    factor = angstrom_per_unit(unit)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    if factor is None or not math.isfinite(v):
        return None
    return v * factor


def float_or_none(value) -> float | None:
    """``float(value)``, or None if ``value`` is missing or not a number.

    Examples
    --------
    >>> float_or_none("300000.0"), float_or_none(None)
    (300000.0, None)
    """
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
