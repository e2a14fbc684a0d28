"""Focus sign from the Fresnel fringe: synthetic fringes, noise, and a simulated particle."""
import numpy as np
import pytest

from atomcount.hrtem.analysis.focus import focus_sign


def _fringe_image(sign, n=200, pixel=0.25, radius_A=10.0, noise=1.0, seed=0, particle=True):
    """A dark disc (the particle) with a bright (sign +1) or dark (−1) ring in noise.

    The ring lies 3.5 Å outside the disc: the 2 Å smoothing that finds the core widens a sharp
    disc by ≈ 1.7 Å, and the fringe band starts 0.5 Å beyond the core.
    """
    yy, xx = np.mgrid[:n, :n]
    r = np.hypot(yy - n / 2, xx - n / 2) * pixel
    ring = np.exp(-0.5 * ((r - radius_A - 3.5) / 0.7) ** 2)
    disc = -3.0 * (r < radius_A) if particle else 0.0
    return disc + sign * 0.3 * ring + np.random.default_rng(seed).normal(0, noise, (n, n))


@pytest.mark.parametrize("sign,expected", [(+1, "underfocus"), (-1, "overfocus")])
def test_fringe_sign(sign, expected):
    r = focus_sign(_fringe_image(sign), 0.25)
    assert r.sign == expected
    assert np.sign(r.z) == sign


def test_no_fringe_is_undetermined_at_the_expected_rate():
    decided = sum(focus_sign(_fringe_image(0, seed=s), 0.25).sign != "undetermined" for s in range(40))
    assert decided <= 2  # |z| > 3 by chance: 0.3 % per image for Gaussian noise


def test_no_particle_is_undetermined():
    r = focus_sign(_fringe_image(+1, particle=False), 0.25)
    assert r.sign == "undetermined" and np.isnan(r.z)


@pytest.fixture(scope="module")
def centred_wave():
    """A 374-atom Au [100] particle with ≥ 20 Å of vacuum around it (a focus check needs vacuum)."""
    from atomcount.core.particles import ParticleConfig, random_particle
    from atomcount.hrtem.imaging import exit_wave

    cfg = ParticleConfig(n_atoms=(150, 400), field_of_view=64.0, margin=20.0)
    return exit_wave(random_particle(np.random.default_rng(5), cfg), sampling=0.1)


@pytest.mark.parametrize("defocus", [-250.0, -150.0, 150.0, 250.0])
@pytest.mark.parametrize("cs", [-20.0, 20.0])
def test_simulated_particle_fringe_follows_the_defocus_sign(centred_wave, defocus, cs):
    from atomcount.hrtem.imaging import render_image
    from atomcount.hrtem.microscope import ImagingParameters

    p = ImagingParameters(defocus=defocus, cs=cs, focal_spread=30.0, dose=1e5, sampling=0.25)
    img = render_image(centred_wave, p, np.random.default_rng(1))
    r = focus_sign(img, p.sampling)
    assert r.sign == ("underfocus" if defocus < 0 else "overfocus")


def test_count_reports_the_focus_sign(centred_wave):
    from atomcount.hrtem.analysis.count import count_columns
    from atomcount.hrtem.imaging import render_image
    from atomcount.hrtem.microscope import ImagingParameters

    p = ImagingParameters(defocus=200.0, cs=0.0, focal_spread=30.0, dose=1e5, sampling=0.25)
    res = count_columns(render_image(centred_wave, p, np.random.default_rng(1)), 0.25, min_cluster=0)
    assert res.focus_sign == "overfocus" and res.summary()["focus_sign"] == "overfocus"
    assert res.focus_z < -3
