"""ADF-STEM: atom counting from column scattering cross-sections.

image → :mod:`~atomcount.stem.normalise` (to the incident beam) → :mod:`~atomcount.stem.columns`
(peaks, sub-pixel) → :mod:`~atomcount.stem.cross_sections` (Voronoi cells, Gaussian model)
→ :mod:`~atomcount.stem.mixture` (Gaussian mixture + ICL, hybrid) and
:mod:`~atomcount.stem.reference` (simulated PPISCS or a user table)
→ :func:`count_stem` in :mod:`~atomcount.stem.counting`.

Arrays are indexed (row, col) = (y, x); ``x_A = col × pixel_size``, ``y_A = row × pixel_size``.
Names are imported lazily, so ``import atomcount.stem`` is cheap.
"""
from __future__ import annotations

import importlib

#: public name -> module that defines it
_EXPORTS = {
    "count_stem": "atomcount.stem.counting",
    "StemCountResult": "atomcount.stem.counting",
    "find_columns": "atomcount.stem.columns",
    "voronoi_cross_sections": "atomcount.stem.cross_sections",
    "fit_gaussians": "atomcount.stem.cross_sections",
    "GaussianFit": "atomcount.stem.cross_sections",
    "fit_mixture": "atomcount.stem.mixture",
    "fit_library_mixture": "atomcount.stem.mixture",
    "assign_library": "atomcount.stem.mixture",
    "MixtureFit": "atomcount.stem.mixture",
    "normalise_image": "atomcount.stem.normalise",
    "reference_cross_sections": "atomcount.stem.reference",
    "read_reference_table": "atomcount.stem.reference",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'atomcount.stem' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
