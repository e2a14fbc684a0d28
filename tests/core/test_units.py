import pytest

from atomcount.core.units import wavelength


def test_wavelength_300kv():
    # 300 kV: 1.9687 pm (relativistic)
    assert wavelength(300) == pytest.approx(0.019687, rel=1e-4)
