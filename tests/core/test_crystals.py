import numpy as np
import pytest

from atomcount.core.crystals import ELEMENTS, column_repeat, get_element, get_zone_axis, plane_spacing
from atomcount.core.errors import AtomcountError


def test_all_paper_elements_present_with_sane_values():
    assert set(ELEMENTS) == {"Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au", "Pb"}
    zs = [ELEMENTS[s].Z for s in ("Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au", "Pb")]
    assert zs == sorted(zs)
    for el in ELEMENTS.values():
        assert 3.4 < el.a < 5.0
        # (111) is the lowest-energy facet of every fcc metal here
        assert min(el.surface_energies, key=el.surface_energies.get) == (1, 1, 1)


@pytest.mark.parametrize("zone,factor", [((1, 0, 0), 1.0), ((1, 1, 0), 1 / np.sqrt(2)), ((1, 1, 1), np.sqrt(3)),
                                         ((2, 1, 1), np.sqrt(6) / 2)])
def test_column_repeat_closed_form(zone, factor):
    au = get_element("Au")
    assert column_repeat(au, zone) == pytest.approx(au.a * factor)


@pytest.mark.parametrize("zone,n_planes", [((1, 0, 0), 2), ((1, 1, 0), 2), ((1, 1, 1), 3), ((2, 1, 1), 6)])
def test_plane_spacing_divides_repeat(zone, n_planes):
    au = get_element("Au")
    assert plane_spacing(au, zone) * n_planes == pytest.approx(column_repeat(au, zone))


def test_bad_element_and_zone():
    with pytest.raises(AtomcountError, match="unknown element"):
        get_element("Xx")
    with pytest.raises(AtomcountError, match="zone axis"):
        get_zone_axis("123")
    with pytest.raises(AtomcountError):
        get_zone_axis((0, 0, 0))
