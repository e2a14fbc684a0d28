"""HMM fusion against closed forms and brute-force enumeration."""
from itertools import product

import numpy as np
import pytest

from atomcount.core.errors import AtomcountError
from atomcount.movie.fusion import forward_backward, fuse_heights, height_transitions, viterbi

# two states, known transitions and emissions (observation likelihoods per step)
T = np.array([[0.9, 0.1], [0.2, 0.8]])
PRIOR = np.array([0.5, 0.5])
E = np.array([[0.7, 0.2], [0.4, 0.6], [0.1, 0.9]])


def _joint(path):
    p = PRIOR[path[0]] * E[0, path[0]]
    for t in range(1, len(path)):
        p *= T[path[t - 1], path[t]] * E[t, path[t]]
    return p


def test_two_step_posterior_by_hand():
    # P(s0=0 | o0, o1) = 0.5·0.7·(0.9·0.4 + 0.1·0.6) / Σ, written out by hand
    a = 0.5 * 0.7 * (0.9 * 0.4 + 0.1 * 0.6)
    b = 0.5 * 0.2 * (0.2 * 0.4 + 0.8 * 0.6)
    post, loglike = forward_backward(np.log(E[:2]), np.log(T), np.log(PRIOR))
    assert post[0, 0] == pytest.approx(a / (a + b), rel=1e-12)
    assert loglike == pytest.approx(np.log(a + b), rel=1e-12)


def test_three_step_posterior_and_viterbi_match_enumeration():
    paths = list(product([0, 1], repeat=3))
    joint = np.array([_joint(p) for p in paths])
    post, loglike = forward_backward(np.log(E), np.log(T), np.log(PRIOR))
    for t in range(3):
        for s in (0, 1):
            expected = joint[[p[t] == s for p in paths]].sum() / joint.sum()
            assert post[t, s] == pytest.approx(expected, rel=1e-12)
    assert loglike == pytest.approx(np.log(joint.sum()), rel=1e-12)
    assert tuple(viterbi(np.log(E), np.log(T), np.log(PRIOR))) == paths[int(joint.argmax())]


def test_long_sequence_does_not_underflow():
    e = np.log(np.tile([[0.01, 0.99]], (5000, 1)))
    post, loglike = forward_backward(e, np.log(T), np.log(PRIOR))
    assert np.isfinite(loglike) and np.allclose(post.sum(axis=1), 1) and post[-1, 1] > 0.99


def test_transitions_are_stochastic_and_neighbour_only():
    t = height_transitions(15, 0.05)
    assert np.allclose(t.sum(axis=1), 1)
    assert np.count_nonzero(np.triu(t, 2)) == 0 and np.count_nonzero(np.tril(t, -2)) == 0
    with pytest.raises(AtomcountError):
        height_transitions(15, 1.5)


def test_fusion_outvotes_noise_keeps_a_real_change_and_bridges_gaps():
    truth = np.r_[np.full(20, 5), np.full(20, 6)]
    p = np.full((40, 15), 0.02)
    p[np.arange(40), truth - 1] = 0.5
    wrong = np.array([3, 9, 14, 25, 33, 37])      # isolated frames whose single reading is one too tall
    p[wrong] = 0.02
    p[wrong, truth[wrong]] = 0.5
    p[10] = np.nan                                 # a frame where the column was not detected
    single = np.nanargmax(np.nan_to_num(p, nan=0), axis=1) + 1
    fused, prob, path = fuse_heights(p, rate=0.02)
    assert (fused == truth).mean() > (single == truth).mean()
    assert (fused == truth).all() and (path == truth).all() and fused[10] == 5
    assert np.all((prob > 0) & (prob <= 1))


def test_bad_shapes_are_refused():
    with pytest.raises(AtomcountError):
        forward_backward(np.zeros((3, 2)), np.zeros((3, 3)), np.zeros(2))
