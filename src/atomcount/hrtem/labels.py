"""Training targets and their inverse: Gaussian height maps, class maps, height read-out.

Pixel convention (used across atomcount): array axis 0 is x, axis 1 is y, and pixel
``(i, j)`` is centred at ``(i·s, j·s)`` Å for a pixel size ``s``, the convention of
the Fourier-cropped image grid of :mod:`atomcount.hrtem.imaging`.

* Regression target: Σ_c h_c · G(r − r_c) with G a unit-peak Gaussian of width σ, so the
  map peaks at each column's height h_c.
* Class target (16 maps): map h ≥ 1 is Σ_{c: h_c = h} G(r − r_c); map 0 (background) is
  one minus the sum of the others. At a column centre the target is one-hot.
* Read-out (:func:`read_heights`): the paper reads the value of the peak pixel, which
  under-reads because column centres fall between pixels. Here the heights of all
  detected columns are fitted jointly by least squares with the same Gaussian shape,
  which recovers the label's heights exactly.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from atomcount.core.columns import ColumnTable
from atomcount.core.particles import MAX_HEIGHT

#: Width of the label Gaussians (Å).
SIGMA = 0.45
#: Column Gaussians farther apart than this many widths are treated as not overlapping.
GRAM_CUTOFF = 8.0
N_CLASSES = MAX_HEIGHT + 1


def _stamps(xy_px: np.ndarray, shape: tuple[int, int], sigma_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Flat pixel indices and values of unit-peak Gaussians at ``xy_px``.

    Returns
    -------
    idx : ndarray of int, shape (n, w*w)
        Flat indices into an array of ``shape`` (out-of-bounds entries point at 0).
    val : ndarray of float, shape (n, w*w)
        Gaussian values (0 where out of bounds).
    """
    r = int(np.ceil(4 * sigma_px))
    offs = np.arange(-r, r + 1)
    xy_px = np.asarray(xy_px, dtype=float).reshape(-1, 2)
    ii = np.rint(xy_px[:, :1]).astype(int) + offs  # (n, w)
    jj = np.rint(xy_px[:, 1:]).astype(int) + offs
    gi = np.exp(-((ii - xy_px[:, :1]) ** 2) / (2 * sigma_px**2)) * ((ii >= 0) & (ii < shape[0]))
    gj = np.exp(-((jj - xy_px[:, 1:]) ** 2) / (2 * sigma_px**2)) * ((jj >= 0) & (jj < shape[1]))
    w = len(offs) ** 2
    val = (gi[:, :, None] * gj[:, None, :]).reshape(len(xy_px), w)
    idx = (np.clip(ii, 0, shape[0] - 1)[:, :, None] * shape[1] + np.clip(jj, 0, shape[1] - 1)[:, None, :])
    return idx.reshape(len(xy_px), w), val


def height_map(
    columns: ColumnTable, shape: tuple[int, int], sampling: float, sigma: float = SIGMA
) -> np.ndarray:
    """Regression target: Gaussians of width ``sigma`` (Å) with peak = column height.

    Parameters
    ----------
    columns : ColumnTable
        Column positions (Å) and heights.
    shape : tuple of int
        Image shape (pixels).
    sampling : float
        Pixel size (Å/px).
    sigma : float
        Gaussian standard deviation (Å).
    """
    idx, val = _stamps(columns.xy / sampling, shape, sigma / sampling)
    n = shape[0] * shape[1]
    out = np.bincount(idx.ravel(), weights=(val * columns.height[:, None]).ravel(), minlength=n)
    return out.reshape(shape).astype(np.float32)


