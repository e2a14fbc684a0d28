"""Fourier-space slices of an atom's potential: they add up to the projection, and converge."""
from __future__ import annotations

import numpy as np
import pytest

from atomcount.stem.ppiscs.sliced_potential import cumulative_fraction, slice_weights
from atomcount.stem.ppiscs.validation import isolated_atom, isolated_atom_fourier_sliced


@pytest.fixture(scope="module")
def au_table():
    return cumulative_fraction("Au")


def test_cumulative_fraction_runs_from_zero_to_one_and_is_odd_about_the_centre(au_table):
    t = au_table
    assert np.allclose(t.r[:, 0], 0.0, atol=1e-4) and np.allclose(t.r[:, -1], 1.0, atol=1e-4)
    k = np.array([0.0, 2.0, 8.0, 15.0])
    for z in (0.05, 0.3, 1.0):
        # a spherical atom: the fraction below +z equals the fraction above −z
        assert np.allclose(t.at(k, z) + t.at(k, -z), 1.0, atol=2e-3)
    # high frequencies come from the core: they are concentrated closer to the centre
    assert t.at(np.array([15.0]), 0.1)[0] > t.at(np.array([1.0]), 0.1)[0]


def test_slices_add_up_to_the_infinite_projection(au_table):
    k = np.linspace(0, 20, 50)
    w = slice_weights(au_table, k, np.arange(0.0, 8.01, 0.1), 4.0)
    assert np.allclose(w.sum(0), 1.0, atol=1e-4)
    # an atom on a slice boundary splits evenly between the two slices around it
    assert np.allclose(w[39], w[40], atol=2e-3)


def test_thin_fourier_slices_keep_a_light_atom_at_its_phase_object_value():
    # Al: the phase-object approximation holds at LAADF and HAADF angles (BENCHMARKS ppiscs-slicing)
    det = [(25.0, 60.0), (60.0, 200.0)]
    thin = isolated_atom_fourier_sliced("Al", 300.0, det, slice_thickness=0.05)
    one = [isolated_atom("Al", 300.0, a, b, extent=8.0) for a, b in det]
    np.testing.assert_allclose(thin, one, rtol=0.02)
    # one Fourier slice through the whole box is the infinite projection itself
    whole = isolated_atom_fourier_sliced("Al", 300.0, det, slice_thickness=8.0)
    np.testing.assert_allclose(whole, one, rtol=1e-4)
