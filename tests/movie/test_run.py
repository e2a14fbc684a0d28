"""The movie pipeline: outputs, resume (also after kill -9), faults, the command line."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _movies import synthetic_movie

from atomcount.cli import main
from atomcount.core.errors import AtomcountError
from atomcount.movie.frames import open_movie
from atomcount.movie.run import MovieSettings, count_movie

SETTINGS = MovieSettings(min_cluster=0, fuse=True)


def _run(path, out, **kw):
    return count_movie(open_movie(path, pixel_size=0.25), out, settings=SETTINGS, progress=False,
                       figures=False, log=lambda s: None, **kw)


def _outputs(out: Path) -> dict:
    """Every output file's bytes except the figures."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.csv"))} | \
           {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("summary.json"))}


def test_frames_count_would_refuse_are_kept_and_flagged(movie_npy, tmp_path, monkeypatch):
    from atomcount.hrtem.analysis import focus

    monkeypatch.setattr(focus, "refuse", lambda z, confidence: True)
    said = []
    count_movie(open_movie(movie_npy, pixel_size=0.25), tmp_path, settings=SETTINGS, progress=False, figures=False,
                log=said.append)
    ts = np.genfromtxt(tmp_path / "movie" / "timeseries.csv", delimiter=",", names=True)
    assert np.array_equal(ts["unreadable"], np.ones(6)) and len(ts) == 6  # kept, flagged
    assert sum("flagged unreadable" in s for s in said) == 6


def test_outputs_resume_and_force(movie_npy, tmp_path):
    out = tmp_path / "out"
    first = _run(movie_npy, out)
    assert (first.counted, first.skipped) == (6, 0)
    ts = np.genfromtxt(out / "movie" / "timeseries.csv", delimiter=",", names=True)
    tr = np.genfromtxt(out / "movie" / "tracks.csv", delimiter=",", names=True)
    assert len(ts) == 6 and np.array_equal(np.bincount(tr["frame"].astype(int), minlength=6), ts["columns"])
    assert np.array_equal(np.bincount(tr["frame"].astype(int), weights=tr["height"], minlength=6), ts["total_atoms"])
    assert np.array_equal(ts["unreadable"], np.zeros(6))  # no Fresnel fringe to read: never flagged
    # the synthetic columns drift by 0.02 Å per frame along x
    assert np.allclose(ts["drift_x_A"], 0.02 * np.arange(6), atol=0.05)
    before = _outputs(out)
    again = _run(movie_npy, out)
    assert (again.counted, again.skipped) == (0, 6) and _outputs(out) == before
    forced = _run(movie_npy, out, force=True)
    assert forced.counted == 6 and _outputs(out) == before
    changed = count_movie(open_movie(movie_npy, pixel_size=0.25), out, settings=MovieSettings(min_cluster=5),
                          progress=False, figures=False, log=lambda s: None)
    assert changed.counted == 6   # other settings: nothing reused


def test_resume_after_kill_9_counts_each_frame_once(tmp_path):
    movie = tmp_path / "long.npy"
    np.save(movie, synthetic_movie(60, seed=3))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "atomcount", "movie", str(movie), "--pixel-size", "0.25", "--out", str(out),
           "--min-cluster", "0", "--fuse", "--no-figures"]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(list(out.glob("frames/*/summary.json"))) < 5 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("frames/*/summary.json")}
    assert 5 <= len(done) < 60, "the run was not killed mid-movie"
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(done)} of 60 frames already counted" in rerun.stdout
    assert f"{60 - len(done)} frames counted" in rerun.stdout
    for name, mtime in done.items():   # frames done before the kill were not recomputed
        assert (out / "frames" / name / "summary.json").stat().st_mtime_ns == mtime
    assert not [p for p in out.rglob(".*") if p.is_file()], "a half-written temporary file was left"
    clean = tmp_path / "clean"
    subprocess.run(cmd[:-5] + [str(clean)] + cmd[-4:], env=env, check=True, capture_output=True)
    assert _outputs(out) == _outputs(clean)


