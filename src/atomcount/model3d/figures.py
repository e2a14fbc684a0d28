"""3-D figure of a model: atoms as spheres coloured by depth or by occupancy probability."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms

from atomcount.core.errors import AtomcountError


def model_figure(atoms: Atoms, path: str | Path, *, colour: str = "depth", title: str = "") -> Path:
    """Draw the model as shaded spheres in 3-D and save a PNG.

    Parameters
    ----------
    atoms : ase.Atoms
        Model from :func:`atomcount.model3d.model_3d` (beam along z).
    path : str or Path
        Output PNG.
    colour : {"depth", "probability"}
        Colour by z (Å) or by the per-atom occupancy probability.
    title : str
        Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if colour not in ("depth", "probability"):
        raise AtomcountError(f"colour must be 'depth' or 'probability', not {colour!r}")
    pos = atoms.positions
    if colour == "probability":
        values = atoms.arrays.get("probability", np.ones(len(atoms)))
        cmap, label, vmin, vmax = "viridis", "occupancy probability", 0.0, 1.0
    else:
        values = pos[:, 2]
        cmap, label, vmin, vmax = "coolwarm", "z along the beam (Å)", None, None
    fig = plt.figure(figsize=(5.5, 4.6), dpi=110)
    ax = fig.add_subplot(projection="3d")
    ax.view_init(elev=25, azim=-60)
    # draw back to front so that nearer spheres cover farther ones
    view = np.array([np.cos(np.deg2rad(-60)), np.sin(np.deg2rad(-60)), np.tan(np.deg2rad(25))])
    order = np.argsort(pos @ view)
    sc = ax.scatter(*pos[order].T, c=np.asarray(values)[order], cmap=cmap, vmin=vmin, vmax=vmax,
                    s=max(8.0, 3000.0 / len(atoms) ** 0.75), edgecolors="k", linewidths=0.2, depthshade=False)
    ax.set_xlabel("x (Å)")
    ax.set_ylabel("y (Å)")
    ax.set_zlabel("z (Å)")
    span = np.ptp(pos, axis=0).max() / 2 + 1
    centre = (pos.max(axis=0) + pos.min(axis=0)) / 2
    for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre):
        setter(c - span, c + span)
    fig.colorbar(sc, ax=ax, shrink=0.6, label=label)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
