"""The sites a 3-D model may occupy: every column's fcc sites along the beam, with
their neighbour lists on the first three shells.

Sites of column c sit at z = s_c + k·h (k = −K … K, h the column repeat, s_c the
column's offset, :mod:`atomcount.model3d.sites`). Neighbours are found once, in the
undistorted crystal frame, so the energy sees the exact shell distances even when the
measured columns carry a small calibration error.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from atomcount.model3d.energy import SHELL_RADII, SHELL_SIZES
from atomcount.model3d.sites import IndexedColumns, ZoneLattice

#: Neighbour slots per site (12 + 6 + 24).
N_NEIGHBOURS = sum(SHELL_SIZES)


@dataclass(frozen=True)
class SiteLattice:
    """Candidate sites of all columns.

    Attributes
    ----------
    positions : ndarray, shape (S, 3)
        Site positions (Å): x, y in the input frame, z along the beam (column sites
        at z = offset + k·h, the common mid-plane at z = 0).
    column : ndarray of int, shape (S,)
        Column of each site.
    k : ndarray of int, shape (S,)
        Site number along its column (z = offset + k·h).
    column_sites : ndarray of int, shape (n_columns, 2K+1)
        Site indices of each column, bottom to top.
    neighbours : ndarray of int32, shape (S, 42)
        Neighbouring sites within the third shell, −1 where absent.
    shells : ndarray of int8, shape (S, 42)
        Shell (0, 1, 2) of each neighbour slot.
    repeat : float
        Column repeat h (Å).
    plane_spacing : float
        Distance between atomic planes along the beam (Å).
    """

    positions: np.ndarray
    column: np.ndarray
    k: np.ndarray
    column_sites: np.ndarray
    neighbours: np.ndarray
    shells: np.ndarray
    repeat: float
    plane_spacing: float


def build_sites(indexed: IndexedColumns, lattice: ZoneLattice, *, half_range: int) -> SiteLattice:
    """Sites k = −half_range … half_range of every indexed column.

    Parameters
    ----------
    indexed : IndexedColumns
        Columns placed on the projected lattice.
    lattice : ZoneLattice
        The projected lattice (nominal geometry).
    half_range : int
        Number of sites on each side of the mid-plane.
    """
    n_col = len(indexed.index)
    ks = np.arange(-half_range, half_range + 1)
    offset = lattice.column_offset(indexed.index)
    offset = np.where(offset > lattice.repeat / 2 + 1e-9, offset - lattice.repeat, offset)
    z = offset[:, None] + ks[None, :] * lattice.repeat
    column = np.repeat(np.arange(n_col), len(ks))
    k = np.tile(ks, n_col)
    z = z.reshape(-1)
    crystal = np.column_stack([(indexed.index @ lattice.basis)[column], z])
    nn = lattice.nearest_neighbour
    tree = cKDTree(crystal)
    pairs = tree.query_pairs(SHELL_RADII[-1] * nn * 1.03, output_type="ndarray")
    dist = np.linalg.norm(crystal[pairs[:, 0]] - crystal[pairs[:, 1]], axis=1) / nn
    shell = np.argmin(np.abs(dist[:, None] - np.asarray(SHELL_RADII)[None]), axis=1)
    both = np.concatenate([pairs, pairs[:, ::-1]])
    shell = np.concatenate([shell, shell])
    order = np.lexsort((shell, both[:, 0]))
    both, shell = both[order], shell[order]
    starts = np.searchsorted(both[:, 0], np.arange(len(z)))
    slot = np.arange(len(both)) - starts[both[:, 0]]
    neighbours = np.full((len(z), N_NEIGHBOURS), -1, dtype=np.int32)
    shells = np.zeros((len(z), N_NEIGHBOURS), dtype=np.int8)
    neighbours[both[:, 0], slot] = both[:, 1]
    shells[both[:, 0], slot] = shell
    positions = np.column_stack([indexed.xy[column], z])
    return SiteLattice(
        positions=positions,
        column=column,
        k=k,
        column_sites=np.arange(len(z)).reshape(n_col, len(ks)),
        neighbours=neighbours,
        shells=shells,
        repeat=lattice.repeat,
        plane_spacing=lattice.plane_spacing,
    )

