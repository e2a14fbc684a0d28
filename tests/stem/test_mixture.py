"""Equal-width Gaussian mixtures, ICL and library assignment (atomcount.stem.mixture)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from _synthetic_stem import VOLUMES
from atomcount.core.errors import AtomcountError
from atomcount.stem.mixture import assign_library, fit_library_mixture, fit_mixture
from atomcount.stem.ppiscs.applications.error_probability import gaussian_error_probability


def _sample(counts, sd, seed=0):
    rng = np.random.default_rng(seed)
    return VOLUMES[counts - 1] + rng.normal(0, sd, len(counts)), rng


@pytest.mark.parametrize("n, k_true", [(400, 4), (5000, 6)])  # 5000 runs EM on the histogram
def test_icl_picks_the_true_order_and_the_means(n, k_true):
    counts = np.random.default_rng(1).integers(1, k_true + 1, n)
    x, _ = _sample(counts, 0.003)
    fit = fit_mixture(x)
    assert fit.order == k_true
    assert np.nanargmin(fit.icl) + 1 == k_true
    for k in range(k_true):
        sel = counts == k + 1
        assert fit.means[k] == pytest.approx(x[sel].mean(), abs=3 * 0.003 / np.sqrt(sel.sum()) + 1e-5)
    assert fit.width == pytest.approx(0.003, rel=0.1)
    # misclassification as predicted by the error-probability model for these hypotheses
    p = gaussian_error_probability(VOLUMES[:k_true], np.full(k_true, 0.003))
    assert np.mean(fit.labels + 1 != counts) <= p + 4 * np.sqrt(p / n) + 1 / n


def test_one_component_is_the_sample_mean_and_ml_std():
    x = np.random.default_rng(2).normal(5.0, 0.2, 300)
    fit = fit_mixture(x, max_components=1)
    assert fit.means[0] == pytest.approx(x.mean(), rel=1e-9)
    assert fit.width == pytest.approx(x.std(), rel=1e-6)
    assert fit.log_likelihood == pytest.approx(norm.logpdf(x, x.mean(), x.std()).sum(), rel=1e-9)


def test_icl_is_bic_plus_twice_the_entropy():
    """ICL = −2 log L + 2K log n + 2 EN, recomputed from the fitted parameters with scipy."""
    counts = np.random.default_rng(3).integers(1, 4, 200)
    x, _ = _sample(counts, 0.008, seed=3)  # overlapping: the entropy term matters
    fit = fit_mixture(x, max_components=3)
    k = fit.order
    dens = fit.weights * norm.pdf(x[:, None], fit.means, fit.width)
    ll = np.log(dens.sum(axis=1)).sum()
    tau = dens / dens.sum(axis=1, keepdims=True)
    entropy = -np.sum(tau * np.log(np.clip(tau, 1e-300, None)))
    assert fit.icl[k - 1] == pytest.approx(-2 * ll + 2 * k * np.log(len(x)) + 2 * entropy, rel=1e-9)
    assert len(fit.icl) == 3


def test_assign_library_nearest_and_closed_form_probability():
    lib = np.array([1.0, 2.0, 3.0])
    counts, prob = assign_library(np.array([0.2, 1.4, 2.6, 9.0, 2.5]), lib, 0.3)
    np.testing.assert_array_equal(counts, [1, 1, 3, 3, 2])
    assert np.all((prob >= 0) & (prob <= 1))
    # x = 1.4 between 1 and 2 (3 is negligible): logistic in the squared-distance difference
    expected = 1 / (1 + np.exp(-((1.4 - 2) ** 2 - (1.4 - 1) ** 2) / (2 * 0.3**2)) + np.exp(-((1.4 - 3) ** 2 - 0.16) / 0.18))
    assert prob[1] == pytest.approx(expected, rel=1e-12)
    # exactly half way between two: a tie, probability ½ (third value far away)
    assert assign_library(np.array([1.5]), np.array([1.0, 2.0, 30.0]), 0.2)[1][0] == pytest.approx(0.5)


def test_hybrid_equals_library_when_the_mixture_agrees():
    counts = np.random.default_rng(4).integers(1, 6, 300)
    x, _ = _sample(counts, 0.002, seed=4)
    lib_counts, _ = assign_library(x, VOLUMES, 0.002)
    hybrid = fit_library_mixture(x, VOLUMES)
    np.testing.assert_array_equal(hybrid.labels + 1, lib_counts)
    np.testing.assert_array_equal(lib_counts, counts)
    assert hybrid.weights[5:].sum() < 1e-6  # no 6–8 atom columns in the image
    assert hybrid.width == pytest.approx(0.002, rel=0.15)


def test_hybrid_prior_moves_a_doubtful_column_to_the_common_count():
    """A column just past the midpoint between 3 and 4 atoms, among hundreds of 3-atom columns
    and a few 4-atom ones: the nearest value says 4, the hybrid (weights) says 3."""
    rng = np.random.default_rng(5)
    x = np.concatenate([VOLUMES[2] + rng.normal(0, 0.006, 400), VOLUMES[3] + rng.normal(0, 0.006, 5)])
    doubtful = 0.5 * (VOLUMES[2] + VOLUMES[3]) + 0.001
    x = np.append(x, doubtful)
    assert assign_library(np.array([doubtful]), VOLUMES, 0.006)[0][0] == 4
    assert fit_library_mixture(x, VOLUMES).labels[-1] + 1 == 3


@pytest.mark.parametrize("values, kwargs, message", [
    (np.array([1.0]), {}, "at least two"),
    (np.array([1.0, np.nan, 2.0]), {}, "NaN"),
    (np.array([1.0, 2.0]), {"max_components": 0}, "at least 1"),
])
def test_bad_mixture_input(values, kwargs, message):
    with pytest.raises(AtomcountError, match=message):
        fit_mixture(values, **kwargs)


def test_bad_library_input():
    with pytest.raises(AtomcountError, match="sigma"):
        assign_library(np.array([1.0]), np.array([1.0, 2.0]), 0.0)
    with pytest.raises(AtomcountError, match="non-empty"):
        assign_library(np.array([1.0]), np.array([]), 0.1)


def test_regular_rule_takes_the_local_minimum_of_consecutive_counts():
    """Ten counts, few columns each: the ICL's global minimum is at a low order, but the
    highest local minimum with regularly spaced means is the true order (as StatSTEM users choose)."""
    rng = np.random.default_rng(7)
    counts = np.repeat(np.arange(1, 11), 14)
    x = 0.03 * counts + rng.normal(0, 0.0075, len(counts))
    fit = fit_mixture(x, max_components=20)
    glob = fit_mixture(x, max_components=20, rule="global")
    assert glob.order < 10 and np.nanargmin(fit.icl) + 1 == glob.order
    assert fit.order == 10 and 10 in fit.local_minima and fit.rule == "regular"
    assert np.mean(fit.labels + 1 == counts) > 0.8
    forced = fit_mixture(x, max_components=20, n_components=7)
    assert forced.order == 7 and forced.rule == "given"
    np.testing.assert_array_equal(forced.icl, fit.icl)


def test_regular_spacing_closed_forms():
    from atomcount.stem.mixture import local_minima, regular_spacing

    assert regular_spacing(np.arange(1, 12) * 0.03 + 0.001 * np.arange(11) ** 2)  # smooth bend
    assert not regular_spacing(np.r_[np.arange(1, 8) * 0.03, 0.215])  # 7 split in two
    np.testing.assert_array_equal(local_minima(np.array([3.0, 1.0, 2.0, 0.5, 0.7, 0.6])), [2, 4, 6])


@pytest.mark.parametrize("kwargs, message", [
    ({"n_components": 0}, "at least 1"),
    ({"n_components": 5, "max_components": 3}, "exceeds"),
    ({"rule": "bic"}, "rule must be"),
])
def test_bad_order_settings(kwargs, message):
    with pytest.raises(AtomcountError, match=message):
        fit_mixture(np.linspace(0, 1, 20), **kwargs)


def test_candidate_orders_keep_near_ties_of_local_minima():
    from atomcount.stem.mixture import candidate_orders

    icl = np.array([380.0, 385.0, 366.6, 366.7, 301.6, 0.8, 0.0, 9.4, 10.9])
    # strict minima 1, 3, 7; order 6 is 0.8 above order 7: not significantly worse
    assert candidate_orders(icl) == [1, 3, 4, 6, 7]  # 4 is 0.1 above 3
    assert candidate_orders(icl, tolerance=0.5) == [1, 3, 4, 7]
