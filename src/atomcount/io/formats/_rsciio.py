"""Turning RosettaSciIO reader output into :class:`~atomcount.io._base.RawImage`.

RosettaSciIO readers return a list of signal dicts with ``data``, ``axes`` (each
with ``scale``, ``units``, optionally ``index_in_array``), ``metadata`` and
``original_metadata``.
"""
from __future__ import annotations

import warnings

import numpy as np

from atomcount.io._base import RawImage
from atomcount.io._units import to_angstrom


def pick_signal(signals: list[dict], source: str) -> dict:
    """Return the first signal holding at least 2-D data (warn if there are several).

    Parameters
    ----------
    signals : list of dict
        RosettaSciIO signal dicts.
    source : str
        File name used in messages.
    """
    if not signals:
        raise ValueError("no data set found in the file")
    images = [s for s in signals if np.ndim(s["data"]) >= 2] or signals
    if len(images) > 1:
        titles = [s.get("metadata", {}).get("General", {}).get("title", "") for s in images]
        warnings.warn(f"{source} holds {len(images)} images {titles}; using the first", UserWarning,
                      stacklevel=4)
    return images[0]


def pixel_size_from_axes(axes: list[dict]) -> tuple[tuple[float, float] | None, str]:
    """Pixel size (Å/px) of the last two (y, x) axes of a RosettaSciIO signal.

    Parameters
    ----------
    axes : list of dict
        Axis dicts with ``scale`` and ``units``.

    Returns
    -------
    pixel_size_yx : tuple of float or None
        Pixel sizes along y and x (Å/px); None if either axis is not a length.
    note : str
        Why the pixel size is None; empty otherwise.
    """
    if len(axes) < 2:
        return None, "fewer than two calibrated axes"
    if all("index_in_array" in a for a in axes):
        axes = sorted(axes, key=lambda a: a["index_in_array"])
    sizes = []
    for axis in axes[-2:]:
        units = axis.get("units")
        value = to_angstrom(abs(float(axis.get("scale", 1.0))), units)
        if value is None:
            return None, f"axis unit {str(units or '')!r} is not a length"
        sizes.append(value)
    return (sizes[0], sizes[1]), ""


def raw_from_signal(signal: dict, metadata: dict) -> RawImage:
    """Build a :class:`RawImage` from one RosettaSciIO signal dict.

    Parameters
    ----------
    signal : dict
        RosettaSciIO signal dict.
    metadata : dict
        Acquisition metadata already extracted by the format plugin.
    """
    title = signal.get("metadata", {}).get("General", {}).get("title")
    if title:
        metadata = {"title": str(title), **metadata}
    pixel_size, note = pixel_size_from_axes(signal["axes"])
    return RawImage(data=np.asarray(signal["data"]), pixel_size_yx=pixel_size,
                    metadata=metadata, calibration_note=note)
