"""``model_3d``: a 3-D atomic model of a particle from its column counts."""
from __future__ import annotations

import numpy as np
from ase import Atoms

from atomcount.core.crystals import get_element, get_zone_axis
from atomcount.core.errors import AtomcountError
from atomcount.model3d.build import place_columns
from atomcount.model3d.energy import potential_for
from atomcount.model3d.ensemble import site_occupancy
from atomcount.model3d.lattice import build_sites
from atomcount.model3d.sites import index_columns, zone_lattice
from atomcount.model3d.table import read_columns

#: Sites beyond the tallest column on each side of the mid-plane.
_MARGIN_SITES = 2


def model_3d(
    columns,
    element: str,
    zone: str | tuple[int, int, int],
    *,
    support: bool = False,
    relax: bool = True,
    ensemble: int = 16,
    sweeps: int = 400,
    seed: int = 0,
    tolerance: float = 0.35,
) -> Atoms:
    """Build a 3-D atomic model whose columns hold the measured numbers of atoms.

    Every column's atoms sit on the fcc sites of that column (the lattice is indexed
    from the column positions). They start centred on a common mid-plane, or on a
    flat support plane, and Monte Carlo annealing then slides whole columns along
    the beam, one atom from one end to the other, to lower an embedded-atom lattice
    energy (:mod:`atomcount.model3d.energy`); the counts never change.

    Parameters
    ----------
    columns : str, Path, dict or result object
        The ``columns.csv`` of ``atomcount count`` (x_A, y_A, height, confidence) or of
        ``atomcount stem count`` (x_A, y_A, count, probability), a dict of such
        arrays, or a result with ``table()``.
    element : str
        fcc metal, e.g. ``"Au"``.
    zone : str or tuple of int
        Zone axis along the beam: ``"100"``, ``"110"`` or ``"111"``.
    support : bool
        Start on, and keep above, a flat plane perpendicular to the beam (a particle
        resting on its support).
    relax : bool
        Run the annealing; ``False`` returns the initial placement.
    ensemble : int
        Models drawn from the count probabilities for the per-atom occupancy
        probability (0: none; ignored when the table has no probabilities).
    sweeps : int
        Annealing move attempts per column.
    seed : int
        Seed of the annealing and of the ensemble draws.
    tolerance : float
        Largest distance of a column from the fitted lattice, as a fraction of the
        shortest column spacing.

    Returns
    -------
    ase.Atoms
        Atoms with x, y (Å) in the frame of the input and z (Å) along the beam
        (mid-plane z = 0). Per-atom arrays ``probability`` (occupancy probability over
        the ensemble; 1 without one) and ``column`` (row of the input table, after
        dropping zero counts); ``info`` holds the energies (eV), the potential and
        the settings.

    Raises
    ------
    AtomcountError
        For an empty or malformed table, negative or non-integer counts, columns that
        do not form the lattice of ``zone``, or an unsupported element or zone.

    Examples
    --------
    >>> atoms = model_3d({"x_A": [0.0, 2.039], "y_A": [0.0, 0.0], "height": [3, 4]},
    ...                  "Au", "100", ensemble=0)
    >>> len(atoms)
    7
    """
    el = get_element(element)
    hkl = get_zone_axis(zone)
    zone_name = "[" + "".join(map(str, hkl)) + "]"
    if int(ensemble) < 0 or int(sweeps) < 0:
        raise AtomcountError("ensemble and sweeps must not be negative")
    data = read_columns(columns)
    lattice = zone_lattice(el, hkl)
    indexed = index_columns(data.xy, lattice, zone_name=zone_name, tolerance=tolerance)
    sites = build_sites(indexed, lattice, half_range=int(data.count.max()) + _MARGIN_SITES)
    potential = potential_for(el.symbol)
    table = potential.table()
    settings = dict(support=support, relax=relax, sweeps=int(sweeps))
    best = place_columns(sites, table, data.count, seed=seed, **settings)
    occupancy = best.occupied.astype(float)
    members = int(ensemble) if data.probability is not None else 0
    if members:
        occupancy, _ = site_occupancy(sites, table, data.count, data.probability,
                                      members=members, seed=seed, **settings)
    chosen = np.flatnonzero(best.occupied)
    atoms = Atoms(el.symbol + str(len(chosen)), positions=sites.positions[chosen])
    atoms.set_array("probability", occupancy[chosen])
    atoms.set_array("column", sites.column[chosen].astype(int))
    atoms.info.update({
        "element": el.symbol, "zone": zone_name, "support": bool(support), "relaxed": bool(relax),
        "energy_initial_eV": best.initial_energy, "energy_eV": best.energy,
        "potential": potential.source, "ensemble": members, "sweeps": int(sweeps), "seed": int(seed),
        "lattice_residual_max_A": float(indexed.residual.max()),
    })
    return atoms
