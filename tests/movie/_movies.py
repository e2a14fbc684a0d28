"""Small synthetic movies: Gaussian columns on a lattice, shot noise, a slow drift."""
import numpy as np

PS = 0.25


def synthetic_movie(n_frames: int, size: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] * PS
    frames = []
    for k in range(n_frames):
        img = np.zeros((size, size))
        for x in np.arange(6, size * PS - 6, 2.88):
            for y in np.arange(6, size * PS - 6, 4.08):
                img += np.exp(-((xx - x - 0.02 * k) ** 2 + (yy - y) ** 2) / 0.5)
        frames.append(rng.poisson((2 - img.clip(0, 1)) * 500 * PS**2))
    return np.asarray(frames, np.float32)

