"""Saving and loading networks with their configuration and model card data."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from atomcount.core.errors import AtomcountError
from atomcount.hrtem.nn.fcn import ColumnFCN


def save_model(path: str | Path, model: ColumnFCN, meta: dict) -> None:
    """Write weights + constructor config + metadata atomically (float32 state dict)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"config": model.config(), "state_dict": model.state_dict(), "meta": meta}, tmp)
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
