"""Ensembles of models from count probabilities, and per-site occupancy probabilities.

A column's count is right with its probability p (``probability`` of the ADF-STEM
table, ``confidence`` of the HRTEM one); otherwise it is one atom more or one fewer,
with equal chance (one more for single-atom columns). Each ensemble member draws all
counts, builds and relaxes a model (its own seed); the occupancy probability of a site
is the fraction of members holding an atom there. Summed over a column's sites it is
the members' mean count, an estimate of the column's expected count.
"""
from __future__ import annotations

import numpy as np

from atomcount.model3d.build import place_columns
from atomcount.model3d.lattice import SiteLattice


def sample_counts(count: np.ndarray, probability: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw of all column counts (see the module docstring)."""
    count = np.asarray(count, dtype=np.int64)
    wrong = rng.random(len(count)) >= np.asarray(probability)
    step = np.where(rng.random(len(count)) < 0.5, -1, 1)
    step = np.where(count + step < 1, 1, step)
    return np.where(wrong, count + step, count)


def site_occupancy(
    sites: SiteLattice, table: np.ndarray, count: np.ndarray, probability: np.ndarray, *,
    members: int, support: bool, relax: bool, sweeps: int, seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Occupancy probability of every site over an ensemble of models.

    Returns
    -------
    occupancy : ndarray, shape (S,)
        Fraction of members with an atom on each site (0–1).
    counts : ndarray of int, shape (members, n_columns)
        The counts each member drew.
    """
    rng = np.random.default_rng([seed, 1])
    total = np.zeros(len(sites.positions))
    drawn = []
    for m in range(members):
        c = sample_counts(count, probability, rng)
        drawn.append(c)
        total += place_columns(sites, table, c, support=support, relax=relax, sweeps=sweeps,
                               seed=seed + 1 + m).occupied
    return total / max(members, 1), np.array(drawn).reshape(members, len(count))