def class_maps(
    columns: ColumnTable, shape: tuple[int, int], sampling: float, sigma: float = SIGMA
) -> np.ndarray:
    """Classification target, shape (16, *shape): background + heights 1…15.

    Columns taller than 15 are put in class 15.
    """
    heights = np.clip(columns.height, 1, MAX_HEIGHT)
    idx, val = _stamps(columns.xy / sampling, shape, sigma / sampling)
    n = shape[0] * shape[1]
    flat = np.bincount((idx + heights[:, None] * n).ravel(), weights=val.ravel(), minlength=N_CLASSES * n)
    out = flat.reshape((N_CLASSES,) + tuple(shape)).astype(np.float32)
    fg = np.clip(out[1:].sum(axis=0), 0.0, 1.0)
    out[1:] *= (fg / np.maximum(out[1:].sum(axis=0), 1e-12))[None]
    out[0] = 1.0 - fg
    return out


def _gram(xy_px: np.ndarray, sigma_px: float) -> "scipy.sparse.csc_matrix":
    """Overlap Σ_p G_i(p) G_j(p) of unit-peak Gaussians (continuum limit, pixels), as a sparse
    matrix: pairs farther apart than :data:`GRAM_CUTOFF` widths (overlap < e⁻¹⁶ of the
    diagonal) are left out."""
    from scipy.sparse import coo_matrix

    n = len(xy_px)
    pairs = cKDTree(xy_px).query_pairs(GRAM_CUTOFF * sigma_px, output_type="ndarray").reshape(-1, 2)
    d2 = ((xy_px[pairs[:, 0]] - xy_px[pairs[:, 1]]) ** 2).sum(-1)
    off = np.pi * sigma_px**2 * np.exp(-d2 / (4 * sigma_px**2))
    rows = np.concatenate([np.arange(n), pairs[:, 0], pairs[:, 1]])
    cols = np.concatenate([np.arange(n), pairs[:, 1], pairs[:, 0]])
    vals = np.concatenate([np.full(n, np.pi * sigma_px**2), off, off])
    return coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsc()


def project_onto_columns(maps: np.ndarray, xy_px: np.ndarray, sigma_px: float) -> np.ndarray:
    """Least-squares amplitudes of column Gaussians in one or more maps.

    Solves (GᵀG) a = Gᵀ m for every map, with G the unit-peak Gaussians of width
    ``sigma_px`` centred at ``xy_px``; exact for a map that is such a sum.

    Parameters
    ----------
    maps : ndarray, shape (ny, nx) or (k, ny, nx)
        Maps to decompose (any float type; the solve is in float64).
    xy_px : ndarray, shape (n, 2)
        Column centres (pixels, sub-pixel allowed).
    sigma_px : float
        Gaussian width (pixels).

    Returns
    -------
    ndarray, shape (n,) or (n, k)
    """
    single = maps.ndim == 2
    stack = maps[None] if single else maps
    n = len(xy_px)
    if n == 0:
        return np.zeros((0,) if single else (0, stack.shape[0]))
    idx, val = _stamps(xy_px, stack.shape[1:], sigma_px)
    flat = stack.reshape(stack.shape[0], -1)
    # gather the stamps, then widen: float32 maps are not copied whole to float64
    b = np.einsum("knw,nw->nk", flat[:, idx].astype(np.float64, copy=False), val)
    # only near neighbours overlap: a sparse factorisation (a dense one per particle took
    # 0.6 s of a 1.5 s read-out of a 512² frame holding four particles)
    from scipy.sparse.linalg import splu

    a = splu(_gram(xy_px, sigma_px)).solve(np.ascontiguousarray(b))
    return a[:, 0] if single else a


def read_heights(height_map_: np.ndarray, xy_px: np.ndarray, sampling: float, sigma: float = SIGMA) -> np.ndarray:
    """Column heights read from a (predicted) regression map at given column positions.

    Parameters
    ----------
    height_map_ : ndarray
        Regression map.
    xy_px : ndarray, shape (n, 2)
        Column positions (pixels).
    sampling : float
        Pixel size (Å/px).
    sigma : float
        Width of the label Gaussians (Å).

    Returns
    -------
    ndarray of float, shape (n,)
        Continuous heights (round them for counts).
    """
    return project_onto_columns(np.asarray(height_map_, np.float64), xy_px, sigma / sampling)
