import numpy as np
import pytest
from ase.io import read

import atomcount
from atomcount.cli import main
from atomcount.core.errors import AtomcountError
from atomcount.io.results import write_columns_csv
from atomcount.model3d.ensemble import sample_counts
from atomcount.model3d.export import write_model
from atomcount.model3d.figures import model_figure
from atomcount.model3d.validation import site_recovery


def test_counts_are_preserved_and_frame_kept(au110):
    table, _ = au110
    atoms = atomcount.model_3d(table, "Au", "110", ensemble=0, sweeps=50)
    np.testing.assert_array_equal(np.bincount(atoms.arrays["column"]), table["height"])
    xy = np.column_stack([table["x_A"], table["y_A"]])
    np.testing.assert_allclose(atoms.positions[:, :2], xy[atoms.arrays["column"]], atol=1e-6)
    assert atoms.info["energy_eV"] <= atoms.info["energy_initial_eV"]


def test_centred_model_is_symmetric_about_the_mid_plane(au100):
    """Column by column, the mean height of the atoms is within half a repeat of z = 0."""
    table, _ = au100
    atoms = atomcount.model_3d(table, "Au", "100", relax=False, ensemble=0)
    col, z = atoms.arrays["column"], atoms.positions[:, 2]
    mean_z = np.bincount(col, weights=z) / np.bincount(col)
    assert np.abs(mean_z).max() <= 4.078 / 2 + 1e-9
    spacing = np.diff(np.sort(z[col == np.argmax(table["height"])]))
    np.testing.assert_allclose(spacing, 4.078)


def test_sites_along_110_are_spaced_a_over_root_two(au110):
    table, _ = au110
    atoms = atomcount.model_3d(table, "Au", "110", relax=False, ensemble=0)
    col = atoms.arrays["column"]
    z = np.sort(atoms.positions[col == np.argmax(table["height"]), 2])
    np.testing.assert_allclose(np.diff(z), 4.078 / np.sqrt(2))


def test_defect_free_particle_is_recovered_from_true_counts(au110):
    table, true = au110
    atoms = atomcount.model_3d(table, "Au", "110", relax=False, ensemble=0)
    assert site_recovery(true, atoms.positions) > 0.95
    assert site_recovery(true, true + [0, 0, 0.8]) == 1.0  # z origin is free
    assert site_recovery(true, true + [1.0, 0, 0]) < 0.05  # x, y are not


def test_ensemble_probabilities(au100):
    table, _ = au100
    prob = np.full(len(table["height"]), 0.7)
    atoms = atomcount.model_3d({**table, "probability": prob}, "Au", "100", ensemble=6, sweeps=20)
    p = atoms.arrays["probability"]
    assert np.all((p >= 0) & (p <= 1)) and p.min() < 1


def test_site_occupancy_sums_to_mean_count(au100):
    from atomcount.core.crystals import get_element
    from atomcount.model3d.energy import potential_for
    from atomcount.model3d.ensemble import site_occupancy
    from atomcount.model3d.lattice import build_sites
    from atomcount.model3d.sites import index_columns, zone_lattice

    table, _ = au100
    lat = zone_lattice(get_element("Au"), (1, 0, 0))
    xy = np.column_stack([table["x_A"], table["y_A"]])
    count = np.asarray(table["height"])
    sites = build_sites(index_columns(xy, lat, zone_name="[100]"), lat, half_range=int(count.max()) + 2)
    occ, drawn = site_occupancy(sites, potential_for("Au").table(), count, np.full(len(count), 0.6),
                                members=5, support=False, relax=True, sweeps=10, seed=3)
    np.testing.assert_allclose(np.bincount(sites.column, weights=occ), drawn.mean(axis=0))


def test_sample_counts_changes_by_one_and_never_to_zero():
    rng = np.random.default_rng(0)
    count = np.array([1, 5, 9] * 200)
    draws = sample_counts(count, np.full(len(count), 0.5), rng)
    assert set(np.unique(draws - count)) <= {-1, 0, 1}
    assert draws.min() >= 1
    assert abs(np.mean(draws == count) - 0.5) < 0.06


