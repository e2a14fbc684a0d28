"""Correction of the library's one slice per plane to converged slicing, per element, zone and voltage.

The library puts every atom whole into the slice of its plane, which reads heavy columns a few
per cent low at HAADF (BENCHMARKS.md, ``ppiscs-columns``); converging every entry would cost
370–740× its CPU. The affordable path measured here: in one projected cell of the zone axis, with a
frozen-phonon configuration shared by both runs, simulate a column of :data:`TABLE_ATOMS` atoms twice — with the
library's scheme at the library's sampling, and with :data:`REFERENCE_SLICE` Å slices at
:data:`REFERENCE_SAMPLING` Å (:func:`atomcount.stem.ppiscs.column_slicing.simulate_sliced`) — and
keep, per thickness and per :data:`BIN_WIDTH` mrad band of scattering angle, the ratio of the
aperture-averaged ring intensities (α = :data:`TABLE_ALPHA` mrad), summed over a few frozen-phonon
configurations, each shared by the two runs (``python -m atomcount.bench.ppiscs_columns --correction``
builds it and measures it on held-out configurations).

A factor that depends on the ring and thickness only (not on the tilt) commutes with the aperture
average, so it is applied to an entry's stored intensities once (:meth:`SlicingCorrection.apply`):
every PPISCS formed from the corrected entry, for any α and detector, carries it. Thicker
columns than the table's use its last row (for Au at 300 kV the library's error at 61 atoms is
within 0.5 % of that at 20, BENCHMARKS.md ``ppiscs-columns``); angles beyond its last band use
that band's factor. An (element, zone, voltage) without a row is refused.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from atomcount.core.errors import AtomcountError

#: Shipped table (regenerate with ``python -m atomcount.bench.ppiscs_columns --correction``).
DEFAULT_TABLE = Path(__file__).resolve().parents[2] / "data" / "ppiscs_slicing_correction.npz"
#: Slices (Å) and lateral sampling (Å) of the reference run.
REFERENCE_SLICE = 0.025
REFERENCE_SAMPLING = 0.01
#: Atoms per column of the table's runs.
TABLE_ATOMS = 20
#: rms displacement per direction (Å) of the table's runs; entries of other rmsd get the same factors
#: (the transfer is measured by ``python -m atomcount.bench.ppiscs_columns --transfer-rmsd``).
TABLE_RMSD = 0.085
#: Convergence semi-angle (mrad) at which the aperture-averaged rings are compared.
TABLE_ALPHA = 21.0
#: Width (mrad) of the scattering-angle bands the ratio is taken over: wide enough to hold a
#: ring of Bragg beams whatever the tilt smearing, narrow enough to follow the angular trend.
BIN_WIDTH = 10.0
#: Bands from this angle (mrad) on keep the factor 1. There the library's deviation from the reference
#: is mostly aliasing at its sampling that depends on the phonon configuration (Au [100] 300 kV, 150–250
#: mrad: −1.9 % with one configuration, +2.8 % with another), so a table from a few configurations
#: over-corrects the entries' eight-configuration average; chosen on Au 300 kV (a table from one
#: configuration, applied to the other: 150–250 mrad 3.9 % left as is instead of 7.5 % corrected). On
#: the other elements it is mixed (BENCHMARKS.md ``ppiscs-slicing-correction``): correcting those bands
#: too would do better for Al, Pd, Ag and worse for Ni, Cu, Pt, Pb; the limit keeps the worst case lower.
MAX_ANGLE = 150.0


def band_factors(library_rings: np.ndarray, reference_rings: np.ndarray, ring_width: float,
                 bin_width: float = BIN_WIDTH, max_angle: float = MAX_ANGLE) -> np.ndarray:
    """Reference over library intensity per thickness and angular band.

    Parameters
    ----------
    library_rings, reference_rings : ndarray (n_atoms, n_rings)
        Aperture-averaged ring intensities of the two runs (rings of ``ring_width`` mrad from 0);
        the shorter ring axis is padded with zeros.
    ring_width : float
        Ring width (mrad).
    bin_width : float
        Band width (mrad), a multiple of ``ring_width``.
    max_angle : float
        Bands starting at or above this angle (mrad) keep the factor 1 (:data:`MAX_ANGLE`).

    Returns
    -------
    ndarray (n_atoms, n_bands)
        Factors; 1 where the library holds no intensity in a band and from ``max_angle`` on.
    """
    per_bin = int(round(bin_width / ring_width))
    if per_bin < 1 or not np.isclose(per_bin * ring_width, bin_width):
        raise AtomcountError(f"band width {bin_width} mrad is not a multiple of the ring width {ring_width} mrad")
    n = max(library_rings.shape[1], reference_rings.shape[1])
    n_bins = -(-n // per_bin)

    def banded(rings: np.ndarray) -> np.ndarray:
        padded = np.zeros((rings.shape[0], n_bins * per_bin))
        padded[:, : rings.shape[1]] = rings
        return padded.reshape(rings.shape[0], n_bins, per_bin).sum(-1)

    lib, ref = banded(np.asarray(library_rings, float)), banded(np.asarray(reference_rings, float))
    kept = (lib > 0) & (np.arange(n_bins) * bin_width < max_angle - 1e-9)
    return np.where(kept, ref / np.where(lib > 0, lib, 1.0), 1.0)


#: One row of the table: element, zone axis ("100" or "110") and voltage (kV).
Row = tuple[str, str, float]


@dataclass(frozen=True)
class SlicingCorrection:
    """Factors from the library's scheme to converged slicing, one row per element, zone and voltage.

    Attributes
    ----------
    rows : tuple of (str, str, float)
        (element, zone axis, kV) of each row.
    factor : ndarray (n_rows, n_atoms, n_bands)
        Multiplies the ring intensities of an entry after 1…n_atoms atoms, band j covering
        [j·bin_width, (j+1)·bin_width) mrad.
    bin_width : float
        mrad.
    """

    rows: tuple[Row, ...]
    factor: np.ndarray
    bin_width: float = BIN_WIDTH

    def __post_init__(self) -> None:
        if self.factor.ndim != 3 or self.factor.shape[0] != len(self.rows):
            raise AtomcountError(f"slicing correction: factor shape {self.factor.shape} does not match "
                                 f"{len(self.rows)} rows × atoms × bands")
        if len({(el, zone, round(kv, 6)) for el, zone, kv in self.rows}) != len(self.rows):
            raise AtomcountError("slicing correction: a row (element, zone, kV) appears twice")

    def describe(self) -> str:
        """The rows, grouped: ``[100] 200, 300 kV: Al, Au; [110] 300 kV: Au``."""
        groups: dict[tuple[str, tuple[float, ...]], list[str]] = {}
        for el in dict.fromkeys(r[0] for r in self.rows):
            for zone in dict.fromkeys(r[1] for r in self.rows):
                kvs = tuple(sorted(kv for e, z, kv in self.rows if e == el and z == zone))
                if kvs:
                    groups.setdefault((zone, kvs), []).append(el)
        return "; ".join(f"[{zone}] {', '.join(f'{v:g}' for v in kvs)} kV: {', '.join(els)}"
                         for (zone, kvs), els in sorted(groups.items()))

    def _index(self, element: str, zone: str, voltage: float) -> int | None:
        """Position of the row of this element, zone and voltage (kV), or None."""
        return next((k for k, (el, z, kv) in enumerate(self.rows)
                     if el == element and z == zone and np.isclose(kv, voltage)), None)

    def row(self, element: str, zone: str, voltage: float) -> np.ndarray:
        """Factor table (n_atoms, n_bands) of one element, zone and voltage (kV); refused if absent."""
        k = self._index(element, zone, voltage)
        if k is not None:
            return self.factor[k]
        raise AtomcountError(f"no slicing correction for {element} [{zone}] at {voltage:g} kV; the table holds "
                             f"{self.describe()} (add rows with `python -m atomcount.bench.ppiscs_columns --correction`)")

    def has_row(self, element: str, zone: str, voltage: float) -> bool:
        """Whether the table holds a row for this element, zone and voltage (kV)."""
        return self._index(element, zone, voltage) is not None

    def with_row(self, row: Row, factor: np.ndarray) -> SlicingCorrection:
        """A table with one more row (element, zone, kV) of factors (n_atoms, n_bands).

        The shorter band axis is padded with factor 1: every band from :data:`MAX_ANGLE` on
        is 1 (:func:`band_factors`), so padding adds only such bands.
        """
        if self.has_row(*row):
            raise AtomcountError(f"slicing correction: row {row} is already in the table")
        factor = np.asarray(factor, float)
        if factor.ndim != 2 or factor.shape[0] != self.factor.shape[1]:
            raise AtomcountError(f"slicing correction: new row has shape {factor.shape}, the table "
                                 f"{self.factor.shape[1]} atoms × bands")
        n_bands = max(self.factor.shape[2], factor.shape[1])
        table = np.ones((len(self.rows) + 1, factor.shape[0], n_bands))
        table[:-1, :, : self.factor.shape[2]] = self.factor
        table[-1, :, : factor.shape[1]] = factor
        return SlicingCorrection(self.rows + (row,), table, self.bin_width)

    def ring_factors(self, element: str, zone: str, voltage: float, n_atoms: int, n_rings: int,
                     ring_width: float) -> np.ndarray:
        """Factor (n_atoms, n_rings) for an entry's rings of ``ring_width`` mrad."""
        table = self.row(element, zone, voltage)
        rows = table[np.minimum(np.arange(n_atoms), table.shape[0] - 1)]
        centres = (np.arange(n_rings) + 0.5) * ring_width
        bands = np.minimum((centres // self.bin_width).astype(int), table.shape[1] - 1)
        return rows[:, bands]

    def apply(self, entry):
        """A copy of a :class:`~atomcount.stem.ppiscs.library.LibraryEntry` with corrected intensities.

        The factor multiplies every wave's rings alike (it does not depend on the tilt), so the
        corrected entry's PPISCS for any α and detector is the correction of its rings.
        """
        n_atoms, n_rings = entry.intensity.shape[1:]
        f = self.ring_factors(entry.entry.element, entry.entry.zone, entry.entry.voltage, n_atoms, n_rings,
                              float(entry.attrs["ring_width"]))
        return replace(entry, intensity=(entry.intensity * f[None]).astype(entry.intensity.dtype),
                       batch_totals=(entry.batch_totals * f[None]).astype(entry.batch_totals.dtype),
                       attrs={**entry.attrs, "slicing_correction": f"{REFERENCE_SLICE} Å slices, {self.bin_width:g} mrad bands"})

    def save(self, path: str | os.PathLike) -> Path:
        """Write the table atomically (``.npz``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        elements, zones, voltages = zip(*self.rows) if self.rows else ((), (), ())
        np.savez_compressed(tmp, elements=np.array(elements, dtype=str), zones=np.array(zones, dtype=str),
                            voltages=np.array(voltages, float), factor=self.factor.astype(np.float32),
                            bin_width=self.bin_width)
        os.replace(tmp, path)
        return path


def load_correction(path: str | os.PathLike | None = None) -> SlicingCorrection:
    """Read a table written by :meth:`SlicingCorrection.save`; the shipped one by default."""
    p = Path(path) if path is not None else DEFAULT_TABLE
    if not p.exists():
        raise AtomcountError(f"slicing-correction table {p} not found; build it with "
                             "`python -m atomcount.bench.ppiscs_columns --correction`")
    try:
        with np.load(p) as z:
            rows = tuple((str(e), str(zone), float(kv)) for e, zone, kv in zip(z["elements"], z["zones"], z["voltages"]))
            return SlicingCorrection(rows, z["factor"].astype(float), float(z["bin_width"]))
    except (OSError, KeyError, ValueError) as exc:
        raise AtomcountError(f"{p} is not a slicing-correction table ({exc})") from None
