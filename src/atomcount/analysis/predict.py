"""Running the FCN on a whole image: padding, batching-free inference, read-out."""
from __future__ import annotations

import numpy as np

from atomcount.analysis.readout import (
    MIN_CLUSTER,
    ColumnEstimate,
    columns_from_classes,
    columns_from_regression,
    drop_small_clusters,
)


def predict_maps(model, image: np.ndarray, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Height map and class probabilities for a normalised image of any size.

    The image is padded (reflect) to sides divisible by 8 and the output cropped back.

    Returns
    -------
    height : ndarray (H, W)
    probabilities : ndarray (16, H, W)
    """
    import torch

    n0, n1 = image.shape
    p0, p1 = (-n0) % 8, (-n1) % 8
    x = np.pad(image, ((0, p0), (0, p1)), mode="reflect") if (p0 or p1) else image
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(x, np.float32))[None, None].to(device)
        out = model(x.contiguous(memory_format=torch.channels_last) if device == "cpu" else x)
        h = out["regression"][0, 0, :n0, :n1].cpu().numpy()
        p = torch.softmax(out["classification"][0], dim=0)[:, :n0, :n1].cpu().numpy()
    return h, p


def predict_columns(model, image: np.ndarray, sampling: float, heads=("regression", "classification"),
                    device: str = "cpu", min_cluster: int = MIN_CLUSTER) -> dict[str, ColumnEstimate]:
    """Columns found by each requested head in a normalised image at ``sampling`` Å/px.

    Groups of fewer than ``min_cluster`` linked columns are dropped
    (:func:`atomcount.analysis.readout.drop_small_clusters`; 0 keeps all). The regression
    heights pass through ``model.height_calibration`` and the confidences through
    ``model.confidence_calibration`` when the model has them.
    """
    h, p = predict_maps(model, image, device)
    out = {}
    if "regression" in heads:
        est = columns_from_regression(h, sampling, calibration=getattr(model, "height_calibration", None))
        out["regression"] = calibrate_confidence(model, "regression", drop_small_clusters(est, sampling, min_cluster))
    if "classification" in heads:
        est = drop_small_clusters(columns_from_classes(p, sampling), sampling, min_cluster)
        out["classification"] = calibrate_confidence(model, "classification", est)
    return out


def calibrate_confidence(model, head: str, est: ColumnEstimate) -> ColumnEstimate:
    """Replace raw confidences by calibrated P(height exact) when the model carries a calibration."""
    cal = getattr(model, "confidence_calibration", {}).get(head)
    if cal is None:
        return est
    return ColumnEstimate(est.xy_px, est.height, est.height_float, cal(est.confidence))
