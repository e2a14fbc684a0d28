"""Image formation checked against closed forms on synthetic exit waves."""
import numpy as np
import pytest

from atomcount.core.errors import AtomcountError
from atomcount.core.units import wavelength
from atomcount.hrtem.imaging import ExitWave, detect, render_image, wave_intensity
from atomcount.hrtem.microscope import ImagingParameters

EXTENT = 32.0
M = 128  # stored grid: k_max = 2 1/Å


def _phase_grating(sigma: float, k0: float) -> ExitWave:
    """Weak phase object exp(i σ cos 2π k0 x) as a stored exit wave."""
    x = np.arange(M) * EXTENT / M
    psi = np.exp(1j * sigma * np.cos(2 * np.pi * k0 * x))[:, None] * np.ones((1, M))
    f = np.fft.fftshift(np.fft.fft2(psi)).astype(np.complex64)
    return ExitWave(fourier=f, extent=EXTENT, energy=300.0)


def _amplitude_at(image: np.ndarray, k0: float) -> float:
    n = image.shape[0]
    f = np.fft.fft2(image) / image.size
    return 2 * abs(f[int(round(k0 * EXTENT)) % n, 0])


K0 = 16 / EXTENT  # 0.5 1/Å, on the grid


@pytest.mark.parametrize("n", [1, 2])
def test_contrast_vanishes_at_ctf_zero(n):
    lam = wavelength(300)
    p = ImagingParameters(defocus=-n / (lam * K0**2), cs=0.0, focal_spread=0.0, sampling=0.25)
    amp = _amplitude_at(wave_intensity(_phase_grating(0.02, K0), p), K0)
    assert amp < 1e-4


def test_weak_phase_contrast_equals_2_sigma_sin_chi_times_envelope():
    sigma = 0.01
    lam = wavelength(300)
    p = ImagingParameters(defocus=-0.5 / (lam * K0**2), cs=0.0, focal_spread=25.0, sampling=0.25)  # chi = -pi/2
    amp = _amplitude_at(wave_intensity(_phase_grating(sigma, K0), p), K0)
    env = np.exp(-0.5 * (np.pi * lam * 25.0 * K0**2) ** 2)
    assert amp == pytest.approx(2 * sigma * env, rel=0.01)


def test_vacuum_is_unit_intensity():
    f = np.zeros((M, M), np.complex64)
    f[M // 2, M // 2] = M * M
    img = wave_intensity(ExitWave(f, EXTENT, 300.0), ImagingParameters(sampling=0.25))
    np.testing.assert_allclose(img, 1.0, atol=1e-5)


def test_poisson_mean_and_variance_match_dose():
    p = ImagingParameters(dose=400.0, sampling=0.25, mtf_c1=1.0)  # MTF ≡ 1
    counts = detect(np.ones((256, 256), np.float32), p, np.random.default_rng(0))
    expected = 400.0 * 0.25**2
    assert counts.mean() == pytest.approx(expected, rel=0.01)
    assert counts.var() == pytest.approx(expected, rel=0.03)


def test_mtf_reduces_noise_variance():
    p1 = ImagingParameters(dose=400.0, sampling=0.25, mtf_c1=1.0)
    p2 = ImagingParameters(dose=400.0, sampling=0.25, mtf_c1=0.0, mtf_c2=0.5, mtf_c3=2.3)
    ones = np.ones((256, 256), np.float32)
    v1 = detect(ones, p1, np.random.default_rng(1)).var()
    v2 = detect(ones, p2, np.random.default_rng(1)).var()
    # white noise: variance scales with the mean of MTF^2 over the frequency square
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(256) * 2, np.fft.fftfreq(256) * 2))
    ratio = np.mean((1 / (1 + (q / 1.0) ** 2.3)) ** 2)
    assert v2 / v1 == pytest.approx(ratio, rel=0.03)


def test_one_exit_wave_many_images(small_wave):
    rng = np.random.default_rng(0)
    a = render_image(small_wave, ImagingParameters(defocus=-160.0), rng)
    b = render_image(small_wave, ImagingParameters(defocus=-240.0), rng)
    assert a.shape == b.shape == (160, 160)  # 40 Å at 0.25 Å/px
    assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.95
    assert a.mean() == pytest.approx(0.0, abs=1e-4) and a.std() == pytest.approx(1.0, abs=1e-3)


def test_same_seed_same_image(small_wave):
    p = ImagingParameters(dose=300.0)
    a = render_image(small_wave, p, np.random.default_rng(3))
    b = render_image(small_wave, p, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_particle_darkens_or_modulates_image(small_wave, small_particle):
    """Intensity is modulated where the particle is, flat in vacuum."""
    img = wave_intensity(small_wave, ImagingParameters(sampling=0.25))
    s = 0.25
    xy = small_particle.columns.xy
    lo = np.floor(xy.min(0) / s).astype(int)
    hi = np.ceil(xy.max(0) / s).astype(int)
    inside = img[lo[0] : hi[0], lo[1] : hi[1]].std()
    corner = img[:10, :10].std()
    assert inside > 10 * corner


def test_sampling_finer_than_stored_wave_is_refused(small_wave):
    with pytest.raises(AtomcountError, match="finer"):
        wave_intensity(small_wave, ImagingParameters(sampling=0.1))


def test_energy_mismatch_is_refused(small_wave):
    with pytest.raises(AtomcountError, match="energy"):
        wave_intensity(small_wave, ImagingParameters(energy=200.0))
