"""Lazy frame sources: a movie is read one frame at a time, never whole.

:func:`open_movie` picks a source for a movie file or a series of single-frame files:

* ``.npy`` — memory-mapped (``np.load(mmap_mode="r")``);
* ``.tif``/``.tiff`` — one TIFF page (or page of the first series) per frame, read on demand;
* ``.dm3 .dm4 .emd .mrc .ser`` — RosettaSciIO with ``lazy=True`` (a Dask array), one frame
  computed at a time;
* a folder, or several files — one 2-D image per file (any format :func:`atomcount.io.read_image`
  reads), in sorted name order.

Memory is bounded by the frames in flight, whatever the movie's length. Every frame is
checked as :func:`atomcount.io.check_array` checks an image (2-D, finite, ≥ 32×32 px) and
against the shape of the series.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from atomcount.core.errors import AtomcountError
from atomcount.io._validate import check_array, check_pixel_size, square_pixel_size

#: Extensions read through RosettaSciIO's lazy readers: extension -> (module, reader options).
_RSCIIO = {
    ".dm3": ("rsciio.digitalmicrograph", {}),
    ".dm4": ("rsciio.digitalmicrograph", {}),
    ".emd": ("rsciio.emd", {"select_type": "images"}),
    ".mrc": ("rsciio.mrc", {}),
    ".ser": ("rsciio.tia", {}),
}
#: Time units of a stack's first axis, in seconds.
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "min": 60.0}


@dataclass
class FrameSource:
    """A movie read frame by frame.

    Attributes
    ----------
    name : str
        The movie's path (or folder) for messages.
    n_frames : int
        Number of frames.
    shape : tuple of int
        ``(ny, nx)`` of every frame (px).
    pixel_size : float
        Pixel size (Å/px).
    frame_time : float or None
        Time between frames (s) when the file says, else None.
    identity : dict
        What identifies the input for resuming (path, size, frame count and shape).
    """

    name: str
    n_frames: int
    shape: tuple[int, int]
    pixel_size: float
    frame_time: float | None
    identity: dict
    _read: Callable[[int], np.ndarray] = field(repr=False)
    _label: Callable[[int], str] = field(repr=False)
    _frame_identity: Callable[[int], dict] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return self.n_frames

    def frame_identity(self, index: int) -> dict:
        """What identifies frame ``index``: the movie's identity, and its own file in a series."""
        own = self._frame_identity(index) if self._frame_identity else {}
        return {**self.identity, **own}

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as a checked float32 ``(ny, nx)`` array.

        Raises
        ------
        AtomcountError
            Unreadable (e.g. truncated) data, NaN/inf pixels, or a shape other than the series'.
        """
        where = self._label(index)
        try:
            raw = self._read(index)
        except AtomcountError:
            raise
        except MemoryError:
            raise
        except Exception as exc:  # any parser failure: the file is damaged
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise AtomcountError(f"cannot read {where}: {first} (truncated or corrupt file?)") from exc
        image = check_array(np.squeeze(np.asarray(raw)), source=where)
        if image.shape != self.shape:
            raise AtomcountError(f"{where} is {image.shape[0]}×{image.shape[1]} px but the movie's frames "
                                 f"are {self.shape[0]}×{self.shape[1]} px; every frame must have one shape")
        return image


def open_movie(paths, *, pixel_size: float | None = None, frame_time: float | None = None) -> FrameSource:
    """Open a movie file, a folder of frames or a list of frame files for lazy reading.

    Parameters
    ----------
    paths : str, os.PathLike or list of them
        One movie file (a stack), one folder of single-frame files, or several files
        (one frame each, in the given order).
    pixel_size : float, optional
        Pixel size (Å/px); replaces the file's calibration, required where the file has none.
    frame_time : float, optional
        Time between frames (s); replaces the file's, if any.

    Returns
    -------
    FrameSource

    Raises
    ------
    AtomcountError
        Missing files, an empty folder, unsupported or truncated files, a missing pixel
        size, a stack that is not 3-D.
    """
    items = [Path(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
    if not items:
        raise AtomcountError("no movie given")
    for p in items:
        if not p.exists():
            raise AtomcountError(f"file not found: {p}")
    if len(items) == 1 and items[0].is_dir():
        files = sorted(f for f in items[0].iterdir() if f.is_file() and not f.name.startswith("."))
        if not files:
            raise AtomcountError(f"folder {items[0]} holds no frame files")
        source = _series(files, pixel_size, name=str(items[0]))
    elif len(items) > 1:
        source = _series(items, pixel_size, name=f"{items[0]} … ({len(items)} files)")
    else:
        source = _stack(items[0], pixel_size)
    if frame_time is not None:
        from atomcount.core.errors import check_range

        source.frame_time = check_range("frame time", frame_time, 1e-9, 1e6, "s")
    return source


def _file_id(path: Path) -> dict:
    st = path.stat()
    return {"path": str(path.resolve()), "bytes": st.st_size}


def _pixel(file_value: tuple[float, float] | None, given: float | None, name: str, note: str = "") -> float:
    if given is not None:
        return check_pixel_size(given, name)
    if file_value is None:
        extra = f" ({note})" if note else ""
        raise AtomcountError(f"{name} has no pixel size; pass --pixel-size in Å{extra}")
    return check_pixel_size(square_pixel_size(file_value, name), name)


def _stack(path: Path, pixel_size: float | None) -> FrameSource:
    ext = path.suffix.lower()
    if ext == ".npy":
        return _npy(path, pixel_size)
    if ext in (".tif", ".tiff"):
        return _tiff(path, pixel_size)
    if ext in _RSCIIO:
        return _rsciio(path, pixel_size)
    return _eager(path, pixel_size)


def _make(path: Path, data_shape: tuple, pixel_size: float, frame_time: float | None, read) -> FrameSource:
    if len(data_shape) == 2:
        data_shape = (1, *data_shape)
    if len(data_shape) != 3:
        raise AtomcountError(f"{path} has shape {tuple(data_shape)}; a movie is a 3-D stack (frames, y, x)")
    n, ny, nx = (int(v) for v in data_shape)
    if n == 0 or min(ny, nx) < 32:
        raise AtomcountError(f"{path} holds {n} frames of {ny}×{nx} px; at least one frame of 32×32 px is needed")
    ident = {**_file_id(path), "frames": n, "shape": [ny, nx]}
    return FrameSource(str(path), n, (ny, nx), pixel_size, frame_time, ident, read,
                       lambda k: f"frame {k} of {path}")


def _npy(path: Path, pixel_size: float | None) -> FrameSource:
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # a truncated .npy fails here: the mapping is shorter than the header says
        raise AtomcountError(f"cannot read {path} as NumPy: {str(exc)[:160]} (truncated or corrupt file?)") from exc
    while data.ndim > 3 and data.shape[0] == 1:
        data = data[0]
    ps = _pixel(None, pixel_size, str(path), ".npy files carry no pixel size")
    stack = data if data.ndim != 2 else data[None]
    return _make(path, data.shape, ps, None, lambda k: np.array(stack[k]))


def _tiff(path: Path, pixel_size: float | None) -> FrameSource:
    import tifffile

    from atomcount.io.formats import tiff as tiff_format

    try:
        tif = tifffile.TiffFile(path)
        series = tif.series[0]
        shape = series.shape
        page = tif.pages[0]
        size = path.stat().st_size
        ends = [o + c for p in series.pages for o, c in zip(p.dataoffsets, p.databytecounts)]
    except Exception as exc:
        raise AtomcountError(f"cannot read {path} as TIFF: {str(exc)[:160]} (truncated or corrupt file?)") from exc
    if ends and max(ends) > size:
        raise AtomcountError(f"{path} is truncated: its frames need {max(ends)} bytes, the file has {size}")
    file_ps, note = tiff_format._pixel_size(tif, page)
    ps = _pixel(file_ps, pixel_size, str(path), note)
    interval = (tif.imagej_metadata or {}).get("finterval") if tif.is_imagej else None
    pages = series.pages
    if len(shape) > 3:
        raise AtomcountError(f"{path} has shape {tuple(shape)}; a movie is a 3-D stack (frames, y, x)")
    return _make(path, shape, ps, float(interval) if interval else None, lambda k: pages[k].asarray())


def _rsciio(path: Path, pixel_size: float | None) -> FrameSource:
    import importlib

    from atomcount.io.formats._rsciio import pick_signal, pixel_size_from_axes

    module, options = _RSCIIO[path.suffix.lower()]
    try:
        signal = pick_signal(importlib.import_module(module).file_reader(str(path), lazy=True, **options), str(path))
    except Exception as exc:
        raise AtomcountError(f"cannot read {path}: {str(exc)[:160]} (truncated or corrupt file?)") from exc
    data = signal["data"]
    axes = signal["axes"]
    file_ps, note = pixel_size_from_axes(axes)
    ps = _pixel(file_ps, pixel_size, str(path), note)
    dt = None
    if data.ndim == 3 and axes:
        first = sorted(axes, key=lambda a: a.get("index_in_array", 0))[0]
        unit = _TIME_UNITS.get(str(first.get("units", "")).strip())
        dt = abs(float(first.get("scale", 0))) * unit if unit else None
    stack = data if data.ndim != 2 else data[None]
    return _make(path, data.shape, ps, dt or None, lambda k: np.asarray(stack[k].compute()))


def _eager(path: Path, pixel_size: float | None) -> FrameSource:
    """Formats without a lazy reader (.npz, .png, .jpg): read whole, then served by frame."""
    from atomcount.io import read_image

    data = read_image(path, pixel_size=pixel_size, allow_stack=True)
    return _make(path, data.data.shape, data.pixel_size, None,
                 lambda k: data.data[k] if data.data.ndim == 3 else data.data)


def _series(files: list[Path], pixel_size: float | None, *, name: str) -> FrameSource:
    from atomcount.io import read_image

    first = read_image(files[0], pixel_size=pixel_size)
    ident = {"frames": len(files), "shape": list(first.data.shape)}
    return FrameSource(name, len(files), first.data.shape, first.pixel_size, None, ident,
                       lambda k: read_image(files[k], pixel_size=first.pixel_size).data,
                       lambda k: f"frame {k} ({files[k]})", lambda k: _file_id(files[k]))
