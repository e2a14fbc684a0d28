"""Reading microscope images and writing results.

:func:`read_image` reads ``.dm3 .dm4 .emd .ser .mrc .tif .tiff .png .jpg .npy
.npz`` files (see :func:`supported_extensions`) into an :class:`ImageData` with
the pixel size in Å/px; :func:`check_image` applies the same checks to an
in-memory array. Writers live in :mod:`atomcount.io.results`.

Each format is one module in :mod:`atomcount.io.formats`.

>>> from atomcount.io import read_image
>>> img = read_image("particle.dm4")  # doctest: +SKIP
>>> img.data.shape, img.pixel_size   # doctest: +SKIP
((2048, 2048), 0.2575)
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from atomcount.core.errors import AtomcountError
from atomcount.io._registry import plugin_for, supported_extensions
from atomcount.io._validate import (
    SQUARE_TOLERANCE,
    check_array,
    check_image,
    check_pixel_size,
    rgb_to_grey,
    square_pixel_size,
)

__all__ = ["ImageData", "read_image", "check_image", "supported_extensions"]


@dataclass
class ImageData:
    """An image read from a file.

    Attributes
    ----------
    data : ndarray of float32
        ``(ny, nx)``, or ``(frames, ny, nx)`` for a stack read with ``allow_stack=True``.
    pixel_size : float
        Pixel size (Å/px).
    source : str
        Path of the file.
    metadata : dict
        What the file says about the acquisition when available: ``voltage_kV``
        (kV), ``defocus_nm`` (nm), ``microscope``, ``title``; always ``format``
        and ``pixel_size_from`` ("file" or "argument").
    """

    data: np.ndarray
    pixel_size: float
    source: str
    metadata: dict = field(default_factory=dict)


def read_image(path, pixel_size: float | None = None, allow_stack: bool = False) -> ImageData:
    """Read one image (or stack of frames) and its pixel size from a file.

    Parameters
    ----------
    path : str or os.PathLike
        Image file; the format is chosen by the extension.
    pixel_size : float, optional
        Pixel size (Å/px). When given it replaces the file's calibration (a
        warning is issued if they disagree by more than 1 %).
    allow_stack : bool
        Accept a 3-D stack ``(frames, ny, nx)`` (e.g. a movie); otherwise only 2-D
        images are accepted. Leading axes of length 1 are dropped either way.

    Returns
    -------
    ImageData

    Raises
    ------
    AtomcountError
        Missing or unreadable file, unsupported extension, data that is not a
        real 2-D image (or 3-D stack), NaN/inf pixels, non-square pixels, missing
        or implausible pixel size, image smaller than 32×32 px.
    """
    p = Path(path)
    source = str(p)
    if not p.exists():
        raise AtomcountError(f"file not found: {source}")
    if not p.is_file():
        raise AtomcountError(f"{source} is not a file")
    plugin = plugin_for(p)
    try:
        raw = plugin.read(p)
    except AtomcountError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # any parser failure means the file is unreadable
        first_line = (str(exc).strip().splitlines() or [""])[0][:200]
        detail = f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
        raise AtomcountError(f"cannot read {source} as {plugin.NAME}: {detail} "
                             "(corrupt, truncated or not that format?)") from exc

    data = np.asarray(raw.data)
    if data.dtype.names and {"R", "G", "B"} <= set(data.dtype.names):
        data = rgb_to_grey(np.stack([data[c] for c in ("R", "G", "B")], axis=-1), source)
    while data.ndim > 2 and data.shape[0] == 1:
        data = data[0]
    image = check_array(data, allow_stack=allow_stack, source=source)

    if pixel_size is not None:
        ps = check_pixel_size(pixel_size, source)
        if raw.pixel_size_yx is not None:
            file_ps = raw.pixel_size_yx[1]
            if abs(file_ps - ps) > SQUARE_TOLERANCE * ps:
                warnings.warn(f"{source}: using pixel size {ps:g} Å/px from the argument; "
                              f"the file says {file_ps:.4g} Å/px", UserWarning, stacklevel=2)
        origin = "argument"
    elif raw.pixel_size_yx is None:
        note = f" ({raw.calibration_note})" if raw.calibration_note else ""
        raise AtomcountError(f"{source} has no pixel size; pass --pixel-size in Å{note}")
    else:
        ps = check_pixel_size(square_pixel_size(raw.pixel_size_yx, source), source)
        origin = "file"

    metadata = {**raw.metadata, "format": plugin.NAME, "pixel_size_from": origin}
    return ImageData(data=image, pixel_size=ps, source=source, metadata=metadata)


def read_frames(paths, pixel_size: float | None = None) -> list[tuple[str, np.ndarray, float, str]]:
    """Every 2-D frame of the given files, read eagerly: ``(name, frame, pixel size [Å/px], source)``.

    A single image is named after its file's stem; the frames of a stack get
    ``_frameNNNN`` appended. All files are read (and checked) before any is counted, so a
    bad file stops a command before it writes anything.
    """
    out = []
    for f in paths:
        data = read_image(f, pixel_size=pixel_size, allow_stack=True)
        frames = data.data[None] if data.data.ndim == 2 else data.data
        for k, frame in enumerate(frames):
            out.append((Path(f).stem + (f"_frame{k:04d}" if len(frames) > 1 else ""), frame, data.pixel_size, str(f)))
    return out
