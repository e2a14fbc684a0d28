import numpy as np
import pytest
from ase import Atoms
from ase.calculators.emt import EMT

from atomcount.core.crystals import get_element
from atomcount.core.errors import AtomcountError
from atomcount.model3d.energy import emt_training_set, fit_emt, potential_for, shell_counts


def test_fit_reproduces_emt_on_independent_clusters():
    """Per-atom energies of clusters not used in the fit agree with ASE EMT to a few meV."""
    pot = fit_emt("Au")
    counts, energies = emt_training_set("Au", seed=11)
    err = pot.site_energy(counts) - energies
    assert np.sqrt(np.mean(err**2)) < 0.005
    assert np.ptp(energies) > 2.0


def test_energy_difference_of_a_move_matches_emt():
    el = get_element("Au")
    rng = np.random.default_rng(2)
    grid = np.stack(np.meshgrid(*[np.arange(-4, 5)] * 3, indexing="ij"), -1).reshape(-1, 3)
    sites = grid[grid.sum(axis=1) % 2 == 0] * (el.a / 2)
    occ = rng.random(len(sites)) < 0.6
    pot = fit_emt("Au")

    def both(mask):
        atoms = Atoms("Au" + str(mask.sum()), positions=sites[mask])
        atoms.calc = EMT()
        return atoms.get_potential_energy(), pot.site_energy(shell_counts(sites[mask], el.nearest_neighbour)).sum()

    e_emt0, e_fit0 = both(occ)
    occ[np.flatnonzero(occ)[0]] = False
    occ[np.flatnonzero(~occ)[-1]] = True
    e_emt1, e_fit1 = both(occ)
    assert e_fit1 - e_fit0 == pytest.approx(e_emt1 - e_emt0, abs=0.02)


def test_pb_uses_the_gupta_form_with_its_cohesive_energy():
    """Cleri & Rosato's Pb parameters give ≈ −2.0 eV per bulk atom (cohesive energy 2.03 eV)."""
    pot = potential_for("Pb")
    assert "Gupta" in pot.source
    assert pot.table()[12, 6, 24] == pytest.approx(-2.03, abs=0.05)


def test_bulk_is_lower_than_surface():
    table = fit_emt("Ag").table()
    assert table[12, 6, 24] < table[9, 3, 12] < table[6, 2, 8]


def test_unknown_element_is_refused():
    with pytest.raises(AtomcountError):
        potential_for("Fe")
