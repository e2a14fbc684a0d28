"""The movie pipeline: count every frame (resumable), then drift, tracks, fusion, figures.

Output folder layout::

    OUT/frames/00000/columns.csv    x_A, y_A, x_px, y_px, height, confidence, p1…p15
    OUT/frames/00000/summary.json   the frame's counts, drift and manifest (written last)
    OUT/movie/timeseries.csv        frame, time_s, drift_x_A, drift_y_A, columns, total_atoms[, total_atoms_fused]
    OUT/movie/tracks.csv            track, frame, time_s, x_A, y_A, height, probability[, fused columns]
    OUT/movie/blocks.csv            with --average N: block, first_frame, last_frame, time_s, columns, total_atoms
    OUT/movie/average/00000/        columns.csv, summary.json of each block's drift-aligned mean
    OUT/movie/atoms_vs_time.png, kymograph.png, tracked_movie.png[, overlay.gif|mp4]

A frame is done when its ``summary.json`` exists and records the same settings hash (model
file SHA-256, head, read-out and drift settings, pixel size, input identity); a rerun skips
it. All files are written atomically, so a run killed at any point leaves only complete
frames. Reading (a prefetch thread), counting (the caller's thread; torch releases the GIL)
and writing (a writer thread) overlap through bounded queues, so memory holds a few frames.
"""
from __future__ import annotations

import csv
import hashlib
import json
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from atomcount.core.errors import AtomcountError
from atomcount.hrtem.analysis.readout import MIN_CLUSTER
from atomcount.movie import drift as drift_mod
from atomcount.movie.frames import FrameSource
from atomcount.movie.fusion import RATE
from atomcount.movie.tracking import MAX_DISTANCE, MEMORY

#: Frames in flight between reader, counter and writer (memory ≈ 2·QUEUE frames).
QUEUE = 3
#: Version of the per-frame output format; part of the settings hash.
FORMAT = 1
_N_HEIGHTS = 15


@dataclass(frozen=True)
class MovieSettings:
    """How a movie is counted and tracked.

    Attributes
    ----------
    head : str
        ``"classification"`` or ``"regression"`` (see :func:`atomcount.count_columns`).
    model : str or None
        Model file; the shipped one when None.
    device : str
        Torch device.
    precision : str
        Network arithmetic, as in :func:`atomcount.count_columns`.
    min_cluster : int
        Smallest group of linked columns kept (0 keeps all).
    max_distance : float
        Largest frame-to-frame jump of a tracked column (Å).
    memory : int
        Frames a track may be missed.
    fuse : bool
        Fuse heights over time with the per-track hidden Markov model.
    rate : float
        Probability per frame that a column gains or loses an atom (fusion).
    average : int
        Also count the drift-aligned mean of each block of this many frames (0: off). For
        a static particle it is N× the dose in one image.
    """

    head: str = "classification"
    model: str | None = None
    device: str = "cpu"
    precision: str = "auto"
    min_cluster: int = MIN_CLUSTER
    max_distance: float = MAX_DISTANCE
    memory: int = MEMORY
    fuse: bool = False
    rate: float = RATE
    average: int = 0


@dataclass
class MovieReport:
    """What :func:`count_movie` did: frames counted and skipped, and the output files."""

    counted: int
    skipped: int
    tracks: int
    files: list[Path]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def settings_key(source: FrameSource, settings: MovieSettings) -> dict:
    """Everything every frame's outputs depend on (not the movie-level settings)."""
    from atomcount.hrtem.analysis.count import DEFAULT_MODEL

    model = Path(settings.model) if settings.model else DEFAULT_MODEL
    if not model.exists():
        raise AtomcountError(f"model file {model} not found")
    return {"format": FORMAT, "model_sha256": _sha256(model), "head": settings.head,
            "min_cluster": settings.min_cluster, "pixel_size": source.pixel_size,
            "drift": [drift_mod.LOWPASS, drift_mod.UPSAMPLE]}


