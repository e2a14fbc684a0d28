"""Linking columns into tracks."""
import numpy as np
import pytest

from atomcount.core.errors import AtomcountError
from atomcount.movie.tracking import link_columns


def test_ids_stable_under_jitter_shuffling_gaps_and_new_columns():
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(np.arange(6) * 2.04, np.arange(5) * 2.04), -1).reshape(-1, 2)
    frames, truth = [], []
    for k in range(12):
        ids = np.arange(len(grid))
        if k in (4, 5):               # column 7 missed for two frames
            ids = ids[ids != 7]
        xy = grid[ids] + rng.normal(0, 0.15, size=(len(ids), 2))
        if k >= 8:                    # an adatom lands at frame 8
            xy = np.vstack([xy, [[20.0, 20.0]]])
            ids = np.r_[ids, len(grid)]
        order = rng.permutation(len(ids))
        frames.append(xy[order])
        truth.append(ids[order])
    got = link_columns(frames)
    first = {t: g for t, g in zip(truth[0], got[0])}
    first[len(grid)] = got[8][truth[8] == len(grid)][0]
    for t, g in zip(truth, got):
        assert [first[i] for i in t] == g.tolist()
    assert len(set(np.concatenate(got))) == len(grid) + 1


def test_track_ends_after_memory_and_far_columns_do_not_join():
    a = np.array([[0.0, 0.0]])
    got = link_columns([a, np.zeros((0, 2)), np.zeros((0, 2)), a], memory=1)
    assert got[0][0] != got[3][0]
    got = link_columns([a, a + 1.5], max_distance=1.0)
    assert got[0][0] != got[1][0]
    with pytest.raises(AtomcountError):
        link_columns([a], max_distance=-1)
