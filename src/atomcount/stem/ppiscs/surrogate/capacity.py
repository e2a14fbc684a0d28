"""How well can the additive surrogate's form represent the library at all? Its error floor per setting.

The additive network (:class:`~atomcount.stem.ppiscs.surrogate.nets.AdditiveNet`) writes the PPISCS of a
detector [θ0, θe) as ``b(θ0, θe) · C`` with ``b`` the integrals of hats on fixed angular nodes
(:func:`~atomcount.stem.ppiscs.surrogate.features.detector_basis`) and ``C`` (nodes × atoms) a product of
rank R. Whatever it learns, it cannot beat the best such ``C`` for each setting. This module fits that best
``C`` to one library setting directly — least squares on random detectors, each weighted by its curve's
maximum as the normalised L1 error is — truncates it to rank R in the same weighted norm (an SVD, so signed
factors: a lower bound for the network's non-negative ones), and measures the normalised L1 error
(paper 001 Eq. 2) on other random detectors. The gap between these floors and a trained network's error is
what training, not the form, leaves.
"""
from __future__ import annotations

import numpy as np

from atomcount.stem.ppiscs.surrogate.features import (
    N_ATOMS, CurveTable, detector_basis, normalised_l1, sample_detectors,
)


def representation_errors(table: CurveTable, index: int, nodes: np.ndarray, ranks: tuple[int | None, ...], *,
                          rng: np.random.Generator, n_fit: int = 6000, n_test: int = 2000) -> tuple[dict, tuple]:
    """Mean normalised L1 error of the best hat-basis representation of one setting, per rank.

    Parameters
    ----------
    table : CurveTable
        Library curves (see :func:`~atomcount.stem.ppiscs.surrogate.features.build_table`).
    index : int
        Setting (row of ``table``).
    nodes : ndarray
        Hat nodes (mrad).
    ranks : tuple of int or None
        Ranks of the truncated representation; None: the full (untruncated) fit.
    rng : numpy.random.Generator
        Draws ``n_fit`` fitting detectors, then ``n_test`` test detectors
        (:func:`~atomcount.stem.ppiscs.surrogate.features.sample_detectors`).

    Returns
    -------
    errors, test
        ``errors``: {rank: mean L1n over the test detectors}; ``test``: (inner, outer, truth) of the test
        detectors (mrad, mrad, Å² (n_test, atoms)), for comparing a network on the same curves.
    """
    n = N_ATOMS[str(table.zone[index])]
    fit_in, fit_out = sample_detectors(rng, (n_fit,))
    test_in, test_out = sample_detectors(rng, (n_test,))
    y = table.ppiscs(np.full(n_fit, index), fit_in, fit_out)[:, :n]
    truth = table.ppiscs(np.full(n_test, index), test_in, test_out)[:, :n]
    w = 1.0 / y.max(1)
    basis = detector_basis(fit_in, fit_out, nodes=nodes) * w[:, None]
    target = y * w[:, None]
    coef, *_ = np.linalg.lstsq(basis, target, rcond=None)
    # the rank-r truncation that is best in the weighted norm: SVD of R·C with basis = Q·R, atoms scaled alike
    _, r_factor = np.linalg.qr(basis)
    scale = target.max(0)
    u, s, vt = np.linalg.svd(r_factor @ coef / scale, full_matrices=False)
    test_basis = detector_basis(test_in, test_out, nodes=nodes)
    out = {}
    for rank in ranks:
        c = coef if rank is None else np.linalg.solve(r_factor, (u[:, :rank] * s[:rank]) @ vt[:rank]) * scale
        out[rank] = float(normalised_l1(test_basis @ c, truth, np.full(n_test, n)).mean())
    return out, (test_in, test_out, truth)
