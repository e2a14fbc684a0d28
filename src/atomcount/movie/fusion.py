"""Temporal fusion of column heights: a hidden Markov model per tracked column.

States are the heights 1…15. Emissions are the classification head's per-frame height
probabilities, used as scaled likelihoods (the hybrid network–HMM approximation: a flat
prior over heights), floored at :data:`FLOOR` so that one over-confident frame cannot veto
the others. Between frames a column gains or loses one atom with probability ``rate`` (a
surface atom hopping on or off); it stays otherwise. Frames where the track was not
detected carry no information (flat emission).

Forward–backward gives the posterior height distribution per frame; Viterbi the most
probable height sequence. Both run in log space, so hundreds of frames do not underflow.
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from atomcount.core.errors import AtomcountError, check_range

#: Smallest emission probability (per height, before renormalising).
FLOOR = 1e-3
#: Default probability per frame that a column gains or loses an atom.
RATE = 0.02


def height_transitions(n_states: int, rate: float) -> np.ndarray:
    """Transition matrix T[i, j] = P(height j+1 at t+1 | height i+1 at t).

    Parameters
    ----------
    n_states : int
        Number of heights (1…n_states).
    rate : float
        Probability per frame of a change by one atom (split equally between gain and
        loss; at the ends of the range the whole rate goes to the one neighbour).

    Examples
    --------
    >>> height_transitions(3, 0.1).round(2).tolist()
    [[0.9, 0.1, 0.0], [0.05, 0.9, 0.05], [0.0, 0.1, 0.9]]
    """
    check_range("rate", rate, 0.0, 1.0)
    t = np.zeros((n_states, n_states))
    for i in range(n_states):
        nbrs = [j for j in (i - 1, i + 1) if 0 <= j < n_states]
        t[i, i] = 1.0 - (rate if nbrs else 0.0)
        for j in nbrs:
            t[i, j] = rate / len(nbrs)
    return t


def _check(log_emission: np.ndarray, log_transition: np.ndarray, log_prior: np.ndarray) -> None:
    t, k = log_emission.shape
    if t == 0 or log_transition.shape != (k, k) or log_prior.shape != (k,):
        raise AtomcountError(f"HMM shapes do not agree: emissions {log_emission.shape}, "
                             f"transitions {log_transition.shape}, prior {log_prior.shape}")


def forward_backward(log_emission: np.ndarray, log_transition: np.ndarray,
                     log_prior: np.ndarray) -> tuple[np.ndarray, float]:
    """Posterior state probabilities of a hidden Markov model.

    Parameters
    ----------
    log_emission : ndarray, shape (T, K)
        log P(observation t | state k) (up to a constant per t).
    log_transition : ndarray, shape (K, K)
        log P(state j at t+1 | state i at t).
    log_prior : ndarray, shape (K,)
        log P(state k at t = 0).

    Returns
    -------
    posterior : ndarray, shape (T, K)
        P(state k at t | all observations); rows sum to 1.
    log_likelihood : float
        log P(observations) (same constant as the emissions).
    """
    _check(log_emission, log_transition, log_prior)
    n = len(log_emission)
    alpha = np.empty_like(log_emission, dtype=float)
    beta = np.zeros_like(alpha)
    alpha[0] = log_prior + log_emission[0]
    for t in range(1, n):
        alpha[t] = logsumexp(alpha[t - 1][:, None] + log_transition, axis=0) + log_emission[t]
    for t in range(n - 2, -1, -1):
        beta[t] = logsumexp(log_transition + (log_emission[t + 1] + beta[t + 1])[None, :], axis=1)
    log_like = float(logsumexp(alpha[-1]))
    return np.exp(alpha + beta - log_like), log_like


def viterbi(log_emission: np.ndarray, log_transition: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
    """Most probable state sequence (indices 0…K−1) of a hidden Markov model.

    Parameters are those of :func:`forward_backward`.

    Returns
    -------
    ndarray of int, shape (T,)
    """
    _check(log_emission, log_transition, log_prior)
    n, k = log_emission.shape
    score = log_prior + log_emission[0]
    back = np.zeros((n, k), int)
    for t in range(1, n):
        cand = score[:, None] + log_transition
        back[t] = cand.argmax(axis=0)
        score = cand[back[t], np.arange(k)] + log_emission[t]
    path = np.empty(n, int)
    path[-1] = int(score.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def fuse_heights(probabilities: np.ndarray, *, rate: float = RATE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fused heights of one tracked column from its per-frame height probabilities.

    Parameters
    ----------
    probabilities : ndarray, shape (T, 15)
        Per-frame probabilities of heights 1…15; a row of NaN marks a frame where the
        column was not detected.
    rate : float
        Probability per frame of a change by one atom.

    Returns
    -------
    height : ndarray of int, shape (T,)
        Most probable height per frame (posterior mode).
    probability : ndarray, shape (T,)
        Its posterior probability.
    path : ndarray of int, shape (T,)
        Most probable height sequence (Viterbi).

    Examples
    --------
    >>> p = np.full((3, 15), 0.01); p[:, 4] = 0.5; p[1] = 0.01; p[1, 6] = 0.5
    >>> fuse_heights(p, rate=0.01)[0].tolist()   # one frame reading 7 among 5s is outvoted
    [5, 5, 5]
    """
    p = np.asarray(probabilities, float)
    missing = np.isnan(p).any(axis=1)
    p = np.where(missing[:, None], 1.0, np.clip(p, 0.0, None) + FLOOR)
    log_e = np.log(p / p.sum(axis=1, keepdims=True))
    k = p.shape[1]
    with np.errstate(divide="ignore"):
        log_t = np.log(height_transitions(k, rate))
    log_prior = np.full(k, -np.log(k))
    post, _ = forward_backward(log_e, log_t, log_prior)
    return post.argmax(axis=1) + 1, post.max(axis=1), viterbi(log_e, log_t, log_prior) + 1
