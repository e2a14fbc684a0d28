"""The column-height metric of paper 000 §3.4, implemented as DESIGN.md §3 specifies.

Predicted columns are matched one-to-one to true columns within ``max_distance`` (Å)
by minimum total distance (Hungarian algorithm). Accuracy is the fraction of *true*
columns whose matched prediction has exactly the right height; a true column with no
match counts as wrong.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from atomcount.core.particles import MAX_HEIGHT


def match_columns(pred_xy: np.ndarray, true_xy: np.ndarray, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices (pred, true) of matched pairs closer than ``max_distance``.

    Examples
    --------
    >>> match_columns(np.array([[0.0, 0.1]]), np.array([[0.0, 0.0], [5.0, 5.0]]), 1.0)
    (array([0]), array([0]))
    """
    pred_xy = np.asarray(pred_xy, float).reshape(-1, 2)
    true_xy = np.asarray(true_xy, float).reshape(-1, 2)
    if len(pred_xy) == 0 or len(true_xy) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    big = 1e6
    cost = np.full((len(pred_xy), len(true_xy)), big)
    sparse = cKDTree(pred_xy).sparse_distance_matrix(cKDTree(true_xy), max_distance, output_type="coo_matrix")
    cost[sparse.row, sparse.col] = sparse.data
    # coincident points give distance 0, which the sparse matrix drops
    same = cKDTree(pred_xy).query_ball_point(true_xy, 1e-9)
    for j, rows in enumerate(same):
        cost[rows, j] = 0.0
    r, c = linear_sum_assignment(cost)
    ok = cost[r, c] < big
    return r[ok], c[ok]


@dataclass
class HeightScores:
    """Accumulated column-height statistics over one or more images."""

    n_true: int = 0
    n_pred: int = 0
    n_matched: int = 0
    n_exact: int = 0
    n_within1: int = 0
    confusion: np.ndarray = field(default_factory=lambda: np.zeros((MAX_HEIGHT + 2, MAX_HEIGHT + 2), int))
    per_image: list = field(default_factory=list)

    def add(self, pred_xy, pred_h, true_xy, true_h, max_distance: float = 1.0) -> float:
        """Add one image (positions in Å); returns that image's exact accuracy."""
        true_h = np.asarray(true_h, int)
        pred_h = np.asarray(pred_h, int)
        ip, it = match_columns(pred_xy, true_xy, max_distance)
        exact = int(np.sum(pred_h[ip] == true_h[it]))
        self.n_true += len(true_h)
        self.n_pred += len(pred_h)
        self.n_matched += len(ip)
        self.n_exact += exact
        self.n_within1 += int(np.sum(np.abs(pred_h[ip] - true_h[it]) <= 1))
        k = MAX_HEIGHT + 1
        assigned = np.zeros(len(true_h), int)  # 0 = missed
        assigned[it] = np.clip(pred_h[ip], 0, k)
        np.add.at(self.confusion, (np.clip(true_h, 0, k), assigned), 1)
        unmatched_pred = np.setdiff1d(np.arange(len(pred_h)), ip)
        np.add.at(self.confusion, (0, np.clip(pred_h[unmatched_pred], 0, k)), 1)
        acc = exact / len(true_h) if len(true_h) else float("nan")
        self.per_image.append(acc)
        return acc

    @property
    def accuracy(self) -> float:
        """Fraction of true columns with exactly the right height (the paper's metric)."""
        return self.n_exact / self.n_true if self.n_true else float("nan")

    @property
    def within_one(self) -> float:
        """Fraction of true columns within ±1 atom."""
        return self.n_within1 / self.n_true if self.n_true else float("nan")

    @property
    def precision(self) -> float:
        """Fraction of predicted columns matched to a true column."""
        return self.n_matched / self.n_pred if self.n_pred else float("nan")

    @property
    def recall(self) -> float:
        """Fraction of true columns matched to a predicted column."""
        return self.n_matched / self.n_true if self.n_true else float("nan")

    @property
    def mean_image_accuracy(self) -> float:
        """Average over images of the per-image accuracy (the paper's averaging)."""
        vals = [v for v in self.per_image if np.isfinite(v)]
        return float(np.mean(vals)) if vals else float("nan")

    def summary(self) -> dict:
        """Plain-number summary."""
        return {
            "columns": self.n_true,
            "images": len(self.per_image),
            "accuracy_exact": self.accuracy,
            "accuracy_within_1": self.within_one,
            "mean_image_accuracy": self.mean_image_accuracy,
            "precision": self.precision,
            "recall": self.recall,
        }
