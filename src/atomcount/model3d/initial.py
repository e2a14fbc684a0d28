"""Initial placement of each column's atoms on its sites.

*Centred*: every column's run of atoms is centred on the common mid-plane z = 0.
*Support*: every column starts at its lowest site at or above a flat plane
perpendicular to the beam, the truncation seen where a particle rests on its support.
"""
from __future__ import annotations

import numpy as np

from atomcount.model3d.lattice import SiteLattice
from atomcount.model3d.relax import LatticeState, total_energy


def column_offsets(sites: SiteLattice) -> np.ndarray:
    """Height (Å) of site k = 0 of each column."""
    centre = sites.column_sites.shape[1] // 2
    return sites.positions[sites.column_sites[:, centre], 2]


def centred_starts(sites: SiteLattice, count: np.ndarray, *, mid_plane: float = 0.0) -> np.ndarray:
    """First site (position along ``column_sites``) of runs centred on z = ``mid_plane`` (Å)."""
    half = sites.column_sites.shape[1] // 2
    k0 = np.rint((mid_plane - column_offsets(sites)) / sites.repeat - (np.asarray(count) - 1) / 2)
    return k0.astype(np.int64) + half


def support_floor(count: np.ndarray, repeat: float) -> float:
    """Height (Å) of the support plane: half the tallest column below the mid-plane."""
    return -0.5 * float(np.max(count, initial=0)) * repeat


def lowest_starts(sites: SiteLattice, floor: float) -> np.ndarray:
    """First site of each column at or above the plane z = ``floor`` (Å)."""
    half = sites.column_sites.shape[1] // 2
    k = np.ceil((floor - column_offsets(sites)) / sites.repeat - 1e-6).astype(np.int64)
    return np.clip(k + half, 0, sites.column_sites.shape[1] - 1)


def truncated_starts(sites: SiteLattice, count: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Runs centred on a mid-plane but cut by the support plane, mid-plane height by energy.

    A particle that is symmetric about a plane z_m and cut flat at z_s < z_m has
    columns centred on z_m where they clear the support and resting on it otherwise:
    first atom at max(z_s, z_m − L_c/2) for a column of length L_c. The height
    z_m − z_s (0 for all columns on the support, up to half the tallest column for an
    uncut particle) is chosen, in steps of half a plane spacing, for the lowest energy.
    """
    floor = support_floor(count, sites.repeat)
    on_plane = lowest_starts(sites, floor)
    best, best_e = on_plane, np.inf
    for d in np.arange(0.0, -floor + sites.plane_spacing, sites.plane_spacing / 2):
        start = np.maximum(centred_starts(sites, count, mid_plane=floor + d), on_plane)
        e = total_energy(LatticeState.from_starts(sites, start, count), table)
        if e < best_e - 1e-9:
            best, best_e = start, e
    return best


def support_bounds(sites: SiteLattice, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Initial starts on the support plane and the lowest starts relaxation may reach.

    The bottom layer may form on any of the atomic planes within one column repeat
    (two along [100] and [110], three along [111]), so relaxation may lower a column
    to the lowest site above ``floor − (h − plane spacing)``.
    """
    floor = support_floor(count, sites.repeat)
    start = lowest_starts(sites, floor)
    lowest = lowest_starts(sites, floor - (sites.repeat - sites.plane_spacing))
    return start, lowest
