"""Crystal columns sliced in Fourier space: same code as the library's scheme, slices that add up."""
from __future__ import annotations

import numpy as np
import pytest

from atomcount.core.errors import AtomcountError
from atomcount.stem.ppiscs.column_slicing import _ramp, _Shares, simulate_sliced, slice_spectra
from atomcount.stem.ppiscs.simulation import Entry, SimulationSettings, simulate_entry
from atomcount.stem.ppiscs.sliced_potential import cumulative_fraction

SMALL = SimulationSettings(supercell_length=4.0, max_convergence=10.0, max_atoms=3, antialias_taper=0.0)


def _grid(n: int = 48, extent: float = 4.0):
    kx = np.fft.fftfreq(n, extent / n)
    return kx, kx, np.hypot(kx[:, None], kx[None, :])


def _column(rng, n: int = 12) -> np.ndarray:
    pos = np.column_stack([rng.uniform(0, 4, n), rng.uniform(0, 4, n), np.arange(n) * 1.02 + 0.51 + rng.normal(0, 0.1, n)])
    return pos[np.argsort(pos[:, 2])]


def test_library_scheme_reproduces_the_abtem_library_simulation():
    # no phonons, so both codes see the same atoms; abTEM builds its own potential and propagates
    entry = Entry("Au", "100", 300.0, 0.0)
    ours = simulate_sliced(entry, settings=SMALL)
    abtem_run = simulate_entry(entry, SMALL, threads=1)
    assert ours.geometry.gpts == abtem_run.geometry.gpts
    for lo, hi in ((25, 60), (60, 200), (150, 250)):
        a = abtem_run.intensity[..., lo:hi].sum(-1)
        b = ours.intensity[..., lo:hi].sum(-1)
        assert np.allclose(b, a, rtol=1e-4), (lo, hi)


@pytest.mark.parametrize("thickness", [0.05, 0.3])
def test_slices_of_a_column_add_up_to_its_whole_projection(thickness):
    kx, ky, k = _grid()
    pos = _column(np.random.default_rng(0))
    shares = _Shares(cumulative_fraction("Au"), k)
    n_slices = int(round(12 * 1.02 / thickness))
    total = sum(slice_spectra(pos, kx, ky, thickness, n_slices, shares))
    whole = sum(_ramp(x, y, kx, ky) for x, y in pos[:, :2])
    assert np.allclose(total, whole, atol=2e-5 * len(pos))


def test_thin_slices_hold_each_atom_near_its_own_plane():
    # one atom: slices farther than 1 Å from it hold nothing above 2/Å, the slice through its centre most
    kx, ky, k = _grid()
    pos = np.array([[1.0, 2.0, 2.0]])
    spectra = list(slice_spectra(pos, kx, ky, 0.1, 40, _Shares(cumulative_fraction("Au"), k)))
    high = (k.ravel() > 2.0)
    amount = np.array([np.abs(s[high]).max() for s in spectra])
    centres = (np.arange(40) + 0.5) * 0.1
    assert amount[np.abs(centres - 2.0) > 1.0].max() < 1e-5
    assert np.argmax(amount) in (19, 20)


def test_library_scheme_puts_each_atom_whole_into_the_slice_of_its_centre():
    kx, ky, _ = _grid()
    pos = _column(np.random.default_rng(1), 4)
    spectra = list(slice_spectra(pos, kx, ky, 1.02, 4, None))
    for s, (x, y, _) in zip(spectra, pos):
        assert np.allclose(s, _ramp(x, y, kx, ky), atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"sampling": 0.5}, "sampling"),
    ({"sampling": 0.0}, "sampling"),
    ({"slice_thickness": 3.0}, "slice_thickness"),
    ({"slice_thickness": -0.1}, "slice_thickness"),
])
def test_out_of_range_settings_are_refused(kwargs, message):
    with pytest.raises(AtomcountError, match=message):
        simulate_sliced(Entry("Al", "100", 300.0, 0.085), settings=SMALL, **kwargs)
