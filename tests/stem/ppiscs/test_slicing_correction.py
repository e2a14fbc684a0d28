"""Slicing correction: band ratios, their application to library entries, the table file."""
import numpy as np
import pytest

from atomcount.core.errors import AtomcountError
from atomcount.stem.ppiscs.library import DEFAULT_LIBRARY, read_entry, ring_integral
from atomcount.stem.ppiscs.slicing_correction import SlicingCorrection, band_factors, load_correction


def _rings(seed, n_atoms=6, n_rings=95):
    return np.random.default_rng(seed).uniform(0.1, 1.0, (n_atoms, n_rings))


def test_identical_runs_need_no_correction():
    r = _rings(0)
    np.testing.assert_allclose(band_factors(r, r, 1.0), 1.0, rtol=1e-12)


def test_corrected_library_equals_the_reference_on_whole_bands():
    lib, ref = _rings(1), _rings(2, n_rings=103)  # the reference reaches higher angles
    f = band_factors(lib, ref, 1.0, bin_width=10.0, max_angle=250.0)
    assert f.shape == (6, 11)
    per_ring = np.repeat(f, 10, axis=1)[:, : lib.shape[1]]
    for inner, outer in ((0.0, 10.0), (20.0, 60.0), (40.0, 90.0)):
        np.testing.assert_allclose(ring_integral(lib * per_ring, inner, outer, 1.0),
                                   ring_integral(ref, inner, outer, 1.0), rtol=1e-12)


def test_band_without_library_intensity_keeps_factor_one():
    lib, ref = _rings(3), _rings(4)
    lib[:, 30:40] = 0.0
    assert np.all(band_factors(lib, ref, 1.0, 10.0)[:, 3] == 1.0)


def test_bands_from_the_largest_angle_on_are_left_alone():
    f = band_factors(_rings(5, n_rings=250), _rings(6, n_rings=250), 1.0, 10.0, max_angle=150.0)
    assert np.all(f[:, 15:] == 1.0) and np.all(f[:, :15] != 1.0)


def test_band_width_must_be_a_multiple_of_the_ring_width():
    with pytest.raises(AtomcountError, match="multiple"):
        band_factors(_rings(0), _rings(0), 1.0, bin_width=2.5 + 1e-3)


ROWS = (("Al", "100", 300.0), ("Au", "100", 300.0), ("Au", "110", 200.0))


def _table(factor=None):
    f = np.arange(1, 1 + 3 * 3 * 4, dtype=float).reshape(3, 3, 4) if factor is None else factor
    return SlicingCorrection(ROWS, f, bin_width=10.0)


def test_ring_factors_extend_the_last_row_and_band():
    t = _table()
    f = t.ring_factors("Au", "100", 300.0, n_atoms=5, n_rings=60, ring_width=1.0)
    assert f.shape == (5, 60)
    au = t.factor[1]
    assert np.all(f[:3, :10] == au[:, :1]) and np.all(f[3:] == f[2])  # 4 and 5 atoms: the 3-atom row
    assert np.all(f[:3, 30:40] == au[:, 3:4]) and np.all(f[:3, 40:] == au[:, 3:4])  # beyond 40 mrad: last band


def test_rows_are_told_apart_by_zone_and_voltage():
    t = _table()
    assert np.all(t.row("Au", "110", 200.0) == t.factor[2]) and np.all(t.row("Au", "100", 300.0) == t.factor[1])
    assert t.describe() == "[100] 300 kV: Al, Au; [110] 200 kV: Au"


@pytest.mark.parametrize("element,zone,voltage,match", [("Pb", "100", 300.0, "Pb"), ("Au", "110", 300.0, r"Au \[110\] at 300"),
                                                        ("Au", "100", 80.0, "80 kV")])
def test_outside_the_table_is_refused(element, zone, voltage, match):
    with pytest.raises(AtomcountError, match=match):
        _table().ring_factors(element, zone, voltage, 3, 40, 1.0)


def test_mismatched_or_repeated_rows_are_refused():
    with pytest.raises(AtomcountError, match="shape"):
        SlicingCorrection((("Au", "100", 300.0),), np.ones((2, 3, 4)))
    with pytest.raises(AtomcountError, match="twice"):
        SlicingCorrection((("Au", "100", 300.0), ("Au", "100", 300.0)), np.ones((2, 3, 4)))


