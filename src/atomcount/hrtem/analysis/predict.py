"""Running the FCN on a whole image: padding, batching-free inference, read-out.

Precision: the network was trained in float32; on CPUs with native bfloat16 arithmetic
(AVX512-BF16 or AMX) the convolutions run about twice as fast in bfloat16 autocast, and
``precision="auto"`` picks it there (BENCHMARKS.md, ``hrtem-precision``, measures what it
changes in the counts).
"""
from __future__ import annotations

import numpy as np

from atomcount.core.errors import AtomcountError

from atomcount.hrtem.analysis.readout import (
    DETECTION_THRESHOLD,
    MIN_CLUSTER,
    ColumnEstimate,
    columns_from_classes,
    columns_from_regression,
    drop_small_clusters,
)


#: Accepted values of ``precision``.
PRECISIONS = ("auto", "float32", "bfloat16")


def native_bfloat16() -> bool:
    """Whether this CPU has native bfloat16 arithmetic (AVX512-BF16 or AMX tiles)."""
    import torch

    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # older torch without the probes
        return False


def resolve_precision(precision: str, device: str = "cpu") -> str:
    """``"float32"`` or ``"bfloat16"`` for a requested precision on ``device``.

    ``"auto"`` is bfloat16 on a CPU with native bfloat16 and float32 everywhere else.
    """
    if precision not in PRECISIONS:
        raise AtomcountError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "auto":
        return "bfloat16" if device == "cpu" and native_bfloat16() else "float32"
    return precision


#: The eight symmetries of the square (rotations by k·90°, then a transpose or not), as
#: ``(k, transpose)``: the augmentations the network was trained under.
DIHEDRAL = tuple((k, t) for t in (False, True) for k in range(4))


def _dihedral(x, k: int, transpose: bool, inverse: bool = False):
    """Apply (or undo) one symmetry of the square to the last two axes of a tensor."""
    import torch

    if inverse:
        x = torch.rot90(x, -k, dims=(-2, -1))
        return x.transpose(-2, -1) if transpose else x
    x = x.transpose(-2, -1) if transpose else x
    return torch.rot90(x, k, dims=(-2, -1))


def predict_maps(model, image: np.ndarray, device: str = "cpu", *,
                 precision: str = "float32", tta: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Height map and class probabilities for a normalised image of any size.

    The image is padded (reflect) to sides divisible by the network's ``multiple`` (8, or 16
    for a stride-2 trunk) and the output cropped back.
    ``precision`` (:data:`PRECISIONS`) selects float32 or bfloat16 autocast for the
    network; the outputs are float32 either way. ``tta`` averages the maps (heights, and
    the probabilities after the softmax) over the eight symmetries of the square
    (:data:`DIHEDRAL`), each mapped back: eight forward passes.

    Returns
    -------
    height : ndarray (H, W)
    probabilities : ndarray (16, H, W)
    """
    import torch

    n0, n1 = image.shape
    m = getattr(model, "multiple", 8)
    p0, p1 = (-n0) % m, (-n1) % m
    x = np.pad(image, ((0, p0), (0, p1)), mode="reflect") if (p0 or p1) else image
    low = resolve_precision(precision, device) == "bfloat16"
    with torch.no_grad(), torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=low):
        x = torch.from_numpy(np.ascontiguousarray(x, np.float32))[None, None].to(device)
        h, p = 0.0, 0.0
        for k, t in DIHEDRAL if tta else ((0, False),):
            xt = _dihedral(x, k, t)
            out = model(xt.contiguous(memory_format=torch.channels_last) if device == "cpu" else xt.contiguous())
            h = h + _dihedral(out["regression"].float(), k, t, inverse=True)
            # over dim 1 of the 4-D map: twice as fast as over dim 0 of its channels-last slice
            p = p + _dihedral(torch.softmax(out["classification"].float(), dim=1), k, t, inverse=True)
        n = len(DIHEDRAL) if tta else 1
        h = (h[0, 0, :n0, :n1] / n).cpu().numpy()
        p = (p[0, :, :n0, :n1] / n).cpu().numpy()
    return h, p


def predict_columns(model, image: np.ndarray, sampling: float, heads=("regression", "classification"),
                    device: str = "cpu", min_cluster: int = MIN_CLUSTER, *,
                    precision: str = "float32", threshold: float | None = None,
                    tta: bool = False) -> dict[str, ColumnEstimate]:
    """Columns found by each requested head in a normalised image at ``sampling`` Å/px.

    Groups of fewer than ``min_cluster`` linked columns are dropped
    (:func:`atomcount.hrtem.analysis.readout.drop_small_clusters`; 0 keeps all). The regression
    heights pass through ``model.height_calibration`` and the confidences through
    ``model.confidence_calibration`` when the model has them. ``precision`` and ``tta`` as in
    :func:`predict_maps`; ``threshold`` replaces the classification head's detection
    threshold (foreground probability of a column's peak; the read-out's default when None).
    """
    h, p = predict_maps(model, image, device, precision=precision, tta=tta)
    out = {}
    if "regression" in heads:
        est = columns_from_regression(h, sampling, calibration=getattr(model, "height_calibration", None))
        out["regression"] = calibrate_confidence(model, "regression", drop_small_clusters(est, sampling, min_cluster))
    if "classification" in heads:
        est = columns_from_classes(p, sampling, DETECTION_THRESHOLD if threshold is None else threshold)
        est = drop_small_clusters(est, sampling, min_cluster)
        out["classification"] = calibrate_confidence(model, "classification", est)
    return out


def calibrate_confidence(model, head: str, est: ColumnEstimate) -> ColumnEstimate:
    """Replace raw confidences by calibrated P(height exact) when the model carries a calibration."""
    cal = getattr(model, "confidence_calibration", {}).get(head)
    if cal is None:
        return est
    return ColumnEstimate(est.xy_px, est.height, est.height_float, cal(est.confidence))
