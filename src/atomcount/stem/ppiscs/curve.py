"""PPISCS–thickness curves: :func:`ppiscs_curve`, dispatching on the source of the values.

Sources register in :data:`SOURCES` (name → function with the signature of
:func:`_from_library`); ``"library"`` reads the simulated library. A trained surrogate
can be added as another source without touching the callers.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from atomcount.core.crystals import get_element
from atomcount.core.errors import AtomcountError, check_range
from atomcount.stem.ppiscs.simulation import MAX_CONVERGENCE, MAX_OUTER, MIN_INNER, RMSD_RANGE


def _from_library(element: str, zone: str, voltage_kv: float, convergence_mrad: float, inner_mrad: float,
                  outer_mrad: float, rmsd: float, library: str | os.PathLike | None = None,
                  slicing_correction: bool = False) -> np.ndarray:
    """PPISCS from the simulated library, linear in rmsd between the two nearest entries; with
    ``slicing_correction`` each entry is first corrected to converged slicing
    (:mod:`atomcount.stem.ppiscs.slicing_correction`; entries without a row in its table are refused)."""
    from atomcount.stem.ppiscs.library import library_dir, list_entries, read_entry
    from atomcount.stem.ppiscs.slicing_correction import load_correction

    correction = load_correction() if slicing_correction else None

    entries = [d for d in list_entries(library) if d["element"] == element and d["zone"] == zone]
    at_voltage = [d for d in entries if np.isclose(d["voltage"], voltage_kv)]
    if not at_voltage:
        have = sorted({float(d["voltage"]) for d in entries})
        raise AtomcountError(
            f"no library entry for {element} [{zone}] at {voltage_kv:g} kV in {library_dir(library)}; "
            f"available voltages: {', '.join(f'{v:g}' for v in have) or 'none'} "
            f"(generate with: atomcount ppiscs simulate --elements {element} --zones {zone} --voltages {voltage_kv:g})"
        )
    rmsds = np.array(sorted(float(d["rmsd"]) for d in at_voltage))
    exact = np.isclose(rmsds, rmsd, rtol=0, atol=5e-5)
    if exact.any():
        picks, fractions = [rmsds[exact][0]], [1.0]
    else:
        below, above = rmsds[rmsds < rmsd], rmsds[rmsds > rmsd]
        if not len(below) or not len(above):
            raise AtomcountError(
                f"rmsd={rmsd} Å is not covered by the library for {element} [{zone}] {voltage_kv:g} kV; "
                f"available: {', '.join(f'{r:.4f}' for r in rmsds)} Å (interpolation needs entries on both sides)"
            )
        lo, hi = below[-1], above[0]
        f = (rmsd - lo) / (hi - lo)
        picks, fractions = [lo, hi], [1.0 - f, f]
    out = 0.0
    for r, f in zip(picks, fractions):
        d = next(d for d in at_voltage if np.isclose(float(d["rmsd"]), r))
        entry = read_entry(d["path"])
        if correction is not None:
            entry = correction.apply(entry)
        if outer_mrad > entry.max_angle + 1e-9:
            raise AtomcountError(f"outer angle {outer_mrad} mrad beyond the library's {entry.max_angle:g} mrad")
        if convergence_mrad > entry.max_convergence + 1e-9:
            raise AtomcountError(f"convergence {convergence_mrad} mrad beyond the library's {entry.max_convergence:g} mrad")
        out = out + f * entry.ppiscs(convergence_mrad, inner_mrad, outer_mrad)
    return np.asarray(out, dtype=float)


def _from_surrogate(*args, **options) -> np.ndarray:
    """PPISCS from the trained surrogate: :func:`atomcount.stem.ppiscs.surrogate.predict` (NumPy only)."""
    from atomcount.stem.ppiscs.surrogate import predict

    if options.pop("library", None) is not None:
        raise AtomcountError("library= is for source='library'; the surrogate takes weights=")
    if "slicing_correction" in options:
        raise AtomcountError("slicing_correction is for source='library'; the surrogate gives what it was trained "
                             "on (its model card says whether that was the slicing-corrected library)")
    return predict(*args, **options)


#: name -> function(element, zone, voltage_kv, convergence_mrad, inner_mrad, outer_mrad, rmsd, **options)
SOURCES: dict[str, Callable[..., np.ndarray]] = {"library": _from_library, "surrogate": _from_surrogate}


def ppiscs_curve(
    element: str,
    zone_axis: str,
    voltage_kv: float,
    convergence_mrad: float,
    inner_mrad: float,
    outer_mrad: float,
    rmsd: float,
    source: str | None = None,
    defocus_angstrom: float = 0.0,
    cs_um: float = 0.0,
    **options,
) -> np.ndarray:
    """PPISCS (Å² per column) of a column of 1…N atoms of an fcc crystal in zone-axis orientation.

    Parameters
    ----------
    element : str
        Al, Ni, Cu, Pd, Ag, Pt, Au or Pb.
    zone_axis : str
        "100" (N = 61) or "110" (N = 87); "[100]" is accepted.
    voltage_kv : float
        Accelerating voltage (kV); the library holds discrete voltages.
    convergence_mrad : float
        Probe semi-angle α (mrad), 0 < α ≤ 35.5.
    inner_mrad, outer_mrad : float
        Annular detector [θ0, θe) (mrad), 18 ≤ θ0 < θe ≤ 250.
    rmsd : float
        rms displacement per Cartesian direction (Å), 0.075…0.15; between two library
        entries the PPISCS is interpolated linearly in rmsd.
    source : str, optional
        "surrogate" (the shipped network, NumPy only) or "library" (simulations); others
        register in :data:`SOURCES`. Default: "library" when a ``library=`` directory is
        passed in ``options``, else "surrogate".
    defocus_angstrom : float
        C10 (Å). Accepted for interface compatibility: for an ideal crystal the PPISCS is
        independent of aberrations, because integrating over probe positions cancels all
        interference between incident directions and the aberration phase is a phase of
        each direction only (checked numerically in the validation benchmark).
    cs_um : float
        Spherical aberration (µm); drops out for the same reason.
    **options
        Passed to the source: for "library", ``library=`` a library directory and
        ``slicing_correction=True`` to correct the entries to converged slicing
        (:mod:`atomcount.stem.ppiscs.slicing_correction`).

    Returns
    -------
    ndarray (N,)
        PPISCS in Å² for 1…N atoms per column.

    Raises
    ------
    AtomcountError
        For unknown elements, zone axes or sources, and inputs outside the ranges above
        or outside what the library holds.
    """
    get_element(element)
    zone = str(zone_axis).strip("[]<> ")
    if zone not in ("100", "110"):
        raise AtomcountError(f"zone axis {zone_axis!r} not in the library; use 100 or 110")
    check_range("voltage", voltage_kv, 20.0, 1000.0, "kV")
    alpha = check_range("convergence angle", convergence_mrad, 1e-6, MAX_CONVERGENCE, "mrad")
    inner = check_range("inner angle", inner_mrad, MIN_INNER, MAX_OUTER, "mrad")
    outer = check_range("outer angle", outer_mrad, MIN_INNER, MAX_OUTER, "mrad")
    if not inner < outer:
        raise AtomcountError(f"inner angle {inner_mrad} mrad must be below the outer angle {outer_mrad} mrad")
    rmsd = check_range("rmsd", rmsd, *RMSD_RANGE, "Å")
    check_range("defocus", defocus_angstrom, -1e4, 1e4, "Å")
    check_range("Cs", cs_um, -1e4, 1e4, "µm")
    if source is None:
        source = "library" if options.get("library") is not None else "surrogate"
    if source not in SOURCES:
        raise AtomcountError(f"unknown PPISCS source {source!r}; available: {', '.join(SOURCES)}")
    return SOURCES[source](element, zone, float(voltage_kv), alpha, inner, outer, rmsd, **options)
