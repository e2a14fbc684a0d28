import numpy as np
import pytest

from atomcount.hrtem.evaluation.metrics import HeightScores, match_columns

TRUE_XY = np.array([[0.0, 0.0], [2.04, 0.0], [0.0, 2.04], [2.04, 2.04]])
TRUE_H = np.array([1, 5, 9, 15])


def test_perfect_prediction_scores_one():
    s = HeightScores()
    assert s.add(TRUE_XY, TRUE_H, TRUE_XY, TRUE_H) == 1.0
    assert s.accuracy == s.within_one == s.precision == s.recall == 1.0
    assert np.trace(s.confusion) == 4


def test_shifted_prediction_is_matched():
    s = HeightScores()
    s.add(TRUE_XY + 0.4, TRUE_H, TRUE_XY, TRUE_H)
    assert s.accuracy == 1.0


def test_too_far_is_unmatched_and_missing_column_counts_as_wrong():
    s = HeightScores()
    s.add(TRUE_XY[:3] + np.array([0, 0.0]), TRUE_H[:3], TRUE_XY, TRUE_H)
    assert s.accuracy == pytest.approx(0.75)
    assert s.recall == pytest.approx(0.75) and s.precision == 1.0
    assert s.confusion[15, 0] == 1  # the missed 15-atom column
    s2 = HeightScores()
    s2.add(TRUE_XY + np.array([0.0, 1.02]), TRUE_H, TRUE_XY, TRUE_H, max_distance=1.0)
    assert s2.accuracy == 0.0 and s2.n_matched == 0


def test_off_by_one_counts_within_one_only():
    s = HeightScores()
    s.add(TRUE_XY, TRUE_H + np.array([1, -1, 0, 2]), TRUE_XY, TRUE_H)
    assert s.accuracy == pytest.approx(0.25)
    assert s.within_one == pytest.approx(0.75)


def test_matching_is_one_to_one():
    pred = np.array([[0.1, 0.0], [0.2, 0.0]])
    ip, it = match_columns(pred, TRUE_XY, 1.0)
    assert len(ip) == 1 and it[0] == 0


def test_extra_predictions_lower_precision_not_accuracy():
    s = HeightScores()
    s.add(np.vstack([TRUE_XY, [[10.0, 10.0]]]), np.append(TRUE_H, 3), TRUE_XY, TRUE_H)
    assert s.accuracy == 1.0 and s.precision == pytest.approx(0.8)
    assert s.confusion[0, 3] == 1
