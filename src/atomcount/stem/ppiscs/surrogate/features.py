"""Inputs, angular basis and training data of the PPISCS surrogates (NumPy only).

* :func:`encode` maps settings (Z, zone, kV, α, rmsd) to the network's input vector.
* :data:`NODES` and :func:`hat_cumulative` define the non-negative angular basis of the
  additive network: the density over scattering angle is a non-negative combination of
  hat functions on :data:`NODES` (mrad), so the PPISCS of a detector [θ0, θe) is a
  non-negative combination of ``hat_cumulative(θe) - hat_cumulative(θ0)``.
* :data:`EDGE_NODES` are hats placed relative to the convergence angle α: below ≈ 40 mrad a
  detector edge can meet the edge of the bright-field disc, where the density falls by two
  decades within a few mrad of α. Hats on θ − α hold that step still while α moves, which
  hats on θ alone can only follow by re-weighting (:func:`detector_basis` joins both).
  Measured (100 000 steps, same seed): no gain below 40 mrad (mean L1n 4.2e-3 vs 3.9e-3),
  so the shipped recipe leaves them out; the Bragg discs, whose edges θ_B ± α move with α
  too, are the likelier limit there.
* :class:`CurveTable` holds, for every library entry and convergence angle of a grid,
  the cumulative PPISCS over 1-mrad rings, from which the PPISCS of any detector is read
  exactly as :func:`atomcount.stem.ppiscs.library.ring_integral` forms it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from atomcount.stem.ppiscs.slicing_correction import SlicingCorrection

#: Most atoms per column over both zone axes (output size of the networks).
N_OUT = 87
#: Atoms per column of each zone axis.
N_ATOMS = {"100": 61, "110": 87}
#: Smallest inner angle and largest outer angle (mrad), smallest detector width (mrad).
THETA_MIN, THETA_MAX, MIN_WIDTH = 18.0, 250.0, 10.0
#: Nodes (mrad) of the hat functions of the angular density: 1 mrad up to 50 mrad where
#: Bragg discs make the density structured, 2 mrad to 90 mrad, 4 mrad beyond.
NODES = np.concatenate([np.arange(18.0, 50.0, 1.0), np.arange(50.0, 90.0, 2.0), np.arange(90.0, 250.01, 4.0)])

#: Offsets (mrad) from α of the hats that follow the bright-field disc edge (α − 4 … α + 8).
EDGE_NODES = np.arange(-4.0, 8.0 + 1e-9, 0.5)
#: α (mrad, middle of the trained range) at which the edge hats' fixed fall-off prior is evaluated.
EDGE_PRIOR_ALPHA = 22.75

# Scales of the encoded inputs: the design space of the library (paper 001, Table 1).
_Z_RANGE = (13.0, 82.0)
_KV_RANGE = (60.0, 300.0)
_RMSD_RANGE = (0.075, 0.15)
_ALPHA_RANGE = (0.0, 35.5)
_CS_RANGE = (-1.0, 1.0)  # µm
_DF_RANGE = (-100.0, 100.0)  # Å


def _unit(v: np.ndarray, lo_hi: tuple[float, float]) -> np.ndarray:
    lo, hi = lo_hi
    return 2.0 * (np.asarray(v, dtype=np.float64) - lo) / (hi - lo) - 1.0


def encode(z: np.ndarray, zone: np.ndarray, kv: np.ndarray, alpha: np.ndarray, rmsd: np.ndarray) -> np.ndarray:
    """Input vectors (B, 6) of the additive network: [Z, kV, rmsd, α, zone 100, zone 110], scaled to about ±1.

    Parameters
    ----------
    z : array (B,)
        Atomic numbers.
    zone : array of str (B,)
        "100" or "110".
    kv, alpha, rmsd : array (B,)
        Voltage (kV), convergence semi-angle (mrad), rmsd (Å).
    """
    zone = np.asarray(zone).astype(str)
    return np.stack(
        [_unit(z, _Z_RANGE), _unit(kv, _KV_RANGE), _unit(rmsd, _RMSD_RANGE), _unit(alpha, _ALPHA_RANGE),
         (zone == "100").astype(np.float64), (zone == "110").astype(np.float64)], axis=-1)


def alpha_harmonics(x: np.ndarray, n: int) -> np.ndarray:
    """:func:`encode`'s inputs (B, 6) followed by sin and cos of π·2^k·α' for k < ``n`` (α' the scaled α):
    (B, 6 + 2n).

    The bright-field disc's edge moves with α and the density near it changes sharply; a smooth MLP of
    α alone learns such detail slowly (spectral bias), these harmonics (periods down to 35.5/2^(n−1)
    mrad) give it directly. ``n = 0`` returns ``x`` unchanged.
    """
    if n == 0:
        return x
    phase = x[:, 3:4] * (np.pi * 2.0 ** np.arange(n))
    return np.concatenate([x, np.sin(phase), np.cos(phase)], axis=-1)


#: Atomic numbers of paper 001's elements (Al, Ni, Cu, Pd, Ag, Pt, Au, Pb): one indicator each in
#: :func:`network_inputs` with ``elements=True``.
ELEMENT_Z = (13, 28, 29, 46, 47, 78, 79, 82)


def network_inputs(x: np.ndarray, harmonics: int = 0, elements: bool = False) -> np.ndarray:
    """What the additive network reads: :func:`encode`'s (B, 6), the α harmonics (:func:`alpha_harmonics`)
    and, with ``elements``, one indicator per element of :data:`ELEMENT_Z` (B, 8; all zero for any other Z).

    The scaled Z alone makes the trunk tell eight elements apart through one smooth input; the
    indicators give each element weights of its own in the first layer (an embedding), while Z, kV
    and rmsd stay continuous. (B, 6 + 2·harmonics + 8·elements).
    """
    out = alpha_harmonics(x, harmonics)
    if not elements:
        return out
    z = np.rint((x[:, 0] + 1.0) / 2.0 * (_Z_RANGE[1] - _Z_RANGE[0]) + _Z_RANGE[0])
    return np.concatenate([out, (z[:, None] == np.asarray(ELEMENT_Z)).astype(out.dtype)], axis=-1)


def encode_full(z, zone, kv, alpha, rmsd, inner, outer, cs_um, defocus) -> np.ndarray:
    """Input vectors (B, 11) of the paper's network: :func:`encode` plus θ0, θe (mrad), Cs (µm), C10 (Å)."""
    theta = (THETA_MIN, THETA_MAX)
    return np.concatenate(
        [encode(z, zone, kv, alpha, rmsd),
         np.stack([_unit(inner, theta), _unit(outer, theta), _unit(cs_um, _CS_RANGE), _unit(defocus, _DF_RANGE)], -1)],
        axis=-1)


def hat_coefficients(nodes: np.ndarray = NODES) -> tuple[np.ndarray, ...]:
    """(left, right, rise width, 1/(2·rise width), fall width, 1/(2·fall width)) of the hats on ``nodes``; 0 for absent halves."""
    c = np.asarray(nodes, dtype=np.float64)
    left = np.concatenate([[c[0]], c[:-1]])
    right = np.concatenate([c[1:], [c[-1]]])
    wl, wr = c - left, right - c
    inv = lambda w: np.divide(0.5, w, out=np.zeros_like(w), where=w > 0)  # noqa: E731
    return left, right, wl, inv(wl), wr, inv(wr)


_COEF = hat_coefficients()
_COEF_EDGE = hat_coefficients(EDGE_NODES)


def hat_cumulative(theta: np.ndarray, nodes: np.ndarray = NODES) -> np.ndarray:
    """∫ from ``nodes[0]`` to θ of every hat function on ``nodes`` (mrad): shape theta.shape + (M,).

    Hat m rises linearly from ``nodes[m-1]`` to 1 at ``nodes[m]`` and falls to 0 at
    ``nodes[m+1]`` (the end hats are halves). The result is non-decreasing in θ, so
    differences over any detector are non-negative and add up over contiguous detectors.
    """
    left, right, wl, il, wr, ir = (_COEF if nodes is NODES else _COEF_EDGE if nodes is EDGE_NODES
                                   else hat_coefficients(nodes))
    t = np.asarray(theta, dtype=np.float64)[..., None]
    rise = np.minimum(np.maximum(t - left, 0.0), wl) ** 2 * il
    d = np.minimum(np.maximum(right - t, 0.0), wr)
    return rise + (wr**2 - d**2) * ir


def detector_basis(inner: np.ndarray, outer: np.ndarray, alpha: np.ndarray | None = None,
                   nodes: np.ndarray = NODES, edge_nodes: np.ndarray | None = None) -> np.ndarray:
    """Integrals over detectors [inner, outer) (mrad, arrays of one shape) of every hat: shape inner.shape + (M [+ M_edge],).

    The first M columns are hats on θ (``nodes``); with ``edge_nodes`` the next ones are
    hats on θ − α (``alpha`` broadcast with ``inner``). Every column is non-negative and
    additive over contiguous detectors.
    """
    edges = np.stack([np.asarray(outer, np.float64), np.asarray(inner, np.float64)])
    h = hat_cumulative(edges, nodes)
    b = h[0] - h[1]
    if edge_nodes is None:
        return b
    h = hat_cumulative(edges - np.asarray(alpha, np.float64), edge_nodes)
    return np.concatenate([b, h[0] - h[1]], -1)


def sample_detectors(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Random detectors: θ0 uniform in [18, 240], θe uniform in [θ0 + 10, 250] (mrad)."""
    inner = rng.uniform(THETA_MIN, THETA_MAX - MIN_WIDTH, shape)
    outer = rng.uniform(inner + MIN_WIDTH, THETA_MAX)
    return inner, outer


#: Spacing (mrad) of the angles at which :class:`CurveTable` stores cumulative PPISCS.
GRID_STEP = 0.25


def cumulative_operator(n_rings: int, ring_width: float, cell_mrad: tuple, step: float = GRID_STEP) -> np.ndarray:
    """Matrix (G, n_rings) mapping ring intensities to the cumulative PPISCS at θ = 0, step, …, n_rings·ring_width.

    Row g is exactly what :func:`atomcount.stem.ppiscs.library.ring_integral` (with the
    entry's :func:`~atomcount.stem.ppiscs.library.tilt_shifts`) integrates from 0 to θ_g.
    """
    from atomcount.stem.ppiscs.library import tilt_shifts

    theta = np.arange(0.0, n_rings * ring_width + step / 2, step)
    shifts = tilt_shifts(tuple(cell_mrad))
    edges = np.arange(n_rings) * ring_width
    out = np.zeros((len(theta), n_rings))
    for chunk in np.array_split(np.arange(len(theta)), max(1, len(theta) // 64)):
        x = np.clip(theta[chunk, None] - shifts[None, :], 0.0, n_rings * ring_width)  # (g, s)
        out[chunk] = np.clip((x[..., None] - edges) / ring_width, 0.0, 1.0).mean(1)
    return out


@dataclass
class CurveTable:
    """Cumulative PPISCS of library entries on a grid of convergence angles.

    Attributes
    ----------
    cum : ndarray (S, 87, G)
        ∫ from 0 to θ_g = g·step of the PPISCS density (Å²) for S settings and 1…87 atoms
        (zeros beyond the zone's thickness), as the library forms it.
    z, kv, rmsd, alpha : ndarray (S,)
        Settings (Z, kV, Å, mrad).
    zone : ndarray of str (S,)
    entry : ndarray of str (S,)
        Library entry name of each setting.
    step : float
        Grid spacing (mrad); between grid points the cumulative is interpolated linearly.
    """

    cum: np.ndarray
    z: np.ndarray
    zone: np.ndarray
    kv: np.ndarray
    rmsd: np.ndarray
    alpha: np.ndarray
    entry: np.ndarray
    step: float = GRID_STEP

    def __len__(self) -> int:
        return len(self.alpha)

    def inputs(self) -> np.ndarray:
        """:func:`encode` of every setting (S, 6)."""
        return encode(self.z, self.zone, self.kv, self.alpha, self.rmsd)

    def n_atoms(self) -> np.ndarray:
        """Atoms per column of every setting (S,)."""
        return np.array([N_ATOMS[z] for z in self.zone])

    def ppiscs(self, idx: np.ndarray, inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
        """PPISCS (Å², shape inner.shape + (87,)) of settings ``idx`` (broadcast with inner) for detectors [inner, outer) (mrad)."""
        return self._at(idx, outer) - self._at(idx, inner)

    def _at(self, idx: np.ndarray, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=np.float64)
        idx = np.broadcast_to(idx, theta.shape)
        x = theta / self.step
        j = np.clip(np.floor(x).astype(int), 0, self.cum.shape[-1] - 2)
        f = (x - j)[..., None]
        lo = self.cum[idx, :, j]
        hi = self.cum[idx, :, j + 1]
        return lo * (1 - f) + hi * f


def build_table(alphas: np.ndarray, library: str | os.PathLike | None = None, names: list[str] | None = None,
                dtype: type = np.float64, correction: SlicingCorrection | None = None) -> CurveTable:
    """:class:`CurveTable` of the library entries (all, or those in ``names``) at convergence angles ``alphas``
    (mrad); with ``correction`` every entry is first corrected to converged slicing (an entry without a row in
    its table is refused)."""
    from atomcount.stem.ppiscs.library import list_entries, read_entry

    rows: dict[str, list] = {k: [] for k in ("cum", "z", "zone", "kv", "rmsd", "alpha", "entry")}
    for d in list_entries(library):
        if names is not None and Path(d["path"]).stem not in names:
            continue
        e = read_entry(d["path"])
        if correction is not None:
            e = correction.apply(e)
        op = cumulative_operator(e.intensity.shape[2], float(e.attrs["ring_width"]), tuple(e.attrs["cell_mrad"]))
        scale = float(e.attrs["cell_area"]) / int(e.attrs["columns"])
        for a in alphas:
            cum = np.zeros((N_OUT, op.shape[0]), dtype=dtype)
            cum[: e.n_atoms] = scale * e.weighted_rings(float(a)) @ op.T
            rows["cum"].append(cum)
            rows["z"].append(int(e.attrs["Z"]))
            rows["zone"].append(e.entry.zone)
            rows["kv"].append(e.entry.voltage)
            rows["rmsd"].append(e.entry.rmsd)
            rows["alpha"].append(float(a))
            rows["entry"].append(e.entry.name)
    if not rows["cum"]:
        raise ValueError("no library entries selected")
    return CurveTable(np.stack(rows["cum"]), *(np.asarray(rows[k]) for k in ("z", "zone", "kv", "rmsd", "alpha", "entry")))


def normalised_l1(pred: np.ndarray, true: np.ndarray, n_atoms: np.ndarray) -> np.ndarray:
    """Paper 001 Eq. 2 per curve: mean over 1…N atoms of |pred − true| / max(true)."""
    mask = np.arange(pred.shape[-1]) < np.asarray(n_atoms)[..., None]
    scale = np.where(mask, true, 0).max(-1)
    return (np.abs(pred - true) * mask).sum(-1) / mask.sum(-1) / scale