def test_support_model_has_a_flat_bottom(au110):
    table, _ = au110
    atoms = atomcount.model_3d(table, "Au", "110", support=True, relax=False, ensemble=0)
    z = atoms.positions[:, 2]
    col = atoms.arrays["column"]
    bottoms = np.array([z[col == c].min() for c in range(len(table["height"]))])
    # the lowest plane and the one above it (two sublattices) hold the bottom of many columns
    assert np.sum(bottoms < z.min() + 4.078 / np.sqrt(2) - 1e-6) >= len(bottoms) // 4


def test_write_round_trip(tmp_path, au100):
    table, _ = au100
    atoms = atomcount.model_3d({**table, "probability": np.full(len(table["height"]), 0.9)},
                               "Au", "100", ensemble=3, sweeps=10)
    paths = write_model(atoms, tmp_path)
    back = read(tmp_path / "model.xyz")
    np.testing.assert_allclose(back.positions, atoms.positions, atol=1e-6)
    np.testing.assert_allclose(back.arrays["probability"], atoms.arrays["probability"])
    cif = read(tmp_path / "model.cif")
    assert len(cif) == len(atoms)
    d_cif = np.sort(np.linalg.norm(cif.positions - cif.positions[0], axis=1))
    d_model = np.sort(np.linalg.norm(atoms.positions - atoms.positions[0], axis=1))
    np.testing.assert_allclose(d_cif, d_model, atol=1e-3)
    assert (tmp_path / "model.html").read_text().count("<html") == 1 and len(paths) == 3
    png = model_figure(atoms, tmp_path / "m.png", colour="probability")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_writes_outputs_and_reads_stem_tables(tmp_path, au110):
    table, _ = au110
    csv = write_columns_csv(tmp_path / "columns.csv", {"x_A": table["x_A"], "y_A": table["y_A"],
                                                       "count": table["height"],
                                                       "probability": np.full(len(table["height"]), 0.95)})
    main([  "model3d", str(csv), "--element", "Au", "--zone", "110", "--ensemble", "2", "--sweeps", "10",
          "--out", str(tmp_path / "out")])
    for name in ("model.xyz", "model.cif", "model.html", "model.png"):
        assert (tmp_path / "out" / name).exists()
    assert len(read(tmp_path / "out" / "model.xyz")) == int(np.sum(table["height"]))


@pytest.mark.parametrize("table, message", [
    ({"x_A": [], "y_A": [], "height": []}, "empty"),
    ({"x_A": [0.0, 2.039], "y_A": [0.0, 0.0], "height": [3, -1]}, "negative"),
    ({"x_A": [0.0, 2.039], "y_A": [0.0, 0.0], "height": [3, 2.5]}, "whole numbers"),
    ({"x_A": [0.0, 2.039], "y_A": [0.0, np.nan], "height": [3, 2]}, "non-finite"),
    ({"x_A": [0.0, 2.039], "y_A": [0.0, 0.0], "height": [3, 2], "probability": [0.5, 1.5]}, r"\[0, 1\]"),
    ({"x_A": [0.0], "y_A": [0.0]}, "height"),
    ({"x_A": [0.0, 1.0, 2.0, 0.0], "y_A": [0.0, 0.0, 0.0, 7.0], "height": [3, 2, 2, 1]}, "lattice"),
])
def test_bad_tables_are_refused(table, message):
    with pytest.raises(AtomcountError, match=message):
        atomcount.model_3d(table, "Au", "100", ensemble=0)


def test_bad_files_and_settings_are_refused(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("x_A,y_A,height\n")
    with pytest.raises(SystemExit) as exc:
        main(["model3d", str(empty), "--element", "Au", "--zone", "100"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(AtomcountError, match="cannot read"):
        atomcount.model_3d(tmp_path / "missing.csv", "Au", "100")
    with pytest.raises(AtomcountError, match="unknown element"):
        atomcount.model_3d({"x_A": [0.0], "y_A": [0.0], "height": [1]}, "Xx", "100")
