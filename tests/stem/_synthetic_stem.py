"""Synthetic ADF-STEM images for the counting tests: equal-width Gaussians of known volumes."""
from __future__ import annotations

import numpy as np

from atomcount.stem.cross_sections import gaussian_image

#: Au [100]-like values (Å², 1…8 atoms) — any increasing sequence would do for these tests.
VOLUMES = np.array([0.0163, 0.0363, 0.0604, 0.0873, 0.1137, 0.1415, 0.1658, 0.1914])


def lattice_image(*, side: int = 10, spacing: float = 2.04, pixel_size: float = 0.2, width: float = 0.45,
                  max_count: int = 5, dose: float | None = 1e5, background: float = 0.0, seed: int = 0):
    """A square lattice of columns with random counts 1…max_count, Poisson noise at ``dose`` e⁻/Å².

    Returns the image (units of the beam), true positions (row, col) px and counts.
    """
    rng = np.random.default_rng(seed)
    a = spacing / pixel_size
    grid = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), -1).reshape(-1, 2)
    pos = grid * a + 2 * a + rng.uniform(-0.3, 0.3, grid.shape)
    n = int(np.ceil((side - 1) * a + 4 * a))
    counts = rng.integers(1, max_count + 1, len(pos))
    image = gaussian_image((n, n), pos, VOLUMES[counts - 1], pixel_size=pixel_size, width=width,
                           background=background)
    if dose is not None:
        electrons = dose * pixel_size**2
        image = rng.poisson(image * electrons) / electrons
    return image, pos, counts


def match(found: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest found position for each true one, and the distance (px)."""
    from scipy.spatial import cKDTree

    d, i = cKDTree(found).query(truth)
    return i, d
