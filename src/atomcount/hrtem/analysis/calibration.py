"""Calibration of the read-out against held-out truth: heights and confidences.

The network's height maps shrink towards the mean: on held-out particles the shipped
model reads columns of 7…14 atoms about one atom low. A monotone map from the
read-out height to the expected true height, fitted on validation particles (never the
test set), removes that bias before rounding.

A column's raw confidence (the class probability, or 1 − 2|h − round(h)| for the
regression head) is not the probability that its height is right. A second monotone
map per head, from raw confidence to the fraction of validation columns read exactly,
makes it one (isotonic calibration); its reliability is measured on the whole-frame
evaluation (:func:`atomcount.hrtem.evaluation.wholeframe.expected_calibration_error`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atomcount.core.errors import AtomcountError


@dataclass(frozen=True)
class HeightCalibration:
    """Piecewise-linear, non-decreasing map from read-out height to true height (atoms).

    Beyond the first and last knots the map continues with slope 1 (a constant offset),
    so heights outside the fitted range are shifted, never clamped.

    Attributes
    ----------
    x, y : ndarray
        Knots: mean read-out height and mean true height of equal-count bins.
    """

    x: np.ndarray
    y: np.ndarray

    def __call__(self, h: np.ndarray) -> np.ndarray:
        h = np.asarray(h, float)
        out = np.interp(h, self.x, self.y)
        out = np.where(h < self.x[0], h + (self.y[0] - self.x[0]), out)
        return np.where(h > self.x[-1], h + (self.y[-1] - self.x[-1]), out)

    def to_meta(self) -> list[list[float]]:
        return [self.x.tolist(), self.y.tolist()]

    @classmethod
    def from_meta(cls, meta: dict) -> HeightCalibration | None:
        """The calibration stored in a model's metadata, or None."""
        knots = meta.get("calibration", {}).get("regression")
        return None if knots is None else cls(np.asarray(knots[0], float), np.asarray(knots[1], float))


def _pool_adjacent_violators(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-decreasing fit to ``y`` (isotonic regression)."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for yi, wi in zip(y, w):
        blocks.append([yi, wi, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([np.full(n, m) for m, _, n in blocks])


def _binned_isotonic(x: np.ndarray, y: np.ndarray, per_knot: int) -> tuple[np.ndarray, np.ndarray]:
    """Knots of a non-decreasing fit of ``y`` on ``x``: equal-count bins of ``x``, means pooled by PAV."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1:
        raise AtomcountError("calibration inputs must be 1-D arrays of equal length")
    if len(x) < 2 * per_knot:
        raise AtomcountError(f"need at least {2 * per_knot} matched columns to calibrate, got {len(x)}")
    order = np.argsort(x, kind="stable")
    bins = np.array_split(order, len(x) // per_knot)
    knots_x = np.array([x[b].mean() for b in bins])
    knots_y = _pool_adjacent_violators(np.array([y[b].mean() for b in bins]), np.array([len(b) for b in bins], float))
    return knots_x, knots_y


def fit_height_calibration(read: np.ndarray, true: np.ndarray, per_knot: int = 200) -> HeightCalibration:
    """Fit a :class:`HeightCalibration` to matched (read-out, true) column heights.

    Parameters
    ----------
    read : ndarray
        Continuous read-out heights of matched columns (atoms).
    true : ndarray
        Their true heights (atoms).
    per_knot : int
        Columns per equal-count bin (one knot per bin).

    Examples
    --------
    >>> read = np.repeat(np.arange(1.0, 11.0), 50) * 0.9
    >>> cal = fit_height_calibration(read, np.repeat(np.arange(1, 11), 50), per_knot=50)
    >>> np.round(cal(np.array([0.9, 4.5, 9.0])), 6).tolist()
    [1.0, 5.0, 10.0]
    """
    return HeightCalibration(*_binned_isotonic(read, true, per_knot))


@dataclass(frozen=True)
class ConfidenceCalibration:
    """Non-decreasing map from a head's raw column confidence to P(height exact), in [0, 1].

    Attributes
    ----------
    x, y : ndarray
        Knots: mean raw confidence and fraction read exactly of equal-count bins.
    """

    x: np.ndarray
    y: np.ndarray

    def __call__(self, confidence: np.ndarray) -> np.ndarray:
        return np.clip(np.interp(np.asarray(confidence, float), self.x, self.y), 0.0, 1.0)

    def to_meta(self) -> list[list[float]]:
        return [self.x.tolist(), self.y.tolist()]

    @classmethod
    def from_meta(cls, meta: dict) -> dict[str, ConfidenceCalibration]:
        """The per-head confidence calibrations stored in a model's metadata (may be empty)."""
        stored = meta.get("calibration", {}).get("confidence", {})
        return {h: cls(np.asarray(k[0], float), np.asarray(k[1], float)) for h, k in stored.items()}


def fit_confidence_calibration(confidence: np.ndarray, correct: np.ndarray,
                               per_knot: int = 200) -> ConfidenceCalibration:
    """Fit a :class:`ConfidenceCalibration` to found columns' raw confidences and correctness.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> raw = rng.uniform(0, 1, 20000)
    >>> right = rng.uniform(0, 1, 20000) < raw ** 2   # raw confidence is over-confident
    >>> cal = fit_confidence_calibration(raw, right)
    >>> bool(abs(cal(np.array([0.5]))[0] - 0.25) < 0.03)
    True
    """
    return ConfidenceCalibration(*_binned_isotonic(confidence, np.asarray(correct, float), per_knot))
