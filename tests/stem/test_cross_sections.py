"""Column cross-sections: Voronoi cells and the fitted Gaussian model (atomcount.stem.cross_sections)."""
from __future__ import annotations

import numpy as np
import pytest

from _synthetic_stem import VOLUMES, lattice_image
from atomcount.core.errors import AtomcountError
from atomcount.stem.cross_sections import (
    crosstalk_matrix,
    fit_gaussians,
    gaussian_image,
    unmix_crosstalk,
    unmixed_standard_error,
    voronoi_cross_sections,
)


def test_gaussian_fit_recovers_volumes_width_positions_and_background():
    """Noise-free overlapping columns, start 0.4 px off: volumes 2πAσ² to 1e-3 relative.

    (The model truncates each Gaussian at 4σ, which loses e⁻⁸ = 3e-4 of its volume.)"""
    image, truth, counts = lattice_image(side=8, dose=None, background=0.003, seed=2)
    start = truth + np.random.default_rng(0).uniform(-0.4, 0.4, truth.shape)
    fit = fit_gaussians(image, start, pixel_size=0.2)
    np.testing.assert_allclose(fit.volume, VOLUMES[counts - 1], rtol=1e-3)
    np.testing.assert_allclose(fit.positions_px, truth, atol=1e-3)
    assert fit.width == pytest.approx(0.45, rel=1e-4)
    assert fit.background == pytest.approx(0.003, abs=1e-7)
    assert fit.rms_residual < 1e-6
    np.testing.assert_allclose(fit.volume, 2 * np.pi * fit.amplitude * fit.width**2)


def test_gaussian_fit_error_matches_poisson_model():
    """Under Poisson noise the volume error is unbiased, with the spread √(σ/D) of counting statistics.

    The PPISCS error model of atomcount.stem.ppiscs.applications.error_probability says a column
    of cross-section σ hit by dose D gives σ̂ with variance σ/D; a least-squares fit that
    also estimates the width and position cannot beat it, and should not be far above.
    """
    dose = 1e5
    image, truth, counts = lattice_image(side=12, dose=dose, seed=4)
    fit = fit_gaussians(image, truth, pixel_size=0.2)
    true = VOLUMES[counts - 1]
    z = (fit.volume - true) / np.sqrt(true / dose)
    assert abs(z.mean()) < 0.3
    assert 0.9 < z.std() < 1.6


def test_fixed_width_and_no_refinement_keep_what_is_given():
    image, truth, counts = lattice_image(side=5, dose=None, seed=5)
    fit = fit_gaussians(image, truth, pixel_size=0.2, width=0.45, refine_positions=False)
    np.testing.assert_array_equal(fit.positions_px, truth)
    np.testing.assert_allclose(fit.volume, VOLUMES[counts - 1], rtol=1e-6)


def test_fixed_background_is_kept_and_a_wrong_one_moves_the_volumes_by_its_projection():
    """Given the true background, the volumes are recovered; given one δ too high, the fit is
    linear in the data, so each volume drops by the least-squares fit of the constant δ by the
    columns' Gaussians — computed here independently with a dense, untruncated design matrix.
    (For well-separated columns that is 2δ·2πσ²: a Gaussian fits a constant with twice its
    own height.)"""
    image, truth, counts = lattice_image(side=6, dose=None, background=0.003, seed=2)
    exact = fit_gaussians(image, truth, pixel_size=0.2, background=0.003)
    assert exact.background == 0.003
    np.testing.assert_allclose(exact.volume, VOLUMES[counts - 1], rtol=1e-3)
    delta = 2e-4
    high = fit_gaussians(image, truth, pixel_size=0.2, background=0.003 + delta, width=exact.width,
                         refine_positions=False)
    rows, cols = np.indices(image.shape)
    sigma_px = exact.width / 0.2
    design = np.exp(-((rows.ravel()[:, None] - truth[:, 0]) ** 2 + (cols.ravel()[:, None] - truth[:, 1]) ** 2)
                    / (2 * sigma_px**2))
    amp = np.linalg.lstsq(design, np.full(image.size, delta), rcond=None)[0]
    expected = 2 * np.pi * amp * exact.width**2
    np.testing.assert_allclose(exact.volume - high.volume, expected, rtol=2e-3)
    assert np.median(expected) == pytest.approx(2 * delta * 2 * np.pi * exact.width**2, rel=0.05)


