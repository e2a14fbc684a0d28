"""Atomic columns: the ground truth of a projected particle.

A column is the set of atoms that share one lattice line along the zone axis. Columns
are found in the crystal frame, where the zone axis is exact, by clustering the atoms'
projected positions (tolerance in Å); their image positions are then the mean projected
positions of their atoms after the particle has been oriented, so small tilts are
represented faithfully.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from atomcount.core.errors import AtomcountError


@dataclass
class ColumnTable:
    """Projected atomic columns.

    Attributes
    ----------
    xy : ndarray, shape (n, 2)
        Column positions in the image plane (Å), x then y.
    height : ndarray of int, shape (n,)
        Number of atoms in each column.
    """

    xy: np.ndarray
    height: np.ndarray

    def __len__(self) -> int:
        return len(self.height)

    @property
    def total_atoms(self) -> int:
        """Sum of the column heights (number of atoms)."""
        return int(self.height.sum())

    def to_dict(self) -> dict:
        """Arrays for storage."""
        return {"xy": self.xy.astype(np.float64), "height": self.height.astype(np.int32)}


def projection_basis(zone: tuple[int, int, int]) -> np.ndarray:
    """Orthonormal rows (u, v, w) with w along ``zone`` (crystal Cartesian frame).

    Examples
    --------
    >>> b = projection_basis((1, 1, 0))
    >>> bool(np.allclose(b @ b.T, np.eye(3)))
    True
    """
    w = np.asarray(zone, dtype=float)
    w /= np.linalg.norm(w)
    trial = np.array([0.0, 0.0, 1.0]) if abs(w[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(trial, w)
    u /= np.linalg.norm(u)
    v = np.cross(w, u)
    return np.stack([u, v, w])


def cluster_columns(
    positions: np.ndarray, zone: tuple[int, int, int], tolerance: float = 1.0
) -> np.ndarray:
    """Label atoms by the column they belong to.

    Parameters
    ----------
    positions : ndarray, shape (n, 3)
        Atom positions in the crystal frame (Å).
    zone : tuple of int
        Zone axis [hkl] along which columns run.
    tolerance : float
        Atoms whose projections lie closer than this (Å) share a column (single
        linkage). Must be below the smallest column spacing of the projection
        (2.04 Å for Au [100]).

    Returns
    -------
    labels : ndarray of int, shape (n,)
        Column index of each atom, 0..n_columns-1.
    """
    positions = np.asarray(positions, dtype=float)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise AtomcountError(f"positions must have shape (n, 3), got {positions.shape}")
    if len(positions) == 0:
        return np.zeros(0, dtype=int)
    uv = positions @ projection_basis(zone)[:2].T
    pairs = cKDTree(uv).query_pairs(tolerance, output_type="ndarray")
    n = len(uv)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


def column_table(projected_xy: np.ndarray, labels: np.ndarray) -> ColumnTable:
    """Build the :class:`ColumnTable` from projected atom positions and column labels.

    Parameters
    ----------
    projected_xy : ndarray, shape (n, 2)
        Atom positions in the image plane after orientation (Å).
    labels : ndarray of int, shape (n,)
        Output of :func:`cluster_columns`.
    """
    n_col = int(labels.max()) + 1 if len(labels) else 0
    height = np.bincount(labels, minlength=n_col)
    xy = np.stack(
        [np.bincount(labels, weights=projected_xy[:, i], minlength=n_col) for i in (0, 1)], axis=1
    ) / np.maximum(height, 1)[:, None]
    return ColumnTable(xy=xy, height=height.astype(np.int32))
