"""Real-time PPISCS surrogate: NumPy inference of a network trained on the library.

:func:`predict` is the ``source="surrogate"`` of :func:`atomcount.stem.ppiscs.curve.ppiscs_curve`;
:func:`predict_batch` evaluates many settings at once. Neither imports torch. Inputs
outside the trained domain (recorded with the weights; continuous in kV and rmsd between
neighbouring simulated settings of an element and zone axis) raise :class:`AtomcountError`,
or, with ``extrapolate=True``, give a :class:`SurrogateDomainWarning`.
"""
from __future__ import annotations

import os
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from atomcount.core.crystals import get_element
from atomcount.core.errors import AtomcountError
from atomcount.stem.ppiscs.simulation import VOLTAGES

#: Shipped weights (``make ppiscs-surrogate`` / the command in the model card).
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[3] / "models" / "ppiscs_surrogate.npz"
N_ATOMS = {"100": 61, "110": 87}


class SurrogateDomainWarning(UserWarning):
    """A prediction was asked for outside the surrogate's trained domain."""


@lru_cache(maxsize=4)
def load(path: str | os.PathLike | None = None):
    """The :class:`~.numpy_infer.Surrogate` at ``path`` (default: the shipped weights), cached."""
    from atomcount.stem.ppiscs.surrogate.numpy_infer import Surrogate

    p = Path(path) if path is not None else Path(os.environ.get("ATOMCOUNT_PPISCS_SURROGATE", DEFAULT_WEIGHTS))
    if not p.exists():
        raise AtomcountError(f"no surrogate weights at {p}; train them with python -m atomcount.stem.ppiscs.surrogate.train")
    return Surrogate(p)


def domain_problems(model, z: int, zone: str, kv: float, alpha: float, rmsd: float, inner: float, outer: float) -> list[str]:
    """Reasons (empty if none) why a setting lies outside ``model``'s trained domain."""
    dom = model.meta["domain"]
    out = []
    mine = model.settings_by_zone.get((int(z), str(zone)), [])
    voltages = sorted({kv for kv, _ in mine})
    if not mine:
        have = ", ".join(sorted({f"Z={s[0]} [{s[1]}]" for s in dom["settings"]}))
        out.append(f"Z={z} [{zone}] was not in the training library (trained: {have})")
    elif not voltages[0] - 1e-6 <= kv <= voltages[-1] + 1e-6:
        out.append(f"{kv:g} kV outside the trained {voltages[0]:g}…{voltages[-1]:g} kV for Z={z} [{zone}]")
    else:
        # the simulated voltages on either side of kv must be neighbours on the library's voltage grid
        # and both hold rmsd within their range
        lo = max(v for v in voltages if v <= kv + 1e-6)
        hi = min(v for v in voltages if v >= kv - 1e-6)
        skipped = [v for v in VOLTAGES if lo + 1e-6 < v < hi - 1e-6]
        if skipped:
            out.append(f"{kv:g} kV lies between the trained {lo:g} and {hi:g} kV for Z={z} [{zone}], but the "
                       f"library's {', '.join(f'{v:g}' for v in skipped)} kV between them were not trained")
        for v in {lo, hi}:
            r = [r for kv, r in mine if abs(kv - v) < 1e-6]
            if not min(r) - 1e-4 <= rmsd <= max(r) + 1e-4:
                out.append(f"rmsd {rmsd:g} Å outside the trained {min(r):g}…{max(r):g} Å "
                           f"for Z={z} [{zone}] {v:g} kV")
    lo, hi = dom["alpha_mrad"]
    if not lo <= alpha <= hi:
        out.append(f"convergence angle {alpha:g} mrad outside the trained {lo:g}…{hi:g} mrad")
    t0, t1 = dom["theta_mrad"]
    if not (t0 <= inner and outer <= t1 and outer - inner >= dom["min_width_mrad"] - 1e-9):
        out.append(f"detector {inner:g}–{outer:g} mrad outside the trained {t0:g}…{t1:g} mrad "
                   f"with width ≥ {dom['min_width_mrad']:g} mrad")
    return out


def _check(model, z, zone, kv, alpha, rmsd, inner, outer, extrapolate: bool) -> None:
    problems = domain_problems(model, z, zone, kv, alpha, rmsd, inner, outer)
    if problems:
        msg = "surrogate outside its trained domain: " + "; ".join(problems)
        if not extrapolate:
            raise AtomcountError(msg + " (pass extrapolate=True to predict anyway, or use source='library')")
        warnings.warn(msg, SurrogateDomainWarning, stacklevel=3)


def predict(element: str, zone: str, voltage_kv: float, convergence_mrad: float, inner_mrad: float,
            outer_mrad: float, rmsd: float, weights: str | os.PathLike | None = None,
            extrapolate: bool = False) -> np.ndarray:
    """PPISCS (Å² per column) of 1…N atoms predicted by the surrogate.

    Parameters
    ----------
    element, zone : str
        E.g. "Au", "100".
    voltage_kv : float
        kV.
    convergence_mrad, inner_mrad, outer_mrad : float
        α, θ0, θe (mrad).
    rmsd : float
        Å per direction.
    weights : path, optional
        Surrogate ``.npz`` (default: the shipped one).
    extrapolate : bool
        Predict outside the trained domain with a warning instead of refusing.

    Returns
    -------
    ndarray (N,)
        N = 61 for [100], 87 for [110].
    """
    model = load(weights)
    z = get_element(element).Z
    _check(model, z, zone, voltage_kv, convergence_mrad, rmsd, inner_mrad, outer_mrad, extrapolate)
    return model.curves(z, zone, voltage_kv, convergence_mrad, rmsd, inner_mrad, outer_mrad)[0, : N_ATOMS[zone]]


def predict_batch(element, zone, voltage_kv, convergence_mrad, inner_mrad, outer_mrad, rmsd,
                  weights: str | os.PathLike | None = None, extrapolate: bool = False, check: bool = True) -> np.ndarray:
    """PPISCS (B, 87), Å², for many settings at once (array-likes broadcast together).

    Entries past a zone's thickness (61 atoms for [100]) are NaN. ``check=False`` skips
    the per-setting domain check (the caller guarantees it, e.g. a sampler clipped to the domain).
    """
    model = load(weights)
    zone = np.asarray(zone).astype(str)
    if zone.ndim == 0:
        zone = zone[None]
    zs = np.vectorize(lambda e: get_element(str(e)).Z)(np.atleast_1d(element))
    args = np.broadcast_arrays(zs, zone, *(np.atleast_1d(np.asarray(v, float)) for v in
                                           (voltage_kv, convergence_mrad, rmsd, inner_mrad, outer_mrad)))
    if check:
        for z, zo, kv, a, r, t0, t1 in zip(*(x.ravel() for x in args)):
            _check(model, int(z), str(zo), float(kv), float(a), float(r), float(t0), float(t1), extrapolate)
    shape = args[0].shape
    y = model.curves(*(x.ravel() for x in args))
    y[(np.arange(87) >= np.where(args[1].ravel() == "100", 61, 87)[:, None])] = np.nan
    return y.reshape(shape + (87,))
