"""Monte Carlo relaxation of a column model at fixed column counts.

Each column holds its atoms on a contiguous run of its sites, starting at site
``start[c]``. A move takes the atom at one end of a column to the free site beyond the
other end — the column slides by one repeat along the beam, its count unchanged. The
energy change involves only the two sites and their neighbours within the third shell
(≤ 86 sites), so one move costs a few hundred table look-ups (:mod:`atomcount.model3d.energy`).
Moves are accepted by the Metropolis rule under a geometric temperature schedule
(simulated annealing, fixed seed); the lowest-energy state met is returned, so the
result never has a higher energy than the start.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from atomcount.model3d.lattice import SiteLattice


@dataclass
class LatticeState:
    """Occupied sites and the neighbour counts of every site.

    Attributes
    ----------
    occupied : ndarray of int8, shape (S,)
        1 where a site holds an atom.
    counts : ndarray of int32, shape (S, 3)
        Occupied neighbours of each site in shells 1–3.
    """

    occupied: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_starts(cls, sites: SiteLattice, start: np.ndarray, count: np.ndarray) -> LatticeState:
        """State with column c occupying its sites start[c] … start[c] + count[c] − 1."""
        width = sites.column_sites.shape[1]
        run = np.arange(width)[None, :]
        mask = (run >= start[:, None]) & (run < (start + count)[:, None])
        occupied = np.zeros(len(sites.positions), dtype=np.int8)
        occupied[sites.column_sites[mask]] = 1
        counts = np.zeros((len(occupied), 3), dtype=np.int32)
        _count_neighbours(occupied, sites.neighbours, sites.shells, counts)
        return cls(occupied=occupied, counts=counts)


def total_energy(state: LatticeState, table: np.ndarray) -> float:
    """Energy (eV) of a state: the sum of the occupied sites' table energies."""
    occ = state.occupied.astype(bool)
    c = state.counts[occ]
    return float(table[c[:, 0], c[:, 1], c[:, 2]].sum())


def move_energy(state: LatticeState, sites: SiteLattice, table: np.ndarray, source: int, target: int) -> float:
    """Move the atom at site ``source`` to the empty site ``target`` in place; return ΔE (eV)."""
    stamp = np.zeros(len(state.occupied), dtype=np.int64)
    buf = np.zeros(2 * sites.neighbours.shape[1] + 2, dtype=np.int64)
    return _move(source, target, state.occupied, state.counts, sites.neighbours, sites.shells,
                 table, stamp, 1, buf)


@dataclass(frozen=True)
class RelaxResult:
    """Outcome of :func:`anneal`.

    Attributes
    ----------
    start : ndarray of int
        First occupied site (position along ``column_sites``) of each column, lowest energy found.
    energy : float
        Its energy (eV).
    initial_energy : float
        Energy of the starting state (eV).
    accepted : int
        Accepted moves.
    """

    start: np.ndarray
    energy: float
    initial_energy: float
    accepted: int


