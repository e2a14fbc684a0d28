"""Confidence calibration: a monotone map to P(height exact), stored with the model and applied by the read-out."""
import numpy as np
import pytest

from atomcount.core.errors import AtomcountError
from atomcount.hrtem.analysis.calibration import ConfidenceCalibration, fit_confidence_calibration


def test_isotonic_map_recovers_a_known_reliability_curve():
    rng = np.random.default_rng(1)
    raw = rng.uniform(0, 1, 40000)
    right = rng.uniform(0, 1, 40000) < 0.2 + 0.6 * raw  # true P(exact | raw) = 0.2 + 0.6 raw
    cal = fit_confidence_calibration(raw, right)
    grid = np.linspace(0.1, 0.9, 9)
    np.testing.assert_allclose(cal(grid), 0.2 + 0.6 * grid, atol=0.04)
    assert np.all(np.diff(cal(np.linspace(0, 1, 101))) >= 0)
    assert cal(np.array([-5.0, 5.0])).tolist() == [pytest.approx(cal.y[0]), pytest.approx(cal.y[-1])]


def test_calibrated_confidence_has_small_calibration_error_on_fresh_data():
    rng = np.random.default_rng(2)
    fit_raw = rng.uniform(0, 1, 20000)
    cal = fit_confidence_calibration(fit_raw, rng.uniform(0, 1, 20000) < fit_raw**3)
    raw = rng.uniform(0, 1, 20000)
    right = rng.uniform(0, 1, 20000) < raw**3
    p = cal(raw)
    bins = np.clip((p * 10).astype(int), 0, 9)
    ece = sum(np.mean(bins == b) * abs(right[bins == b].mean() - p[bins == b].mean())
              for b in range(10) if np.any(bins == b))
    raw_bins = np.clip((raw * 10).astype(int), 0, 9)
    raw_ece = sum(np.mean(raw_bins == b) * abs(right[raw_bins == b].mean() - raw[raw_bins == b].mean())
                  for b in range(10) if np.any(raw_bins == b))
    assert ece < 0.02 < raw_ece


def test_round_trip_through_model_metadata(tmp_path):
    from atomcount.hrtem.nn.checkpoint import load_model, save_model
    from atomcount.hrtem.nn.fcn import ColumnFCN

    cal = ConfidenceCalibration(np.array([0.2, 0.8]), np.array([0.1, 0.9]))
    save_model(tmp_path / "m.pt", ColumnFCN(width=4), {"calibration": {"confidence": {"classification": cal.to_meta()}}})
    model, _ = load_model(tmp_path / "m.pt")
    assert set(model.confidence_calibration) == {"classification"}
    np.testing.assert_allclose(model.confidence_calibration["classification"](np.array([0.5])), [0.5])
    save_model(tmp_path / "bare.pt", ColumnFCN(width=4), {})
    assert load_model(tmp_path / "bare.pt")[0].confidence_calibration == {}


def test_too_few_columns_refused():
    with pytest.raises(AtomcountError, match="at least"):
        fit_confidence_calibration(np.ones(10), np.ones(10, bool))
    with pytest.raises(AtomcountError, match="1-D"):
        fit_confidence_calibration(np.ones((10, 2)), np.ones((10, 2), bool))


def test_shipped_model_carries_confidence_calibration_and_count_flags_low_confidence():
    from atomcount.hrtem.analysis.count import LOW_CONFIDENCE, CountResult, load_counting_model

    model, _ = load_counting_model()
    assert set(model.confidence_calibration) == {"regression", "classification"}
    r = CountResult(x_px=np.zeros(3), y_px=np.zeros(3), x_A=np.zeros(3), y_A=np.zeros(3), height=np.array([1, 2, 3]),
                    confidence=np.array([0.9, LOW_CONFIDENCE - 0.01, 0.5]), pixel_size=0.25, head="classification",
                    model="m")
    assert r.table()["low_confidence"].tolist() == [0, 1, 0]
    assert r.summary()["low_confidence_columns"] == 1
