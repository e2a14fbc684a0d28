"""Pixel-size check from the column lattice (atomcount.stem.lattice)."""
from __future__ import annotations

import numpy as np
import pytest

from atomcount.core.crystals import get_element
from atomcount.core.errors import AtomcountError
from atomcount.stem.lattice import LatticeCheck, first_shell, first_shell_spacing, lattice_check, lattice_fraction


def _centred_rectangle(a_x: float, a_y: float, n: int = 14) -> np.ndarray:
    """Points of a centred rectangular lattice (Å), (row, col) = (y, x)."""
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    corner = np.c_[j.ravel() * a_y, i.ravel() * a_x]
    return np.vstack([corner, corner + [a_y / 2, a_x / 2]])


def _au110(pixel_size: float, rng: np.random.Generator, *, angle: float = 0.37, jitter: float = 0.0) -> np.ndarray:
    """Au [110] columns (a/√2 × a centred rectangle) in pixels, rotated, with position noise (Å)."""
    a = get_element("Au").a
    yx = _centred_rectangle(a / np.sqrt(2), a)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    yx = yx @ rot.T + rng.normal(scale=jitter, size=yx.shape)
    return yx / pixel_size


@pytest.mark.parametrize("zone, distance, neighbours", [
    ("100", 1 / 2, 4),                              # square lattice of side a/2
    ("110", np.sqrt(3) / (2 * np.sqrt(2)), 4),      # a/√2 × a centred rectangle: its half-diagonal
    ("[111]", 1 / np.sqrt(6), 6),                   # triangular lattice
])
def test_first_shell_closed_forms(zone, distance, neighbours):
    d, n = first_shell("Pt", zone)
    assert d == pytest.approx(distance * get_element("Pt").a, rel=1e-9) and n == neighbours


def test_exact_lattice_gives_the_pixel_size():
    yx = _au110(0.25, np.random.default_rng(0))
    check = lattice_check(yx, pixel_size=0.25, element="Au", zone="110")
    assert check.implied == pytest.approx(0.25, rel=1e-9)
    assert check.ok and check.message == "" and check.zone == "110"


def test_noisy_incomplete_lattice_within_one_percent():
    rng = np.random.default_rng(1)
    yx = _au110(0.2, rng, jitter=0.08)
    keep = rng.random(len(yx)) > 0.15                       # 15 % of the columns missed
    spurious = rng.uniform(0, yx.max(), size=(20, 2))        # and some noise peaks
    check = lattice_check(np.vstack([yx[keep], spurious]), pixel_size=0.2, element="Au", zone="110")
    assert check.implied == pytest.approx(0.2, rel=0.01)


def test_first_shell_is_not_biased_low_by_noise():
    """The median nearest-neighbour distance is the smallest of noisy distances: biased low."""
    yx = _au110(1.0, np.random.default_rng(2), jitter=0.06)
    first, neighbours = first_shell("Au", "110")
    from scipy.spatial import cKDTree

    naive = np.median(cKDTree(yx).query(yx, k=2)[0][:, 1])
    assert naive < 0.98 * first
    assert first_shell_spacing(yx, neighbours=neighbours) == pytest.approx(first, rel=0.01)


def test_wrong_calibration_is_reported_with_both_numbers():
    yx = _au110(0.48, np.random.default_rng(3))      # the true sampling is 0.48 Å/px
    check = lattice_check(yx, pixel_size=0.34, element="Au", zone="110")
    assert not check.ok
    assert check.mismatch == pytest.approx(0.34 / 0.48 - 1, rel=1e-6)
    assert "implies 0.48 Å/px for Au [110]" in check.message and "0.34 Å/px" in check.message


def test_within_tolerance_is_accepted():
    yx = _au110(0.25, np.random.default_rng(4))
    assert lattice_check(yx, pixel_size=0.25 * 1.025, element="Au", zone="110").ok
    assert not lattice_check(yx, pixel_size=0.25 * 1.035, element="Au", zone="110").ok


def test_several_zones_report_the_closest():
    yx = _au110(0.25, np.random.default_rng(5))
    check = lattice_check(yx, pixel_size=0.25, element="Au", zone=("100", "110"))
    assert isinstance(check, LatticeCheck) and check.zone == "110" and check.ok


def test_too_few_columns_gives_none():
    assert lattice_check(np.zeros((3, 2)) + np.arange(3)[:, None], pixel_size=0.2, element="Au", zone="100") is None


@pytest.mark.parametrize("kwargs, fragment", [
    ({"positions_px": np.full((20, 2), np.nan)}, "NaN"),
    ({"positions_px": np.zeros((20, 3))}, "(n, 2)"),
    ({"element": "Xx"}, "unknown element"),
    ({"zone": "123"}, "unknown zone"),
    ({"zone": ()}, "no zone"),
    ({"pixel_size": -1.0}, "pixel size"),
    ({"tolerance": 2.0}, "tolerance"),
])
def test_bad_input_is_refused(kwargs, fragment):
    args = {"positions_px": _au110(0.25, np.random.default_rng(6)), "pixel_size": 0.25,
            "element": "Au", "zone": "110"} | kwargs
    with pytest.raises(AtomcountError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        lattice_check(args.pop("positions_px"), **args)


def test_no_columns_gives_none():
    assert lattice_check(np.empty((0, 2)), pixel_size=0.2, element="Au", zone="100") is None


def test_lattice_fraction_separates_a_lattice_from_random_peaks():
    rng = np.random.default_rng(9)
    lattice = _au110(0.2, rng, jitter=0.05)
    assert lattice_fraction(lattice) > 0.95
    # random peaks with a hard-core distance, like noise maxima found with min_distance
    points = rng.uniform(0, 400, size=(800, 2))
    keep = [points[0]]
    for p in points[1:]:
        if np.min(np.linalg.norm(np.asarray(keep) - p, axis=1)) > 8:
            keep.append(p)
    assert lattice_fraction(np.asarray(keep)) < 0.5


@pytest.mark.parametrize("positions, fragment", [(np.zeros((1, 2)), "n ≥ 2"), (np.full((5, 2), np.inf), "NaN")])
def test_lattice_fraction_bad_input(positions, fragment):
    with pytest.raises(AtomcountError, match=fragment):
        lattice_fraction(positions)


def test_count_stem_reports_the_lattice_pixel_size():
    """count_stem with an element checks the pixel size: an Au [100] image at 0.25 Å/px said to be 0.34."""
    from atomcount.stem import count_stem

    true_ps, spacing = 0.25, get_element("Au").a / 2
    rc = (np.argwhere(np.ones((9, 9))) + 1.5) * spacing / true_ps
    rows, cols = np.mgrid[:96, :96]
    image = 0.01 + sum(np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * 2.0**2)) for r, c in rc)
    image = image + np.random.default_rng(10).normal(scale=1e-3, size=image.shape)
    stated = 0.34
    result = count_stem(image, pixel_size=stated, element="Au", zone="100", positions=rc[:, ::-1] * stated)
    assert result.lattice.implied == pytest.approx(true_ps, rel=0.01) and not result.lattice.ok
    assert "implies 0.25 Å/px for Au [100]" in result.summary()["pixel_size_warning"]
    assert count_stem(image, pixel_size=true_ps, element="Au", zone="100", positions=rc[:, ::-1] * true_ps).lattice.ok
