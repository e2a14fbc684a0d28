"""Running the FCN on a whole image: padding, batching-free inference, read-out."""
from __future__ import annotations

import numpy as np

from atomcount.analysis.readout import ColumnEstimate, columns_from_classes, columns_from_regression


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
        out = model(torch.from_numpy(np.ascontiguousarray(x, np.float32))[None, None].to(device))
        h = out["regression"][0, 0, :n0, :n1].cpu().numpy()
        p = torch.softmax(out["classification"][0], dim=0)[:, :n0, :n1].cpu().numpy()
    return h, p


def predict_columns(model, image: np.ndarray, sampling: float, heads=("regression", "classification"),
                    device: str = "cpu") -> dict[str, ColumnEstimate]:
    """Columns found by each requested head in a normalised image at ``sampling`` Å/px."""
    h, p = predict_maps(model, image, device)
    out = {}
    if "regression" in heads:
        out["regression"] = columns_from_regression(h, sampling)
    if "classification" in heads:
        out["classification"] = columns_from_classes(p, sampling)
    return out
