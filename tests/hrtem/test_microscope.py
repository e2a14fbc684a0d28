import numpy as np
import pytest

from atomcount.core.errors import AtomcountError
from atomcount.core.units import wavelength
from atomcount.hrtem.microscope import ImagingParameters, ImagingRanges, ctf_phase, mtf, temporal_envelope


def test_ctf_phase_zero_for_cs_zero_closed_form():
    p = ImagingParameters(defocus=-200.0, cs=0.0)
    lam = wavelength(300)
    k_n = np.sqrt(np.arange(1, 5) / (lam * 200.0))  # chi = -n*pi
    chi = ctf_phase(k_n, np.zeros_like(k_n), p)
    np.testing.assert_allclose(np.sin(chi), 0.0, atol=1e-9)
    np.testing.assert_allclose(chi, -np.pi * np.arange(1, 5))


def test_astigmatism_changes_defocus_with_azimuth():
    p = ImagingParameters(defocus=-200.0, astigmatism=50.0, astigmatism_angle=0.3)
    k = np.array([0.5, 0.5])
    chi = ctf_phase(k, np.array([0.3, 0.3 + np.pi / 2]), p)
    lam = wavelength(300)
    np.testing.assert_allclose(chi, np.pi * lam * 0.25 * np.array([-150.0, -250.0]))


def test_mtf_formula():
    assert mtf(np.array(0.0), 0.01, 0.55, 2.3) == pytest.approx(1.0)
    q = np.array([0.5, 1.0])
    expect = 0.99 / (1 + (q / 1.1) ** 2.3) + 0.01
    np.testing.assert_allclose(mtf(q, 0.01, 0.55, 2.3), expect)
    assert np.all(np.diff(mtf(np.linspace(0, 1, 50), 0.0, 0.5, 2.3)) < 0)


def test_temporal_envelope_value():
    p = ImagingParameters(focal_spread=30.0)
    lam = wavelength(300)
    assert temporal_envelope(np.array(1.0), p) == pytest.approx(np.exp(-0.5 * (np.pi * lam * 30) ** 2))


def test_sampling_draws_stay_in_ranges_and_dose_is_log_uniform():
    r = ImagingRanges()
    rng = np.random.default_rng(0)
    draws = [r.sample(rng) for _ in range(2000)]
    assert all(not r.contains(d) for d in draws)
    logd = np.log10([d.dose for d in draws])
    assert np.mean(logd) == pytest.approx(4.0, abs=0.1)  # log-uniform 1e2..1e6


@pytest.mark.parametrize("kwargs", [{"dose": -1.0}, {"sampling": 5.0}, {"focal_spread": float("nan")},
                                    {"blur": -1.0}])
def test_bad_parameters(kwargs):
    with pytest.raises(AtomcountError):
        ImagingParameters(**kwargs)


def test_bad_ranges():
    with pytest.raises(AtomcountError):
        ImagingRanges(dose=(0.0, 10.0))
    with pytest.raises(AtomcountError):
        ImagingRanges(defocus=(-100.0, -200.0))
