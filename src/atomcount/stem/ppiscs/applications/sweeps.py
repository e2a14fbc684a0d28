"""Parameter sweeps of PPISCS–thickness curves (paper 001 Fig. 9) and their plot."""
from __future__ import annotations

import os

import numpy as np


def sweep(base: dict, name: str, values, weights: str | os.PathLike | None = None) -> np.ndarray:
    """Curves (len(values), N), Å², with the setting ``name`` of ``base`` set to each of ``values``.

    ``base`` holds the keyword arguments of :func:`atomcount.stem.ppiscs.curve.ppiscs_curve`
    (element, zone_axis, voltage_kv, convergence_mrad, inner_mrad, outer_mrad, rmsd and,
    optionally, defocus_angstrom and cs_um); every curve is checked against the domain.
    """
    from atomcount.stem.ppiscs.curve import ppiscs_curve

    return np.array([ppiscs_curve(**{**base, name: v}, source="surrogate", weights=weights) for v in values])


#: Panels of :func:`plot_sweeps`: (setting, label, values) within the shipped domain.
PANELS = (
    ("element", "element", ("Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au", "Pb")),
    ("convergence_mrad", "α (mrad)", (12.0, 17.5, 21.0, 27.0, 35.5)),
    ("inner_mrad", "θ0 (mrad)", (20.0, 40.0, 60.0, 90.0, 140.0)),
    ("outer_mrad", "θe (mrad)", (100.0, 130.0, 160.0, 200.0, 250.0)),
    ("defocus_angstrom", "C10 (Å)", (-100.0, 0.0, 100.0)),
    ("cs_um", "Cs (µm)", (-1.0, 0.0, 1.0)),
    ("voltage_kv", "HT (kV)", (200.0, 300.0)),
    ("rmsd", "rmsd (Å)", (0.075, 0.1, 0.125, 0.15)),
)


def plot_sweeps(base: dict, path: str | os.PathLike, weights: str | os.PathLike | None = None) -> None:
    """Write a Fig. 9-like PNG: one panel per setting of :data:`PANELS` that the surrogate covers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from atomcount.core.errors import AtomcountError

    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    for ax, (name, label, values) in zip(axes.ravel(), PANELS):
        shown = 0
        for v in values:
            try:
                c = sweep(base, name, [v], weights)[0]
            except AtomcountError:
                continue  # outside the trained domain
            ax.plot(np.arange(1, len(c) + 1), c, label=v if isinstance(v, str) else f"{v:g}")
            shown += 1
        ax.set(xlabel="atoms in column", ylabel="PPISCS (Å²)", title=label if shown else f"{label}: not in trained domain")
        if shown:
            ax.legend(fontsize=7, title=label, title_fontsize=7)
    fig.suptitle(f"{base['element']} [{base['zone_axis']}] — base: {base['voltage_kv']:g} kV, α={base['convergence_mrad']:g}, "
                 f"{base['inner_mrad']:g}–{base['outer_mrad']:g} mrad, rmsd {base['rmsd']:g} Å (surrogate)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
