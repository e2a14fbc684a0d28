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


def test_refusal_needs_a_strong_overfocus_fringe_and_a_doubting_model():
    from atomcount.hrtem.analysis.focus import REFUSE_CONFIDENCE, REFUSE_Z, refuse

    doubt, sure = np.array([REFUSE_CONFIDENCE - 0.2] * 5), np.array([REFUSE_CONFIDENCE + 0.05] * 5)
    assert refuse(-REFUSE_Z - 1, doubt)
    assert not refuse(-REFUSE_Z - 1, sure)  # a thick underfocus particle can read negative: the model is sure
    assert not refuse(-REFUSE_Z + 1, doubt)  # a weak fringe: warned, not refused
    assert not refuse(float("nan"), doubt) and not refuse(-REFUSE_Z - 1, np.zeros(0))


def test_count_refuses_an_overfocus_frame_and_writes_nothing(centred_wave, tmp_path):
    import subprocess
    import sys

    from atomcount.hrtem.imaging import render_image
    from atomcount.hrtem.microscope import ImagingParameters

    for defocus, name in ((200.0, "over"), (-200.0, "under")):
        p = ImagingParameters(defocus=defocus, cs=0.0, focal_spread=30.0, dose=1e5, sampling=0.25)
        np.save(tmp_path / f"{name}.npy", render_image(centred_wave, p, np.random.default_rng(1)))
    cmd = [sys.executable, "-m", "atomcount.cli", "count", "--pixel-size", "0.25", "--no-figures", "--min-cluster", "0"]
    r = subprocess.run(cmd + [str(tmp_path / "over.npy"), str(tmp_path / "under.npy"), "--out", str(tmp_path / "a")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "over: refused" in r.stderr and "1 of 2 image(s) refused" in r.stderr
    assert not (tmp_path / "a" / "over").exists() and (tmp_path / "a" / "under" / "columns.csv").exists()
    r = subprocess.run(cmd + [str(tmp_path / "over.npy"), "--no-focus-check", "--out", str(tmp_path / "b")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "overfocused" in r.stderr  # counted, with the fringe's warning
    assert (tmp_path / "b" / "over" / "columns.csv").exists()
