"""On-the-fly training samples rendered from stored exit waves (paper 000 §3.3).

Every sample draws a particle, fresh microscope parameters, a crop and an augmentation,
so the network never sees the same image twice.
"""
from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

from atomcount.core.columns import ColumnTable
from atomcount.core.errors import AtomcountError
from atomcount.hrtem.dataset import read_entry
from atomcount.hrtem.imaging import ExitWave, detect, normalize, wave_intensity
from atomcount.hrtem.labels import N_CLASSES, class_maps, height_map
from atomcount.hrtem.microscope import ImagingRanges


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
    detector_mix : float
        Probability that the detector MTF acts on the intensity before the shot noise
        (white noise) rather than on the counts (:func:`atomcount.hrtem.imaging.detect`).
    """

    def __init__(
        self,
        entries: list,
        crop: int = 128,
        ranges: ImagingRanges | None = None,
        augment: bool = True,
        particle_bias: float = 0.9,
        detector_mix: float = 0.0,
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
        self.detector_mix = detector_mix

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
        # draw only when mixing, so that streams without it keep their random sequence
        mtf_on = "intensity" if self.detector_mix > 0 and rng.uniform() < self.detector_mix else "counts"
        counts = detect(wave_intensity(wave, params), params, rng, mtf_on=mtf_on)
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


_WORKER: dict = {}


def _worker_init(stream: HRTEMStream) -> None:
    _WORKER["stream"] = stream
    _WORKER["slots"] = {}


def _worker_batch(slot: str, shapes: list, seed: int, step: int, size: int, dose_floor: float | None) -> str:
    """Render one batch into the shared-memory slot ``slot`` (only its name crosses the pipe)."""
    if slot not in _WORKER["slots"]:
        _WORKER["slots"][slot] = shared_memory.SharedMemory(name=slot)
    for dst, src in zip(_slot_arrays(_WORKER["slots"][slot], shapes),
                        _WORKER["stream"].batch(step_rng(seed, step), size, dose_floor)):
        dst[...] = src
    return slot


def _slot_arrays(shm: shared_memory.SharedMemory, shapes: list) -> list[np.ndarray]:
    """float32 arrays of the given shapes laid one after another in a shared-memory block."""
    out, offset = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        out.append(np.ndarray(shape, np.float32, buffer=shm.buf, offset=offset))
        offset += 4 * n
    return out


def step_rng(seed: int, step: int) -> np.random.Generator:
    """The random generator of one training step: a batch depends only on (seed, step).

    Resuming at any step and rendering with any number of worker processes therefore
    give the same batches.
    """
    return np.random.default_rng([seed, step])


def iter_batches(stream: HRTEMStream, seed: int, steps: range, size: int,
                 dose_floor: Callable[[int], float | None], workers: int = 0) -> Iterator[tuple]:
    """Batches for the given steps, rendered in ``workers`` processes (0: in this one).

    Worker processes write each batch into a shared-memory slot, so only slot names cross
    process boundaries (pickling tens of MB per batch through a pipe limited training on a
    GPU to a few steps per second).

    Parameters
    ----------
    stream : HRTEMStream
    seed : int
        Training seed.
    steps : range
        Steps to render, in order.
    size : int
        Images per batch.
    dose_floor : callable
        Step → lowest dose (e⁻/Å²) of that step's images, or None.
    workers : int
        Rendering processes; up to ``2 * workers`` batches are prepared ahead.

    Yields
    ------
    tuple of numpy.ndarray
        As :meth:`HRTEMStream.batch`.
    """
    if workers <= 0:
        for s in steps:
            yield stream.batch(step_rng(seed, s), size, dose_floor(s))
        return
    c = stream.crop
    shapes = [(size, 1, c, c), (size, 1, c, c), (size, N_CLASSES, c, c)]
    nbytes = 4 * sum(int(np.prod(x)) for x in shapes)
    slots = [shared_memory.SharedMemory(create=True, size=nbytes) for _ in range(2 * workers)]
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    try:
        with ctx.Pool(workers, initializer=_worker_init, initargs=(stream,)) as pool:
            free = deque(slots)
            pending: deque = deque()
            todo = iter(steps)

            def submit() -> None:
                s = next(todo, None)
                if s is not None:
                    shm = free.popleft()
                    pending.append((shm, pool.apply_async(
                        _worker_batch, (shm.name, shapes, seed, s, size, dose_floor(s)))))

            for _ in range(len(slots)):
                submit()
            try:
                while pending:
                    shm, result = pending.popleft()
                    result.get()
                    batch = tuple(a.copy() for a in _slot_arrays(shm, shapes))
                    free.append(shm)
                    submit()
                    yield batch
            finally:
                # a consumer that stops early (deadline, signal) leaves batches in flight: let the workers
                # finish them before the pool is terminated, which can otherwise hang on busy workers
                for _, result in pending:
                    result.wait()
    finally:
        for shm in slots:
            shm.close()
            shm.unlink()