def test_a_new_row_is_added_padded_with_factor_one_and_never_twice():
    t = _table()
    new = np.full((3, 6), 0.95)  # more bands than the table: the old rows are padded with 1
    grown = t.with_row(("Pb", "100", 60.0), new)
    assert grown.rows == t.rows + (("Pb", "100", 60.0),) and grown.factor.shape == (4, 3, 6)
    np.testing.assert_array_equal(grown.factor[:3, :, :4], t.factor)
    assert np.all(grown.factor[:3, :, 4:] == 1.0) and np.all(grown.row("Pb", "100", 60.0) == 0.95)
    assert grown.has_row("Pb", "100", 60.0) and not t.has_row("Pb", "100", 60.0)
    short = t.with_row(("Pb", "100", 60.0), np.full((3, 2), 1.02))  # fewer bands: the new row is padded
    assert np.all(short.row("Pb", "100", 60.0) == [1.02, 1.02, 1.0, 1.0])
    with pytest.raises(AtomcountError, match="already"):
        t.with_row(("Au", "110", 200.0), new)
    with pytest.raises(AtomcountError, match="atoms"):
        t.with_row(("Pb", "100", 60.0), np.ones((5, 4)))


def test_applied_to_an_entry_it_commutes_with_the_aperture_average():
    entry = read_entry(DEFAULT_LIBRARY / "Au_100_300kV_rmsd0.0850.h5")
    factor = np.ones((3, 20, 30))
    factor[1] = np.linspace(0.9, 1.1, 30)[None] * np.linspace(1.0, 1.05, 20)[:, None]
    t = _table(factor)
    corrected = t.apply(entry)
    f = t.ring_factors("Au", "100", 300.0, entry.n_atoms, entry.intensity.shape[2], float(entry.attrs["ring_width"]))
    for alpha in (17.5, 30.0):
        np.testing.assert_allclose(corrected.weighted_rings(alpha), entry.weighted_rings(alpha) * f, rtol=2e-6)
    assert entry.intensity is not corrected.intensity  # the entry read stays as it was
    assert "slicing_correction" in corrected.attrs and "slicing_correction" not in entry.attrs


def test_a_constant_factor_scales_every_ppiscs():
    entry = read_entry(DEFAULT_LIBRARY / "Al_100_300kV_rmsd0.0850.h5")
    corrected = _table(np.full((3, 3, 4), 0.97)).apply(entry)
    np.testing.assert_allclose(corrected.ppiscs(21.0, 46.0, 190.0), 0.97 * entry.ppiscs(21.0, 46.0, 190.0), rtol=2e-6)


