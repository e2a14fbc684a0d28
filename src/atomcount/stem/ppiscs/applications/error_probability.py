"""Probability of error of atom counting from PPISCS (paper 001 §3.3; De Backer et al. 2015).

Hypotheses are the atom counts 1…K of a column, equally likely. A column hit by a dose
D (e⁻/Å²) over its probe positions scatters ``D·σ_n`` electrons into the detector on
average (σ_n the PPISCS in Å²), Poisson distributed, so the estimated cross-section
σ̂ = counts / D has mean σ_n and variance σ_n / D (Gaussian approximation). The
maximum-likelihood decision between neighbouring hypotheses is taken where their
densities cross; the probability of error is 1 − (1/K) Σ_n P(σ̂ lands in region n | n).
For K equally spaced, equal-variance hypotheses this is 2(K−1)/K · Φ(−Δ/2s)
(DESIGN.md §3), which the tests use as a table.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from atomcount.core.errors import AtomcountError


def _crossing(m0: float, s0: float, m1: float, s1: float) -> float:
    """Point between m0 < m1 where N(m0, s0²) and N(m1, s1²) are equally likely."""
    if np.isclose(s0, s1, rtol=1e-12, atol=0):
        return 0.5 * (m0 + m1)
    # log N0 = log N1  ⇔  a x² + b x + c = 0
    a = 1 / s1**2 - 1 / s0**2
    b = 2 * (m0 / s0**2 - m1 / s1**2)
    c = m1**2 / s1**2 - m0**2 / s0**2 + 2 * np.log(s1 / s0)
    roots = np.roots([a, b, c])
    roots = roots[np.isreal(roots)].real
    inside = roots[(roots >= m0) & (roots <= m1)]
    return float(inside[0]) if len(inside) else 0.5 * (m0 + m1)


def gaussian_error_probability(means: np.ndarray, sds: np.ndarray) -> float:
    """Probability of error of ML decisions between equally likely Gaussian hypotheses.

    Parameters
    ----------
    means, sds : array (K,)
        Means and standard deviations of the hypotheses. Strictly increasing means
        (PPISCS rising with thickness) give the decision regions in closed form;
        otherwise (e.g. low-angle detectors, where the PPISCS saturates) they are found
        on a fine grid by :func:`_grid_error_probability`.
    """
    m = np.asarray(means, float)
    s = np.asarray(sds, float)
    if m.ndim != 1 or m.shape != s.shape or len(m) < 2:
        raise AtomcountError("need at least two hypotheses with one mean and one standard deviation each")
    if not np.all(s > 0):
        raise AtomcountError("standard deviations must be positive")
    if not np.all(np.diff(m) > 0):
        return _grid_error_probability(m, s)
    bounds = np.array([-np.inf] + [_crossing(m[i], s[i], m[i + 1], s[i + 1]) for i in range(len(m) - 1)] + [np.inf])
    correct = ndtr((bounds[1:] - m) / s) - ndtr((bounds[:-1] - m) / s)
    return float(1.0 - correct.mean())


def _grid_error_probability(m: np.ndarray, s: np.ndarray, points: int = 40001) -> float:
    """As :func:`gaussian_error_probability` for any means: ML regions located on a grid of ``points``."""
    x = np.linspace((m - 9 * s).min(), (m + 9 * s).max(), points)
    decide = np.argmax(-0.5 * ((x[:, None] - m) / s) ** 2 - np.log(s), axis=1)
    change = np.flatnonzero(decide[1:] != decide[:-1])
    edges = np.concatenate([[-np.inf], 0.5 * (x[change] + x[change + 1]), [np.inf]])
    labels = decide[np.concatenate([[0], change + 1])]
    inside = ndtr((edges[1:] - m[labels]) / s[labels]) - ndtr((edges[:-1] - m[labels]) / s[labels])
    correct = np.bincount(labels, weights=inside, minlength=len(m))
    return float(1.0 - correct.mean())


def counting_error_probability(ppiscs: np.ndarray, dose: float, max_atoms: int | None = None) -> float:
    """Probability of miscounting a column of 1…K atoms from its PPISCS at a given dose.

    Parameters
    ----------
    ppiscs : array (N,)
        PPISCS (Å²) of 1…N atoms.
    dose : float
        Incident electrons per Å².
    max_atoms : int, optional
        K (default N): hypotheses 1…K.
    """
    if not dose > 0:
        raise AtomcountError(f"dose must be positive, got {dose}")
    sigma = np.asarray(ppiscs, float)[: max_atoms or len(ppiscs)]
    return gaussian_error_probability(sigma, np.sqrt(sigma / dose))


def error_probability_grid(base: dict, inners: np.ndarray, vary: str, values: list, dose: float,
                           max_atoms: int | None = None, **predict_options) -> np.ndarray:
    """Probability of error (len(values), len(inners)) vs the inner angle and one other parameter (paper Fig. 12).

    Parameters
    ----------
    base : dict
        Keyword arguments of :func:`atomcount.stem.ppiscs.surrogate.predict_batch` except the inner angle.
    inners : array
        Inner detector angles θ0 (mrad).
    vary : str
        Key of ``base`` to vary, or ``"max_atoms"`` (thickness).
    values : list
        Its values.
    dose : float
        e⁻/Å².
    """
    from atomcount.stem.ppiscs.surrogate import predict_batch

    out = np.full((len(values), len(inners)), np.nan)
    for i, v in enumerate(values):
        kw = dict(base)
        k_max = max_atoms
        if vary == "max_atoms":
            k_max = int(v)
        else:
            kw[vary] = v
        curves = predict_batch(inner_mrad=np.asarray(inners, float), **kw, **predict_options)
        for j, c in enumerate(curves):
            c = c[~np.isnan(c)]
            out[i, j] = counting_error_probability(c, dose, k_max)
    return out
