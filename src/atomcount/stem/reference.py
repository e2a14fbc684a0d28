"""Reference cross-sections (Å² per atom count) for simulation-based counting.

Either the simulated PPISCS for the microscope settings (:func:`atomcount.ppiscs_curve`,
from the shipped surrogate or the simulation library) or a user table of one
cross-section per atom count.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atomcount.core.errors import AtomcountError


@dataclass(frozen=True)
class Reference:
    """Cross-sections of columns of 1…N atoms.

    Attributes
    ----------
    values : ndarray (N,)
        Cross-section (Å²) of a column of n = 1…N atoms.
    source : str
        Where they come from (settings or file), for the summary.
    """

    values: np.ndarray
    source: str


def read_reference_table(path: str | os.PathLike) -> Reference:
    """Read a user table of cross-sections (Å²) per atom count.

    The file is text or CSV (comma, semicolon, tab or space separated; lines starting with
    ``#`` and a non-numeric header line are skipped). One column: the cross-sections of
    1, 2, … atoms in order. Two columns: atom count, cross-section; the counts must be
    1…N without gaps (in any order).

    Raises
    ------
    AtomcountError
        Missing or unreadable file, no numbers, gaps in the counts, non-finite or
        non-positive cross-sections.
    """
    p = Path(path)
    if not p.is_file():
        raise AtomcountError(f"library table not found: {p}")
    rows = []
    try:
        lines = p.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AtomcountError(f"cannot read library table {p}: {exc}") from None
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].replace(",", " ").replace(";", " ").strip()
        if not text:
            continue
        try:
            rows.append([float(v) for v in text.split()])
        except ValueError:
            if rows:
                raise AtomcountError(f"{p} line {number}: not a number: {line.strip()[:60]!r}") from None
            continue  # a header line
    if not rows:
        raise AtomcountError(f"library table {p} holds no numbers")
    if len({len(r) for r in rows}) != 1 or len(rows[0]) not in (1, 2):
        raise AtomcountError(f"library table {p} must have one column (cross-sections) or two (count, cross-section)")
    table = np.array(rows)
    if table.shape[1] == 1:
        values = table[:, 0]
    else:
        counts = table[:, 0]
        order = np.argsort(counts)
        if not np.array_equal(counts[order], np.arange(1, len(counts) + 1)):
            raise AtomcountError(f"library table {p}: atom counts must be 1…N without gaps or repeats")
        values = table[order, 1]
    if not (np.isfinite(values).all() and np.all(values > 0)):
        raise AtomcountError(f"library table {p}: cross-sections must be positive finite numbers (Å²)")
    return Reference(values=values, source=str(p))


def reference_cross_sections(*, element: str | None, zone: str | None, voltage: float | None,
                             convergence: float | None, inner: float | None, outer: float | None,
                             rmsd: float | None, library: str | os.PathLike | None = None) -> Reference:
    """Reference cross-sections from a user table, or simulated for the given settings.

    Parameters
    ----------
    element, zone : str
        Element ("Au") and zone axis ("100" or "110") of the simulated curve.
    voltage : float
        Accelerating voltage (kV).
    convergence : float
        Probe semi-angle (mrad).
    inner, outer : float
        Detector angles (mrad).
    rmsd : float
        Root-mean-square thermal displacement (Å).
    library : path, optional
        A user table (:func:`read_reference_table`); when given the settings are not used.

    Returns
    -------
    Reference

    Raises
    ------
    AtomcountError
        Missing settings, or settings outside what the surrogate was trained on (see
        :func:`atomcount.ppiscs_curve`).
    """
    if library is not None:
        return read_reference_table(library)
    settings = {"element": element, "zone": zone, "voltage": voltage, "convergence": convergence,
                "inner": inner, "outer": outer, "rmsd": rmsd}
    missing = [k for k, v in settings.items() if v is None]
    if missing:
        raise AtomcountError(f"simulation-based counting needs {', '.join(missing)} "
                             "(or a library table of cross-sections per atom count)")
    from atomcount.stem.ppiscs.curve import ppiscs_curve

    values = ppiscs_curve(element, str(zone), voltage, convergence, inner, outer, rmsd)
    label = (f"PPISCS surrogate: {element} [{zone}], {voltage:g} kV, α {convergence:g} mrad, "
             f"detector {inner:g}–{outer:g} mrad, rmsd {rmsd:g} Å")
    return Reference(values=np.asarray(values, dtype=float), source=label)
