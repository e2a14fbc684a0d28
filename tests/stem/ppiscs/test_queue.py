"""PPISCS slicing options, compact storage, the domain queue and its cost model."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import h5py
import numpy as np
import pytest

from atomcount.core.errors import AtomcountError
from atomcount.stem.ppiscs import queue as q
from atomcount.stem.ppiscs.library import is_done, read_entry, round_mantissa, write_entry
from atomcount.stem.ppiscs.simulation import Entry, SimulationSettings, simulate_entry

#: A tiny entry: 60 kV, 2×2 cells, rings to 60 mrad, 2 atoms per column.
TINY = SimulationSettings(supercell_length=8.0, max_detector=60.0, max_convergence=10.0, tilt_spacing=10.0,
                          max_atoms=2, batch_size=4)


def test_domain_is_the_whole_table_of_paper_001():
    entries = q.domain()
    assert len(entries) == 8 * 2 * 6 * 5 == len({e.name for e in entries})
    assert {e.voltage for e in entries} == {60.0, 80.0, 100.0, 120.0, 200.0, 300.0}


def test_round_mantissa_bounds_the_relative_error_and_refuses_bad_bits():
    a = np.random.default_rng(0).lognormal(-8.0, 3.0, 10_000).astype(np.float32)
    b = round_mantissa(a, 12)
    assert np.abs(b / a - 1).max() <= 2.0**-13
    assert np.array_equal(round_mantissa(a, 23), a)
    assert len(np.unique(b.view(np.uint32) & np.uint32(0x7FF))) == 1  # the dropped bits are zero
    for bits in (0, 24):
        with pytest.raises(AtomcountError, match="mantissa"):
            round_mantissa(a, bits)


def test_free_propagation_leaves_ring_intensities_unchanged():
    # with infinite projection an empty slice is free-space propagation, a phase in
    # reciprocal space: three slices per plane (the atoms in the middle one) must give the
    # one-slice intensities
    e = Entry("Au", "100", 60.0, 0.0)
    hard = replace(TINY, antialias_taper=0.0)
    one = simulate_entry(e, hard)
    three = simulate_entry(e, replace(hard, slices_per_plane=3))
    np.testing.assert_allclose(three.intensity, one.intensity, rtol=2e-4, atol=1e-9)
    # abTEM's default taper at the antialiasing cutoff is not idempotent: it is the one
    # numerical parameter that makes the result depend on the number of empty slices
    tapered = simulate_entry(e, replace(TINY, slices_per_plane=3)).intensity
    assert np.abs(tapered - simulate_entry(e, TINY).intensity).max() > 10 * np.abs(three.intensity - one.intensity).max()


def test_finite_projection_converges_to_infinite_for_a_weak_light_column():
    # Al at low angles: slicing hardly matters (the phase-object regime)
    e = Entry("Al", "100", 60.0, 0.0)
    inf = simulate_entry(e, TINY).intensity.sum(-1)
    fin = simulate_entry(e, replace(TINY, projection="finite", slices_per_plane=2)).intensity.sum(-1)
    np.testing.assert_allclose(fin, inf, rtol=0.02)


@pytest.mark.parametrize("changes,message", [({"projection": "half"}, "projection"),
                                             ({"slices_per_plane": 0}, "slices_per_plane"),
                                             ({"slices_per_plane": 1.5}, "slices_per_plane")])
def test_bad_slicing_settings_refuse(changes, message):
    with pytest.raises(AtomcountError, match=message):
        replace(TINY, **changes)


def test_entries_written_before_the_slicing_settings_still_count_as_done(tmp_path):
    e = Entry("Cu", "100", 60.0, 0.09)
    write_entry(simulate_entry(e, TINY), e, TINY, tmp_path)
    path = tmp_path / f"{e.name}.h5"
    with h5py.File(path, "r+") as f:  # the settings as the first library stored them
        import json

        old = json.loads(f.attrs["settings"])
        del old["projection"], old["slices_per_plane"], old["antialias_taper"]
        f.attrs["settings"] = json.dumps(old)
    assert is_done(e, TINY, tmp_path)
    with pytest.raises(AtomcountError, match="other settings"):
        is_done(e, replace(TINY, projection="finite"), tmp_path)
    assert np.abs(read_entry(path).intensity).max() > 0


def test_work_grows_with_the_slices():
    e = Entry("Au", "110", 300.0, 0.1)
    one, four = q.work(e, SimulationSettings()), q.work(e, SimulationSettings(slices_per_plane=4))
    assert four.slices == 4 * one.slices == 4 * 2 * 87
    assert four.waves == one.waves and four.pixels == one.pixels


def test_queue_runs_resumes_and_estimates(tmp_path):
    entries = [Entry("Au", "100", 60.0, 0.1), Entry("Cu", "100", 60.0, 0.1), Entry("Ni", "100", 60.0, 0.1)]
    rows = q.status(tmp_path, TINY, entries, shipped=None)
    assert not any(r["done"] for r in rows) and all(r["cpu_seconds"] is None for r in rows)
    done = q.run(1.0, tmp_path, TINY, entries[:2], shipped=None)
    assert sorted(r["entry"] for r in done) == sorted(e.name for e in entries[:2])
    rows = q.status(tmp_path, TINY, entries, shipped=None)
    assert [r["done"] for r in rows if r["entry"] == entries[2]] == [False]
    left = [r for r in rows if not r["done"]][0]
    assert left["cpu_seconds"] is not None and left["cpu_seconds"] > 0  # fitted to the two done entries
    assert q.run(1.0, tmp_path, TINY, entries[:2], shipped=None) == []  # nothing is simulated twice
    # entries of a second (shipped) library count as done and are not simulated again
    other = tmp_path / "shipped"
    q.run(1.0, other, TINY, entries[2:], shipped=None)
    assert all(r["done"] for r in q.status(tmp_path, TINY, entries, shipped=other))
    text = q.status_markdown(rows, tmp_path)
    assert "2 of 3 entries done" in text and "| [100] | 60 | 2 | 1 |" in text
    with pytest.raises(AtomcountError, match="hours"):
        q.run(0.0, tmp_path, TINY, entries)


def test_queue_calls_its_hook_before_each_entry_it_simulates(tmp_path):
    entries = [Entry("Au", "100", 60.0, 0.1), Entry("Cu", "100", 60.0, 0.1)]
    seen = []

    def hook(entry):
        seen.append((entry, is_done(entry, TINY, tmp_path)))

    q.run(1.0, tmp_path, TINY, entries, shipped=None, before_entry=hook)
    assert sorted(e.name for e, _ in seen) == sorted(e.name for e in entries)
    assert not any(done for _, done in seen)  # called before the entry lands
    seen.clear()
    q.run(1.0, tmp_path, TINY, entries, shipped=None, before_entry=hook)
    assert seen == []  # done entries are not visited again


def test_cli_queue_lists_the_domain(tmp_path):
    r = subprocess.run([sys.executable, "-m", "atomcount.cli", "ppiscs", "queue", "--out", str(tmp_path),
                        "--elements", "Au", "--zones", "110", "--voltages", "60,80"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "0 of 10 entries done" in r.stdout and "| [110] | 80 | 0 | 5 |" in r.stdout
    r = subprocess.run([sys.executable, "-m", "atomcount.cli", "ppiscs", "queue", "--out", str(tmp_path),
                        "--elements", "Au", "--zones", "100", "--voltages", "300"], capture_output=True, text=True)
    assert "1 of 5 entries done" in r.stdout and "CPU-hours" in r.stdout  # the shipped 0.085 Å entry
    assert "Slicing correction" not in r.stdout  # Au [100] 300 kV has its row


def test_status_counts_the_cells_without_a_slicing_correction_row(tmp_path, monkeypatch):
    from atomcount.stem.ppiscs.slicing_correction import SlicingCorrection

    # the shipped table grows with the queue, so the status is checked against a table of known rows
    table = SlicingCorrection((("Au", "110", 60.0),), np.ones((1, 3, 4)))
    monkeypatch.setattr(q, "load_correction", lambda: table)
    rows = q.status(tmp_path, TINY, q.domain(elements=("Au",), zones=("110",), voltages=(60.0, 80.0, 100.0)), shipped=None)
    assert "Slicing correction: 2 of 3 (element, zone, kV) cells have no row yet" in q.status_markdown(rows, tmp_path)
    table = SlicingCorrection(tuple(("Au", "110", kv) for kv in (60.0, 80.0, 100.0)), np.ones((3, 3, 4)))
    assert "Slicing correction" not in q.status_markdown(rows, tmp_path)


def test_library_search_path_reads_several_directories_first_wins(tmp_path):
    import os

    from atomcount.stem.ppiscs.library import list_entries

    a, b = Entry("Au", "100", 60.0, 0.1), Entry("Cu", "100", 60.0, 0.1)
    q.run(1.0, tmp_path / "one", TINY, [a], shipped=None)
    q.run(1.0, tmp_path / "two", TINY, [a, b], shipped=None)
    found = {d["element"]: d["path"] for d in list_entries(f"{tmp_path / 'one'}{os.pathsep}{tmp_path / 'two'}")}
    assert set(found) == {"Au", "Cu"}
    assert found["Au"].startswith(str(tmp_path / "one")) and found["Cu"].startswith(str(tmp_path / "two"))
    with pytest.raises(AtomcountError, match="empty"):
        list_entries(os.pathsep)
