"""Gaussian mixtures of column cross-sections (statistics-based atom counting).

Columns with the same number of atoms have cross-sections spread around one value by
noise; the cross-sections of all columns form a mixture of Gaussians, one component per
atom count, all with the same width (De Backer et al., Ultramicroscopy 134, 2013).

:func:`fit_mixture` fits orders 1, 2, … by expectation–maximisation and chooses the order
by the integrated classification likelihood (Biernacki, Celeux, Govaert, IEEE TPAMI 22, 2000)
in the form used here, to be minimised::

    ICL(K) = −2 log L̂_K + d_K log n + 2 EN_K,   d_K = 2K,   EN_K = −Σ_i Σ_k τ_ik log τ_ik

with L̂_K the maximised likelihood of the n cross-sections, d_K the free parameters (K means,
K − 1 weights, one shared variance) — so the first two terms are BIC — and EN_K the entropy
of the posterior probabilities τ_ik of column i belonging to component k, which penalises
components that overlap (a column cannot be classified with confidence between them).

:func:`fit_library_mixture` is the hybrid: the component means are fixed to simulated
cross-sections (the library), only the weights and the shared width are estimated.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from atomcount.errors import AtomcountError

#: Highest order scanned when no limit is given.
MAX_ORDER = 50
#: Above this many columns EM runs on a histogram of ``BINS`` bins (see :func:`_compress`).
BINNED_ABOVE = 2000
BINS = 2000
#: Without ``max_components`` the scan may stop once the ICL rose this many orders in a row
#: above its minimum (see :func:`_settled`; a full scan to ``MAX_ORDER`` otherwise).
PATIENCE = 5
MIN_SCAN = 15
#: EM iterations from each starting point before the best one is run to convergence.
SHORT_RUN = 30
_LOG_2PI = np.log(2 * np.pi)


@dataclass
class MixtureFit:
    """An equal-width Gaussian mixture of cross-sections.

    Attributes
    ----------
    means : ndarray (K,)
        Component means, ascending (units of the cross-sections).
    weights : ndarray (K,)
        Mixing proportions.
    width : float
        Shared standard deviation.
    log_likelihood : float
        Maximised log-likelihood.
    icl : ndarray
        ICL of every order scanned, index 0 = order 1 (NaN where not scanned).
    responsibilities : ndarray (n, K)
        Posterior probability τ_ik of each cross-section per component.
    """

    means: np.ndarray
    weights: np.ndarray
    width: float
    log_likelihood: float
    icl: np.ndarray
    responsibilities: np.ndarray

    @property
    def order(self) -> int:
        """Number of components K."""
        return len(self.means)

    @property
    def labels(self) -> np.ndarray:
        """Most probable component (0 … K−1) of each cross-section."""
        return np.argmax(self.responsibilities, axis=1)

    @property
    def probability(self) -> np.ndarray:
        """Posterior probability of the most probable component of each cross-section."""
        return self.responsibilities.max(axis=1)


def _log_components(x: np.ndarray, means: np.ndarray, sd: float, weights: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        logw = np.log(weights)
    return logw - 0.5 * ((x[:, None] - means[None, :]) / sd) ** 2 - np.log(sd) - 0.5 * _LOG_2PI


def _posterior(x: np.ndarray, means: np.ndarray, sd: float, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-density of each value under the mixture (n,) and posterior probabilities τ (n, K)."""
    logp = _log_components(x, means, sd, weights)
    top = logp.max(axis=1, keepdims=True)
    p = np.exp(logp - top)
    total = p.sum(axis=1, keepdims=True)
    return (np.log(total) + top)[:, 0], p / total


def _step(x: np.ndarray, count: np.ndarray, theta: np.ndarray, k: int,
          fixed_means: bool) -> tuple[float, np.ndarray]:
    """One EM step. ``theta`` = (means, log sd, weights); returns log L at ``theta`` and the update."""
    means, sd, weights = theta[:k], np.exp(theta[k]), theta[k + 1:]
    logf, resp = _posterior(x, means, sd, weights)
    resp *= count[:, None]
    nk = resp.sum(axis=0)
    n = count.sum()
    if not fixed_means:
        means = np.where(nk > 1e-10, (x @ resp) / np.maximum(nk, 1e-300), means)
    var = np.einsum("nk,nk->", resp, (x[:, None] - means[None, :]) ** 2) / n
    floor = 1e-6 * max(np.ptp(x), np.abs(x).max(), 1e-300)
    return float(count @ logf), np.concatenate([means, [np.log(max(np.sqrt(var), floor))], nk / n])


