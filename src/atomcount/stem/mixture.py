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

Choosing the order. The ICL curve of real cross-sections often has its global minimum at one
or a few components and local minima further on; StatSTEM users pick a local minimum (the
authors' stored curves: Pt/Ir 10 components of local minima 1, 4, 10, 16; the Pb tutorial
11 of 1, 8, 11, 13, 19). :func:`fit_mixture` therefore returns every local minimum and by
default (``rule="regular"``) takes the highest-order one whose component means are
regularly spaced, as consecutive atom counts are (on a smooth curve of the index, see
:func:`regular_spacing`). An order beyond the true one splits a count's cross-sections
between two close components, which breaks that regularity; the lower neighbour of a local
minimum within :data:`ICL_TOLERANCE` of it is a candidate as well. On the authors' own
cross-sections this rule gives their choice for Pt/Ir (10) and Pb (11); on the Au rods'
(thousands of columns, many noisy local minima) it does not (measured: 30 against 44).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp

from atomcount.core.errors import AtomcountError

#: Highest order scanned when no limit is given.
MAX_ORDER = 50
#: Above this many columns EM runs on a histogram of ``BINS`` bins (see :func:`_compress`).
BINNED_ABOVE = 2000
BINS = 2000
#: EM iterations from each starting point before the best one is run to convergence.
SHORT_RUN = 30
#: Largest residual of the means about a quadratic in the component index, in median spacings,
#: of a "regular" mixture (see :func:`regular_spacing`).
REGULARITY = 0.25
ORDER_RULES = ("regular", "global")
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
    local_minima : ndarray of int
        Orders at which the ICL curve has a local minimum (the global one included).
    rule : str
        How the order was chosen: "regular", "global" or "given".
    """

    means: np.ndarray
    weights: np.ndarray
    width: float
    log_likelihood: float
    icl: np.ndarray
    responsibilities: np.ndarray
    local_minima: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    rule: str = "global"

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


def local_minima(icl: np.ndarray) -> np.ndarray:
    """Orders (1-based) where the ICL is below both neighbours (one neighbour at the ends)."""
    icl = np.asarray(icl, dtype=float)
    lower_left = np.r_[True, icl[1:] < icl[:-1]]
    lower_right = np.r_[icl[:-1] < icl[1:], True]
    return np.flatnonzero(lower_left & lower_right) + 1


def regular_spacing(means: np.ndarray) -> bool:
    """Whether the sorted means lie on a smooth curve of the component index, as consecutive counts do.

    The cross-section grows smoothly with the atom count (nearly linearly for thin columns,
    bending slowly as channelling saturates), so a quadratic in the index k fits the means
    of consecutive counts; an order beyond the true one puts a split component off that
    curve. Regular: every residual within ``REGULARITY`` (0.25) of the median spacing.
    """
    m = np.sort(np.asarray(means, dtype=float))
    if len(m) < 4:
        return True
    k = np.arange(len(m))
    residual = m - np.polyval(np.polyfit(k, m, 2), k)
    return bool(np.abs(residual).max() <= REGULARITY * np.median(np.diff(m)))


#: ICL differences below this are not significant (the usual reading of BIC/ICL differences
#: under 2): a neighbour of a local minimum within it is a candidate order too.
ICL_TOLERANCE = 2.0


def candidate_orders(icl: np.ndarray, tolerance: float = ICL_TOLERANCE) -> list[int]:
    """Local minima of the ICL (1-based) and their neighbours within ``tolerance`` of them.

    A minimum that is one order too high because a split component gained a fraction of a
    unit of ICL keeps its lower neighbour (the true order) in the running.
    """
    icl = np.asarray(icl, dtype=float)
    out = set()
    for k in local_minima(icl):
        out.add(int(k))
        for j in (k - 1, k + 1):
            if 1 <= j <= len(icl) and np.isfinite(icl[j - 1]) and icl[j - 1] <= icl[k - 1] + tolerance:
                out.add(int(j))
    return sorted(out)


def _choose(icl: np.ndarray, fits: list, rule: str) -> int:
    """Order (1-based) chosen by ``rule`` among the candidate orders of the ICL (see module doc)."""
    best = int(np.argmin(icl)) + 1
    if rule == "global":
        return best
    regular = [k for k in candidate_orders(icl) if regular_spacing(fits[k - 1][0])]
    return max(regular) if regular else best


def fit_mixture(cross_sections: np.ndarray, *, max_components: int | None = None, n_components: int | None = None,
                rule: str = "regular") -> MixtureFit:
    """Equal-width Gaussian mixture of the cross-sections, order chosen on the ICL curve.

    Each order is fitted by EM from three starts (quantiles, equal
    spacing, the previous order's means plus the worst-fitted value), each run 30
    iterations, the best run on to convergence.

    Parameters
    ----------
    cross_sections : array (n,)
        Column cross-sections (any unit; Å² when normalised).
    max_components : int, optional
        Highest order tried; every order up to it is fitted. By default up to
        ``min(50, n // 2)``.
    n_components : int, optional
        Use this order (the user's choice, as StatSTEM allows); the ICL is still scanned
        up to ``max_components`` (or this order) for the record.
    rule : {"regular", "global"}
        Without ``n_components``: the highest-order local ICL minimum with regularly spaced
        means (see the module doc), or the global minimum.

    Returns
    -------
    MixtureFit
        The chosen order; ``icl`` holds the curve over the orders tried and
        ``local_minima`` its local minima.

    Raises
    ------
    AtomcountError
        Fewer than two values, non-finite values, ``max_components`` or ``n_components`` < 1,
        ``n_components`` above ``max_components`` or the number of values, unknown rule.
    """
    x = np.asarray(cross_sections, dtype=float).ravel()
    if len(x) < 2:
        raise AtomcountError(f"a mixture needs at least two columns, got {len(x)}")
    if not np.isfinite(x).all():
        raise AtomcountError("cross-sections contain NaN or infinite values")
    if rule not in ORDER_RULES:
        raise AtomcountError(f"rule must be one of {', '.join(ORDER_RULES)}, not {rule!r}")
    for name, value in (("max_components", max_components), ("n_components", n_components)):
        if value is not None and int(value) < 1:
            raise AtomcountError(f"{name} must be at least 1, got {value}")
    if max_components:
        limit = min(int(max_components), len(x))
    elif n_components:
        limit = int(n_components)
    else:
        limit = max(1, min(MAX_ORDER, len(x) // 2))
    if n_components is not None and int(n_components) > limit:
        raise AtomcountError(f"n_components {n_components} exceeds the orders tried ({limit}: max_components or "
                             "the number of columns)")
    values, count = _compress(x)
    scale = np.std(x) or 1.0
    icl = np.full(limit, np.nan)
    fits, previous = [], None
    for k in range(1, limit + 1):
        trials = [_em(values, count, m, scale / k, np.full(k, 1.0 / k), max_iterations=SHORT_RUN)
                  for m in _starts(values, k, previous)]
        means, sd, weights = max(trials, key=lambda f: count @ _posterior(values, *f)[0])
        means, sd, weights = _em(values, count, means, sd, weights)
        _, icl[k - 1], _ = _evaluate(x, means, sd, weights)
        fits.append((means, sd, weights))
        previous = means
    order = int(n_components) if n_components else _choose(icl, fits, rule)
    means, sd, weights = fits[order - 1]
    ll, _, resp = _evaluate(x, means, sd, weights)
    rank = np.argsort(means)
    return MixtureFit(means=means[rank], weights=weights[rank], width=sd, log_likelihood=ll, icl=icl,
                      responsibilities=resp[:, rank], local_minima=local_minima(icl),
                      rule="given" if n_components else rule)


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
