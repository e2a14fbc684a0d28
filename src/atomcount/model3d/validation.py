"""Comparing a model with a known particle.

A model built from projected counts fixes x and y but not the origin or the sign of z
(the particle may be seen from either side). :func:`site_recovery` therefore aligns
the model along the beam — every shift that puts one model atom of the central column
on one true atom, with and without flipping z — and keeps the best score.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def site_recovery(true_positions: np.ndarray, model_positions: np.ndarray, *, tolerance: float = 0.5) -> float:
    """Fraction of true atoms with a model atom within ``tolerance`` (Å), best z alignment.

    Parameters
    ----------
    true_positions, model_positions : ndarray, shape (n, 3)
        Atom positions (Å), beam along z, x and y in the same frame.
    tolerance : float
        Largest distance (Å) at which a true atom counts as found.

    Examples
    --------
    >>> p = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 2.9], [2.0, 0.0, 1.4]])
    >>> site_recovery(p, p * [1, 1, -1] + [0, 0, 7.0])
    1.0
    """
    true_positions = np.asarray(true_positions, dtype=float)
    model_positions = np.asarray(model_positions, dtype=float)
    if len(true_positions) == 0 or len(model_positions) == 0:
        return 0.0
    centre = true_positions[:, :2].mean(axis=0)
    ref_xy = model_positions[np.argmin(np.linalg.norm(model_positions[:, :2] - centre, axis=1)), :2]
    model_ref = model_positions[np.linalg.norm(model_positions[:, :2] - ref_xy, axis=1) < tolerance, 2]
    true_ref = true_positions[np.linalg.norm(true_positions[:, :2] - ref_xy, axis=1) < 2 * tolerance, 2]
    best = 0.0
    for flip in (1.0, -1.0):
        for shift in np.unique(np.round(true_ref[:, None] - flip * model_ref[None, :], 4)):
            moved = model_positions * [1.0, 1.0, flip] + [0.0, 0.0, shift]
            dist, _ = cKDTree(moved).query(true_positions)
            best = max(best, float(np.mean(dist < tolerance)))
    return best