def test_unwritable_output_folder(movie_npy, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(AtomcountError, match="cannot write to output folder"):
        _run(movie_npy, blocker / "out")
    blocker.unlink()
    blocker.mkdir()
    assert _run(movie_npy, blocker / "out").counted == 6


def test_full_disk_mid_run_then_resume(movie_npy, tmp_path, monkeypatch):
    import atomcount.io.results as results

    real = results._atomic_write
    calls = []

    def fill_up(path, text):
        calls.append(path)
        if len(calls) > 7:   # the probe, then three frames' two files
            raise OSError(28, "No space left on device")
        return real(path, text)

    monkeypatch.setattr(results, "_atomic_write", fill_up)
    out = tmp_path / "out"
    with pytest.raises(AtomcountError, match="No space left on device"):
        _run(movie_npy, out)
    assert not (out / "movie").exists()
    assert len(list(out.glob("frames/*/summary.json"))) == 3
    monkeypatch.setattr(results, "_atomic_write", real)
    resumed = _run(movie_npy, out)
    assert (resumed.counted, resumed.skipped) == (3, 3)
    _run(movie_npy, tmp_path / "clean")
    assert _outputs(out) == _outputs(tmp_path / "clean")


def test_bad_frame_in_series_is_one_line_then_resumes(tmp_path, capsys):
    frames = synthetic_movie(4)
    folder = tmp_path / "series"
    folder.mkdir()
    for k, f in enumerate(frames):
        np.save(folder / f"f{k}.npy", f if k != 2 else f[:80, :80])
    args = ["movie", str(folder), "--pixel-size", "0.25", "--out", str(tmp_path / "out"), "--min-cluster", "0",
            "--no-figures"]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]   # (after the progress bar)
    assert len(err) == 1 and err[0].startswith("error: frame 2") and "80×80 px" in err[0] and "f2.npy" in err[0]
    assert not (tmp_path / "out" / "movie").exists()
    np.save(folder / "f2.npy", frames[2])
    main(args)
    assert "2 of 4 frames already counted" in capsys.readouterr().out


def test_overlay_movie_and_figures(movie_npy, tmp_path):
    report = count_movie(open_movie(movie_npy, pixel_size=0.25), tmp_path, settings=SETTINGS, progress=False,
                         overlay_movie="gif", log=lambda s: None)
    names = {p.name for p in report.files}
    assert {"atoms_vs_time.png", "kymograph.png", "tracked_movie.png", "overlay.gif"} <= names
    assert all(p.stat().st_size > 1000 for p in report.files if p.suffix in (".png", ".gif"))
    with pytest.raises(AtomcountError):
        count_movie(open_movie(movie_npy, pixel_size=0.25), tmp_path, overlay_movie="avi")


def test_memory_does_not_grow_with_the_movie(tmp_path):
    """Peak traced memory of counting 40 frames ≈ that of 8: frames are streamed, not loaded."""
    import tracemalloc

    from atomcount.movie.run import count_frames

    peaks = {}
    for n in (8, 40):
        path = tmp_path / f"m{n}.npy"
        np.save(path, np.tile(synthetic_movie(4, size=128), (n // 4, 1, 1)))
        source = open_movie(path, pixel_size=0.25)
        tracemalloc.start()
        count_frames(source, tmp_path / f"out{n}", SETTINGS, progress=False, log=lambda s: None)
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    movie_bytes = 40 * 128 * 128 * 4
    assert peaks[40] - peaks[8] < 0.25 * movie_bytes, peaks


def test_average_blocks_count_the_aligned_mean(movie_npy, tmp_path):
    settings = MovieSettings(min_cluster=0, average=4)
    count_movie(open_movie(movie_npy, pixel_size=0.25), tmp_path, settings=settings, progress=False,
                figures=False, log=lambda s: None)
    blocks = np.genfromtxt(tmp_path / "movie" / "blocks.csv", delimiter=",", names=True)
    assert blocks["first_frame"].tolist() == [0, 4] and blocks["last_frame"].tolist() == [3, 5]
    for b in range(2):
        cols = np.genfromtxt(tmp_path / "movie" / "average" / f"{b:05d}" / "columns.csv", delimiter=",", names=True)
        assert len(cols) == blocks["columns"][b] and cols["height"].sum() == blocks["total_atoms"][b]
    with pytest.raises(AtomcountError, match="--average"):
        count_movie(open_movie(movie_npy, pixel_size=0.25), tmp_path, settings=MovieSettings(average=7))
