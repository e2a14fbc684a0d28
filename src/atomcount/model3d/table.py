"""Reading the column tables written by ``atomcount count`` and ``atomcount stem count``.

HRTEM tables hold ``x_A, y_A`` (Å), ``height`` (atoms) and ``confidence``; ADF-STEM
tables hold ``x_A, y_A``, ``count`` and ``probability``. Either (or a dict of arrays, or
a result object with a ``table()`` method) is accepted; the probability that a count is
right is taken from ``probability`` or else ``confidence``.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atomcount.core.errors import AtomcountError

_X = ("x_A", "x")
_Y = ("y_A", "y")
_COUNT = ("count", "height")
_PROBABILITY = ("probability", "confidence")


@dataclass(frozen=True)
class ColumnCounts:
    """Columns to build a model from.

    Attributes
    ----------
    xy : ndarray, shape (n, 2)
        Column positions (Å).
    count : ndarray of int, shape (n,)
        Atoms per column (≥ 1).
    probability : ndarray or None, shape (n,)
        Probability (0–1) that each count is right, where the table gives one.
    """

    xy: np.ndarray
    count: np.ndarray
    probability: np.ndarray | None


def read_columns(columns) -> ColumnCounts:
    """Columns from a CSV path, a dict of arrays or an object with ``table()``.

    Columns with a count of 0 (vacuum) are dropped.

    Raises
    ------
    AtomcountError
        For an unreadable or empty table, missing x/y/count fields, non-finite
        positions, negative or non-integer counts, probabilities outside [0, 1].
    """
    table = _as_dict(columns)
    x, y, count = (_field(table, names) for names in (_X, _Y, _COUNT))
    prob_name = next((n for n in _PROBABILITY if n in table), None)
    try:
        xy = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
        count = np.asarray(count, dtype=float)
        probability = None if prob_name is None else np.asarray(table[prob_name], dtype=float)
    except (TypeError, ValueError) as exc:
        raise AtomcountError(f"column table has non-numeric values: {exc}") from None
    if len(count) == 0:
        raise AtomcountError("column table is empty: no columns to build a model from")
    if not np.all(np.isfinite(xy)):
        raise AtomcountError("column table has non-finite x or y positions")
    if not np.all(np.isfinite(count)) or np.any(count != np.rint(count)):
        bad = count[~np.isfinite(count) | (count != np.rint(count))][0]
        raise AtomcountError(f"column counts must be whole numbers of atoms, got {bad}")
    if np.any(count < 0):
        raise AtomcountError(f"column counts must not be negative, got {int(count.min())}")
    if probability is not None and not np.all((probability >= 0) & (probability <= 1)):
        raise AtomcountError(f"column {prob_name} must lie in [0, 1]")
    keep = count > 0
    if not keep.any():
        raise AtomcountError("column table has no column with atoms (all counts are 0)")
    return ColumnCounts(
        xy=xy[keep], count=count[keep].astype(np.int64),
        probability=None if probability is None else probability[keep],
    )


def _as_dict(columns) -> dict:
    if isinstance(columns, (str, Path)):
        path = Path(columns)
        try:
            with path.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
                names = rows[0].keys() if rows else []
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise AtomcountError(f"cannot read column table {path}: {exc}") from None
        if not rows:
            raise AtomcountError(f"column table {path} is empty: no columns to build a model from")
        return {n: [r[n] for r in rows] for n in names}
    if hasattr(columns, "table"):
        return dict(columns.table())
    if isinstance(columns, dict):
        return columns
    raise AtomcountError(
        f"columns must be a CSV path, a dict of arrays or a result with table(), not {type(columns).__name__}"
    )


def _field(table: dict, names: tuple[str, ...]):
    for name in names:
        if name in table:
            return table[name]
    raise AtomcountError(f"column table has no {' or '.join(names)} field; it has {', '.join(map(str, table))}")
