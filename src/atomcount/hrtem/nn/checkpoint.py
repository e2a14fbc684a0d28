"""Saving and loading networks with their configuration and model card data."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from atomcount.core.errors import AtomcountError
from atomcount.hrtem.nn.fcn import ColumnFCN


def half_state(model: ColumnFCN) -> dict:
    """The model's state with its floating-point entries rounded to float16 (integer entries as they are)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}


def round_to_half(model: ColumnFCN) -> ColumnFCN:
    """Round the model's weights, in place, to what a float16 file of them holds (then evaluate that)."""
    model.load_state_dict(half_state(model))
    return model


def save_model(path: str | Path, model: ColumnFCN, meta: dict, *, half: bool = False) -> None:
    """Write weights + constructor config + metadata atomically.

    Parameters
    ----------
    half : bool
        Store the floating-point weights as float16 (half the bytes; :func:`load_model` restores
        float32, so what is loaded equals :func:`round_to_half` of the model); recorded in the
        metadata as ``"weights": "float16"``.
    """
    path = Path(path)
    if half:
        meta = dict(meta, weights="float16")
    tmp = path.with_suffix(path.suffix + ".tmp")
    state = half_state(model) if half else model.state_dict()
    torch.save({"config": model.config(), "state_dict": state, "meta": meta}, tmp)
    os.replace(tmp, path)


def load_model(path: str | Path, device: str = "cpu") -> tuple[ColumnFCN, dict]:
    """Load a model written by :func:`save_model` (or a training checkpoint), in eval mode.

    A height calibration stored in the metadata is attached as ``model.height_calibration``
    (None without one), the per-head confidence calibrations as
    ``model.confidence_calibration`` (a dict, empty without them); the read-out applies them.
    """
    from atomcount.hrtem.analysis.calibration import ConfidenceCalibration, HeightCalibration

    try:
        blob = torch.load(path, map_location=device, weights_only=False)
        model = ColumnFCN(**blob["config"])
        model.load_state_dict(blob["state_dict"] if "state_dict" in blob else blob["model"])
    except (OSError, KeyError, RuntimeError) as exc:
        raise AtomcountError(f"cannot load model {path}: {exc}") from None
    model.to(device).eval()
    meta = blob.get("meta", {})
    model.height_calibration = HeightCalibration.from_meta(meta)
    model.confidence_calibration = ConfidenceCalibration.from_meta(meta)
    return model, meta
