"""From columns on their sites to an occupied-site model: initial placement, then relaxation."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atomcount.model3d.initial import centred_starts, support_bounds, truncated_starts
from atomcount.model3d.lattice import SiteLattice
from atomcount.model3d.relax import LatticeState, RelaxResult, anneal, total_energy


@dataclass(frozen=True)
class Placement:
    """One model: which sites hold atoms.

    Attributes
    ----------
    occupied : ndarray of bool, shape (S,)
        Occupied sites.
    initial_energy, energy : float
        Lattice energy (eV) of the initial placement and of the returned one.
    """

    occupied: np.ndarray
    initial_energy: float
    energy: float


def place_columns(
    sites: SiteLattice, table: np.ndarray, count: np.ndarray, *,
    support: bool, relax: bool, sweeps: int, seed: int,
) -> Placement:
    """Place ``count[c]`` atoms on column c's sites, centred or on a support, and relax.

    Parameters
    ----------
    sites : SiteLattice
        Candidate sites.
    table : ndarray, shape (13, 7, 25)
        Site energies (eV) by neighbour counts.
    count : ndarray of int
        Atoms per column.
    support : bool
        Start every column on a flat plane and keep it from going below it.
    relax : bool
        Run :func:`atomcount.model3d.relax.anneal`; otherwise return the initial placement.
    sweeps : int
        Move attempts per column.
    seed : int
        Seed of the annealing.
    """
    count = np.asarray(count, dtype=np.int64)
    if support:
        _, lowest = support_bounds(sites, count)
        start = truncated_starts(sites, count, table)
    else:
        start, lowest = centred_starts(sites, count), np.zeros(len(count), dtype=np.int64)
    if relax:
        result: RelaxResult = anneal(sites, table, start, count, lowest=lowest, sweeps=sweeps, seed=seed)
        start, e0, e1 = result.start, result.initial_energy, result.energy
    else:
        e0 = e1 = total_energy(LatticeState.from_starts(sites, start, count), table)
    state = LatticeState.from_starts(sites, start, count)
    return Placement(occupied=state.occupied.astype(bool), initial_energy=e0, energy=e1)
