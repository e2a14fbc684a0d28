"""Applications: probability-of-error closed forms, fit recovery, Monte Carlo, measured-curve files, CLI."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import norm

from atomcount.core.errors import AtomcountError
from atomcount.stem.ppiscs.applications.error_probability import counting_error_probability, gaussian_error_probability
from atomcount.stem.ppiscs.applications.fit import fit_settings, read_curve


@pytest.mark.parametrize("delta_over_sigma", [0.5, 1.0, 2.0, 4.0])
def test_two_hypotheses_closed_form(delta_over_sigma):
    pe = gaussian_error_probability([0.0, delta_over_sigma], [1.0, 1.0])
    assert np.isclose(pe, norm.cdf(-delta_over_sigma / 2), rtol=1e-12)


@pytest.mark.parametrize("k", [3, 5, 20])
@pytest.mark.parametrize("delta_over_sigma", [1.0, 3.0])
def test_k_equally_spaced_hypotheses_closed_form(k, delta_over_sigma):
    means = 2.0 + delta_over_sigma * 0.1 * np.arange(k)
    pe = gaussian_error_probability(means, np.full(k, 0.1))
    assert np.isclose(pe, 2 * (k - 1) / k * norm.cdf(-delta_over_sigma / 2), rtol=1e-10)


def test_unequal_variances_use_likelihood_crossing():
    # Monte Carlo of ML decisions agrees with the computed error probability
    m, s = np.array([1.0, 2.0, 3.2]), np.array([0.3, 0.5, 0.7])
    rng = np.random.default_rng(0)
    h = rng.integers(3, size=200000)
    x = rng.normal(m[h], s[h])
    decide = np.argmax(norm.logpdf(x[:, None], m, s), axis=1)
    assert abs((decide != h).mean() - gaussian_error_probability(m, s)) < 4e-3


def test_non_monotonic_means_match_monte_carlo():
    # a saturating, then falling curve (low-angle detector): decisions are no longer intervals
    m, s = np.array([1.0, 2.0, 2.6, 2.3]), np.array([0.3, 0.4, 0.4, 0.35])
    rng = np.random.default_rng(1)
    h = rng.integers(4, size=200000)
    x = rng.normal(m[h], s[h])
    decide = np.argmax(norm.logpdf(x[:, None], m, s), axis=1)
    assert abs((decide != h).mean() - gaussian_error_probability(m, s)) < 4e-3
    # and the grid agrees with the closed form where both apply
    from atomcount.stem.ppiscs.applications.error_probability import _grid_error_probability

    mono = np.array([0.0, 1.0, 2.0]), np.array([0.4, 0.4, 0.4])
    assert np.isclose(_grid_error_probability(*mono), gaussian_error_probability(*mono), atol=1e-6)


def test_error_probability_falls_with_dose_and_rejects_bad_input():
    sigma = 0.01 * np.arange(1, 30) ** 1.2
    pe = [counting_error_probability(sigma, d) for d in (1e3, 1e4, 1e5)]
    assert pe[0] > pe[1] > pe[2]
    with pytest.raises(AtomcountError):
        gaussian_error_probability([1.0, 2.0], [1.0, 0.0])
    with pytest.raises(AtomcountError):
        counting_error_probability(sigma, 0.0)


@pytest.mark.parametrize("which", ["random", "shipped"])
def test_fit_recovers_known_settings(random_additive, shipped, which):
    from atomcount.stem.ppiscs.surrogate import predict

    path = random_additive[0] if which == "random" else shipped
    fixed = {"element": "Au", "zone": "100", "voltage_kv": 300.0, "rmsd": 0.085}
    truth = {"convergence_mrad": 21.0, "inner_mrad": 46.0, "outer_mrad": 190.0}
    measured = predict(**fixed, **truth, weights=path)
    start = {"convergence_mrad": 20.78, "inner_mrad": 45.09, "outer_mrad": 189.56}
    sig = {"convergence_mrad": 0.25, "inner_mrad": 1.0, "outer_mrad": 1.0}
    r = fit_settings(measured, fixed, start, sig, weights=path)
    assert r.cost < 1e-4 * measured.max()
    # any network pins the inner edge, where the angular density is large
    assert abs(r.params["inner_mrad"] - 46.0) < 0.05
    if which == "shipped":
        # a trained network also pins α and the outer edge, where an untrained one is nearly flat
        assert abs(r.params["convergence_mrad"] - 21.0) < 0.01 and abs(r.params["outer_mrad"] - 190.0) < 0.05
    else:
        assert abs(r.params["outer_mrad"] - 189.56) <= 3.0 + 1e-9  # inside the 3σ search box


def test_monte_carlo_spread_grows_with_sigma(random_additive):
    from atomcount.stem.ppiscs.applications.uncertainty import monte_carlo

    path, _ = random_additive
    s = dict(element="Au", zone="100", voltage_kv=300.0, convergence_mrad=21.0, inner_mrad=60.0, outer_mrad=190.0,
             rmsd=0.085)
    small = monte_carlo(s, {"inner_mrad": 0.25}, 1000, 0, path)
    large = monte_carlo(s, {"inner_mrad": 1.0}, 1000, 0, path)
    assert small.samples.shape == (1000, 61)
    assert (large.std > small.std).all()


@pytest.mark.parametrize("text, match", [
    ("", "header"),
    ("atoms,ppiscs_A2\n1,0.01\n3,0.03\n", "run 1, 2, 3"),
    ("atoms,ppiscs_A2\n1,0.01\n2,abc\n", "not numbers"),
    ("atoms,ppiscs_A2\n1,0.01\n2,nan\n", "positive finite"),
    ("atoms,ppiscs_A2\n1,0.01\n", "at least two"),
    ("atoms;ppiscs\n1;0.01\n", "header"),
])
def test_malformed_measured_curve(tmp_path, text, match):
    p = tmp_path / "m.csv"
    p.write_text(text)
    with pytest.raises(AtomcountError, match=match):
        read_curve(p)
    with pytest.raises(AtomcountError, match="cannot read"):
        read_curve(tmp_path / "missing.csv")


def test_cli_fit_reports_bad_file_in_one_line(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("atoms,ppiscs_A2\n1,0.01\n2,-1\n")
    r = subprocess.run([sys.executable, "-m", "atomcount.cli", "ppiscs", "fit", str(p)], capture_output=True, text=True)
    assert r.returncode == 2 and "positive finite" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
