"""count_stem end to end, normalisation and reference tables (atomcount.stem.counting, normalise, reference)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import atomcount
from _synthetic_stem import lattice_image, match
from atomcount.core.errors import AtomcountError
from atomcount.stem import count_stem
from atomcount.stem.normalise import detector_levels, normalise_image
from atomcount.stem.reference import read_reference_table, reference_cross_sections

AU = dict(element="Au", zone="100", voltage=300, convergence=21, inner=46, outer=190, rmsd=0.085)


@pytest.fixture(scope="module")
def au_image():
    """Columns with the surrogate's Au [100] cross-sections for 1–6 atoms, 1e5 e⁻/Å²."""
    lib = atomcount.ppiscs_curve("Au", "100", 300, 21.0, 46.0, 190.0, 0.085)
    rng = np.random.default_rng(11)
    image, truth, _ = lattice_image(side=10, dose=None, seed=11)
    counts = rng.integers(1, 7, len(truth))
    from atomcount.stem.cross_sections import gaussian_image

    clean = gaussian_image(image.shape, truth, lib[counts - 1], pixel_size=0.2, width=0.45)
    electrons = 1e5 * 0.2**2
    return rng.poisson(clean * electrons) / electrons, truth, counts


@pytest.mark.parametrize("method", ["statistics", "library", "hybrid"])
def test_counts_on_a_simulated_lattice(au_image, method):
    image, truth, counts = au_image
    res = count_stem(image, pixel_size=0.2, normalised=True, method=method, **(AU if method != "statistics" else {}))
    i, d = match(np.column_stack([res.y_px, res.x_px]), truth)
    assert len(res) == len(truth) and d.max() < 0.3
    assert np.mean(res.count[i] == counts) > 0.98
    assert np.all((res.probability >= 0) & (res.probability <= 1))
    assert res.total_atoms == res.count.sum()
    assert res.n_components == 6
    np.testing.assert_allclose(res.x_A, res.x_px * 0.2)
    table = res.table()
    assert set(table) == {"x_A", "y_A", "x_px", "y_px", "cross_section", "count", "probability"}
    summary = res.summary()
    json.dumps(summary, default=lambda o: o.tolist())  # JSON-ready up to numpy arrays
    assert summary["cross_section_unit"] == "Å²"
    assert summary["total_atoms"] == res.total_atoms
    assert ("library" in summary) == (method != "statistics")


def test_unmixed_voronoi_reads_the_true_cross_sections_of_a_fast_image():
    """Noise-free fast image, true positions: unmixed cells give the columns' PPISCS and exact counts;
    raw cells of the same image are biased by the neighbours' probe tails."""
    from atomcount.core.particles import ParticleConfig, random_particle
    from atomcount.stem.simulate import simulate_fast

    p = random_particle(np.random.default_rng(5), ParticleConfig(n_atoms=(300, 600), zones=("100",), max_tilt_deg=0.0))
    img = simulate_fast(p, pixel_size=0.2, **{k: v for k, v in AU.items() if k not in ("element", "zone")})
    kw = dict(pixel_size=0.2, normalised=True, positions=img.xy, method="library", **AU)
    unmixed = count_stem(img.image, cross_section="voronoi-unmixed", source_size=0.5, **kw)
    raw = count_stem(img.image, cross_section="voronoi", **kw)
    np.testing.assert_allclose(unmixed.cross_section, img.cross_section, rtol=1e-5)
    assert np.abs(raw.cross_section / img.cross_section - 1).max() > 0.01
    np.testing.assert_array_equal(unmixed.count, img.height)
    assert unmixed.summary()["cross_section_method"] == "voronoi-unmixed"


def test_given_positions_and_voronoi(au_image):
    image, truth, counts = au_image
    xy = np.column_stack([truth[:, 1], truth[:, 0]]) * 0.2
    res = count_stem(image, pixel_size=0.2, normalised=True, positions=xy, cross_section="voronoi",
                     method="library", **AU)
    np.testing.assert_allclose(res.x_A, xy[:, 0])
    interior = (truth.min(axis=1) > 25) & (truth.max(axis=1) < image.shape[0] - 25)
    assert np.mean(res.count[interior] == counts[interior]) > 0.95