def test_voronoi_cells_tile_the_image():
    """Unbounded cells: their sums add up to the whole image sum × pixel area."""
    image, truth, _ = lattice_image(side=6, seed=6)
    xs = voronoi_cross_sections(image, truth, pixel_size=0.2)
    assert xs.sum() == pytest.approx(image.sum() * 0.2**2, rel=1e-12)


def test_voronoi_of_separated_columns_is_the_volume():
    """Columns 4 Å apart, no background: a cell holds its column's whole volume."""
    image, truth, counts = lattice_image(side=5, spacing=4.0, dose=None, seed=7)
    xs = voronoi_cross_sections(image, truth, pixel_size=0.2, max_radius=2.5)
    np.testing.assert_allclose(xs, VOLUMES[counts - 1], rtol=2e-3)


def test_voronoi_radius_cuts_background():
    """With a constant background b the bounded cell adds b × (its area) and no more."""
    image, truth, counts = lattice_image(side=4, spacing=5.0, dose=None, background=0.01, seed=8)
    xs = voronoi_cross_sections(image, truth, pixel_size=0.2, max_radius=2.0)
    area = np.pi * 2.0**2
    np.testing.assert_allclose(xs - VOLUMES[counts - 1], 0.01 * area, rtol=0.03)


@pytest.mark.parametrize("positions, message", [
    (np.zeros((0, 2)), "N ≥ 1"),
    (np.zeros((3, 3)), r"\(N, 2\)"),
    (np.array([[np.nan, 3.0]]), "NaN"),
    (np.array([[10.0, 500.0]]), "outside"),
])
def test_bad_positions(positions, message):
    image = np.zeros((64, 64))
    with pytest.raises(AtomcountError, match=message):
        voronoi_cross_sections(image, positions, pixel_size=0.2)
    with pytest.raises(AtomcountError, match=message):
        fit_gaussians(image, positions, pixel_size=0.2)


def test_gaussian_image_volume():
    """The forward model sums to the requested volume (Å², as pixel sums × pixel area), less
    the e⁻⁸ beyond its 4σ truncation."""
    img = gaussian_image((64, 64), np.array([[31.6, 32.3]]), np.array([0.25]), pixel_size=0.1, width=0.3)
    assert img.sum() * 0.1**2 == pytest.approx(0.25 * (1 - np.exp(-8)), rel=1e-4)


PROBE = dict(voltage=300.0, convergence=21.0, source_size=0.5)


@pytest.fixture(scope="module")
def fast_110():
    """Noise-free fast image (column cross-sections through the Airy probe) of an Au [110] particle."""
    from atomcount.core.particles import ParticleConfig, random_particle
    from atomcount.stem.simulate import simulate_fast

    p = random_particle(np.random.default_rng(3), ParticleConfig(n_atoms=(300, 600), zones=("110",), max_tilt_deg=0.0))
    return simulate_fast(p, pixel_size=0.2, **PROBE)


def test_unmixing_inverts_the_probe_crosstalk(fast_110):
    """Fast images are Σ σ_j P(r − r_j) exactly, so unmixing their cell sums returns σ to the
    iteration tolerance, where the raw cell sums are off by several percent at thin columns."""
    img = fast_110
    pos = img.xy[:, ::-1] / img.pixel_size
    cut = 1.4
    raw = voronoi_cross_sections(img.image, pos, pixel_size=img.pixel_size, max_radius=cut)
    assert np.abs(raw / img.cross_section - 1).max() > 0.05
    out = unmix_crosstalk(raw, pos, shape=img.image.shape, pixel_size=img.pixel_size, max_radius=cut, **PROBE)
    np.testing.assert_allclose(out, img.cross_section, rtol=1e-5)


