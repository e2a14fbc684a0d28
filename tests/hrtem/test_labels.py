import numpy as np
import pytest

from atomcount.core.columns import ColumnTable
from atomcount.hrtem.analysis.readout import ColumnEstimate, columns_from_classes, columns_from_regression, drop_small_clusters
from atomcount.hrtem.labels import N_CLASSES, class_maps, height_map, project_onto_columns, read_heights


def _table(rng, n=40, size=30.0):
    # columns on a jittered 2.04 Å square lattice (fcc [100] spacing)
    g = np.stack(np.meshgrid(np.arange(4, 12), np.arange(4, 12)), -1).reshape(-1, 2) * 2.04
    xy = g[rng.choice(len(g), n, replace=False)] + rng.uniform(-0.2, 0.2, (n, 2))
    return ColumnTable(xy, rng.integers(1, 16, n).astype(np.int32))


def test_height_map_peaks_at_heights_for_centred_columns():
    cols = ColumnTable(np.array([[5.0, 5.0], [10.0, 7.5]]), np.array([3, 12], np.int32))
    m = height_map(cols, (64, 64), 0.25)
    assert m[20, 20] == pytest.approx(3.0, abs=1e-4)
    assert m[40, 30] == pytest.approx(12.0, abs=1e-4)
    assert m.min() >= 0


def test_least_squares_readout_recovers_heights_exactly_off_grid():
    rng = np.random.default_rng(0)
    cols = _table(rng)
    m = height_map(cols, (128, 128), 0.25)
    np.testing.assert_allclose(read_heights(m, cols.xy / 0.25, 0.25), cols.height, atol=1e-3)
    # the paper's peak-pixel read-out under-reads off-grid columns
    peak = m[tuple(np.rint(cols.xy / 0.25).astype(int).T)]
    assert np.mean(np.rint(peak) == cols.height) < 1.0


def test_sparse_projection_equals_the_dense_least_squares_solution():
    """A dense lattice of 600 touching columns (one overlap cluster): the sparse solve agrees with
    the dense normal equations over every pair, and recovers the amplitudes of a map built from them."""
    rng = np.random.default_rng(4)
    xy = np.stack(np.meshgrid(np.arange(30), np.arange(20)), -1).reshape(-1, 2) * 5.8 + 12 + rng.normal(0, 0.3, (600, 2))
    sigma = 1.8
    amps = rng.uniform(0.0, 5.0, (600, 2))
    rr, cc = np.mgrid[0:200, 0:140]  # xy_px is (row, col)
    maps = np.stack([sum(a * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * sigma**2)) for (r, c), a in zip(xy, amps[:, k]))
                     for k in range(2)])
    got = project_onto_columns(maps, xy, sigma)
    np.testing.assert_allclose(got, amps, atol=1e-3)
    d2 = ((xy[:, None] - xy[None]) ** 2).sum(-1)
    gram = np.pi * sigma**2 * np.exp(-d2 / (4 * sigma**2))
    rhs = np.stack([[(m * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * sigma**2))).sum() for r, c in xy] for m in maps], 1)
    np.testing.assert_allclose(got, np.linalg.solve(gram, rhs), atol=1e-4)


def test_float32_maps_project_exactly_as_their_float64_copies():
    # the network's probabilities are float32: gathered then widened, they give the float64 result bit for bit
    rng = np.random.default_rng(5)
    maps = rng.random((15, 96, 80)).astype(np.float32)
    xy = rng.uniform(8, 72, (30, 2))
    got = project_onto_columns(maps, xy, 2.0)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, project_onto_columns(maps.astype(np.float64), xy, 2.0))


