"""Movie figures: atoms vs time, a per-track height map (kymograph), a tracked frame, an animation.

Every file is drawn under a temporary name and moved into place, so an interrupted run
never leaves a half-written figure.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np

from atomcount.core.errors import AtomcountError
from atomcount.core.figures import _plt
from atomcount.movie.frames import FrameSource


def _save(fig, path: Path, **kwargs) -> Path:
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        fig.savefig(tmp, **kwargs)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _heights(tracks: dict) -> np.ndarray:
    return tracks["height_fused"] if "height_fused" in tracks else tracks["height"]


def _time_axis(timeseries: dict) -> tuple[np.ndarray, str]:
    t = timeseries["time_s"]
    return (t, "time (s)") if np.isfinite(t).all() and len(t) else (timeseries["frame"], "frame")


def _draw_atoms(ax, timeseries: dict, blocks: dict | None) -> None:
    t, label = _time_axis(timeseries)
    ax.plot(t, timeseries["total_atoms"], ".-", lw=0.8, ms=3, color="0.6", label="single frames")
    if "total_atoms_fused" in timeseries:
        ax.plot(t, timeseries["total_atoms_fused"], "-", lw=1.5, color="C0", label="fused (HMM)")
    if blocks is not None:
        for i, (a, b, n) in enumerate(zip(blocks["first_frame"], blocks["last_frame"], blocks["total_atoms"])):
            ax.plot([t[a], t[b]], [n, n], "-", lw=2.5, color="C1", label="aligned mean of a block" if i == 0 else None)
    ax.set_xlabel(label)
    ax.set_ylabel("atoms")
    ax.legend(frameon=False, fontsize=8)


def _kymograph_array(tracks: dict, n_frames: int, min_frames: int) -> np.ndarray:
    """Heights (tracks × frames) of the tracks seen in ``min_frames`` frames or more, in raster
    order of their mean position (rows of columns along y, then x), NaN where not detected."""
    ids, inverse, counts = np.unique(tracks["track"], return_inverse=True, return_counts=True)
    y = np.bincount(inverse, weights=tracks["y_A"]) / counts
    x = np.bincount(inverse, weights=tracks["x_A"]) / counts
    rows = np.full(len(ids), -1)
    keep = np.flatnonzero(counts >= min_frames)
    order = keep[np.lexsort((x[keep], np.round(y[keep])))]
    rows[order] = np.arange(len(order))
    grid = np.full((len(order), n_frames), np.nan)
    sel = rows[inverse] >= 0
    grid[rows[inverse][sel], tracks["frame"][sel]] = _heights(tracks)[sel]
    return grid


def _draw_kymograph(ax, fig, tracks: dict, n_frames: int) -> None:
    grid = _kymograph_array(tracks, n_frames, min_frames=max(1, n_frames // 4))
    im = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis", vmin=1, vmax=15,
                   extent=(-0.5, n_frames - 0.5, len(grid) - 0.5, -0.5))
    ax.set_xlabel("frame")
    ax.set_ylabel("track (by position: y, then x)")
    fig.colorbar(im, ax=ax, label="atoms per column", shrink=0.8)


def _draw_frame(ax, image: np.ndarray, tracks: dict, k: int, drift: tuple[float, float], pixel_size: float) -> None:
    sel = tracks["frame"] == k
    x = (tracks["x_A"][sel] + drift[0]) / pixel_size
    y = (tracks["y_A"][sel] + drift[1]) / pixel_size
    ax.imshow(image, cmap="gray")
    ax.scatter(x, y, c=_heights(tracks)[sel], cmap="viridis", vmin=1, vmax=15, s=10, alpha=0.7)
    ax.set_axis_off()


def movie_figures(source: FrameSource, timeseries: dict, tracks: dict, folder: Path, *,
                  blocks: dict | None = None) -> list[Path]:
    """Write atoms_vs_time.png, kymograph.png and tracked_movie.png (frame 0, atoms, kymograph).

    Parameters
    ----------
    source : FrameSource
        The movie (its first frame is drawn).
    timeseries, tracks : dict of str to ndarray
        Tables from :func:`atomcount.movie.run.track_movie`.
    folder : Path
        Output folder.
    blocks : dict of str to ndarray, optional
        Counts of block means (:func:`atomcount.movie.run.average_blocks`), drawn as steps.
    """
    plt = _plt()
    n = len(timeseries["frame"])
    out = []
    fig, ax = plt.subplots(figsize=(6, 3.5))
    _draw_atoms(ax, timeseries, blocks)
    fig.tight_layout()
    out.append(_save(fig, folder / "atoms_vs_time.png", dpi=110))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    _draw_kymograph(ax, fig, tracks, n)
    fig.tight_layout()
    out.append(_save(fig, folder / "kymograph.png", dpi=110))
    plt.close(fig)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), gridspec_kw={"width_ratios": [1, 1.2, 1.2]})
    d0 = (timeseries["drift_x_A"][0], timeseries["drift_y_A"][0])
    _draw_frame(axes[0], source.frame(0), tracks, 0, d0, source.pixel_size)
    axes[0].set_title("frame 0, tracked columns")
    _draw_atoms(axes[1], timeseries, blocks)
    axes[1].set_title("atoms vs time")
    _draw_kymograph(axes[2], fig, tracks, n)
    axes[2].set_title("height per track")
    fig.tight_layout()
    out.append(_save(fig, folder / "tracked_movie.png", dpi=80))
    plt.close(fig)
    return out


def overlay_movie(source: FrameSource, timeseries: dict, tracks: dict, path: Path, *, fps: float = 5.0) -> Path:
    """Animate every frame with its tracked columns coloured by (fused) height (gif or mp4).

    Frames are read one at a time from ``source``. mp4 needs ffmpeg on the PATH.
    """
    plt = _plt()
    from matplotlib import animation

    path = Path(path)
    if path.suffix == ".mp4":
        if not animation.FFMpegWriter.isAvailable():
            raise AtomcountError("mp4 needs ffmpeg on the PATH; install it or use --overlay-movie gif")
        writer = animation.FFMpegWriter(fps=fps)
    else:
        writer = animation.PillowWriter(fps=fps)
    fig, ax = plt.subplots(figsize=(5, 5 * source.shape[0] / source.shape[1]))
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        with writer.saving(fig, str(tmp), dpi=80):
            for k in range(len(source)):
                ax.clear()
                _draw_frame(ax, source.frame(k), tracks, k, (timeseries["drift_x_A"][k], timeseries["drift_y_A"][k]),
                            source.pixel_size)
                ax.set_title(f"frame {k}", fontsize=9)
                writer.grab_frame()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        plt.close(fig)
    return path