def anneal(
    sites: SiteLattice,
    table: np.ndarray,
    start: np.ndarray,
    count: np.ndarray,
    *,
    lowest: np.ndarray,
    sweeps: int = 400,
    t_start: float = 0.3,
    t_end: float = 0.005,
    seed: int = 0,
) -> RelaxResult:
    """Simulated annealing over column slides.

    Parameters
    ----------
    sites : SiteLattice
        Candidate sites and neighbour lists.
    table : ndarray, shape (13, 7, 25)
        Site energies (eV) by neighbour counts.
    start, count : ndarray of int
        Initial first site and number of atoms of each column.
    lowest : ndarray of int
        Lowest allowed first site of each column (a support plane, or the end of the range).
    sweeps : int
        Move attempts per column over the whole schedule.
    t_start, t_end : float
        First and last temperature kT (eV), geometric in between.
    seed : int
        Seed of the move and acceptance draws.
    """
    state = LatticeState.from_starts(sites, start, count)
    e0 = total_energy(state, table)
    movable = np.flatnonzero(count > 0).astype(np.int64)
    n_moves = int(sweeps) * len(movable)
    best = np.asarray(start, dtype=np.int64).copy()
    if n_moves == 0:
        return RelaxResult(start=best, energy=e0, initial_energy=e0, accepted=0)
    temps = t_start * (t_end / t_start) ** (np.arange(n_moves) / max(n_moves - 1, 1))
    rng = np.random.default_rng(seed)
    columns = movable[rng.integers(0, len(movable), n_moves)]
    direction = rng.integers(0, 2, n_moves).astype(np.int64) * 2 - 1
    log_u = np.log(rng.random(n_moves))
    current = best.copy()
    best_e, accepted = _anneal(
        state.occupied, state.counts, sites.neighbours, sites.shells, table, sites.column_sites,
        current, np.asarray(count, dtype=np.int64), np.asarray(lowest, dtype=np.int64),
        columns, direction, log_u, temps, e0, best,
    )
    best_e = total_energy(LatticeState.from_starts(sites, best, count), table)  # no round-off drift
    return RelaxResult(start=best, energy=best_e, initial_energy=e0, accepted=int(accepted))


@njit(cache=True)
def _count_neighbours(occupied, neighbours, shells, counts):
    for s in range(len(occupied)):
        if occupied[s]:
            for k in range(neighbours.shape[1]):
                j = neighbours[s, k]
                if j >= 0:
                    counts[j, shells[s, k]] += 1


@njit(cache=True)
def _shift(source, target, occupied, counts, neighbours, shells):
    occupied[source] = 0
    for k in range(neighbours.shape[1]):
        j = neighbours[source, k]
        if j >= 0:
            counts[j, shells[source, k]] -= 1
    occupied[target] = 1
    for k in range(neighbours.shape[1]):
        j = neighbours[target, k]
        if j >= 0:
            counts[j, shells[target, k]] += 1


@njit(cache=True)
def _local_energy(buf, m, occupied, counts, table):
    e = 0.0
    for i in range(m):
        s = buf[i]
        if occupied[s]:
            e += table[counts[s, 0], counts[s, 1], counts[s, 2]]
    return e


@njit(cache=True)
def _move(source, target, occupied, counts, neighbours, shells, table, stamp, tag, buf):
    """Apply the move and return ΔE, from the sites whose energy can change."""
    m = 0
    for s in (source, target):
        if stamp[s] != tag:
            stamp[s] = tag
            buf[m] = s
            m += 1
        for k in range(neighbours.shape[1]):
            j = neighbours[s, k]
            if j >= 0 and stamp[j] != tag:
                stamp[j] = tag
                buf[m] = j
                m += 1
    before = _local_energy(buf, m, occupied, counts, table)
    _shift(source, target, occupied, counts, neighbours, shells)
    return _local_energy(buf, m, occupied, counts, table) - before


@njit(cache=True)
def _anneal(occupied, counts, neighbours, shells, table, column_sites, current, count, lowest,
            columns, direction, log_u, temps, e0, best):
    width = column_sites.shape[1]
    stamp = np.zeros(len(occupied), dtype=np.int64)
    buf = np.zeros(2 * neighbours.shape[1] + 2, dtype=np.int64)
    energy = e0
    best_e = e0
    accepted = 0
    for t in range(len(columns)):
        c = columns[t]
        lo = current[c]
        n = count[c]
        if direction[t] > 0:
            if lo + n >= width:
                continue
            source, target = column_sites[c, lo], column_sites[c, lo + n]
        else:
            if lo - 1 < lowest[c]:
                continue
            source, target = column_sites[c, lo + n - 1], column_sites[c, lo - 1]
        de = _move(source, target, occupied, counts, neighbours, shells, table, stamp, t + 1, buf)
        if de <= 0.0 or log_u[t] < -de / temps[t]:
            current[c] = lo + direction[t]
            energy += de
            accepted += 1
            if energy < best_e - 1e-12:
                best_e = energy
                best[:] = current
        else:
            _shift(target, source, occupied, counts, neighbours, shells)
    return best_e, accepted