def test_unmixing_is_linear_and_keeps_isolated_columns(fast_110):
    """Unmixing is linear in the cell sums; columns far apart (no cross-talk) keep the sums
    of unbounded cells up to the probe's far tails."""
    img = fast_110
    pos = img.xy[:, ::-1] / img.pixel_size
    raw = voronoi_cross_sections(img.image, pos, pixel_size=img.pixel_size)
    kw = dict(shape=img.image.shape, pixel_size=img.pixel_size, **PROBE)
    np.testing.assert_allclose(unmix_crosstalk(3 * raw, pos, **kw), 3 * unmix_crosstalk(raw, pos, **kw), rtol=1e-5)
    far = np.array([[40.0, 40.0], [40.0, 120.0]])
    two = unmix_crosstalk(np.array([0.2, 0.5]), far, shape=(160, 160), pixel_size=0.2, **PROBE)
    np.testing.assert_allclose(two, [0.2, 0.5], rtol=0.02)


def test_crosstalk_matrix_maps_cross_sections_to_cell_sums_and_its_inverse_unmixes(fast_110):
    """M σ are the cell sums of the probe image of σ (one image per column vs one image of all),
    and solving M σ = x is what the fixed-point unmixing converges to."""
    img = fast_110
    pos = img.xy[:, ::-1] / img.pixel_size
    kw = dict(shape=img.image.shape, pixel_size=img.pixel_size, max_radius=1.4, **PROBE)
    matrix = crosstalk_matrix(pos, **kw)
    raw = voronoi_cross_sections(img.image, pos, pixel_size=img.pixel_size, max_radius=1.4)
    np.testing.assert_allclose(matrix @ img.cross_section, raw, rtol=1e-9)
    assert np.all(matrix.sum(axis=0) < 1) and np.all(np.diag(matrix) > 0.5)
    np.testing.assert_allclose(np.linalg.solve(matrix, raw), unmix_crosstalk(raw, pos, **kw), rtol=1e-5)


def test_unmixed_standard_error_matches_poisson_draws(fast_110):
    """Poisson images at 2e3 e⁻/Å², unmixed by the fixed-point iteration: the spread of each
    column's σ̂ over 120 draws agrees with √diag(M⁻¹ diag(x/D) M⁻ᵀ), and it is wider than the
    raw √(x/D) on average."""
    from atomcount.stem.simulate import add_dose

    img, dose = fast_110, 2e3
    pos = img.xy[:, ::-1] / img.pixel_size
    kw = dict(shape=img.image.shape, pixel_size=img.pixel_size, max_radius=1.4, **PROBE)
    matrix = crosstalk_matrix(pos, **kw)
    predicted = unmixed_standard_error(matrix, img.cross_section, dose=dose)
    rng = np.random.default_rng(11)
    draws = np.array([np.linalg.solve(matrix, voronoi_cross_sections(
        add_dose(img.image, dose=dose, pixel_size=img.pixel_size, rng=rng), pos, pixel_size=img.pixel_size,
        max_radius=1.4)) for _ in range(120)])
    measured = draws.std(axis=0)
    assert np.median(measured / predicted) == pytest.approx(1.0, abs=0.03)
    assert np.all(np.abs(measured / predicted - 1) < 0.35)  # 120 draws: sd of a sd ≈ 6.5 %
    raw = np.sqrt(matrix @ img.cross_section / dose)
    assert np.mean(predicted / raw) > 1.02
    with pytest.raises(AtomcountError, match="dose must be positive"):
        unmixed_standard_error(matrix, img.cross_section, dose=0.0)


@pytest.mark.parametrize("xs, message", [(np.ones(3), "3 cross-sections for 2 columns"),
                                         (np.array([1.0, np.nan]), "NaN")])
def test_unmixing_bad_input(xs, message):
    with pytest.raises(AtomcountError, match=message):
        unmix_crosstalk(xs, np.array([[10.0, 10.0], [10.0, 20.0]]), shape=(32, 32), pixel_size=0.2, **PROBE)


def test_unmixing_refuses_a_probe_wider_than_the_spacing():
    """Columns 1 px apart under a 2 Å source: the cells hold far less than their columns; no convergence."""
    pos = np.array([[16.0, 15.0], [16.0, 16.0], [16.0, 17.0]])
    with pytest.raises(AtomcountError, match="did not converge"):
        unmix_crosstalk(np.array([0.1, 0.3, 0.1]), pos, shape=(32, 32), pixel_size=0.2, voltage=300.0,
                        convergence=21.0, source_size=2.0, max_iterations=20)
