"""Writing counting results: ``columns.csv`` and ``summary.json``.

Both writers are atomic: the file is written under a temporary name in the
target directory and moved into place with :func:`os.replace`, so a reader never
sees a half-written file and an interrupted run leaves the old file intact.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import uuid
from pathlib import Path

import numpy as np

from atomcount.core.errors import AtomcountError


def write_columns_csv(path, table: dict) -> Path:
    """Write a table of per-column results as CSV, one row per atomic column.

    Parameters
    ----------
    path : str or os.PathLike
        Output file.
    table : dict of str to array_like
        Equal-length 1-D arrays, in column order; atomcount writes ``x_A``,
        ``y_A`` (Å), ``x_px``, ``y_px`` (px), ``height`` (atoms) and
        ``confidence`` (0–1). Integers are written as integers, floats with
        full round-trip precision, NaN as ``nan``.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    AtomcountError
        If a column is not 1-D or the lengths differ.
    """
    columns = {str(k): np.asarray(v) for k, v in table.items()}
    lengths = {k: v.shape for k, v in columns.items()}
    if any(len(s) != 1 for s in lengths.values()) or len({s[0] for s in lengths.values()}) > 1:
        raise AtomcountError(f"columns must be equal-length 1-D arrays, got shapes {lengths}")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    cells = [[_cell(x) for x in col.tolist()] for col in columns.values()]
    writer.writerows(zip(*cells))
    return _atomic_write(Path(path), buf.getvalue())


def write_summary_json(path, summary: dict) -> Path:
    """Write a summary dict as strict, indented JSON.

    NumPy scalars and arrays become JSON numbers and lists, paths become
    strings, non-finite floats become ``null``, and dict keys become strings.

    Parameters
    ----------
    path : str or os.PathLike
        Output file.
    summary : dict
        JSON-like data.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    AtomcountError
        If a value cannot be represented in JSON.
    """
    text = json.dumps(_jsonable(summary), indent=2, ensure_ascii=False, allow_nan=False)
    return _atomic_write(Path(path), text + "\n")


def _cell(value) -> str:
    """CSV text of one Python scalar (from ``ndarray.tolist``)."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def _jsonable(obj):
    """Recursively convert ``obj`` to plain JSON types."""
    if isinstance(obj, dict):
        return {str(_jsonable(k)): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise AtomcountError(f"cannot write {type(obj).__name__} value {obj!r} to JSON")


def _atomic_write(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file and :func:`os.replace`."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        # os.open with mode 0o666 lets the umask set the permissions, as for open().
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # a writer killed with SIGKILL leaves its temporary behind; the finished file supersedes it
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    return path
