"""atomcount: atom counting in metal nanoparticles from electron-microscopy images.

Two pipelines share this package:

* HRTEM column heights (Ragone et al., Comput. Mater. Sci. 2020): simulated
  Wulff-construction particles, an encoder-decoder CNN and :func:`count_columns`.
* ADF-STEM probe-position-integrated scattering cross-sections (Lobato et al.,
  Ultramicroscopy 2023): a simulation library, a surrogate and :func:`ppiscs_curve`.

Heavy dependencies (abTEM, torch) are imported lazily so that ``import atomcount``
stays fast.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["count_columns", "count_stem", "model_3d", "ppiscs_curve", "__version__"]


def __getattr__(name: str):
    if name == "count_columns":
        from atomcount.hrtem.analysis.count import count_columns

        return count_columns
    if name == "count_stem":
        from atomcount.stem.counting import count_stem

        return count_stem
    if name == "model_3d":
        from atomcount.model3d.model import model_3d

        return model_3d
    if name == "ppiscs_curve":
        from atomcount.stem.ppiscs.curve import ppiscs_curve

        return ppiscs_curve
    raise AttributeError(f"module 'atomcount' has no attribute {name!r}")
