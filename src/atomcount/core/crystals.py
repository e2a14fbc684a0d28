"""The fcc metals covered by atomcount: atomic number, lattice constant, surface energies.

Lattice constants are room-temperature experimental values (Å; Kittel, *Introduction
to Solid State Physics*, 8th ed., Table 1.4/ Wyckoff). Surface energies (J/m²) of the
low-index facets are the DFT (PBE) values of Tran et al., *Sci. Data* 3, 160080 (2016),
rounded to 0.01 J/m²; only their ratios matter for a Wulff shape, and every particle
perturbs them at random (:mod:`atomcount.core.particles`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atomcount.core.errors import AtomcountError

SURFACE_ENERGY_SOURCE = "Tran et al., Sci. Data 3, 160080 (2016), PBE, J/m^2"


@dataclass(frozen=True)
class Element:
    """An fcc metal.

    Attributes
    ----------
    symbol : str
        Chemical symbol.
    Z : int
        Atomic number.
    a : float
        Cubic lattice constant (Å).
    surface_energies : dict
        Miller index -> surface energy (J/m²), see :data:`SURFACE_ENERGY_SOURCE`.
    """

    symbol: str
    Z: int
    a: float
    surface_energies: dict

    @property
    def nearest_neighbour(self) -> float:
        """Nearest-neighbour distance a/√2 (Å)."""
        return self.a / np.sqrt(2.0)


ELEMENTS: dict[str, Element] = {
    e.symbol: e
    for e in [
        Element("Al", 13, 4.0495, {(1, 1, 1): 0.77, (1, 0, 0): 0.91, (1, 1, 0): 0.98}),
        Element("Ni", 28, 3.524, {(1, 1, 1): 1.92, (1, 0, 0): 2.21, (1, 1, 0): 2.29}),
        Element("Cu", 29, 3.615, {(1, 1, 1): 1.34, (1, 0, 0): 1.47, (1, 1, 0): 1.56}),
        Element("Pd", 46, 3.891, {(1, 1, 1): 1.36, (1, 0, 0): 1.52, (1, 1, 0): 1.57}),
        Element("Ag", 47, 4.086, {(1, 1, 1): 0.76, (1, 0, 0): 0.82, (1, 1, 0): 0.87}),
        Element("Pt", 78, 3.924, {(1, 1, 1): 1.49, (1, 0, 0): 1.86, (1, 1, 0): 1.87}),
        Element("Au", 79, 4.078, {(1, 1, 1): 0.71, (1, 0, 0): 0.86, (1, 1, 0): 0.83}),
        Element("Pb", 82, 4.950, {(1, 1, 1): 0.26, (1, 0, 0): 0.28, (1, 1, 0): 0.33}),
    ]
}

#: Zone axes supported by the column ground truth (any [hkl] works; these are tested).
ZONE_AXES: dict[str, tuple[int, int, int]] = {
    "100": (1, 0, 0),
    "110": (1, 1, 0),
    "111": (1, 1, 1),
    "211": (2, 1, 1),
}


def get_element(symbol: str) -> Element:
    """Return the :class:`Element` for ``symbol``.

    Raises
    ------
    AtomcountError
        If the element is not one of the supported fcc metals.

    Examples
    --------
    >>> get_element("Au").Z
    79
    """
    try:
        return ELEMENTS[symbol]
    except KeyError:
        raise AtomcountError(
            f"unknown element {symbol!r}; supported: {', '.join(ELEMENTS)}"
        ) from None


def get_zone_axis(zone: str | tuple[int, int, int]) -> tuple[int, int, int]:
    """Parse a zone axis given as ``"110"``, ``"[110]"`` or ``(1, 1, 0)``.

    Examples
    --------
    >>> get_zone_axis("[110]")
    (1, 1, 0)
    """
    if isinstance(zone, str):
        key = zone.strip("[]<> ")
        if key not in ZONE_AXES:
            raise AtomcountError(f"unknown zone axis {zone!r}; supported: {', '.join(ZONE_AXES)}")
        return ZONE_AXES[key]
    hkl = tuple(int(v) for v in zone)
    if len(hkl) != 3 or not any(hkl):
        raise AtomcountError(f"zone axis must be three integers, not all zero: {zone!r}")
    return hkl  # type: ignore[return-value]


def column_repeat(element: Element, zone: tuple[int, int, int]) -> float:
    """Distance between consecutive atoms in a column along ``zone`` (Å).

    The shortest fcc translation along the reduced [hkl] is either ½[hkl] (when it
    has exactly two half-integer components) or [hkl] itself.

    Examples
    --------
    >>> round(column_repeat(get_element("Au"), (1, 1, 0)), 3)
    2.884
    """
    hkl = np.asarray(zone, dtype=float)
    hkl = hkl / np.gcd.reduce(np.asarray(zone))
    for n in (0.5, 1.0):
        v = n * hkl
        # fcc translations: integer vectors, or vectors with exactly two half-integer parts
        frac = np.mod(v, 1.0)
        halves = np.isclose(frac, 0.5)
        if np.all(np.isclose(frac, 0.0) | halves) and halves.sum() in (0, 2):
            return float(element.a * np.linalg.norm(v))
    raise AssertionError("unreachable: n=1 is always an fcc translation")


def plane_spacing(element: Element, zone: tuple[int, int, int]) -> float:
    """Distance between consecutive atomic planes perpendicular to ``zone`` (Å).

    The multislice puts whole planes in the middle of slices; this is their period.

    Examples
    --------
    >>> round(plane_spacing(get_element("Au"), (1, 0, 0)), 3)
    2.039
    """
    w = np.asarray(zone, dtype=float)
    w /= np.linalg.norm(w)
    repeat = column_repeat(element, zone)
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    cells = np.stack(np.meshgrid(*[np.arange(-3, 4)] * 3, indexing="ij"), -1).reshape(-1, 3)
    sites = (cells[:, None, :] + basis[None]).reshape(-1, 3) * element.a
    heights = np.mod(sites @ w, repeat)
    heights = np.unique(np.round(heights, 6) % round(repeat, 6))
    return float(repeat / len(heights))
