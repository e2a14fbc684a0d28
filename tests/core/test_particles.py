import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from atomcount.core.columns import cluster_columns
from atomcount.core.crystals import column_repeat, get_element, get_zone_axis
from atomcount.core.errors import AtomcountError
from atomcount.core.particles import MAX_HEIGHT, ParticleConfig, random_particle


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), zone=st.sampled_from(["100", "110", "111"]))
def test_heights_sum_to_atoms_and_fit_the_field(seed, zone):
    cfg = ParticleConfig(zones=(zone,), n_atoms=(80, 1500))
    p = random_particle(np.random.default_rng(seed), cfg)
    assert p.columns.total_atoms == len(p.atoms)
    assert p.columns.height.max() <= MAX_HEIGHT
    assert p.columns.height.min() >= 1
    pos = p.atoms.positions
    assert pos[:, :2].min() >= 0 and pos[:, :2].max() <= cfg.field_of_view


def test_same_seed_same_particle():
    a = random_particle(np.random.default_rng(42))
    b = random_particle(np.random.default_rng(42))
    np.testing.assert_array_equal(a.atoms.positions, b.atoms.positions)
    np.testing.assert_array_equal(a.columns.height, b.columns.height)


def test_column_spacing_matches_lattice():
    """Untilted [100] particle: neighbouring columns are a/2 apart (fcc projection)."""
    cfg = ParticleConfig(zones=("100",), max_tilt_deg=0.0, adatom_fraction=(0, 0), vacancy_fraction=(0, 0),
                         truncation_probability=0.0, n_atoms=(400, 400))
    p = random_particle(np.random.default_rng(1), cfg)
    from scipy.spatial import cKDTree

    d, _ = cKDTree(p.columns.xy).query(p.columns.xy, k=2)
    assert np.median(d[:, 1]) == pytest.approx(get_element("Au").a / 2, abs=1e-6)


def test_atoms_in_a_column_are_one_repeat_apart():
    au = get_element("Au")
    zone = get_zone_axis("110")
    rep = column_repeat(au, zone)
    line = np.array([[0, 0, 0]]) + np.arange(5)[:, None] * np.array(zone) / 2 * au.a
    other = line + np.array([0, 0, au.a / 2])
    labels = cluster_columns(np.concatenate([line, other]), zone, tolerance=0.5)
    assert len(np.unique(labels)) == 2
    assert np.linalg.norm(line[1] - line[0]) == pytest.approx(rep)


def test_bad_config():
    with pytest.raises(AtomcountError):
        ParticleConfig(element="Xx")
    with pytest.raises(AtomcountError):
        ParticleConfig(n_atoms=(100, 10))
