"""Fit unknown settings to a measured PPISCS–thickness curve (paper 001 Fig. 10).

Nelder–Mead minimises the mean absolute difference between the measured curve and the
surrogate over the free settings (α, θ0, θe and, where the surrogate was trained on
several, rmsd), each kept within ``n_sigma`` standard deviations of its measured value:
the simplex works on unbounded variables u mapped to ``x0 + n_sigma·σ·tanh(u)``.
"""
from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from atomcount.core.errors import AtomcountError

#: Settings that can be fitted, as keyword names of :func:`atomcount.stem.ppiscs.surrogate.predict`.
FREE = ("convergence_mrad", "inner_mrad", "outer_mrad", "rmsd")


@dataclass
class FitResult:
    """Fitted settings and curve.

    Attributes
    ----------
    params : dict
        Fitted values of the free settings (mrad, Å).
    curve : ndarray (N,)
        Surrogate PPISCS (Å²) at the fitted settings.
    cost : float
        Mean |measured − fitted| (Å²).
    seconds : float
        Wall time of the optimisation.
    evaluations : int
        Surrogate evaluations.
    """

    params: dict
    curve: np.ndarray
    cost: float
    seconds: float
    evaluations: int


def fit_settings(measured: np.ndarray, fixed: dict, start: dict, sigmas: dict, n_sigma: float = 3.0,
                 weights: str | os.PathLike | None = None) -> FitResult:
    """Fit the settings in ``start`` to ``measured`` within ``n_sigma``·``sigmas`` of their start values.

    Parameters
    ----------
    measured : array (N,)
        PPISCS (Å²) of 1…N atoms (N ≤ the zone's thickness).
    fixed : dict
        element, zone, voltage_kv and any of :data:`FREE` not fitted.
    start : dict
        Measured values of the settings to fit (keys from :data:`FREE`).
    sigmas : dict
        Their standard deviations (same units); a zero fixes the setting.
    n_sigma : float
        Half-width of the search box in standard deviations.
    weights : path, optional
        Surrogate weights.
    """
    from atomcount.core.crystals import get_element
    from atomcount.stem.ppiscs.surrogate import load, predict

    y = np.asarray(measured, float)
    if y.ndim != 1 or not len(y) or not np.all(np.isfinite(y)):
        raise AtomcountError("measured curve must be a non-empty 1-D array of finite PPISCS values")
    unknown = set(start) - set(FREE)
    if unknown:
        raise AtomcountError(f"cannot fit {', '.join(sorted(unknown))}; fittable: {', '.join(FREE)}")
    names = [k for k in start if sigmas.get(k, 0) > 0]
    x0 = np.array([start[k] for k in names], float)
    half = n_sigma * np.array([sigmas[k] for k in names], float)
    base = {**fixed, **{k: v for k, v in start.items() if k not in names}}
    n = len(y)

    def settings(u: np.ndarray) -> dict:
        return {**base, **dict(zip(names, x0 + half * np.tanh(u)))}

    first = predict(**settings(np.zeros(len(names))), weights=weights)  # refuses a start outside the domain
    if len(y) > len(first):
        raise AtomcountError(f"measured curve has {len(y)} values; the zone axis has {len(first)} atoms per column")
    model = load(weights)
    z = get_element(base["element"]).Z
    count = 0

    def cost(u: np.ndarray) -> float:
        # the search box is the caller's uncertainty, so no domain check per evaluation
        nonlocal count
        count += 1
        s = settings(u)
        c = model.curves(z, s["zone"], s["voltage_kv"], s["convergence_mrad"], s["rmsd"], s["inner_mrad"], s["outer_mrad"])
        return float(np.abs(c[0, :n] - y).mean())

    t0 = time.perf_counter()
    # initial simplex ≈ ±σ/2 around the measured values (u = 0), not SciPy's 5 % of u = 0
    simplex = np.vstack([np.zeros(len(names)), 0.5 / n_sigma * np.eye(len(names))])
    res = minimize(cost, np.zeros(len(names)), method="Nelder-Mead",
                   options={"xatol": 1e-4, "fatol": 1e-8 * float(np.abs(y).max()), "maxfev": 2000,
                            "initial_simplex": simplex})
    seconds = time.perf_counter() - t0
    best = settings(res.x)
    params = {k: float(best[k]) for k in names}
    return FitResult(params, predict(**best, weights=weights, extrapolate=True)[:n], float(res.fun), seconds, count)


def read_curve(path: str | os.PathLike) -> np.ndarray:
    """Read a measured curve: CSV with a header ``atoms,ppiscs_A2`` and rows 1, 2, … (Å²).

    Raises
    ------
    AtomcountError
        With the file and line for a missing file, missing columns, non-numbers,
        NaN/negative values or atom counts that are not 1, 2, 3, … in order.
    """
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise AtomcountError(f"cannot read measured curve {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise AtomcountError(f"{path} is not a text CSV file") from None
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows or [c.strip() for c in rows[0][:2]] != ["atoms", "ppiscs_A2"]:
        raise AtomcountError(f"{path}: expected a header 'atoms,ppiscs_A2' (as written by atomcount ppiscs curve --csv)")
    values = []
    for line, r in enumerate(rows[1:], start=2):
        if len(r) < 2:
            raise AtomcountError(f"{path}:{line}: expected two columns 'atoms,ppiscs_A2', got {','.join(r)!r}")
        try:
            n, v = int(r[0]), float(r[1])
        except ValueError:
            raise AtomcountError(f"{path}:{line}: not numbers: {','.join(r)!r}") from None
        if n != len(values) + 1:
            raise AtomcountError(f"{path}:{line}: atoms must run 1, 2, 3, …; got {n} after {len(values)}")
        if not np.isfinite(v) or v <= 0:
            raise AtomcountError(f"{path}:{line}: PPISCS must be a positive finite number of Å², got {r[1]!r}")
        values.append(v)
    if len(values) < 2:
        raise AtomcountError(f"{path}: need at least two atom counts, found {len(values)}")
    return np.array(values)


#: The case of paper 001 Fig. 10 (Ag [001], 300 kV; rmsd 0.085 Å, the library's value, for the
#: paper's 0.092 Å): true settings, the "measured" ones (the paper's offsets) and their
#: standard deviations. The measured curve is the library's simulation at the truth.
SYNTHETIC_CASE = {
    "fixed": {"element": "Ag", "zone": "100", "voltage_kv": 300.0, "rmsd": 0.085},
    "truth": {"convergence_mrad": 21.0, "inner_mrad": 46.0, "outer_mrad": 190.0},
    "measured": {"convergence_mrad": 20.78, "inner_mrad": 45.09, "outer_mrad": 189.56},
    "sigmas": {"convergence_mrad": 0.25, "inner_mrad": 1.0, "outer_mrad": 1.0},
}


def synthetic_fit(weights: str | os.PathLike | None = None) -> tuple[FitResult, np.ndarray]:
    """Fit :data:`SYNTHETIC_CASE`; returns the result and the measured (library) curve."""
    from atomcount.stem.ppiscs.curve import ppiscs_curve

    c = SYNTHETIC_CASE
    f = c["fixed"]
    t = c["truth"]
    measured = ppiscs_curve(f["element"], f["zone"], f["voltage_kv"], t["convergence_mrad"], t["inner_mrad"],
                            t["outer_mrad"], f["rmsd"], source="library")
    return fit_settings(measured, f, c["measured"], c["sigmas"], weights=weights), measured
