"""Physical units and conversions shared by the HRTEM and ADF-STEM pipelines.

Voltages are in kV, lengths in Å, angles in mrad.
"""
from __future__ import annotations

import numpy as np

from atomcount.core.errors import check_range

#: Relativistic electron wavelength constants.
_HC = 12.398419843320026  # keV·Å
_MC2 = 510.99895000  # keV


def wavelength(energy_kv: float) -> float:
    """Relativistic electron wavelength (Å) for an accelerating voltage in kV.

    Examples
    --------
    >>> round(wavelength(300.0), 5)
    0.01969
    """
    e = check_range("energy", energy_kv, 1.0, 5000.0, "kV")
    return _HC / np.sqrt(e * (2 * _MC2 + e))
