import numpy as np
import pytest

from atomcount.core.crystals import get_element, get_zone_axis
from atomcount.model3d.energy import potential_for
from atomcount.model3d.initial import centred_starts
from atomcount.model3d.lattice import build_sites
from atomcount.model3d.relax import LatticeState, anneal, move_energy, total_energy
from atomcount.model3d.sites import index_columns, zone_lattice


@pytest.fixture(scope="module")
def setup(au110):
    table, _ = au110
    lat = zone_lattice(get_element("Au"), get_zone_axis("110"))
    xy = np.column_stack([table["x_A"], table["y_A"]])
    sites = build_sites(index_columns(xy, lat, zone_name="[110]"), lat, half_range=int(table["height"].max()) + 2)
    return sites, potential_for("Au").table(), np.asarray(table["height"], dtype=np.int64)


def test_incremental_energy_equals_full_recomputation(setup):
    sites, table, count = setup
    state = LatticeState.from_starts(sites, centred_starts(sites, count), count)
    rng = np.random.default_rng(0)
    for _ in range(20):
        src = rng.choice(np.flatnonzero(state.occupied))
        tgt = rng.choice(np.flatnonzero(state.occupied == 0))
        e0 = total_energy(state, table)
        de = move_energy(state, sites, table, int(src), int(tgt))
        assert total_energy(state, table) - e0 == pytest.approx(de, abs=1e-9)
        occ = state.occupied.astype(bool)
        rebuilt = np.zeros_like(state.counts)
        for s in np.flatnonzero(occ):
            nb = sites.neighbours[s]
            np.add.at(rebuilt, (nb[nb >= 0], sites.shells[s][nb >= 0]), 1)
        np.testing.assert_array_equal(rebuilt, state.counts)


def test_annealing_keeps_counts_and_never_raises_the_energy(setup):
    sites, table, count = setup
    start = centred_starts(sites, count)
    # a scrambled start: every column shifted at random
    rng = np.random.default_rng(1)
    width = sites.column_sites.shape[1]
    start = np.clip(start + rng.integers(-3, 4, len(count)), 0, width - count)
    result = anneal(sites, table, start, count, lowest=np.zeros(len(count), dtype=np.int64), sweeps=100)
    assert result.energy < result.initial_energy
    state = LatticeState.from_starts(sites, result.start, count)
    per_column = np.bincount(sites.column[state.occupied.astype(bool)], minlength=len(count))
    np.testing.assert_array_equal(per_column, count)
    assert total_energy(state, table) == pytest.approx(result.energy)
