"""Calibration of the regression head's continuous heights against held-out truth.

The network's height maps shrink towards the mean: on held-out particles the shipped
model reads columns of 7…14 atoms about one atom low. A monotone map from the
read-out height to the expected true height, fitted on validation particles (never the
test set), removes that bias before rounding.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atomcount.errors import AtomcountError


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
    read = np.asarray(read, float)
    true = np.asarray(true, float)
    if read.shape != true.shape or read.ndim != 1:
        raise AtomcountError("read and true heights must be 1-D arrays of equal length")
    if len(read) < 2 * per_knot:
        raise AtomcountError(f"need at least {2 * per_knot} matched columns to calibrate, got {len(read)}")
    order = np.argsort(read, kind="stable")
    bins = np.array_split(order, len(read) // per_knot)
    x = np.array([read[b].mean() for b in bins])
    y = _pool_adjacent_violators(np.array([true[b].mean() for b in bins]), np.array([len(b) for b in bins], float))
    return HeightCalibration(x, y)
