"""count_columns(keep_probabilities=True): the emissions of temporal fusion."""
import numpy as np
from _movies import synthetic_movie

from atomcount.hrtem.analysis.count import count_columns, load_counting_model


def test_probabilities_are_distributions_that_agree_with_the_classification_heights():
    frame = synthetic_movie(1)[0]
    res = count_columns(frame, 0.25, min_cluster=0, keep_probabilities=True)
    plain = count_columns(frame, 0.25, min_cluster=0)
    assert len(res) > 0 and res.probabilities.shape == (len(res), 15)
    assert np.allclose(res.probabilities.sum(axis=1), 1) and (res.probabilities >= 0).all()
    assert np.array_equal(res.probabilities.argmax(axis=1) + 1, res.height)
    # the reported confidence is the class probability mapped through the model's calibration
    calibrate = load_counting_model()[0].confidence_calibration["classification"]
    assert np.allclose(calibrate(res.probabilities.max(axis=1)), res.confidence)
    assert np.array_equal(plain.height, res.height) and plain.probabilities is None
