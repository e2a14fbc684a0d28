"""Monte Carlo uncertainty of a PPISCS–thickness curve from setting uncertainties (paper 001 Fig. 11)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from atomcount.stem.ppiscs.applications.fit import FREE


@dataclass
class CurveUncertainty:
    """Mean and standard deviation (Å², per atom count) over the samples, and the time taken (s)."""

    mean: np.ndarray
    std: np.ndarray
    samples: np.ndarray
    seconds: float


def monte_carlo(settings: dict, sigmas: dict, n_samples: int = 1000, seed: int = 0,
                weights: str | os.PathLike | None = None) -> CurveUncertainty:
    """Curves for settings drawn uniformly within ±σ of ``settings`` (as in the paper), in one batch.

    Parameters
    ----------
    settings : dict
        element, zone, voltage_kv, convergence_mrad, inner_mrad, outer_mrad, rmsd.
    sigmas : dict
        Half-widths (same units) of the uniform draws, for keys of :data:`~.fit.FREE`
        (others, e.g. Cs and defocus, do not enter the PPISCS).
    n_samples : int
    seed : int
    weights : path, optional
    """
    from atomcount.stem.ppiscs.surrogate import predict, predict_batch

    predict(**settings, weights=weights)  # the nominal setting must be in the domain
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    draws = {k: settings[k] + sigmas.get(k, 0.0) * rng.uniform(-1, 1, n_samples) if k in FREE else settings[k]
             for k in settings}
    curves = predict_batch(**draws, weights=weights, extrapolate=True, check=False)
    n = 61 if str(settings["zone"]) == "100" else 87
    curves = curves[:, :n]
    seconds = time.perf_counter() - t0
    return CurveUncertainty(curves.mean(0), curves.std(0, ddof=1), curves, seconds)