def test_raw_image_statistics_in_relative_units(au_image):
    """Raw counts without levels: the statistics route works, units say relative; the same
    counts as from the normalised image, since the mixture is scale-free."""
    image, _, _ = au_image
    raw = image * 1234.0 + 50.0
    res_raw = count_stem(raw, pixel_size=0.2)
    res_norm = count_stem(raw, pixel_size=0.2, black_level=50.0, vacuum_level=1284.0)
    assert res_raw.summary()["cross_section_unit"].startswith("relative")
    np.testing.assert_array_equal(res_raw.count, res_norm.count)
    np.testing.assert_allclose(res_raw.cross_section / 1234.0, res_norm.cross_section, rtol=1e-6)


def test_user_table_is_the_library(tmp_path, au_image):
    image, _, _ = au_image
    lib = atomcount.ppiscs_curve("Au", "100", 300, 21.0, 46.0, 190.0, 0.085)[:20]
    table = tmp_path / "lib.csv"
    table.write_text("# n, cross-section (A^2)\ncount,sigma\n" + "".join(f"{n},{v}\n" for n, v in enumerate(lib, 1)))
    a = count_stem(image, pixel_size=0.2, normalised=True, method="library", library=table)
    b = count_stem(image, pixel_size=0.2, normalised=True, method="library", **AU)
    np.testing.assert_array_equal(a.count, b.count)
    assert a.summary()["library"]["source"] == str(table)


def test_normalisation_closed_form_and_detector_map():
    img = np.full((40, 40), 300.0)
    out, info = normalise_image(img, black_level=100.0, vacuum_level=1100.0)
    np.testing.assert_allclose(out, 0.2)
    assert info.absolute
    scan = np.full((64, 64), 100.0)
    yy, xx = np.indices(scan.shape) - 31.5
    scan[(np.hypot(yy, xx) > 10) & (np.hypot(yy, xx) < 25)] = 1100.0
    assert detector_levels(scan) == pytest.approx((100.0, 1100.0))
    out2, _ = normalise_image(img, detector_map=scan)
    np.testing.assert_allclose(out2, 0.2)


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "library", **AU}, "not normalised"),
    ({"method": "hybrid", **AU}, "not normalised"),
    ({"black_level": 1.0}, "vacuum level is missing"),
    ({"black_level": 5.0, "vacuum_level": 5.0}, "above the black level"),
    ({"normalised": True, "black_level": 1.0, "vacuum_level": 2.0}, "declared normalised"),
    ({"normalised": True, "method": "library"}, "needs element"),
    ({"normalised": True, "method": "library", **{**AU, "outer": 400}}, "outer angle"),
    ({"normalised": True, "method": "library", **{**AU, "zone": "111"}}, "zone axis"),
    ({"method": "magic"}, "method must be"),
    ({"cross_section": "disc"}, "cross_section must be"),
    ({"cross_section": "voronoi-unmixed"}, "give voltage and convergence"),
    ({"cross_section": "voronoi-unmixed", **AU, "source_size": -1.0}, "source size"),
    ({"cross_section": "voronoi", "background": 0.0}, "applies to the Gaussian model"),
    ({"background": float("nan")}, "not a finite number"),
    ({"positions": np.zeros((3, 3))}, "x, y in Å"),
    ({"positions": np.array([[10.0, 10.0]])}, "at least two columns"),
    ({"positions": np.array([[10.0, 10.0], [900.0, 10.0]])}, "outside"),
])
def test_bad_settings(au_image, kwargs, message):
    image, _, _ = au_image
    with pytest.raises(AtomcountError, match=message):
        count_stem(image, pixel_size=0.2, **kwargs)


@pytest.mark.parametrize("image, pixel_size, message", [
    (np.zeros((64, 64, 3)), 0.2, "3-D"),
    (np.full((64, 64), np.nan), 0.2, "NaN"),
    (np.zeros((64, 64)), None, "pixel size"),
    (np.zeros((64, 64)), 0.2, "no atomic columns"),
])
def test_bad_images(image, pixel_size, message):
    with pytest.raises(AtomcountError, match=message):
        count_stem(image, pixel_size=pixel_size)


