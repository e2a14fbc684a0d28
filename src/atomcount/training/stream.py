"""On-the-fly training samples rendered from stored exit waves (paper 000 §3.3).

Every sample draws a particle, fresh microscope parameters, a crop and an augmentation,
so the network never sees the same image twice.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from atomcount.columns import ColumnTable
from atomcount.dataset import read_entry
from atomcount.errors import AtomcountError
from atomcount.hrtem import ExitWave, detect, normalize, wave_intensity
from atomcount.labels import class_maps, height_map
from atomcount.microscope import ImagingRanges


def load_entries(roots: list[str | Path], indices: list[int] | None = None) -> list[tuple[ExitWave, ColumnTable, dict]]:
    """Read the entries of one or more data set folders into memory."""
    files: list[Path] = []
    for root in roots:
        found = sorted((Path(root) / "entries").glob("p*.h5"))
        if not found:
            raise AtomcountError(f"no entries in data set {root}")
        files += found
    if indices is not None:
        files = [files[i] for i in indices]
    return [read_entry(f) for f in files]


class HRTEMStream:
    """Random labelled crops rendered from stored exit waves.

    Parameters
    ----------
    entries : list
        Output of :func:`load_entries`.
    crop : int
        Side of the square crops (pixels, divisible by 8).
    ranges : ImagingRanges
        Microscope parameter ranges (paper Table 1 by default).
    augment : bool
        Random flips/90° rotations, gamma, a linear background ramp and a contrast
        scale after normalisation.
    particle_bias : float
        Probability that a crop is centred near a random column (otherwise anywhere).
    """

    def __init__(
        self,
        entries: list,
        crop: int = 128,
        ranges: ImagingRanges | None = None,
        augment: bool = True,
        particle_bias: float = 0.9,
    ) -> None:
        if crop % 8:
            raise AtomcountError(f"crop must be divisible by 8, got {crop}")
        if not entries:
            raise AtomcountError("no training entries")
        self.entries = entries
        self.crop = crop
        self.ranges = ranges or ImagingRanges()
        self.augment = augment
        self.particle_bias = particle_bias

    def sample(self, rng: np.random.Generator, dose_floor: float | None = None) -> dict:
        """One sample: ``image`` (H,W), ``height`` (H,W), ``classes`` (16,H,W), ``params``.

        Parameters
        ----------
        rng : numpy.random.Generator
        dose_floor : float, optional
            Raise the lower dose bound (curriculum: start with clean images).
        """
        wave, cols, _ = self.entries[rng.integers(len(self.entries))]
        ranges = self.ranges
        if dose_floor is not None:
            lo, hi = ranges.dose
            ranges = replace(ranges, dose=(min(max(lo, dose_floor), hi), hi))
        params = ranges.sample(rng)
        counts = detect(wave_intensity(wave, params), params, rng)
        if self.augment:
            counts = self._photometric(counts, rng)
        image = normalize(counts)
        if self.augment:
            # the normalisation of a real frame depends on how much vacuum it holds
            image *= np.float32(np.exp(rng.normal(0.0, 0.2)))
        n = image.shape[0]
        c = self.crop
        if n < c:
            raise AtomcountError(f"image of {n} px is smaller than the crop {c}")
        s = params.sampling
        if len(cols) and rng.uniform() < self.particle_bias:
            centre = cols.xy[rng.integers(len(cols))] / s + rng.normal(0, c / 6, 2)
        else:
            centre = rng.uniform(0, n, 2)
        o = np.clip(np.round(centre - c / 2).astype(int), 0, n - c)
        image = image[o[0] : o[0] + c, o[1] : o[1] + c]
        local = ColumnTable(cols.xy - o * s, cols.height)
        inside = np.all((local.xy > -2.0) & (local.xy < c * s + 2.0), axis=1)
        local = ColumnTable(local.xy[inside], local.height[inside])
        height = height_map(local, (c, c), s)
        classes = class_maps(local, (c, c), s)
        if self.augment:
            k = int(rng.integers(4))
            flip = bool(rng.integers(2))
            image, height = (_dihedral(a, k, flip) for a in (image, height))
            classes = _dihedral(classes, k, flip)
        return {"image": image, "height": height, "classes": classes, "params": params}

    @staticmethod
    def _photometric(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Gamma and a linear background ramp, on the (non-negative) counts."""
        top = float(counts.max()) or 1.0
        out = np.clip(counts / top, 0.0, None) ** rng.uniform(0.8, 1.25)
        n = counts.shape[0]
        ramp = np.linspace(-1, 1, n, dtype=np.float32)
        g = rng.normal(0, 0.05, 2)
        return (out * (1 + g[0] * ramp[:, None] + g[1] * ramp[None, :])).astype(np.float32)

    def batch(self, rng: np.random.Generator, size: int, dose_floor: float | None = None):
        """A batch as numpy arrays: images (B,1,H,W), heights (B,1,H,W), classes (B,16,H,W)."""
        samples = [self.sample(rng, dose_floor) for _ in range(size)]
        return (
            np.stack([s["image"] for s in samples])[:, None],
            np.stack([s["height"] for s in samples])[:, None],
            np.stack([s["classes"] for s in samples]),
        )


def _dihedral(a: np.ndarray, k: int, flip: bool) -> np.ndarray:
    """Rotate the last two axes by k·90° and optionally flip; contiguous copy."""
    a = np.rot90(a, k, axes=(-2, -1))
    if flip:
        a = a[..., ::-1]
    return np.ascontiguousarray(a)
