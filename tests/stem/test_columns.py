"""Peak finding with sub-pixel refinement (atomcount.stem.columns)."""
from __future__ import annotations

import numpy as np
import pytest

from _synthetic_stem import lattice_image, match
from atomcount.core.errors import AtomcountError
from atomcount.stem.columns import find_columns


def test_finds_every_column_to_sub_pixel():
    image, truth, _ = lattice_image(dose=1e6)
    found = find_columns(image, pixel_size=0.2)
    i, d = match(found, truth)
    assert len(found) == len(truth)
    assert len(np.unique(i)) == len(truth)
    assert d.max() < 0.35  # px; the parabola refinement, before any Gaussian fit
    # integer peaks alone would be off by up to 0.7 px: the refinement helps on average
    assert np.mean(d) < np.mean(np.linalg.norm(truth - np.rint(truth), axis=1))


def test_thin_column_beside_thick_neighbours_is_found():
    """A 1-atom column whose 8-atom neighbour's tail is brighter than its own peak at min_distance."""
    from atomcount.stem.cross_sections import gaussian_image

    pos = np.array([[40.0, 30.0], [40.0, 40.2], [40.0, 50.4]])
    image = gaussian_image((80, 80), pos, np.array([0.19, 0.0163, 0.19]), pixel_size=0.2, width=0.45)
    found = find_columns(image, pixel_size=0.2, min_distance=1.2)
    assert len(found) == 3


def test_no_columns_is_an_error():
    """A smooth ramp (vacuum with a gradient) and a flat image hold no columns."""
    ramp = np.add.outer(np.arange(64.0), np.arange(64.0))
    for image in (ramp, np.full((64, 64), 3.0)):
        with pytest.raises(AtomcountError, match="no atomic columns"):
            find_columns(image, pixel_size=0.2)


def test_false_peaks_in_noise_are_rare():
    """Pure Gaussian noise: at most a few false columns in 256×256 px (the PROMINENCE trade-off)."""
    rng = np.random.default_rng(3)
    n_false = 0
    for _ in range(4):
        try:
            n_false += len(find_columns(rng.normal(100.0, 10.0, (256, 256)), pixel_size=0.2))
        except AtomcountError:
            pass
    assert n_false <= 6


def test_bad_min_distance():
    image, _, _ = lattice_image(side=3)
    with pytest.raises(AtomcountError, match="min_distance"):
        find_columns(image, pixel_size=0.2, min_distance=0)


def test_noise_estimate_ignores_masked_vacuum():
    """Half the image set to exactly 0 (vacuum masked by hand) must not drag the noise to 0."""
    from atomcount.stem.columns import _noise_sd

    image = np.random.default_rng(4).normal(0.0, 1.0, (128, 128))
    image[:, :64] = 0.0
    assert _noise_sd(image) == pytest.approx(1.0, rel=0.1)


def test_lattice_spacing_from_the_autocorrelation():
    """A square lattice 2.04 Å apart: the shortest strong lattice vector is its spacing."""
    from atomcount.stem.columns import lattice_spacing

    image, _, _ = lattice_image(dose=1e6)
    assert lattice_spacing(image, pixel_size=0.2) == pytest.approx(2.04, rel=0.05)
    assert lattice_spacing(np.zeros((64, 64)), pixel_size=0.2) is None
