import numpy as np
import pytest

from atomcount.core.crystals import get_element
from atomcount.core.errors import AtomcountError
from atomcount.model3d.sites import index_columns, zone_lattice

AU = get_element("Au")


@pytest.mark.parametrize("zone, repeat, spacing", [((1, 0, 0), AU.a, AU.a / 2),
                                                   ((1, 1, 0), AU.a / np.sqrt(2), AU.a / (2 * np.sqrt(2))),
                                                   ((1, 1, 1), AU.a * np.sqrt(3), AU.a / np.sqrt(3))])
def test_repeat_and_plane_spacing(zone, repeat, spacing):
    lat = zone_lattice(AU, zone)
    assert lat.repeat == pytest.approx(repeat)
    assert lat.plane_spacing == pytest.approx(spacing)


@pytest.mark.parametrize("zone", [(1, 0, 0), (1, 1, 0), (1, 1, 1)])
def test_column_sites_are_fcc_sites(zone):
    """Every site z = offset(i, j) + k h of the derived lattice is an fcc site: its nearest
    neighbours are exactly a/√2 away, twelve of them in the bulk."""
    lat = zone_lattice(AU, zone)
    ij = np.stack(np.meshgrid(np.arange(-4, 5), np.arange(-4, 5), indexing="ij"), -1).reshape(-1, 2)
    ks = np.arange(-4, 5)
    xy = ij @ lat.basis
    z = lat.column_offset(ij)[:, None] + ks[None] * lat.repeat
    pos = np.column_stack([np.repeat(xy, len(ks), axis=0), z.reshape(-1)])
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert d.min() == pytest.approx(AU.nearest_neighbour)
    centre = np.argmin(np.linalg.norm(pos, axis=1))
    assert np.sum(np.isclose(d[centre], AU.nearest_neighbour)) == 12


def test_index_columns_recovers_a_rotated_scaled_lattice():
    lat = zone_lattice(AU, (1, 1, 0))
    ij = np.stack(np.meshgrid(np.arange(-5, 6), np.arange(-5, 6), indexing="ij"), -1).reshape(-1, 2)
    theta = np.deg2rad(37.0)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    xy = 1.04 * (ij @ lat.basis) @ rot.T + [30.0, 12.0]
    xy = xy + np.random.default_rng(0).normal(0, 0.05, xy.shape)
    xy[:, 1] *= -1  # mirrored (image rows point down)
    out = index_columns(xy, lat, zone_name="[110]")
    assert out.residual.max() < 0.25
    assert len(np.unique(out.index, axis=0)) == len(xy)


def test_off_lattice_column_is_refused():
    lat = zone_lattice(AU, (1, 0, 0))
    ij = np.stack(np.meshgrid(np.arange(5), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
    xy = (ij @ lat.basis).astype(float)
    xy[7] += [1.0, 0.9]
    with pytest.raises(AtomcountError, match="do not form the \\[100\\] lattice"):
        index_columns(xy, lat, zone_name="[100]")


def test_wrong_spacing_is_refused():
    lat = zone_lattice(AU, (1, 0, 0))
    ij = np.stack(np.meshgrid(np.arange(5), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
    with pytest.raises(AtomcountError, match="spacing"):
        index_columns(1.3 * (ij @ lat.basis), lat, zone_name="[100]")
