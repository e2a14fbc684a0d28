"""Figures of ADF-STEM counting: cross-section histogram with the mixture, ICL curve.

The overlay and 3-D column view are :func:`atomcount.core.figures.overlay` and
:func:`atomcount.core.figures.columns_3d`, shared with HRTEM counting.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from atomcount.core.figures import _plt
from atomcount.stem.counting import StemCountResult


def cross_section_histogram(result: StemCountResult, path: str | Path) -> Path:
    """Histogram of the column cross-sections with the fitted mixture and the reference values.

    The mixture is drawn as its components (thin) and their sum (thick), scaled to counts
    per bin; the reference cross-sections per atom count, when used, as vertical ticks.
    """
    plt = _plt()
    x = result.cross_section
    m = result.mixture
    unit = "Å²" if result.normalisation.absolute else "relative units"
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = min(max(int(np.sqrt(len(x)) * 2), 20), 200)
    heights, edges, _ = ax.hist(x, bins=bins, color="0.75", label=f"{len(x)} columns")
    grid = np.linspace(edges[0] - 3 * m.width, edges[-1] + 3 * m.width, 1000)
    scale = len(x) * (edges[1] - edges[0])
    parts = m.weights[:, None] * np.exp(-0.5 * ((grid - m.means[:, None]) / m.width) ** 2) / (m.width * np.sqrt(2 * np.pi))
    for p in parts:
        ax.plot(grid, scale * p, color="tab:blue", lw=0.6)
    ax.plot(grid, scale * parts.sum(axis=0), color="tab:blue", lw=1.6, label=f"mixture, {m.order} components")
    if result.reference is not None:
        lib = result.reference.values
        shown = lib[lib <= grid[-1]]
        ax.vlines(shown, 0, heights.max() * 1.05, color="tab:red", lw=0.6, label="reference per atom count")
    ax.set_xlabel(f"cross-section ({unit})")
    ax.set_ylabel("columns per bin")
    ax.set_title(f"{result.method} counting: {result.total_atoms} atoms in {len(x)} columns")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def icl_curve(result: StemCountResult, path: str | Path) -> Path:
    """ICL against the number of mixture components, the local minima and the chosen order marked."""
    plt = _plt()
    icl = result.icl
    orders = np.arange(1, len(icl) + 1)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(orders, icl, "o-", ms=3)
    ax.plot([result.n_components], [icl[result.n_components - 1]], "o", color="tab:red", ms=7,
            label=f"chosen ({result.mixture.rule}): {result.n_components} components")
    lm = result.mixture.local_minima
    if len(lm):
        ax.plot(lm, icl[lm - 1], "s", mfc="none", color="0.3", ms=6, label="local minima")
    ax.set_xlabel("number of components")
    ax.set_ylabel("ICL")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
