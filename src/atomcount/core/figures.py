"""Figures people look at: count overlays, 3-D column views, simulated image panels."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def overlay(image: np.ndarray, x_px: np.ndarray, y_px: np.ndarray, height: np.ndarray, path: str | Path,
            title: str = "", pixel_size: float | None = None, flagged: np.ndarray | None = None,
            vmax: float | None = None) -> Path:
    """Image in grey with each column's height written at its position.

    ``x_px`` runs along the array's second axis, ``y_px`` along its first. Columns where
    ``flagged`` is true (e.g. low confidence) get a red ring. ``vmax`` is the count at the
    top of the colour scale (15 by default, the HRTEM network's largest class).
    """
    plt = _plt()
    n0, n1 = image.shape
    fig, ax = plt.subplots(figsize=(8, 8 * n0 / n1))
    ax.imshow(image, cmap="gray", origin="upper")
    sc = ax.scatter(x_px, y_px, c=height, cmap="viridis", vmin=1, vmax=15 if vmax is None else vmax, s=14, alpha=0.6)
    if flagged is not None and np.any(flagged):
        f = np.asarray(flagged, bool)
        ax.scatter(np.asarray(x_px)[f], np.asarray(y_px)[f], s=60, facecolors="none", edgecolors="red",
                   linewidths=0.8, label="low confidence")
        ax.legend(loc="upper right", fontsize=7)
    if len(height) <= 600:
        for x, y, h in zip(x_px, y_px, height):
            ax.text(x, y, str(int(h)), color="white", fontsize=6, ha="center", va="center")
    fig.colorbar(sc, ax=ax, label="atoms per column", shrink=0.8)
    if pixel_size:
        ax.set_xlabel(f"x (px, {pixel_size:.4g} Å/px)")
    ax.set_title(title or f"{len(height)} columns, {int(np.sum(height))} atoms")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def columns_3d(x_A: np.ndarray, y_A: np.ndarray, height: np.ndarray, path: str | Path) -> Path:
    """3-D bar view of the column heights (paper 000 Figs. 6–8 style)."""
    plt = _plt()
    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    if len(height):
        cmap = plt.get_cmap("viridis")
        ax.bar3d(x_A, y_A, np.zeros_like(x_A, dtype=float), 1.0, 1.0, height, color=cmap(np.asarray(height) / 15.0),
                 shade=True)
        if len(height) > 3:
            ax.tricontourf(x_A, y_A, height, zdir="z", offset=0, cmap="viridis", alpha=0.3)
    ax.set_xlabel("x (Å)")
    ax.set_ylabel("y (Å)")
    ax.set_zlabel("atoms")
    ax.set_title(f"{len(height)} columns, {int(np.sum(height))} atoms")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def image_panel(images: list[np.ndarray], titles: list[str], path: str | Path, ncols: int = 4,
                cmap: str = "gray") -> Path:
    """A grid of images with titles (arrays shown with axis 0 vertical)."""
    plt = _plt()
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 3.2 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, t in zip(axes.ravel(), images, titles):
        ax.imshow(img, cmap=cmap)
        ax.set_title(t, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def particle_view(positions: np.ndarray, path: str | Path, title: str = "") -> Path:
    """3-D scatter of atom positions (Å), coloured by height along the beam (z)."""
    plt = _plt()
    fig = plt.figure(figsize=(6, 6))
    ax = fig.add_subplot(projection="3d")
    ax.scatter(*positions.T, c=positions[:, 2], cmap="YlOrBr", s=18, edgecolors="k", linewidths=0.2)
    ax.set_box_aspect(np.maximum(np.ptp(positions, axis=0), 1.0))
    ax.set_xlabel("x (Å)")
    ax.set_ylabel("y (Å)")
    ax.set_zlabel("z, beam (Å)")
    ax.set_title(title or f"{len(positions)} atoms")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
