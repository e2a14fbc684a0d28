"""Result writers: CSV and JSON content, NumPy types, atomic replacement."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from atomcount.core.errors import AtomcountError
from atomcount.io import results
from atomcount.io.results import write_columns_csv, write_summary_json


@pytest.fixture
def table() -> dict:
    rng = np.random.default_rng(0)
    x_px = rng.uniform(0, 512, 5)
    y_px = rng.uniform(0, 512, 5)
    return {"x_A": x_px * 0.2575, "y_A": y_px * 0.2575, "x_px": x_px, "y_px": y_px,
            "height": np.array([1, 3, 7, 12, 15], np.int64),
            "confidence": rng.uniform(0, 1, 5).astype(np.float32)}


def _tmp_leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_csv_round_trip(tmp_path, table):
    path = write_columns_csv(tmp_path / "columns.csv", table)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["x_A", "y_A", "x_px", "y_px", "height", "confidence"]
    assert len(rows) == 6
    body = np.array(rows[1:])
    for j, (name, col) in enumerate(table.items()):
        np.testing.assert_array_equal(body[:, j].astype(col.dtype), col, err_msg=name)
    assert [r[4] for r in rows[1:]] == ["1", "3", "7", "12", "15"]  # integers stay integers


def test_csv_empty_table_writes_header_only(tmp_path):
    path = write_columns_csv(tmp_path / "c.csv", {"x_A": np.array([]), "height": np.array([], int)})
    assert path.read_text() == "x_A,height\n"


def test_csv_nan_and_bool(tmp_path):
    path = write_columns_csv(tmp_path / "c.csv", {"a": np.array([np.nan, 1.5]), "b": np.array([True, False])})
    assert path.read_text().splitlines()[1:] == ["nan,1", "1.5,0"]


@pytest.mark.parametrize("bad", [
    {"a": np.arange(3), "b": np.arange(4)},
    {"a": np.ones((2, 2))},
    {"a": np.float64(1.0)},
])
def test_csv_rejects_ragged_or_non_1d(tmp_path, bad):
    with pytest.raises(AtomcountError, match="equal-length 1-D"):
        write_columns_csv(tmp_path / "c.csv", bad)
    assert list(tmp_path.iterdir()) == []


def test_json_numpy_types(tmp_path):
    summary = {
        "columns": np.int64(5), "total_atoms": np.int32(40), "mean_confidence": np.float32(0.5),
        "pixel_size_A": np.float64(0.2575), "ok": np.bool_(True), "hist": np.array([1, 2, 3]),
        "by_height": {np.int64(3): 2}, "nested": [(1, 2.5), {"none": None}], "source": Path("a/b.dm4"),
        "bad": float("nan"), "worse": np.float64(np.inf), "name": "Au 300 kV Å",
    }
    path = write_summary_json(tmp_path / "summary.json", summary)
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "columns": 5, "total_atoms": 40, "mean_confidence": 0.5, "pixel_size_A": 0.2575, "ok": True,
        "hist": [1, 2, 3], "by_height": {"3": 2}, "nested": [[1, 2.5], {"none": None}], "source": "a/b.dm4",
        "bad": None, "worse": None, "name": "Au 300 kV Å",
    }
    assert type(json.loads(path.read_text())["columns"]) is int


def test_json_unserialisable_value_keeps_old_file(tmp_path):
    path = tmp_path / "summary.json"
    write_summary_json(path, {"v": 1})
    with pytest.raises(AtomcountError, match="cannot write object"):
        write_summary_json(path, {"v": object()})
    assert json.loads(path.read_text()) == {"v": 1}
    assert _tmp_leftovers(tmp_path) == []


def test_overwrite_replaces_file_and_leaves_no_temp(tmp_path, table):
    path = tmp_path / "columns.csv"
    path.write_text("old content that is longer than nothing\n" * 100)
    write_columns_csv(path, table)
    assert path.read_text().startswith("x_A,")
    assert _tmp_leftovers(tmp_path) == []


def test_temporary_of_a_killed_writer_is_removed_by_the_next_write(tmp_path, table):
    path = tmp_path / "summary.json"
    stale = tmp_path / ".summary.json.0123456789ab.tmp"  # what SIGKILL mid-write leaves
    stale.write_text("{half")
    other = tmp_path / ".columns.csv.0123456789ab.tmp"  # another file's temporary is not ours to remove
    other.write_text("x")
    write_summary_json(path, {"total_atoms": 3})
    assert json.loads(path.read_text())["total_atoms"] == 3
    assert not stale.exists() and other.exists()


def test_failure_during_replace_keeps_old_file(tmp_path, table, monkeypatch):
    path = tmp_path / "columns.csv"
    path.write_text("old\n")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(results.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_columns_csv(path, table)
    assert path.read_text() == "old\n"
    assert _tmp_leftovers(tmp_path) == []


def test_written_files_follow_umask(tmp_path, table):
    old = os.umask(0o022)
    try:
        path = write_columns_csv(tmp_path / "c.csv", table)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_read_frames_names_single_images_and_stack_frames(tmp_path):
    import numpy as np

    from atomcount.io import read_frames

    np.save(tmp_path / "one.npy", np.ones((32, 32), np.float32))
    np.save(tmp_path / "stack.npy", np.arange(3 * 32 * 32, dtype=np.float32).reshape(3, 32, 32))
    jobs = read_frames([tmp_path / "one.npy", tmp_path / "stack.npy"], pixel_size=0.25)
    assert [j[0] for j in jobs] == ["one", "stack_frame0000", "stack_frame0001", "stack_frame0002"]
    assert all(j[2] == 0.25 and j[1].shape == (32, 32) for j in jobs)
    np.testing.assert_array_equal(jobs[2][1], np.arange(1024, 2048, dtype=np.float32).reshape(32, 32))
