"""3-D atomic models of a particle from its column counts (HRTEM or ADF-STEM).

:func:`model_3d` indexes the measured columns on the fcc lattice of the zone axis,
places each column's atoms on its sites along the beam and relaxes the model by Monte
Carlo at fixed counts with an embedded-atom lattice energy; :mod:`.export` writes
extended XYZ, CIF and a browser view, :mod:`.figures` a 3-D figure.
"""
from __future__ import annotations

__all__ = ["model_3d"]


def __getattr__(name: str):
    if name == "model_3d":
        from atomcount.model3d.model import model_3d

        return model_3d
    raise AttributeError(f"module 'atomcount.model3d' has no attribute {name!r}")