def test_reference_table_errors(tmp_path):
    bad = {"empty.txt": "# nothing\n", "gap.csv": "1,0.1\n3,0.3\n", "neg.txt": "0.1\n-0.2\n",
           "text.txt": "0.1\nabc\n", "three.csv": "1,2,3\n"}
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(AtomcountError):
            read_reference_table(tmp_path / name)
    with pytest.raises(AtomcountError, match="not found"):
        read_reference_table(tmp_path / "missing.txt")
    (tmp_path / "one.txt").write_text("0.1\n0.25\n0.4\n")
    np.testing.assert_allclose(read_reference_table(tmp_path / "one.txt").values, [0.1, 0.25, 0.4])
    assert len(reference_cross_sections(**AU).values) == 61


def test_lazy_exports():
    import atomcount.stem

    assert atomcount.count_stem is count_stem
    assert "count_stem" in dir(atomcount.stem) and "fit_mixture" in atomcount.stem.__all__


def test_thin_column_between_thick_ones_is_recovered_from_the_residual():
    """A 1-atom column amid 30-atom ones is no local maximum of the image (peak finding
    misses it); with recover_missed, count_stem finds it as a peak of the fit residual."""
    from atomcount.stem.columns import find_columns
    from atomcount.stem.cross_sections import gaussian_image

    lib = atomcount.ppiscs_curve("Au", "100", 300, 21.0, 46.0, 190.0, 0.085)
    rng = np.random.default_rng(12)
    grid = np.stack(np.meshgrid(np.arange(7), np.arange(7), indexing="ij"), -1).reshape(-1, 2)
    pos = grid * 10.2 + 20 + rng.uniform(-0.3, 0.3, grid.shape)
    counts = np.full(len(pos), 30)
    counts[::5] = rng.integers(20, 29, len(counts[::5]))
    centre = 24
    counts[centre] = 1
    clean = gaussian_image((102, 102), pos, lib[counts - 1], pixel_size=0.2, width=0.45)
    image = rng.poisson(clean * 4000) / 4000
    i, d = match(find_columns(image, pixel_size=0.2), pos)
    assert d[centre] > 2  # missed by peak finding
    assert len(count_stem(image, pixel_size=0.2, normalised=True)) == len(pos) - 1  # off by default
    res = count_stem(image, pixel_size=0.2, normalised=True, method="library", recover_missed=True, **AU)
    i, d = match(np.column_stack([res.y_px, res.x_px]), pos)
    assert len(res) == len(pos) and d.max() < 0.5  # px; the thin column's position is the noisiest
    assert res.count[i[centre]] == 1


def test_zeroed_background_gives_no_phantom_columns():
    """Part of the frame set to exactly 0 (vacuum masked by hand, as in StatSTEM's Pt/Ir
    example): only the true columns are found, none along or inside the zeroed region."""
    image, truth, _ = lattice_image(side=10, dose=1e5, seed=13)
    image = image.copy()
    image[:, :25] = 0.0
    image[:25, :] = 0.0
    keep = (truth[:, 0] > 30) & (truth[:, 1] > 30)
    res = count_stem(image, pixel_size=0.2, normalised=True)
    found = np.column_stack([res.y_px, res.x_px])
    i, d = match(found, truth[keep])
    assert len(res) == keep.sum() and d.max() < 0.5


def test_random_peaks_without_a_lattice_are_refused(tmp_path):
    """Blobs at random places (no crystal): 'no atomic columns found', not phantom counts."""
    from atomcount.stem.cross_sections import gaussian_image

    rng = np.random.default_rng(14)
    pos = rng.uniform(10, 246, (300, 2))
    clean = gaussian_image((256, 256), pos, rng.uniform(0.02, 0.1, len(pos)), pixel_size=0.2, width=0.45)
    image = rng.poisson(clean * 4000) / 4000
    with pytest.raises(AtomcountError, match="no atomic columns found.*do not form a lattice"):
        count_stem(image, pixel_size=0.2, normalised=True)
    with pytest.raises(AtomcountError, match="no atomic columns found"):
        count_stem(rng.normal(100.0, 10.0, (256, 256)), pixel_size=0.2)