def test_class_maps_are_probabilities_and_one_hot_at_centres():
    cols = ColumnTable(np.array([[5.0, 5.0], [10.0, 7.5]]), np.array([3, 12], np.int32))
    c = class_maps(cols, (64, 64), 0.25)
    assert c.shape == (N_CLASSES, 64, 64)
    np.testing.assert_allclose(c.sum(0), 1.0, atol=1e-5)
    assert c[3, 20, 20] == pytest.approx(1.0, abs=1e-4) and c[0, 20, 20] == pytest.approx(0.0, abs=1e-4)
    assert c[0, 0, 0] == pytest.approx(1.0)


def test_readout_from_perfect_maps_finds_every_column():
    rng = np.random.default_rng(1)
    cols = _table(rng)
    reg = columns_from_regression(height_map(cols, (128, 128), 0.25), 0.25)
    assert len(reg.height) == len(cols)
    order = np.lexsort(np.rint(reg.xy_px * 0.25 / 2.04).T[::-1])
    truth = np.lexsort(np.rint(cols.xy / 2.04).T[::-1])
    np.testing.assert_array_equal(reg.height[order], cols.height[truth])
    np.testing.assert_allclose(reg.xy_px[order] * 0.25, cols.xy[truth], atol=0.1)
    cls = columns_from_classes(class_maps(cols, (128, 128), 0.25), 0.25)
    np.testing.assert_array_equal(np.sort(cls.height), np.sort(cols.height))
    assert np.all(cls.confidence > 0.99)


def test_empty_map_gives_no_columns():
    assert len(columns_from_regression(np.zeros((64, 64)), 0.25).height) == 0
    p = np.zeros((16, 64, 64))
    p[0] = 1
    assert len(columns_from_classes(p, 0.25).height) == 0


def test_small_clusters_are_dropped_and_a_particle_kept():
    # a 5×5 patch of the Au [100] column lattice (2.04 Å) plus a 3-column chain and two
    # isolated peaks far away; positions in pixels at 0.25 Å/px
    lattice = np.stack(np.meshgrid(np.arange(5), np.arange(5)), -1).reshape(-1, 2) * 2.04
    chain = np.array([[40.0, 40.0], [42.5, 40.0], [45.0, 40.0]])
    lone = np.array([[60.0, 10.0], [10.0, 60.0]])
    xy = np.vstack([lattice, chain, lone]) / 0.25
    n = len(xy)
    est = ColumnEstimate(xy, np.arange(n) % 15 + 1, np.ones(n), np.ones(n))
    kept = drop_small_clusters(est, 0.25, min_columns=4)
    np.testing.assert_array_equal(kept.xy_px, lattice / 0.25)
    np.testing.assert_array_equal(kept.height, est.height[:25])
    assert len(drop_small_clusters(est, 0.25, min_columns=3).height) == 28  # the chain is linked at 2.5 Å
    assert len(drop_small_clusters(est, 0.25, min_columns=26).height) == 0
    assert drop_small_clusters(est, 0.25, min_columns=0) is est


def test_height_calibration_removes_a_shrinkage_bias_and_extrapolates():
    from atomcount.core.errors import AtomcountError
    from atomcount.hrtem.analysis.calibration import HeightCalibration, fit_height_calibration

    rng = np.random.default_rng(1)
    true = rng.integers(1, 16, 6000)
    read = 0.85 * true + 0.3 + rng.normal(0, 0.15, true.size)  # shrunk towards the mean
    cal = fit_height_calibration(read, true)
    assert np.all(np.diff(cal.y) >= 0)
    assert np.mean(np.rint(cal(read)) == true) > 0.95 > np.mean(np.rint(read) == true)
    # outside the knots: slope 1, no clamping
    assert cal(np.array([cal.x[-1] + 2.0]))[0] == pytest.approx(cal.y[-1] + 2.0)
    assert HeightCalibration.from_meta({"calibration": {"regression": cal.to_meta()}}).x.tolist() == cal.x.tolist()
    assert HeightCalibration.from_meta({}) is None
    with pytest.raises(AtomcountError):
        fit_height_calibration(read[:10], true[:10])
