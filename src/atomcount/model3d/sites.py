"""fcc lattice sites along atomic columns, and indexing of measured columns.

Seen along a zone axis [hkl], the lattice lines of an fcc crystal project onto a 2-D
Bravais lattice with basis g₁, g₂ (Å). The atoms of one line are spaced by the column
repeat h (:func:`atomcount.core.crystals.column_repeat`): a along [100], a/√2 along [110],
a√3 along [111]. A line's sites sit at heights z = s(i, j) + k·h, where the offset
s(i, j) = i·s₁ + j·s₂ (mod h) is linear in the line's 2-D lattice index (i, j), because
both come from the same 3-D lattice vector. Along [100] and [110] the offsets of
neighbouring columns differ by h/2; along [111] by h/3.

Measured columns (x, y in Å, any in-plane rotation, possibly mirrored, a calibration off
by a few per cent) are indexed on this lattice by :func:`index_columns`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from atomcount.core.columns import projection_basis
from atomcount.core.crystals import Element, column_repeat, plane_spacing
from atomcount.core.errors import AtomcountError

#: Largest relative difference between the measured and the expected column spacing.
SCALE_TOLERANCE = 0.12


@dataclass(frozen=True)
class ZoneLattice:
    """Projected fcc lattice along one zone axis.

    Attributes
    ----------
    basis : ndarray, shape (2, 2)
        Rows g₁, g₂: reduced basis of the projected column lattice (Å), crystal (u, v) frame.
    offsets : ndarray, shape (2,)
        Heights s₁, s₂ (Å) of the sites of the lines at g₁ and g₂, modulo ``repeat``.
    repeat : float
        Distance between consecutive sites of one column, h (Å).
    plane_spacing : float
        Distance between consecutive atomic planes perpendicular to the beam (Å).
    nearest_neighbour : float
        Nearest-neighbour distance a/√2 (Å).
    """

    basis: np.ndarray
    offsets: np.ndarray
    repeat: float
    plane_spacing: float
    nearest_neighbour: float

    def column_offset(self, index: np.ndarray) -> np.ndarray:
        """Site height offset in [0, h) (Å) of the columns with 2-D indices ``index`` (n, 2)."""
        return np.mod(np.asarray(index) @ self.offsets, self.repeat)


def zone_lattice(element: Element, zone: tuple[int, int, int]) -> ZoneLattice:
    """Derive the projected lattice of ``element`` along ``zone`` from the 3-D fcc lattice.

    Examples
    --------
    >>> from atomcount.core.crystals import get_element
    >>> lat = zone_lattice(get_element("Au"), (1, 0, 0))
    >>> round(float(np.linalg.norm(lat.basis[0])), 3), round(lat.repeat, 3)
    (2.039, 4.078)
    """
    a = element.a
    frame = projection_basis(zone)
    fcc = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    cells = np.stack(np.meshgrid(*[np.arange(-3, 4)] * 3, indexing="ij"), -1).reshape(-1, 3)
    uvw = ((cells[:, None, :] + fcc[None]).reshape(-1, 3) * a) @ frame.T
    order = np.argsort(np.linalg.norm(uvw[:, :2], axis=1))
    uvw = uvw[order]
    inplane = np.linalg.norm(uvw[:, :2], axis=1) > 1e-6
    g1 = uvw[inplane][0]
    collinear = np.abs(uvw[:, 0] * g1[1] - uvw[:, 1] * g1[0]) < 1e-6
    g2 = uvw[inplane & ~collinear][0]
    repeat = column_repeat(element, zone)
    return ZoneLattice(
        basis=np.stack([g1[:2], g2[:2]]),
        offsets=np.mod([g1[2], g2[2]], repeat),
        repeat=repeat,
        plane_spacing=plane_spacing(element, zone),
        nearest_neighbour=element.nearest_neighbour,
    )


@dataclass(frozen=True)
class IndexedColumns:
    """Measured columns placed on the projected lattice.

    Attributes
    ----------
    index : ndarray of int, shape (n, 2)
        Lattice index (i, j) of each column.
    basis : ndarray, shape (2, 2)
        Rows: the fitted lattice vectors in the input x, y frame (Å).
    origin : ndarray, shape (2,)
        Position of index (0, 0) in the input frame (Å).
    residual : ndarray, shape (n,)
        Distance of each measured column from its fitted lattice position (Å).
    """

    index: np.ndarray
    basis: np.ndarray
    origin: np.ndarray
    residual: np.ndarray

    @property
    def xy(self) -> np.ndarray:
        """Fitted lattice positions of the columns in the input frame (Å)."""
        return self.origin + self.index @ self.basis


def index_columns(
    xy: np.ndarray, lattice: ZoneLattice, *, zone_name: str, tolerance: float = 0.35
) -> IndexedColumns:
    """Find the in-plane rotation, scale and origin of the lattice and index every column.

    Parameters
    ----------
    xy : ndarray, shape (n, 2)
        Column positions (Å).
    lattice : ZoneLattice
        Expected projected lattice.
    zone_name : str
        Zone axis for messages, e.g. ``"[110]"``.
    tolerance : float
        Largest distance of a column from its lattice position, as a fraction of the
        shortest column spacing |g₁|.

    Raises
    ------
    AtomcountError
        If the column spacing differs from the expected one by more than
        :data:`SCALE_TOLERANCE`, or a column lies off the fitted lattice, or two columns
        fall on the same lattice position.
    """
    xy = np.asarray(xy, dtype=float)
    d1 = float(np.linalg.norm(lattice.basis[0]))
    if len(xy) < 3:
        basis = lattice.basis.copy()
    else:
        basis = _fit_basis(xy, lattice, zone_name)
    start = int(np.argmin(np.linalg.norm(xy - xy.mean(axis=0), axis=1)))
    index = np.rint(np.linalg.solve(basis.T, (xy - xy[start]).T).T).astype(int)
    origin = xy[start]
    if len(xy) >= 3:  # global least squares: xy ≈ origin + index @ basis
        design = np.column_stack([np.ones(len(xy)), index])
        sol = np.linalg.lstsq(design, xy, rcond=None)[0]
        if np.linalg.matrix_rank(design) == 3:
            origin, basis = sol[0], sol[1:]
            index = np.rint(np.linalg.solve(basis.T, (xy - origin).T).T).astype(int)
    residual = np.linalg.norm(xy - origin - index @ basis, axis=1)
    worst = int(np.argmax(residual)) if len(xy) else 0
    if len(xy) and residual[worst] > tolerance * d1:
        raise AtomcountError(
            f"columns do not form the {zone_name} lattice: the column at "
            f"({xy[worst, 0]:.2f}, {xy[worst, 1]:.2f}) Å is {residual[worst]:.2f} Å from its lattice site "
            f"(allowed {tolerance * d1:.2f} Å)"
        )
    _, first, counts = np.unique(index, axis=0, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dup = xy[first[np.argmax(counts > 1)]]
        raise AtomcountError(
            f"columns do not form the {zone_name} lattice: two columns share the lattice site "
            f"near ({dup[0]:.2f}, {dup[1]:.2f}) Å"
        )
    return IndexedColumns(index=index, basis=basis, origin=origin, residual=residual)


def _fit_basis(xy: np.ndarray, lattice: ZoneLattice, zone_name: str) -> np.ndarray:
    """Lattice basis in the input frame from the vectors between neighbouring columns."""
    d1 = float(np.linalg.norm(lattice.basis[0]))
    tree = cKDTree(xy)
    pairs = tree.query_pairs(1.6 * d1 * (1 + SCALE_TOLERANCE), output_type="ndarray")
    if len(pairs) == 0:
        raise AtomcountError(
            f"columns do not form the {zone_name} lattice: no two columns are closer than "
            f"{1.6 * d1 * (1 + SCALE_TOLERANCE):.2f} Å"
        )
    vec = xy[pairs[:, 1]] - xy[pairs[:, 0]]
    nearest = np.median(np.sort(np.linalg.norm(vec, axis=1))[: max(1, len(vec) // 3)])
    scale = nearest / d1
    if abs(scale - 1) > SCALE_TOLERANCE:
        raise AtomcountError(
            f"columns do not form the {zone_name} lattice: their spacing ({nearest:.2f} Å) differs from "
            f"the expected {d1:.2f} Å by more than {SCALE_TOLERANCE:.0%}"
        )
    best, best_score = lattice.basis, -1.0
    for theta in np.deg2rad(np.arange(0.0, 180.0, 0.25)):
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        basis = scale * lattice.basis @ rot.T
        frac = np.linalg.solve(basis.T, vec.T).T
        err = np.linalg.norm((frac - np.rint(frac)) @ basis, axis=1)
        score = float(np.mean(np.exp(-((err / (0.1 * d1)) ** 2))))
        if score > best_score:
            best, best_score = basis, score
    steps = np.rint(np.linalg.solve(best.T, vec.T).T)
    good = np.linalg.norm(vec - steps @ best, axis=1) < 0.3 * d1
    if np.linalg.matrix_rank(steps[good]) < 2:
        return best
    return np.linalg.lstsq(steps[good], vec[good], rcond=None)[0]
