"""Checks shared by file reading and the in-memory API."""
from __future__ import annotations

import math
import warnings

import numpy as np

from atomcount.core.errors import AtomcountError

#: Plausible pixel sizes (Å/px) for atomic-resolution images.
PIXEL_SIZE_RANGE = (0.01, 10.0)
#: Smallest accepted image side (px).
MIN_SIDE = 32
#: Largest accepted relative difference between the y and x pixel sizes.
SQUARE_TOLERANCE = 0.01
#: ITU-R BT.601 luma weights for R, G, B.
_LUMA = np.array([0.299, 0.587, 0.114])


def check_pixel_size(pixel_size: float | None, source: str = "image") -> float:
    """Return ``pixel_size`` (Å/px) as a float after checking it is plausible.

    Parameters
    ----------
    pixel_size : float or None
        Pixel size (Å/px).
    source : str
        Name of the image used in messages (a path or "image").

    Returns
    -------
    float
        The pixel size (Å/px).

    Raises
    ------
    AtomcountError
        If it is missing, not a number, not positive, or outside 0.01–10 Å/px.
    """
    if pixel_size is None:
        raise AtomcountError(f"{source} has no pixel size; pass --pixel-size in Å")
    if isinstance(pixel_size, (bool, np.bool_)):
        raise AtomcountError(f"pixel size must be a number in Å/px, got {pixel_size!r}")
    try:
        value = float(pixel_size)
    except (TypeError, ValueError):
        raise AtomcountError(f"pixel size must be a number in Å/px, got {pixel_size!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise AtomcountError(f"pixel size must be positive and finite, got {pixel_size!r} Å/px")
    low, high = PIXEL_SIZE_RANGE
    if not low <= value <= high:
        raise AtomcountError(f"pixel size {value:g} Å/px of {source} is outside the plausible range "
                             f"{low:g}–{high:g} Å/px (nm or pm mistaken for Å?)")
    return value


def check_array(array, *, allow_stack: bool = False, source: str = "image") -> np.ndarray:
    """Validate image pixels; return them as float32.

    Parameters
    ----------
    array : array_like
        Real-valued image ``(ny, nx)``, or a stack ``(frames, ny, nx)`` when
        ``allow_stack`` is True.
    allow_stack : bool
        Accept 3-D stacks of frames.
    source : str
        Name of the image used in messages (a path or "image").

    Returns
    -------
    ndarray of float32
        C-contiguous copy (or view) of ``array``.

    Raises
    ------
    AtomcountError
        For complex or non-numeric data, wrong number of dimensions, images
        smaller than 32×32 px, NaN or infinite pixels.
    """
    a = np.asarray(array)
    if np.iscomplexobj(a):
        raise AtomcountError(f"{source} holds complex values; pass the modulus (np.abs) "
                             "or the phase (np.angle) explicitly")
    if a.dtype.kind not in "biuf":
        raise AtomcountError(f"{source} holds non-numeric data of type {a.dtype}")
    allowed = (2, 3) if allow_stack else (2,)
    if a.ndim not in allowed:
        if a.ndim == 3:
            raise AtomcountError(f"{source} is 3-D {a.shape} (a stack of {a.shape[0]} frames?); "
                                 "expected a 2-D image; read it with allow_stack=True to count frame by frame")
        wanted = "a 2-D image or a 3-D stack (frames, y, x)" if allow_stack else "a 2-D image"
        raise AtomcountError(f"{source} is {a.ndim}-D with shape {a.shape}; expected {wanted}")
    if a.shape[0] == 0 or min(a.shape[-2:]) < MIN_SIDE:
        raise AtomcountError(f"{source} is {a.shape[-2]}×{a.shape[-1]} px; "
                             f"at least {MIN_SIDE}×{MIN_SIDE} px is needed")
    with np.errstate(over="ignore"):  # values beyond float32 become inf, reported below
        out = np.ascontiguousarray(a, dtype=np.float32)
    finite = np.isfinite(out)
    if not finite.all():
        bad = out.size - int(np.count_nonzero(finite))
        raise AtomcountError(f"{source} has {bad} NaN or infinite pixel(s) "
                             f"(or values beyond float32 range); fill or crop them first")
    return out


def check_image(array, pixel_size: float | None, *, allow_stack: bool = False,
                source: str = "image") -> np.ndarray:
    """Validate an image and its pixel size; return the image as float32.

    Parameters
    ----------
    array : array_like
        Real-valued image ``(ny, nx)``, or a stack ``(frames, ny, nx)`` when
        ``allow_stack`` is True.
    pixel_size : float or None
        Pixel size (Å/px), 0.01–10.
    allow_stack : bool
        Accept 3-D stacks of frames.
    source : str
        Name of the image used in messages (a path or "image").

    Returns
    -------
    ndarray of float32
        C-contiguous copy (or view) of ``array``.

    Raises
    ------
    AtomcountError
        See :func:`check_array` and :func:`check_pixel_size`.

    Examples
    --------
    >>> check_image(np.ones((64, 64)), 0.25).dtype
    dtype('float32')
    """
    out = check_array(array, allow_stack=allow_stack, source=source)
    check_pixel_size(pixel_size, source)
    return out


def square_pixel_size(pixel_size_yx: tuple[float, float], source: str) -> float:
    """Return the pixel size (Å/px) of square pixels, refusing anisotropic ones.

    Parameters
    ----------
    pixel_size_yx : tuple of float
        Pixel sizes along y and x (Å/px).
    source : str
        Name of the image used in messages.

    Raises
    ------
    AtomcountError
        If the y and x pixel sizes differ by more than 1 %.
    """
    py, px = (float(v) for v in pixel_size_yx)
    if abs(py - px) > SQUARE_TOLERANCE * max(abs(py), abs(px)):
        raise AtomcountError(f"{source} has non-square pixels ({px:.4g} Å in x, {py:.4g} Å in y); "
                             "atomcount needs square pixels: resample the image first")
    return px


def rgb_to_grey(rgb: np.ndarray, source: str) -> np.ndarray:
    """Turn an ``(..., 3)`` RGB or ``(..., 4)`` RGBA image into grey levels.

    An image whose three colour channels are identical (a grey image saved as
    colour) is returned unchanged as one channel; otherwise the BT.601 luma is
    returned with a :class:`UserWarning`, since colour rendering loses the
    detector's intensity scale. The alpha channel is ignored.

    Parameters
    ----------
    rgb : ndarray
        Colour image, channels last.
    source : str
        Name of the image used in the warning.

    Returns
    -------
    ndarray
        Grey image ``rgb.shape[:-1]`` (float64 after conversion, else the input dtype).
    """
    channels = rgb[..., :3]
    first = channels[..., 0]
    if np.array_equal(first, channels[..., 1]) and np.array_equal(first, channels[..., 2]):
        return first
    warnings.warn(f"{source} is a colour image; converted to grey with BT.601 luma weights. "
                  "Use the raw detector image for quantitative counting.", UserWarning, stacklevel=3)
    return channels.astype(np.float64) @ _LUMA