def test_table_round_trip_and_bad_files(tmp_path):
    t = _table()
    back = load_correction(t.save(tmp_path / "c.npz"))
    assert back.rows == t.rows
    np.testing.assert_allclose(back.factor, t.factor, rtol=1e-7)
    with pytest.raises(AtomcountError, match="not found"):
        load_correction(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a table")
    with pytest.raises(AtomcountError, match="not a slicing-correction table"):
        load_correction(tmp_path / "bad.npz")


def test_shipped_table_holds_every_element_of_paper_001_along_100_at_300_kv():
    t = load_correction()
    assert {el for el, zone, kv in t.rows if zone == "100" and kv == 300.0} == {"Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au", "Pb"}
    assert np.all(np.isfinite(t.factor)) and t.factor.min() > 0
    # from 10 mrad on (every annular detector of paper 001 starts at ≥ 18 mrad) a correction of a few per cent;
    # the bright-field band 0–10 mrad, which no detector of the domain reads, may move more (Ni 60 kV: +15 %)
    adf = t.factor[:, :, 1:]
    assert 0.85 < adf.min() and adf.max() < 1.15
    # a light atom is nearly a phase object: slicing hardly changes an Al column's HAADF cross-section
    entry = read_entry(DEFAULT_LIBRARY / "Al_100_300kV_rmsd0.0850.h5")
    ratio = t.apply(entry).ppiscs(21.0, 46.0, 190.0) / entry.ppiscs(21.0, 46.0, 190.0)
    assert np.all(np.abs(ratio - 1) < 0.015)


def test_library_curve_with_the_slicing_correction(monkeypatch):
    from atomcount.stem.ppiscs import slicing_correction
    from atomcount.stem.ppiscs.curve import ppiscs_curve

    args = ("Au", "100", 300.0, 21.0, 46.0, 190.0, 0.085)
    corrected = ppiscs_curve(*args, source="library", slicing_correction=True)
    entry = read_entry(DEFAULT_LIBRARY / "Au_100_300kV_rmsd0.0850.h5")
    np.testing.assert_allclose(corrected, load_correction().apply(entry).ppiscs(21.0, 46.0, 190.0), rtol=1e-6)
    assert np.median(corrected / ppiscs_curve(*args, source="library")) > 1.005  # Au reads low without it
    monkeypatch.setattr(slicing_correction, "load_correction", lambda: _table())  # no Au [110] 300 kV row
    with pytest.raises(AtomcountError, match=r"\[110\]"):
        ppiscs_curve("Au", "110", 300.0, 21.0, 46.0, 190.0, 0.085, source="library", slicing_correction=True)


def test_cli_curve_with_the_slicing_correction(tmp_path):
    from click.testing import CliRunner

    from atomcount.cli import cli

    base = ["ppiscs", "curve", "--element", "Au", "--zone", "100", "--voltage", "300", "--convergence", "21",
            "--inner", "46", "--outer", "190", "--rmsd", "0.085", "--source", "library"]
    out = CliRunner().invoke(cli, base + ["--slicing-correction", "--csv", str(tmp_path / "c.csv")])
    assert out.exit_code == 0, out.output
    values = np.loadtxt(tmp_path / "c.csv", delimiter=",", skiprows=1)[:, 1]
    entry = read_entry(DEFAULT_LIBRARY / "Au_100_300kV_rmsd0.0850.h5")
    np.testing.assert_allclose(values, load_correction().apply(entry).ppiscs(21.0, 46.0, 190.0), rtol=1e-5)
    refused = CliRunner().invoke(cli, base[:-1] + ["surrogate", "--slicing-correction"])
    assert refused.exit_code != 0 and "slicing_correction is for source='library'" in str(refused.exception)


def test_the_queue_adds_a_missing_row_once(tmp_path, monkeypatch):
    from atomcount.bench import ppiscs_columns

    calls = []
    monkeypatch.setattr(ppiscs_columns, "correction_runs", lambda row, seed: calls.append((row, seed)) or {})
    monkeypatch.setattr(ppiscs_columns, "_factors", lambda runs: np.full((3, 4), 1.01))
    path = _table().save(tmp_path / "table.npz")
    assert ppiscs_columns.add_correction_row(("Pb", "100", 60.0), configs=2, path=path)
    assert len(calls) == 2 and {c[0] for c in calls} == {("Pb", "100", 60.0)}  # both phonon configurations
    np.testing.assert_allclose(load_correction(path).row("Pb", "100", 60.0), 1.01)
    assert not ppiscs_columns.add_correction_row(("Pb", "100", 60.0), configs=2, path=path)
    assert len(calls) == 2  # nothing simulated for a row the table holds


def test_rows_added_by_queues_side_by_side_are_all_kept(tmp_path, monkeypatch):
    from atomcount.bench import ppiscs_columns

    path = _table().save(tmp_path / "table.npz")
    monkeypatch.setattr(ppiscs_columns, "_factors", lambda runs: np.full((3, 4), 1.01))

    def runs(row, seed):  # another queue adds its row while this one simulates
        if row[0] == "Pb" and not load_correction(path).has_row("Ni", "100", 60.0):
            ppiscs_columns.add_correction_row(("Ni", "100", 60.0), configs=1, path=path)
        return {}

    monkeypatch.setattr(ppiscs_columns, "correction_runs", runs)
    assert ppiscs_columns.add_correction_row(("Pb", "100", 60.0), configs=1, path=path)
    rows = load_correction(path).rows
    assert ("Ni", "100", 60.0) in rows and ("Pb", "100", 60.0) in rows and len(rows) == 5