def _em(x: np.ndarray, count: np.ndarray, means: np.ndarray, sd: float, weights: np.ndarray, *,
        fixed_means: bool = False, max_iterations: int = 3000,
        tolerance: float = 1e-2) -> tuple[np.ndarray, float, np.ndarray]:
    """Expectation–maximisation of an equal-width mixture of values ``x`` seen ``count`` times.

    Accelerated by SQUAREM (Varadhan & Roland, Scand. J. Stat. 35, 2008, scheme S3): from
    two EM steps θ₁, θ₂ of θ₀ it jumps to θ₀ − 2αr + α²v (r = θ₁ − θ₀, v = θ₂ − 2θ₁ + θ₀,
    α = −‖r‖/‖v‖) and takes one EM step from there, falling back to θ₂ if that lowers the
    likelihood; plain EM with overlapping components can need thousands of steps. Stops when
    a cycle gains less than ``tolerance`` in log L (ICL differences between orders are of
    order log n) or after ``max_iterations`` EM steps. Returns means, sd, weights.
    """
    k = len(means)
    theta = np.concatenate([means, [np.log(sd)], weights])
    old = -np.inf
    for _ in range(max_iterations // 3):
        ll0, t1 = _step(x, count, theta, k, fixed_means)
        ll1, t2 = _step(x, count, t1, k, fixed_means)
        r, v = t1 - theta, t2 - 2 * t1 + theta
        nv = np.linalg.norm(v)
        alpha = min(-np.linalg.norm(r) / nv, -1.0) if nv > 0 else -1.0
        jump = theta - 2 * alpha * r + alpha**2 * v
        w = np.clip(jump[k + 1:], 0.0, None)
        jump[k + 1:] = w / w.sum() if w.sum() > 0 else t2[k + 1:]
        ll2, t3 = _step(x, count, t2, k, fixed_means)
        llj, tj = _step(x, count, jump, k, fixed_means) if np.isfinite(jump).all() else (-np.inf, t3)
        theta, ll = (tj, llj) if llj >= ll2 else (t3, ll2)
        if ll - old < tolerance:
            break
        old = ll
    return theta[:k], float(np.exp(theta[k])), theta[k + 1:]


def _compress(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and multiplicities for EM: the data, or above ``BINNED_ABOVE`` values a fine histogram.

    The histogram has ``BINS`` bins over the data range; a bin width h adds h²/12 to a
    component variance (Sheppard), negligible while the components are many bins wide.
    """
    if len(x) <= BINNED_ABOVE or np.ptp(x) == 0:
        return x, np.ones(len(x))
    count, edges = np.histogram(x, bins=BINS)
    keep = count > 0
    return 0.5 * (edges[1:] + edges[:-1])[keep], count[keep].astype(float)


def _starts(x: np.ndarray, k: int, previous: np.ndarray | None) -> list[np.ndarray]:
    """Starting means: quantiles, equal spacing, and the previous order plus the worst-fitted point."""
    starts = [np.quantile(x, (np.arange(k) + 0.5) / k), np.linspace(x.min(), x.max(), k + 2)[1:-1]]
    if previous is not None:
        d = np.min(np.abs(x[:, None] - previous[None, :]), axis=1)
        starts.append(np.sort(np.append(previous, x[np.argmax(d)])))
    return starts


def _evaluate(x: np.ndarray, means: np.ndarray, sd: float, weights: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Log-likelihood, ICL and posterior probabilities of a fitted mixture on the data ``x``."""
    logf, resp = _posterior(x, means, sd, weights)
    ll = float(logf.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -float(np.sum(np.where(resp > 0, resp * np.log(resp), 0.0)))
    return ll, -2.0 * ll + 2 * len(means) * np.log(len(x)) + 2.0 * entropy, resp


def _settled(icl: np.ndarray) -> bool:
    """Stop rule of the order scan: the ICL minimum lies at an order m ≥ 2, the scan has
    reached max(2m, m + ``PATIENCE``, ``MIN_SCAN``), and the last ``PATIENCE`` values lie
    above the minimum.

    A minimum at one component is never trusted: data with many well-separated counts have
    an ICL that first rises with the order (few components, each straddling several counts,
    classify badly) before it falls to its true minimum.
    """
    best = int(np.argmin(icl)) + 1
    return bool(best >= 2 and len(icl) >= max(2 * best, best + PATIENCE, MIN_SCAN)
                and np.all(icl[-PATIENCE:] > icl[best - 1]))


def fit_mixture(cross_sections: np.ndarray, *, max_components: int | None = None) -> MixtureFit:
    """Equal-width Gaussian mixture of the cross-sections, order chosen by ICL.

    Each order is fitted by EM from three starts (quantiles, equal
    spacing, the previous order's means plus the worst-fitted value), each run 30
    iterations, the best run on to convergence; the order with the smallest ICL wins.

    Parameters
    ----------
    cross_sections : array (n,)
        Column cross-sections (any unit; Å² when normalised).
    max_components : int, optional
        Highest order tried; every order up to it is fitted. By default up to
        ``min(50, n // 2)``, stopping early once the scan has passed twice the order of the
        ICL minimum and at least 15 orders (see :func:`_settled`; the ICL curve of real
        data can have local minima: pass ``max_components`` for a full scan).

    Returns
    -------
    MixtureFit
        The order with the smallest ICL; ``icl`` holds the curve over the orders tried.

    Raises
    ------
    AtomcountError
        Fewer than two values, non-finite values, or ``max_components`` < 1.
    """
    x = np.asarray(cross_sections, dtype=float).ravel()
    if len(x) < 2:
        raise AtomcountError(f"a mixture needs at least two columns, got {len(x)}")
    if not np.isfinite(x).all():
        raise AtomcountError("cross-sections contain NaN or infinite values")
    if max_components is not None and int(max_components) < 1:
        raise AtomcountError(f"max_components must be at least 1, got {max_components}")
    limit = min(int(max_components), len(x)) if max_components else max(1, min(MAX_ORDER, len(x) // 2))
    values, count = _compress(x)
    scale = np.std(x) or 1.0
    icl = np.full(limit, np.nan)
    best, previous = None, None
    for k in range(1, limit + 1):
        trials = [_em(values, count, m, scale / k, np.full(k, 1.0 / k), max_iterations=SHORT_RUN)
                  for m in _starts(values, k, previous)]
        means, sd, weights = max(trials, key=lambda f: count @ _posterior(values, *f)[0])
        means, sd, weights = _em(values, count, means, sd, weights)
        ll, icl[k - 1], resp = _evaluate(x, means, sd, weights)
        previous = means
        if best is None or icl[k - 1] < best[0]:
            best = (icl[k - 1], means, sd, weights, ll, resp)
        elif max_components is None and _settled(icl[:k]):
            icl = icl[:k]
            break
    _, means, sd, weights, ll, resp = best
    order = np.argsort(means)
    return MixtureFit(means=means[order], weights=weights[order], width=sd, log_likelihood=ll,
                      icl=icl, responsibilities=resp[:, order])


def fit_library_mixture(cross_sections: np.ndarray, library_values: np.ndarray, *,
                        width: float | None = None) -> MixtureFit:
    """Hybrid counting: a mixture whose means are the library's cross-sections.

    Component n sits at the simulated cross-section of n atoms; EM estimates the weights
    (how many columns hold n atoms) and the shared width (unless given). The posterior of a
    column then weighs the distance to each library value by how common that count is in the
    image, so doubtful columns go to the counts the image supports.

    Parameters
    ----------
    cross_sections : array (n,)
        Column cross-sections (Å²).
    library_values : array (N,)
        Simulated cross-sections (Å²) of 1…N atoms.
    width : float, optional
        Starting width (Å²); half the median library spacing by default.

    Returns
    -------
    MixtureFit
        ``means`` are the library values (component k = k + 1 atoms); ``icl`` holds the ICL of
        this constrained mixture (one value).
    """
    x = np.asarray(cross_sections, dtype=float).ravel()
    lib = np.asarray(library_values, dtype=float)
    if not np.isfinite(x).all() or len(x) < 1:
        raise AtomcountError("cross-sections must be finite and at least one")
    if width:
        sd0 = float(width)
    else:
        sd0 = 0.5 * float(np.median(np.abs(np.diff(lib)))) if len(lib) > 1 else float(np.std(x)) or 1.0
    values, count = _compress(x)
    means, sd, weights = _em(values, count, lib.copy(), sd0, np.full(len(lib), 1.0 / len(lib)), fixed_means=True)
    ll, icl, resp = _evaluate(x, means, sd, weights)
    return MixtureFit(means=means, weights=weights, width=sd, log_likelihood=ll, icl=np.array([icl]),
                      responsibilities=resp)


def assign_library(cross_sections: np.ndarray, library_values: np.ndarray,
                   sigma: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest simulated cross-section per column, with its posterior probability.

    Parameters
    ----------
    cross_sections : array (n,)
        Measured cross-sections (Å²).
    library_values : array (N,)
        Simulated cross-sections (Å²) of 1…N atoms.
    sigma : float or array (n,)
        Standard deviation of a measured cross-section (Å²).

    Returns
    -------
    counts : ndarray of int (n,)
        Atoms per column (1…N): the library value closest to the measurement.
    probability : ndarray (n,)
        Posterior probability of that count among 1…N, equal priors and Gaussian noise of
        standard deviation ``sigma``.
    """
    x = np.asarray(cross_sections, dtype=float).ravel()
    lib = np.asarray(library_values, dtype=float)
    s = np.broadcast_to(np.asarray(sigma, dtype=float), x.shape)
    if not (np.all(s > 0) and np.isfinite(s).all()):
        raise AtomcountError("sigma must be positive and finite")
    if lib.ndim != 1 or len(lib) == 0 or not np.isfinite(lib).all():
        raise AtomcountError("library values must be a non-empty 1-D array of finite numbers")
    logp = -0.5 * ((x[:, None] - lib[None, :]) / s[:, None]) ** 2
    counts = np.argmin(np.abs(x[:, None] - lib[None, :]), axis=1)
    post = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))
    return counts + 1, post[np.arange(len(x)), counts]
