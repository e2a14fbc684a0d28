"""Accuracy of a model on held-out particles, and its sensitivity to defocus and dose."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from atomcount.hrtem.analysis.readout import MIN_CLUSTER
from atomcount.hrtem.evaluation.testset import build_test_images, score_images
from atomcount.hrtem.microscope import ImagingRanges


def accuracy_report(model, entries: list, n_images: int, seed: int = 2024, device: str = "cpu",
                    progress: bool = True, min_cluster: int = MIN_CLUSTER) -> dict:
    """Both heads' scores on ``n_images`` images over the full Table 1 ranges.

    ``min_cluster`` is passed to the read-out (0 keeps every detected peak).

    Returns
    -------
    dict
        ``{"regression": HeightScores, "classification": HeightScores}``.
    """
    return score_images(model, build_test_images(entries, n_images, seed), device=device, progress=progress,
                        min_cluster=min_cluster)


def sensitivity_grid(model, entries: list, defocus: list[float], dose: list[float], images_per_cell: int,
                     seed: int = 7, device: str = "cpu", progress: bool = True) -> dict:
    """Exact accuracy of both heads on a defocus × dose grid (paper Fig. 4 / S5).

    All other parameters are drawn from the Table 1 ranges; each cell uses the same
    particles (cycled) so that cells differ only by defocus and dose.

    Returns
    -------
    dict
        ``{"regression": array (n_defocus, n_dose), "classification": …}``.
    """
    from tqdm.auto import tqdm

    out = {h: np.zeros((len(defocus), len(dose))) for h in ("regression", "classification")}
    base = ImagingRanges()
    bar = tqdm(total=len(defocus) * len(dose), disable=not progress, desc="sensitivity", unit="cell")
    for i, df in enumerate(defocus):
        for j, d in enumerate(dose):
            ranges = replace(base, defocus=(df, df), dose=(d, d))
            imgs = build_test_images(entries, images_per_cell, seed=seed, ranges=ranges)
            s = score_images(model, imgs, device=device)
            for h in out:
                out[h][i, j] = s[h].accuracy
            bar.update()
    bar.close()
    return out