def frame_hash(key: dict, source: FrameSource, k: int) -> str:
    """Hash of the settings and of frame ``k``'s input (its file in a series)."""
    text = json.dumps({**key, "input": source.frame_identity(k)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _frame_dir(out: Path, k: int) -> Path:
    return out / "frames" / f"{k:05d}"


def _is_done(out: Path, k: int, digest: str) -> bool:
    d = _frame_dir(out, k)
    try:
        summary = json.loads((d / "summary.json").read_text())
    except (OSError, ValueError):
        return False
    return summary.get("settings_hash") == digest and (d / "columns.csv").is_file()


def _writable(out: Path) -> None:
    """Create ``out/frames`` and check a file can be written there."""
    from atomcount.io.results import write_summary_json

    try:
        (out / "frames").mkdir(parents=True, exist_ok=True)
        probe = write_summary_json(out / "frames" / ".write_test.json", {})
        probe.unlink()
    except OSError as exc:
        raise AtomcountError(f"cannot write to output folder {out}: {exc.strerror or exc}") from None


def _reader(source: FrameSource, todo: list[int], q: queue.Queue, stop: threading.Event) -> None:
    """Prefetch frames ``todo`` into ``q``; an exception is passed on as an item."""
    for k in todo + [None]:
        try:
            item = (k, source.frame(k)) if k is not None else None
        except BaseException as exc:  # handed to the counting thread, which raises it
            item = exc
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                break
            except queue.Full:
                continue
        if stop.is_set() or not isinstance(item, tuple):
            return


def _writer(q: queue.Queue, errors: list) -> None:
    """Write frames from ``q`` until None; after an error, record it and drain without writing
    (so the counting thread never blocks on a full queue)."""
    from atomcount.io.results import write_columns_csv, write_summary_json

    while (job := q.get()) is not None:
        if errors:
            continue
        d, table, summary = job
        try:
            d.mkdir(parents=True, exist_ok=True)
            write_columns_csv(d / "columns.csv", table)
            write_summary_json(d / "summary.json", summary)
        except OSError as exc:
            errors.append(AtomcountError(f"cannot write {d}: {exc.strerror or exc}; "
                                         "fix it and rerun: completed frames are kept"))
        except Exception as exc:  # handed to the counting thread, which raises it
            errors.append(exc)


def count_frames(source: FrameSource, out: Path, settings: MovieSettings, *, force: bool = False,
                 progress: bool = True, log: Callable[[str], None] = print) -> tuple[int, int]:
    """Count every frame not yet done; return (frames counted, frames skipped)."""
    from tqdm.auto import tqdm

    from atomcount.hrtem.analysis.count import count_columns
    from atomcount.hrtem.analysis.focus import refuse

    key = settings_key(source, settings)
    _writable(out)
    todo = [k for k in range(len(source)) if force or not _is_done(out, k, frame_hash(key, source, k))]
    skipped = len(source) - len(todo)
    if skipped:
        log(f"{skipped} of {len(source)} frames already counted with the same model and settings: "
            f"skipped (--force recounts)")
    if not todo:
        return 0, skipped
    reference = drift_mod.prepare_reference(source.frame(0), pixel_size=source.pixel_size)
    q_in: queue.Queue = queue.Queue(QUEUE)
    q_out: queue.Queue = queue.Queue(QUEUE)
    stop = threading.Event()
    errors: list[Exception] = []
    reader = threading.Thread(target=_reader, args=(source, todo, q_in, stop), daemon=True)
    writer = threading.Thread(target=_writer, args=(q_out, errors), daemon=True)
    reader.start()
    writer.start()
    ps = source.pixel_size
    try:
        for _ in tqdm(todo, desc="counting", unit="frame", disable=not progress):
            item = q_in.get()
            if isinstance(item, BaseException):
                raise item
            k, frame = item
            res = count_columns(frame, ps, head=settings.head, model=settings.model, device=settings.device,
                                min_cluster=settings.min_cluster, keep_probabilities=True,
                                precision=settings.precision)
            dx, dy = drift_mod.measure_drift(reference, frame, pixel_size=ps)
            table = res.table() | {f"p{h + 1}": res.probabilities[:, h] for h in range(_N_HEIGHTS)}
            time_s = k * source.frame_time if source.frame_time else None
            # a frame that `count` would refuse is kept (a movie keeps its frames) but flagged
            unreadable = refuse(res.focus_z, res.confidence)
            if unreadable:
                log(f"frame {k}: the fringe reads overfocus (z = {res.focus_z:.0f}) and the model doubts its "
                    "columns: its counts are flagged unreadable (timeseries.csv)")
            summary = res.summary() | {"frame": k, "time_s": time_s, "drift_A": [dx, dy],
                                       "source": source.name, "unreadable": unreadable,
                                       "settings_hash": frame_hash(key, source, k)}
            q_out.put((_frame_dir(out, k), table, summary))
            if errors:
                break
    finally:
        stop.set()
        q_out.put(None)
        writer.join()
    if errors:
        raise errors[0]
    return len(todo), skipped


def _read_frame(out: Path, k: int) -> tuple[dict, dict[str, np.ndarray]]:
    d = _frame_dir(out, k)
    summary = json.loads((d / "summary.json").read_text())
    with open(d / "columns.csv", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], np.array(rows[1:], dtype=float).reshape(-1, len(rows[0]))
    return summary, {name: body[:, i] for i, name in enumerate(header)}


def track_movie(source: FrameSource, out: Path, settings: MovieSettings) -> tuple[dict, dict]:
    """Link the counted frames into tracks, fuse heights; write timeseries.csv and tracks.csv.

    Returns
    -------
    timeseries, tracks : dict of str to ndarray
        The tables written.
    """
    from atomcount.io.results import write_columns_csv
    from atomcount.movie.fusion import fuse_heights
    from atomcount.movie.tracking import link_columns

    frames = [_read_frame(out, k) for k in range(len(source))]
    drift = np.array([s["drift_A"] for s, _ in frames]).reshape(-1, 2)
    pos = [np.stack([c["x_A"] - dx, c["y_A"] - dy], axis=1) for (_, c), (dx, dy) in zip(frames, drift)]
    ids = link_columns(pos, max_distance=settings.max_distance, memory=settings.memory)
    n = np.array([len(i) for i in ids])
    frame_of = np.repeat(np.arange(len(frames)), n)
    time = np.array([np.nan if s.get("time_s") is None else s["time_s"] for s, _ in frames])
    cat = {key: np.concatenate([c[key] for _, c in frames]) for key in frames[0][1]} if n.sum() else {}
    track = np.concatenate(ids) if n.sum() else np.zeros(0, int)
    xy = np.concatenate(pos) if n.sum() else np.zeros((0, 2))
    order = np.lexsort((frame_of, track))
    tracks = {"track": track[order], "frame": frame_of[order], "time_s": time[frame_of][order],
              "x_A": xy[order, 0], "y_A": xy[order, 1],
              "height": cat.get("height", np.zeros(0)).astype(int)[order],
              "probability": cat.get("confidence", np.zeros(0))[order]}
    timeseries = {"frame": np.arange(len(frames)), "time_s": time, "drift_x_A": drift[:, 0],
                  "drift_y_A": drift[:, 1], "columns": n,
                  "total_atoms": np.array([s["total_atoms"] for s, _ in frames]),
                  "unreadable": np.array([int(s.get("unreadable", False)) for s, _ in frames])}
    if settings.fuse:
        probs = np.stack([cat[f"p{h + 1}"] for h in range(_N_HEIGHTS)], axis=1)[order] if n.sum() \
            else np.zeros((0, _N_HEIGHTS))
        fused, fused_p, path = (np.zeros(len(order), int), np.zeros(len(order)), np.zeros(len(order), int))
        starts = np.flatnonzero(np.r_[True, np.diff(tracks["track"]) != 0])
        for a, b in zip(starts, np.r_[starts[1:], len(order)]):
            f = tracks["frame"][a:b]
            seq = np.full((f[-1] - f[0] + 1, _N_HEIGHTS), np.nan)
            seq[f - f[0]] = probs[a:b]
            h, p, v = fuse_heights(seq, rate=settings.rate)
            fused[a:b], fused_p[a:b], path[a:b] = h[f - f[0]], p[f - f[0]], v[f - f[0]]
        tracks |= {"height_fused": fused, "probability_fused": fused_p, "height_viterbi": path}
        timeseries["total_atoms_fused"] = np.bincount(tracks["frame"], weights=fused,
                                                      minlength=len(frames)).astype(int)
    (out / "movie").mkdir(exist_ok=True)
    write_columns_csv(out / "movie" / "timeseries.csv", timeseries)
    write_columns_csv(out / "movie" / "tracks.csv", tracks)
    return timeseries, tracks


def average_blocks(source: FrameSource, timeseries: dict, out: Path, settings: MovieSettings) -> dict:
    """Count the drift-aligned mean of each block of ``settings.average`` frames; write blocks.csv.

    Positions are in the first frame's coordinates, as in tracks.csv. Frames are read again,
    one at a time.

    Returns
    -------
    dict of str to ndarray
        The blocks table.
    """
    from atomcount.hrtem.analysis.count import count_columns
    from atomcount.io.results import write_columns_csv, write_summary_json

    n, size = len(source), settings.average
    rows: dict[str, list] = {k: [] for k in ("block", "first_frame", "last_frame", "time_s", "columns", "total_atoms")}
    for b, first in enumerate(range(0, n, size)):
        last = min(first + size, n) - 1
        total = np.zeros(source.shape, np.float64)
        for k in range(first, last + 1):
            drift = (timeseries["drift_x_A"][k], timeseries["drift_y_A"][k])
            total += drift_mod.remove_drift(source.frame(k), drift, pixel_size=source.pixel_size)
        res = count_columns(total / (last - first + 1), source.pixel_size, head=settings.head, model=settings.model,
                            device=settings.device, min_cluster=settings.min_cluster,
                            precision=settings.precision)
        d = out / "movie" / "average" / f"{b:05d}"
        d.mkdir(parents=True, exist_ok=True)
        write_columns_csv(d / "columns.csv", res.table())
        write_summary_json(d / "summary.json", res.summary() | {"first_frame": first, "last_frame": last})
        for key, value in zip(rows, (b, first, last, np.nanmean(timeseries["time_s"][first:last + 1])
                                     if np.isfinite(timeseries["time_s"][first:last + 1]).any() else np.nan,
                                     len(res), res.total_atoms)):
            rows[key].append(value)
    blocks = {k: np.asarray(v) for k, v in rows.items()}
    write_columns_csv(out / "movie" / "blocks.csv", blocks)
    return blocks


def count_movie(source: FrameSource, out, *, settings: MovieSettings = MovieSettings(), force: bool = False,
                progress: bool = True, overlay_movie: str | None = None, figures: bool = True,
                log: Callable[[str], None] = print) -> MovieReport:
    """Count, track and (optionally) fuse a movie; resumable.

    Parameters
    ----------
    source : FrameSource
        The movie (:func:`atomcount.movie.frames.open_movie`).
    out : str or os.PathLike
        Output folder.
    settings : MovieSettings
        Model, read-out, tracking and fusion settings.
    force : bool
        Recount frames already done.
    progress : bool
        Show a progress bar.
    overlay_movie : {"gif", "mp4"}, optional
        Also write the frames with their tracked columns as an animation.
    figures : bool
        Write atoms_vs_time.png, kymograph.png and tracked_movie.png.
    log : callable
        Where messages go.

    Returns
    -------
    MovieReport
    """
    from atomcount.movie import figures as fig

    if settings.head not in ("classification", "regression"):
        raise AtomcountError(f"head must be 'classification' or 'regression', not {settings.head!r}")
    if not 0 <= settings.average <= len(source):
        raise AtomcountError(f"--average must be 0 (off) or a block of 1…{len(source)} frames, not {settings.average}")
    if overlay_movie not in (None, "gif", "mp4"):
        raise AtomcountError(f"overlay movie format must be gif or mp4, not {overlay_movie!r}")
    out = Path(out)
    counted, skipped = count_frames(source, out, settings, force=force, progress=progress, log=log)
    try:
        timeseries, tracks = track_movie(source, out, settings)
        files = [out / "movie" / "timeseries.csv", out / "movie" / "tracks.csv"]
        blocks = None
        if settings.average:
            blocks = average_blocks(source, timeseries, out, settings)
            files.append(out / "movie" / "blocks.csv")
        if figures:
            files += fig.movie_figures(source, timeseries, tracks, out / "movie", blocks=blocks)
        if overlay_movie:
            files.append(fig.overlay_movie(source, timeseries, tracks, out / "movie" / f"overlay.{overlay_movie}"))
    except OSError as exc:
        raise AtomcountError(f"cannot write to {out / 'movie'}: {exc.strerror or exc}") from None
    return MovieReport(counted, skipped, int(len(np.unique(tracks["track"]))), files)
