"""Drift measured on shifted synthetic stacks."""
import numpy as np
import pytest
from scipy import ndimage

from atomcount.movie.drift import measure_drift, prepare_reference

PS = 0.25


def _lattice(shape=(160, 160), spacing=2.88, sigma=0.5):
    """Gaussian columns on a lattice inside a round particle, vacuum around it (Å, px)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]] * PS
    img = np.zeros(shape)
    c = np.array(shape) * PS / 2
    for x in np.arange(5, shape[1] * PS - 5, spacing):
        for y in np.arange(5, shape[0] * PS - 5, spacing * 1.41):
            if np.hypot(x - c[1], y - c[0]) < 14:
                img += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return img


def _shift(img, dx, dy):
    """Content moved by (dx, dy) Å (sub-pixel, Fourier)."""
    return np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(img), (dy / PS, dx / PS))).real


@pytest.mark.parametrize("dose", [None, 1e2])
def test_known_drift_is_recovered(dose):
    rng = np.random.default_rng(1)
    base = _lattice()
    truth = np.cumsum(rng.normal(0, 0.3, size=(8, 2)), axis=0)   # a random walk, Å
    truth[0] = 0
    frames = [_shift(base, dx, dy) for dx, dy in truth]
    if dose:   # shot noise: 1e2 e⁻/Å² is ~6 counts per pixel
        frames = [rng.poisson((1 + f) * dose * PS**2).astype(float) for f in frames]
    ref = prepare_reference(frames[0], pixel_size=PS)
    got = np.array([measure_drift(ref, f, pixel_size=PS) for f in frames])
    assert np.abs(got - truth).max() < (0.03 if dose is None else 0.08)


def test_sign_convention_columns_move_with_the_drift():
    img = _lattice()
    ref = prepare_reference(img, pixel_size=PS)
    dx, dy = measure_drift(ref, np.roll(img, 4, axis=1), pixel_size=PS)   # content 4 px to +x
    assert dx == pytest.approx(1.0, abs=0.02) and dy == pytest.approx(0.0, abs=0.02)


def test_aligned_mean_of_noisy_drifting_frames_beats_one_frame():
    from atomcount.movie.drift import remove_drift

    rng = np.random.default_rng(2)
    base = _lattice()
    truth = np.cumsum(rng.normal(0, 0.4, size=(10, 2)), axis=0)
    truth[0] = 0
    frames = [rng.poisson((1 + _shift(base, dx, dy)) * 1e2 * PS**2).astype(float) for dx, dy in truth]
    ref = prepare_reference(frames[0], pixel_size=PS)
    mean = np.mean([remove_drift(f, measure_drift(ref, f, pixel_size=PS), pixel_size=PS) for f in frames], axis=0)
    corr = [np.corrcoef(base.ravel(), img.ravel())[0, 1] for img in (frames[0], mean)]
    assert corr[1] > corr[0] + 0.2   # ten frames: ~√10 less noise
