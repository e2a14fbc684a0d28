"""Writing a model: extended XYZ (with per-atom probability), CIF and a browser view.

The browser view is ASE's X3D/HTML writer: a standalone page that loads the X3DOM
viewer from x3dom.org when opened (atoms coloured by element, not by probability).
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import write

#: Vacuum (Å) around the model in the CIF cell.
CIF_VACUUM = 5.0


def write_model(atoms: Atoms, out: str | Path, *, html: bool = True) -> list[Path]:
    """Write ``model.xyz``, ``model.cif`` and (optionally) ``model.html`` into ``out``.

    Parameters
    ----------
    atoms : ase.Atoms
        A model from :func:`atomcount.model3d.model_3d`.
    out : str or Path
        Output folder (created).
    html : bool
        Also write the interactive browser view.

    Returns
    -------
    list of Path
        The written files.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    boxed = atoms.copy()
    lo = boxed.positions.min(axis=0) - CIF_VACUUM
    boxed.positions -= lo
    boxed.cell = np.ptp(atoms.positions, axis=0) + 2 * CIF_VACUUM
    boxed.pbc = False
    info = {k: v for k, v in atoms.info.items() if isinstance(v, (int, float, str, bool))}
    boxed.info = info
    paths = [_atomic(out / "model.xyz", lambda p: write(p, atoms, format="extxyz", columns=[
        "symbols", "positions", "probability", "column"]))]
    paths.append(_atomic(out / "model.cif", lambda p: write(p, boxed, format="cif")))
    if html:
        paths.append(_atomic(out / "model.html", lambda p: write(p, boxed, format="html")))
    return paths


def _atomic(path: Path, writer) -> Path:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        writer(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
