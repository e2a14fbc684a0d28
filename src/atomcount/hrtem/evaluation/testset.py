"""Fixed test images rendered from held-out exit waves, and scoring a model on them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atomcount.core.columns import ColumnTable
from atomcount.hrtem.analysis.readout import MIN_CLUSTER
from atomcount.hrtem.imaging import render_image
from atomcount.hrtem.microscope import ImagingParameters, ImagingRanges


@dataclass
class TestImage:
    """One rendered test image with its truth."""

    image: np.ndarray
    columns: ColumnTable
    params: ImagingParameters
    entry: int


def build_test_images(entries: list, n_images: int, seed: int, ranges: ImagingRanges | None = None,
                      params: list[ImagingParameters] | None = None) -> list[TestImage]:
    """Render ``n_images`` full-field images, cycling through ``entries``.

    Parameters
    ----------
    entries : list
        Held-out entries (:func:`atomcount.hrtem.training.stream.load_entries`).
    n_images : int
        Number of images.
    seed : int
        Seed of the parameter draws and the noise.
    ranges : ImagingRanges, optional
        Parameter ranges (Table 1 by default); ignored where ``params`` is given.
    params : list of ImagingParameters, optional
        Explicit parameters, one per image.
    """
    rng = np.random.default_rng(seed)
    ranges = ranges or ImagingRanges()
    out = []
    for i in range(n_images):
        wave, cols, _ = entries[i % len(entries)]
        p = params[i] if params is not None else ranges.sample(rng)
        out.append(TestImage(render_image(wave, p, rng), cols, p, i % len(entries)))
    return out


def score_images(model, images: list[TestImage], device: str = "cpu", heads=("regression", "classification"),
                 progress: bool = False, min_cluster: int = MIN_CLUSTER) -> dict:
    """Score both heads of ``model`` on ``images`` (the paper's metric, 1 Å matching).

    ``min_cluster`` is passed to the read-out (0 keeps every detected peak).
    """
    from tqdm.auto import tqdm

    from atomcount.hrtem.analysis.predict import predict_columns
    from atomcount.hrtem.evaluation.metrics import HeightScores

    scores = {h: HeightScores() for h in heads}
    for t in tqdm(images, disable=not progress, desc="evaluating", unit="image"):
        est = predict_columns(model, t.image, t.params.sampling, heads=heads, device=device, min_cluster=min_cluster)
        for h in heads:
            e = est[h]
            scores[h].add(e.xy_px * t.params.sampling, e.height, t.columns.xy, t.columns.height)
    return scores
