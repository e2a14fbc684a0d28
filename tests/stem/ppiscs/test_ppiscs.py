"""PPISCS simulation and library: identity with a probe scan, symmetry, additivity, refusal, resume."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from atomcount.core.crystals import get_element
from atomcount.core.errors import AtomcountError
from atomcount.stem.ppiscs.curve import ppiscs_curve
from atomcount.stem.ppiscs.library import aperture_weights, generate, read_entry, ring_integral, write_entry
from atomcount.stem.ppiscs.simulation import Entry, SimulationSettings, crystal_cell, geometry, simulate_entry
from atomcount.stem.ppiscs.validation import identity_case, probe_scan, result_ppiscs

#: A tiny entry: 60 kV, 2×2 cells, rings to 60 mrad, 2 atoms per column.
TINY = SimulationSettings(supercell_length=8.0, max_detector=60.0, max_convergence=16.0, tilt_spacing=10.0,
                          max_atoms=2, batch_size=4)


@pytest.fixture(scope="module")
def tiny_library(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("lib")
    for rmsd in (0.08, 0.10):
        e = Entry("Au", "100", 60.0, rmsd)
        write_entry(simulate_entry(e, TINY), e, TINY, d)
    return d


def test_decomposition_equals_probe_scan_with_same_phonons():
    entry, settings, (alpha, inner, outer) = identity_case()
    settings = replace(settings, max_atoms=2, num_configs=1, max_convergence=16.0)
    dec = result_ppiscs(simulate_entry(entry, settings), alpha, inner, outer, hard=True)
    scan = probe_scan(entry, settings, alpha, inner, outer, "supercell")
    np.testing.assert_allclose(scan, dec, rtol=1e-5)
    # aberrations drop out of the probe-integrated signal
    aberrated = probe_scan(entry, settings, alpha, inner, outer, "supercell", defocus=100.0, cs_um=1.0)
    np.testing.assert_allclose(aberrated, scan, rtol=1e-5)


def test_wedge_equals_full_tilt_grid_without_phonons():
    entry = Entry("Au", "110", 60.0, 0.0)  # rmsd 0: the crystal has the full 2mm symmetry
    s = replace(TINY, tilt_spacing=0.0, max_convergence=12.0)
    wedge = simulate_entry(entry, s)
    full = simulate_entry(entry, replace(s, use_symmetry=False))
    assert len(wedge.geometry.indices) < len(full.geometry.indices)
    for alpha in (6.0, 11.0):
        np.testing.assert_allclose(result_ppiscs(wedge, alpha, 20, 55), result_ppiscs(full, alpha, 20, 55), rtol=1e-4)


def test_aperture_quadrature_covers_the_disc():
    """Cells inside the aperture cover π α² (mrad²); weights are normalised."""
    g = geometry(crystal_cell(get_element("Pt"), "100"), 300.0, SimulationSettings())
    all_in = aperture_weights(g.tilts, g.cell_mrad, g.multiplicity, 1e3)
    np.testing.assert_allclose(all_in, g.multiplicity / g.multiplicity.sum())
    for alpha in (17.5, 24.3, 35.5):
        w = aperture_weights(g.tilts, g.cell_mrad, g.multiplicity, alpha)
        assert np.isclose(w.sum(), 1.0)
        frac = w / g.multiplicity  # ∝ area of each cell inside the disc; 1 for the central cell
        covered = (frac / frac.max() * g.multiplicity).sum() * g.cell_mrad[0] * g.cell_mrad[1]
        assert covered == pytest.approx(np.pi * alpha**2, rel=0.01)


def test_ring_integral_is_additive_and_exact_on_ring_edges():
    rng = np.random.default_rng(0)
    rings = rng.random((3, 250))
    for a, m, b in [(18.0, 47.3, 190.0), (20.25, 20.75, 21.5), (100.0, 180.9, 250.0)]:
        np.testing.assert_allclose(ring_integral(rings, a, m, 1.0) + ring_integral(rings, m, b, 1.0),
                                   ring_integral(rings, a, b, 1.0), rtol=1e-12)
    np.testing.assert_allclose(ring_integral(rings, 30, 40, 1.0), rings[:, 30:40].sum(-1), rtol=1e-12)


def test_library_curve_matches_entry_and_is_additive(tiny_library):
    kw = dict(library=tiny_library)
    full = ppiscs_curve("Au", "[100]", 60, 15.0, 20.0, 59.0, 0.08, **kw)
    assert full.shape == (2,) and np.all(full > 0) and full[1] > full[0]
    parts = ppiscs_curve("Au", "100", 60, 15.0, 20.0, 33.3, 0.08, **kw) + ppiscs_curve(
        "Au", "100", 60, 15.0, 33.3, 59.0, 0.08, **kw)
    np.testing.assert_allclose(parts, full, rtol=1e-12)
    # linear in rmsd between entries; aberrations are accepted and change nothing
    lo, hi = full, ppiscs_curve("Au", "100", 60, 15.0, 20.0, 59.0, 0.10, **kw)
    mid = ppiscs_curve("Au", "100", 60, 15.0, 20.0, 59.0, 0.09, defocus_angstrom=50.0, cs_um=1.0, **kw)
    np.testing.assert_allclose(mid, 0.5 * (lo + hi), rtol=1e-12)


@pytest.mark.parametrize(
    "args, message",
    [
        (("Xx", "100", 60, 15, 20, 59, 0.08), "unknown element"),
        (("Au", "111", 60, 15, 20, 59, 0.08), "zone axis"),
        (("Au", "100", 60, 40, 20, 59, 0.08), "convergence angle"),
        (("Au", "100", 60, 15, 10, 59, 0.08), "inner angle"),
        (("Au", "100", 60, 15, 50, 40, 0.08), "below the outer"),
        (("Au", "100", 60, 15, 20, 300, 0.08), "outer angle"),
        (("Au", "100", 60, 15, 20, 59, 0.2), "rmsd"),
        (("Au", "100", 60, 15, 20, 59, 0.12), "not covered"),
        (("Au", "100", 80, 15, 20, 59, 0.08), "available voltages"),
        (("Au", "100", 60, 15, 20, 61, 0.08), "beyond the library"),
        (("Au", "100", 60, float("nan"), 20, 59, 0.08), "convergence angle"),
    ],
)
def test_out_of_range_inputs_refuse(tiny_library, args, message):
    with pytest.raises(AtomcountError, match=message):
        ppiscs_curve(*args, library=tiny_library)


def test_unknown_source_refuses(tiny_library):
    with pytest.raises(AtomcountError, match="source"):
        ppiscs_curve("Au", "100", 60, 15, 20, 59, 0.08, source="oracle", library=tiny_library)


def test_cli_curve_and_refusal(tiny_library, tmp_path):
    from click.testing import CliRunner

    from atomcount.cli import cli

    base = ["ppiscs", "curve", "--element", "Au", "--zone", "100", "--voltage", "60", "--convergence", "15",
            "--outer", "59", "--rmsd", "0.08", "--library", str(tiny_library)]
    out = CliRunner().invoke(cli, base + ["--inner", "20", "--csv", str(tmp_path / "c.csv")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "c.csv").read_text().splitlines()[0] == "atoms,ppiscs_A2"
    import subprocess
    import sys

    bad = subprocess.run([sys.executable, "-m", "atomcount.cli", *base, "--inner", "5"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "inner angle" in bad.stderr


def test_resume_after_interruption_gives_identical_library(tmp_path):
    entries = [Entry("Cu", "100", 60.0, 0.09), Entry("Au", "110", 60.0, 0.09)]
    s = replace(TINY, max_convergence=10.0)
    generate(entries, tmp_path / "a", s, workers=0, progress=False)
    # interrupted run: the first entry finished, the second left a temporary file behind
    generate(entries[:1], tmp_path / "b", s, workers=0, progress=False)
    (tmp_path / "b" / f".{entries[1].name}.999.tmp").write_bytes(b"half-written")
    first = (tmp_path / "b" / f"{entries[0].name}.h5").stat().st_mtime_ns
    records = generate(entries, tmp_path / "b", s, workers=0, progress=False)
    assert [r["skipped"] for r in records] == [True, False]
    assert (tmp_path / "b" / f"{entries[0].name}.h5").stat().st_mtime_ns == first
    for e in entries:
        a, b = read_entry(tmp_path / "a" / f"{e.name}.h5"), read_entry(tmp_path / "b" / f"{e.name}.h5")
        assert np.array_equal(a.intensity, b.intensity) and np.array_equal(a.tilts, b.tilts)
    with pytest.raises(AtomcountError, match="other settings"):
        generate(entries, tmp_path / "b", replace(s, num_configs=2), workers=0, progress=False)


def test_one_atom_cross_section_increases_with_z():
    values = []
    for el in ("Al", "Cu", "Ag", "Au"):
        e = Entry(el, "100", 60.0, 0.085)
        values.append(result_ppiscs(simulate_entry(e, replace(TINY, max_atoms=1, max_convergence=10.0)), 8.0, 20, 55)[0])
    assert np.all(np.diff(values) > 0)


@pytest.mark.slow
def test_dask_localcluster_generation_matches_in_process(tmp_path):
    entry = [Entry("Ni", "100", 60.0, 0.09)]
    s = replace(TINY, max_convergence=10.0)
    generate(entry, tmp_path / "a", s, workers=0, progress=False)
    generate(entry, tmp_path / "b", s, workers=1, threads=1, progress=False)
    a, b = (read_entry(tmp_path / d / f"{entry[0].name}.h5") for d in ("a", "b"))
    assert np.array_equal(a.intensity, b.intensity)
