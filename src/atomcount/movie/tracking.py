"""Linking columns from frame to frame into tracks with stable ids.

Columns of a particle hardly move between frames once drift is removed, and they are at
least 2.04 Å apart (Au [100]). Each frame's columns are matched to the live tracks by
minimum total distance (the Hungarian assignment of
:func:`atomcount.hrtem.evaluation.metrics.match_columns`) within
``max_distance``; a track's position is the mean of its positions so far, so one noisy
detection does not pull it away; a track missed for more than ``memory`` frames ends;
unmatched columns start new tracks.

trackpy implements the same idea with velocity predictors and subnet solvers, which
static columns do not need; this module avoids its pandas-version coupling and keeps the
dependency list short.
"""
from __future__ import annotations

import numpy as np

from atomcount.core.errors import check_range
from atomcount.hrtem.evaluation.metrics import match_columns

#: Largest distance (Å) between a column and the track it joins: half the smallest column
#: spacing of the supported projections (2.04 Å), so neighbours are never confused.
MAX_DISTANCE = 1.0
#: Frames a track may go undetected before it ends.
MEMORY = 3


def link_columns(positions: list[np.ndarray], *, max_distance: float = MAX_DISTANCE,
                 memory: int = MEMORY) -> list[np.ndarray]:
    """Track id of every column of every frame.

    Parameters
    ----------
    positions : list of ndarray, shape (n_k, 2)
        Drift-corrected column positions (Å) per frame, in frame order.
    max_distance : float
        Largest jump (Å) between a column and its track's mean position.
    memory : int
        Frames a track may be missed and still continue.

    Returns
    -------
    list of ndarray of int, shape (n_k,)
        Track ids (0, 1, …, numbered in order of first appearance) per frame.

    Examples
    --------
    >>> a = np.array([[0.0, 0.0], [3.0, 0.0]])
    >>> [ids.tolist() for ids in link_columns([a, a[::-1] + 0.1, a[:1]])]
    [[0, 1], [1, 0], [0]]
    """
    check_range("max_distance", max_distance, 0.0, 100.0, "Å")
    sums = np.zeros((0, 2))   # sum of positions per track
    counts = np.zeros(0)      # detections per track
    last = np.zeros(0, int)   # last frame seen per track
    out = []
    for k, xy in enumerate(positions):
        xy = np.asarray(xy, float).reshape(-1, 2)
        ids = np.full(len(xy), -1)
        live = np.flatnonzero(k - last <= memory + 1) if len(last) else np.zeros(0, int)
        if len(live) and len(xy):
            r, c = match_columns(sums[live] / counts[live, None], xy, max_distance)
            ids[c] = live[r]
        new = np.flatnonzero(ids < 0)
        ids[new] = len(counts) + np.arange(len(new))
        sums = np.concatenate([sums, np.zeros((len(new), 2))])
        counts = np.concatenate([counts, np.zeros(len(new))])
        last = np.concatenate([last, np.zeros(len(new), int)])
        sums[ids] += xy
        counts[ids] += 1
        last[ids] = k
        out.append(ids)
    return out
