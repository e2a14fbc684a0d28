"""Test set, errors and figures (paper 001 Figs. 4–8) of a PPISCS surrogate.

The test set never overlaps training: for every library entry it draws convergence
angles uniformly in 10…35.5 mrad away from the 0.2-mrad training grid (≥ 0.02 mrad off)
and detectors with a separate random stream; entries held out at training time are tested
at the same draws. Ground truth is the library itself
(:meth:`atomcount.stem.ppiscs.library.LibraryEntry.ppiscs`), not the training table.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atomcount.stem.ppiscs.surrogate.features import N_ATOMS, normalised_l1, sample_detectors


@dataclass
class TestSet:
    """Held-out curves: settings per curve and the library's PPISCS (C, 87; NaN past the thickness)."""

    entry: np.ndarray
    element: np.ndarray
    zone: np.ndarray
    kv: np.ndarray
    rmsd: np.ndarray
    alpha: np.ndarray
    inner: np.ndarray
    outer: np.ndarray
    truth: np.ndarray

    def __len__(self) -> int:
        return len(self.alpha)


def make_test_set(n_alpha: int = 12, n_detectors: int = 20, seed: int = 2024,
                  library: str | os.PathLike | None = None, names: list[str] | None = None,
                  slicing_correction: bool = False) -> TestSet:
    """``n_alpha`` × ``n_detectors`` held-out curves per library entry (all, or those in ``names``).

    Every entry draws from its own random stream (seeded by ``seed`` and its name), so an
    entry's test curves do not change when the library grows. With ``slicing_correction`` the
    truth is the corrected library (the shipped table), as a surrogate trained on it sees it.
    """
    from atomcount.stem.ppiscs.slicing_correction import load_correction

    from atomcount.stem.ppiscs.library import list_entries, read_entry

    correction = load_correction() if slicing_correction else None
    rows: dict[str, list] = {k: [] for k in TestSet.__dataclass_fields__}
    for d in list_entries(library):
        if names is not None and Path(d["path"]).stem not in names:
            continue
        e = read_entry(d["path"])
        if correction is not None:
            e = correction.apply(e)
        rng = np.random.default_rng([seed, e.entry.seed])
        alphas: list[float] = []
        while len(alphas) < n_alpha:
            a = rng.uniform(10.0, 35.5)
            if abs(a / 0.2 - round(a / 0.2)) * 0.2 >= 0.02:
                alphas.append(a)
        for a in alphas:
            inner, outer = sample_detectors(rng, (n_detectors,))
            for t0, t1 in zip(inner, outer):
                y = np.full(87, np.nan)
                y[: e.n_atoms] = e.ppiscs(a, t0, t1)
                for k, v in (("entry", e.entry.name), ("element", e.entry.element), ("zone", e.entry.zone),
                             ("kv", e.entry.voltage), ("rmsd", e.entry.rmsd), ("alpha", a), ("inner", t0),
                             ("outer", t1), ("truth", y)):
                    rows[k].append(v)
    return TestSet(**{k: np.asarray(v) for k, v in rows.items()})


def errors(weights: str | os.PathLike | None, test: TestSet) -> np.ndarray:
    """Normalised L1 error (paper Eq. 2) of every test curve."""
    from atomcount.stem.ppiscs.surrogate import predict_batch

    pred = predict_batch(test.element, test.zone, test.kv, test.alpha, test.inner, test.outer, test.rmsd,
                         weights=weights, extrapolate=True, check=False)
    n = np.array([N_ATOMS[z] for z in test.zone])
    return normalised_l1(np.nan_to_num(pred), np.nan_to_num(test.truth), n)


def additivity_error(weights: str | os.PathLike | None, test: TestSet, seed: int = 7) -> float:
    """max |P(θ0,θm) + P(θm,θe) − P(θ0,θe)| / max P(θ0,θe) over the test settings, θm uniform inside."""
    from atomcount.stem.ppiscs.surrogate import predict_batch

    mid = np.random.default_rng(seed).uniform(test.inner, test.outer)
    args = (test.element, test.zone, test.kv, test.alpha)
    whole = predict_batch(*args, test.inner, test.outer, test.rmsd, weights=weights, extrapolate=True, check=False)
    a = predict_batch(*args, test.inner, mid, test.rmsd, weights=weights, extrapolate=True, check=False)
    b = predict_batch(*args, mid, test.outer, test.rmsd, weights=weights, extrapolate=True, check=False)
    return float(np.nanmax(np.abs(a + b - whole) / np.nanmax(whole, -1, keepdims=True)))


def plot_histograms(err: np.ndarray, test: TestSet, path: str | os.PathLike, held: list[str] = ()) -> None:
    """Fig. 4-like histograms of the normalised L1 error per entry (element, zone, kV); ``held``: entries held out of training."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(set(test.entry.tolist()))
    cols = min(len(names), 8)  # a grid: one row of 47 panels cannot be read
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.3 * rows), squeeze=False, sharex=True)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    bins = np.logspace(np.log10(max(err.min(), 1e-6)), np.log10(err.max()), 30)
    for ax, name in zip(axes.flat, names):
        e = err[test.entry == name]
        ax.hist(e, bins=bins)
        tag = " (held out)" if name in held else ""
        ax.set(xscale="log", title=f"{name}{tag}\nmean {e.mean():.1e}, max {e.max():.1e}")
        ax.title.set_fontsize(7)
        ax.tick_params(labelsize=6)
    fig.supxlabel("normalised L1 error (curves per bin)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_best_worst(weights: str | os.PathLike | None, err: np.ndarray, test: TestSet, path: str | os.PathLike,
                    held: list[str] = ()) -> None:
    """Figs. 5–8-like: best, median and worst test curve of each entry against the simulation (``held``: held-out entries)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from atomcount.stem.ppiscs.surrogate import predict

    names = sorted(set(test.entry.tolist()))
    fig, axes = plt.subplots(len(names), 3, figsize=(12, 3.2 * len(names)), squeeze=False)
    for row, name in zip(axes, names):
        idx = np.flatnonzero(test.entry == name)
        order = idx[np.argsort(err[idx])]
        for ax, (label, i) in zip(row, (("best", order[0]), ("median", order[len(order) // 2]), ("worst", order[-1]))):
            n = N_ATOMS[test.zone[i]]
            p = predict(test.element[i], test.zone[i], test.kv[i], test.alpha[i], test.inner[i], test.outer[i],
                        test.rmsd[i], weights=weights, extrapolate=True)
            x = np.arange(1, n + 1)
            ax.plot(x, test.truth[i, :n], "o", ms=3, label="library (simulation)")
            ax.plot(x, p, "-", label="surrogate")
            ax.set(xlabel="atoms in column", ylabel="PPISCS (Å²)",
                   title=f"{name}{' (held out)' if name in held else ''} {label}: L1n {err[i]:.1e}\nα={test.alpha[i]:.2f}, {test.inner[i]:.1f}–{test.outer[i]:.1f} mrad")
            ax.title.set_fontsize(8)
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
