"""Real ADF-STEM images from ../shared/real (never committed): formats, negative control, PtIr agreement.

Every test that needs the images is skipped, with the reason, where the folder is absent
(set ATOMCOUNT_REAL_DATA to point elsewhere). The column matching is tested everywhere.
"""
from __future__ import annotations

import numpy as np
import pytest

from atomcount.bench.real_stem import load_real, match_columns, real_data_dir

REAL = real_data_dir()
needs_real = pytest.mark.skipif(REAL is None, reason="real images not found: ../shared/real or $ATOMCOUNT_REAL_DATA")


# ------------------------------------------------------------------ matching (no data needed)
def test_matching_is_one_to_one_and_optimal():
    ref = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0]])
    found = np.array([[1.1, 0.0], [0.2, 0.0], [2.3, 0.0], [5.0, 5.0]])
    f, g = match_columns(found, ref, max_distance=1.0)
    pairs = dict(zip(f.tolist(), g.tolist()))
    # found 0 (1.1) is within 1 Å of both ref 0 and ref 1, but the optimum gives ref 0 to found 1
    assert pairs == {1: 0, 2: 1} or pairs == {0: 1, 1: 0}
    assert len(set(g.tolist())) == len(g)
    assert np.all(np.linalg.norm(found[f] - ref[g], axis=1) <= 1.0)


def test_matching_recovers_a_shuffled_jittered_lattice():
    rng = np.random.default_rng(0)
    ref = np.argwhere(np.ones((40, 40))) * 2.0
    order = rng.permutation(len(ref))
    found = ref[order] + rng.normal(scale=0.2, size=ref.shape)
    f, g = match_columns(found, ref)
    assert len(f) == len(ref) and np.array_equal(g, order[f])


def test_matching_nothing_near():
    f, g = match_columns(np.zeros((3, 2)), np.full((2, 2), 50.0))
    assert len(f) == len(g) == 0


# ------------------------------------------------------------------ formats on the real files
@needs_real
@pytest.mark.parametrize("relative, name, shape, pixel_size", [
    ("qem/haadf_small.hspy", "sto_haadf_qem", (224, 224), 0.16454),
    ("tk_r_em/hrstem_example.ser", "hrstem_ser_unknown", (1024, 1024), 0.52407),
    ("rosettasciio/multi_signal.dm3", "haadf_dm3_no_lattice", (512, 512), 0.17752),
    ("statstem/ExamplePtIr.mat", "ptir_110_statstem", (512, 512), 0.1211),
    ("qem/outputGMMrodEmeric_100_final.mat", "au_rod_100", (484, 473), 0.34),
    ("temul/example_Au_nanoparticle.emd", "au_np_temul_haadf", (2048, 2048), 0.074984),
])
def test_real_files_read_like_the_reference_loader(relative, name, shape, pixel_size):
    from atomcount.io import read_image

    read = read_image(REAL / relative)
    expected, _, _ = load_real(name)
    assert read.data.shape == shape and read.pixel_size == pytest.approx(pixel_size, rel=1e-4)
    np.testing.assert_allclose(read.data, expected.astype(np.float32), rtol=1e-6)


@needs_real
def test_velox_acquisition_metadata_of_the_real_file():
    from atomcount.io import read_image

    meta = read_image(REAL / "temul/example_Au_nanoparticle.emd").metadata
    assert meta["voltage_kV"] == pytest.approx(300.0)
    assert meta["convergence_mrad"] == pytest.approx(17.9, abs=0.05)
    assert (meta["inner_mrad"], meta["outer_mrad"]) == pytest.approx((41.2, 247.5), abs=0.05)


@needs_real
def test_detector_scan_gives_black_and_vacuum_levels():
    from atomcount.stem.normalise import detector_levels, normalise_image

    scan, _, _ = load_real("adf_detector_map_atomap")
    black, vacuum = detector_levels(scan)
    # README: ≈ 1230 off the detector, up to ≈ 54600 on the non-uniform active ring
    assert 1200 < black < 1500 and 45000 < vacuum < 56000
    normalised, norm = normalise_image(scan, detector_map=scan)
    assert norm.absolute and np.median(normalised[scan > 0.5 * (black + vacuum)]) == pytest.approx(1.0, rel=0.1)


# ------------------------------------------------------------------ lattice check on real columns
@needs_real
@pytest.mark.parametrize("name, element, zone, implied, warns", [
    ("au_rod_100", "Au", "100", 0.48, True),
    ("au_rod_110", "Au", "110", 0.48, True),
    ("pb_statstem_tutorial", "Pb", "110", 0.20, True),
    ("ptir_110_statstem", "Pt", "110", 0.1211, False),
])
def test_lattice_check_on_the_authors_columns(name, element, zone, implied, warns):
    """The README's lattice analysis: rods ≈ 0.48 Å/px (file: 0.34), Pb ≈ 0.20 (file: 0.22), PtIr right."""
    from atomcount.stem.lattice import lattice_check

    _, ps, meta = load_real(name)
    rc = meta["ground_truth"]["coordinates_A"][:, ::-1] / ps
    check = lattice_check(rc, pixel_size=ps, element=element, zone=zone)
    assert check.implied == pytest.approx(implied, rel=0.03)
    assert check.ok is not warns


# ------------------------------------------------------------------ negative control
@needs_real
def test_no_lattice_is_refused_with_one_line_and_nothing_written(tmp_path, capsys):
    from atomcount.cli import _COMMANDS, main

    if "stem" not in _COMMANDS:
        pytest.skip("`atomcount stem` is not registered in atomcount.cli yet")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["stem", "count", str(REAL / "rosettasciio/multi_signal.dm3"), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code != 0
    assert len(err.splitlines()) == 1 and "no atomic columns found" in err
    assert not out.exists() or not any(out.iterdir())


# ------------------------------------------------------------------ the command on real files
@needs_real
def test_stem_count_reads_statstem_mat_and_normalises_by_a_real_detector_scan(tmp_path):
    """`stem count` on StatSTEM's Pb .mat, normalised by atomap's .hspy detector scan.

    Normalising is affine, (I − black) / (vacuum − black), and the Gaussian model has a free
    background, so every cross-section must be the raw one divided by (vacuum − black).
    """
    import csv

    from atomcount.cli import _COMMANDS, main
    from atomcount.stem import count_stem
    from atomcount.stem.normalise import detector_levels

    if "stem" not in _COMMANDS:
        pytest.skip("`atomcount stem` is not registered in atomcount.cli yet")
    out = tmp_path / "out"
    main(["stem", "count", str(REAL / "statstem/Example2.mat"), "--detector-map",
          str(REAL / "atomap/example_detector_image.hspy"), "--no-figures", "--out", str(out)])
    with open(out / "Example2" / "columns.csv") as fh:
        rows = [r for r in csv.DictReader(line for line in fh if not line.startswith("#"))]
    normalised = np.array([float(r["cross_section"]) for r in rows])
    image, ps, _ = load_real("pb_statstem_tutorial")
    raw = count_stem(image, pixel_size=ps).cross_section
    black, vacuum = detector_levels(load_real("adf_detector_map_atomap")[0])
    ratio = normalised * (vacuum - black) / raw      # 1 up to the fit's convergence tolerance
    assert len(normalised) == len(raw)
    assert np.median(ratio) == pytest.approx(1.0, abs=1e-3) and np.percentile(np.abs(ratio - 1), 95) < 0.01
