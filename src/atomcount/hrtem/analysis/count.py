"""Counting atoms per column in an HRTEM image with a trained FCN.

>>> import numpy as np
>>> from atomcount.hrtem.analysis.count import count_columns
>>> result = count_columns(np.random.default_rng(0).normal(size=(128, 128)), 0.25)  # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

from atomcount.core.errors import AtomcountError
from atomcount.hrtem.analysis.focus import focus_sign
from atomcount.hrtem.analysis.readout import MIN_CLUSTER

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL = MODELS_DIR / "fcn_au_300kv.pt"
#: The faster model shipped beside the default one (``count --model fcn_au_300kv_fast``).
FAST_MODEL = MODELS_DIR / "fcn_au_300kv_fast.pt"

#: Columns whose confidence is below this are flagged (``low_confidence`` in the table,
#: a red ring in the overlay): their height is more likely wrong than right.
LOW_CONFIDENCE = 0.5

#: Pixel sizes (Å/px) the shipped networks were trained on (paper 000 Table 1).
TRAINED_SAMPLING = (0.250, 0.265)


@dataclass
class CountResult:
    """Columns counted in one image.

    Attributes
    ----------
    x_px, y_px : ndarray
        Column positions in input-image pixels: x along the array's second axis
        (columns), y along its first axis (rows).
    x_A, y_A : ndarray
        The same in Å (pixel centre of pixel 0 at 0 Å).
    height : ndarray of int
        Atoms per column.
    confidence : ndarray
        Probability that the column's height is exact: calibrated on validation particles
        when the model carries a confidence calibration (the shipped one does); otherwise
        the raw score (regression head: 1 − 2|h − round(h)|; classification head: class
        probability). Columns below :data:`LOW_CONFIDENCE` are flagged.
    pixel_size : float
        Input pixel size (Å/px).
    head : str
        ``"regression"`` or ``"classification"``.
    model : str
        Model file used.
    height_map : ndarray, optional
        Predicted height map (``keep_maps=True``).
    probabilities : ndarray, shape (n, 15), optional
        Classification head: probability of each height 1…15 per column, each row
        summing to 1 (``keep_probabilities=True``); the emissions of temporal fusion.
    focus_sign, focus_z : str, float
        What the Fresnel fringe at the particle edge says (:mod:`atomcount.hrtem.analysis.focus`).
    precision : str
        Arithmetic the network ran in (``"float32"`` or ``"bfloat16"``).
    tta : bool
        The maps were averaged over the eight symmetries of the square.
    """

    x_px: np.ndarray
    y_px: np.ndarray
    x_A: np.ndarray
    y_A: np.ndarray
    height: np.ndarray
    confidence: np.ndarray
    pixel_size: float
    head: str
    model: str
    height_map: np.ndarray | None = field(default=None, repr=False)
    probabilities: np.ndarray | None = field(default=None, repr=False)
    focus_sign: str = "unchecked"
    focus_z: float = float("nan")
    precision: str = "float32"
    tta: bool = False

    def __len__(self) -> int:
        return len(self.height)

    @property
    def total_atoms(self) -> int:
        """Sum of the column heights."""
        return int(self.height.sum())

    def table(self) -> dict[str, np.ndarray]:
        """Columns as a dict of equal-length arrays (CSV-ready)."""
        return {"x_A": self.x_A, "y_A": self.y_A, "x_px": self.x_px, "y_px": self.y_px,
                "height": self.height, "confidence": self.confidence,
                "low_confidence": (self.confidence < LOW_CONFIDENCE).astype(int)}

    def summary(self) -> dict:
        """Counts, histogram and provenance (JSON-ready)."""
        hist = np.bincount(self.height, minlength=16)[1:] if len(self) else np.zeros(15, int)
        return {"columns": len(self), "total_atoms": self.total_atoms,
                "height_histogram": {str(h + 1): int(c) for h, c in enumerate(hist) if c},
                "mean_confidence": float(self.confidence.mean()) if len(self) else None,
                "low_confidence_columns": int(np.sum(self.confidence < LOW_CONFIDENCE)),
                "pixel_size_A": self.pixel_size, "head": self.head, "model": self.model,
                "precision": self.precision, "tta": self.tta,
                "focus_sign": self.focus_sign,
                "focus_z": None if not np.isfinite(self.focus_z) else round(float(self.focus_z), 2)}


def load_counting_model(path: str | None = None, device: str = "cpu"):
    """Load (once per file version) a column-counting model: a file, a shipped model's name, or the default.

    Batch norms are folded into the convolutions (:func:`atomcount.hrtem.nn.fcn.fold_batch_norm`);
    on the CPU the weights are laid out channels-last, which the convolutions run faster
    in (:func:`atomcount.hrtem.analysis.predict.predict_maps` feeds the input the same way).
    A file rewritten since it was loaded (a model shipped in the same process) is loaded again.
    """
    p = Path(path) if path else DEFAULT_MODEL
    if not p.exists() and p.suffix == "" and (MODELS_DIR / f"{p.name}.pt").exists():
        p = MODELS_DIR / f"{p.name}.pt"  # a shipped model named without its folder
    if not p.exists():
        shipped = ", ".join(sorted(m.stem for m in MODELS_DIR.glob("fcn_*.pt")))
        raise AtomcountError(f"model file {p} not found (shipped models: {shipped}); train one with "
                             "`atomcount train` or reinstall atomcount")
    return _load_counting_model(str(p.resolve()), p.stat().st_mtime_ns, device)


@lru_cache(maxsize=4)
def _load_counting_model(path: str, mtime_ns: int, device: str):
    """:func:`load_counting_model` of one version (modification time) of a file."""
    import torch

    from atomcount.hrtem.nn.checkpoint import load_model
    from atomcount.hrtem.nn.fcn import fold_batch_norm

    model, meta = load_model(path, device)
    fold_batch_norm(model)
    if device == "cpu":
        model = model.to(memory_format=torch.channels_last)
    return model, meta


def _resample(image: np.ndarray, factor: float) -> np.ndarray:
    """Zoom by ``factor`` (new pixels per old pixel) with anti-aliasing when shrinking."""
    if abs(factor - 1.0) < 1e-6:
        return image
    if factor < 1:
        image = ndimage.gaussian_filter(image, sigma=0.5 / factor * 0.5)
    return ndimage.zoom(image, factor, order=3, mode="nearest", grid_mode=False)


def count_columns(
    image: np.ndarray,
    pixel_size: float,
    head: str = "classification",
    model: str | None = None,
    device: str = "cpu",
    keep_maps: bool = False,
    min_cluster: int = MIN_CLUSTER,
    keep_probabilities: bool = False,
    precision: str = "auto",
    tta: bool = False,
) -> CountResult:
    """Count the atoms in every column of an HRTEM image.

    Parameters
    ----------
    image : ndarray, 2-D
        HRTEM intensity (any scale; it is normalised).
    pixel_size : float
        Pixel size (Å/px). Images outside the trained 0.250–0.265 Å/px are resampled
        to 0.2575 Å/px.
    head : {"classification", "regression"}
        Which output of the network to read; the shipped model's classification head is
        the more accurate one (model card).
    model : str, optional
        Path of a model file; the shipped Au 300 kV model by default.
    device : str
        Torch device.
    keep_maps : bool
        Keep the predicted height map (at the model's pixel size) in the result.
    min_cluster : int
        Drop groups of fewer linked columns (spurious peaks in vacuum or support;
        :func:`atomcount.hrtem.analysis.readout.drop_small_clusters`); 0 keeps every peak.
    keep_probabilities : bool
        Keep the classification head's per-column height probabilities (read at the
        final column positions, whichever head gives the heights).
    precision : {"auto", "float32", "bfloat16"}
        Arithmetic of the network; ``"auto"`` is bfloat16 on CPUs with native bfloat16
        (about twice as fast; what it changes is measured in BENCHMARKS.md) and float32
        elsewhere.
    tta : bool
        Average the network's maps over the eight symmetries of the square (8× the network
        time; what it changes is measured in BENCHMARKS.md, section ``hrtem-wholeframe-tta``).

    Returns
    -------
    CountResult
    """
    from atomcount.hrtem.analysis.predict import calibrate_confidence, predict_maps, resolve_precision
    from atomcount.hrtem.analysis.readout import columns_from_classes, columns_from_regression, drop_small_clusters
    from atomcount.hrtem.imaging import normalize
    from atomcount.io import check_image

    if head not in ("regression", "classification"):
        raise AtomcountError(f"head must be 'regression' or 'classification', not {head!r}")
    precision = resolve_precision(precision, device)
    image = check_image(image, pixel_size)
    net, meta = load_counting_model(model, device)
    lo, hi = meta.get("sampling_range", TRAINED_SAMPLING)
    target = pixel_size if lo <= pixel_size <= hi else 0.5 * (lo + hi)
    factor = pixel_size / target
    work = normalize(_resample(np.asarray(image, np.float32), factor))
    if min(work.shape) < 32:
        raise AtomcountError(f"image is {image.shape[0]}×{image.shape[1]} px; at least 32×32 px at "
                             f"{target:.3f} Å/px ({32 * target:.0f} Å) is needed")
    hmap, probs = predict_maps(net, work, device, precision=precision, tta=tta)
    est = (columns_from_regression(hmap, target, calibration=getattr(net, "height_calibration", None))
           if head == "regression" else columns_from_classes(probs, target))
    est = calibrate_confidence(net, head, drop_small_clusters(est, target, min_cluster))
    # the shipped model reads underfocus only: the result says what the particle edge shows
    focus = focus_sign(work, target)
    class_p = _column_probabilities(probs, est.xy_px, target) if keep_probabilities else None
    rows = est.xy_px[:, 0] / factor
    cols = est.xy_px[:, 1] / factor
    return CountResult(
        x_px=cols, y_px=rows, x_A=cols * pixel_size, y_A=rows * pixel_size,
        height=est.height, confidence=est.confidence, pixel_size=float(pixel_size), head=head,
        model=str(model or DEFAULT_MODEL.name), height_map=hmap if keep_maps else None,
        probabilities=class_p, focus_sign=focus.sign, focus_z=focus.z, precision=precision, tta=tta,
    )


def _column_probabilities(probabilities: np.ndarray, xy_px: np.ndarray, sampling: float) -> np.ndarray:
    """Height probabilities (n, 15) at columns ``xy_px`` (px) from class maps (16, H, W).

    The same Gaussian-weighted read-out as :func:`atomcount.hrtem.analysis.readout.columns_from_classes`
    (:func:`~atomcount.hrtem.analysis.readout.class_amplitudes`), normalised over the heights 1…15
    (background excluded; uniform where every amplitude is 0).
    """
    from atomcount.hrtem.analysis.readout import class_amplitudes

    a = class_amplitudes(probabilities, xy_px, sampling)
    total = a.sum(axis=1, keepdims=True)
    return np.where(total > 0, a / np.where(total > 0, total, 1), 1.0 / a.shape[1])
