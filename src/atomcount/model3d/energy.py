"""Embedded-atom energy of atoms on fixed fcc lattice sites.

On a rigid fcc lattice the distance between two atoms takes only the shell values
r₁ = a/√2, r₂ = a, r₃ = a√(3/2), … Any embedded-atom-type energy whose cut-off lies
between the 3rd and 4th shells is then a function of each atom's neighbour counts
(n₁, n₂, n₃) alone:

    E = Σᵢ [ F(ρᵢ) + Σₛ cₛ nₛ,ᵢ ],   ρᵢ = Σₛ fₛ nₛ,ᵢ,

with per-shell density weights fₛ (f₁ = 1), per-shell pair energies cₛ (eV, half of
the pair potential, so that each bond is counted once per atom) and an embedding
function F(ρ) = Σₖ bₖ ρ^(k/2). Effective-medium theory (ASE's ``EMT``: Al, Ni, Cu, Pd,
Ag, Pt, Au) has exactly this form on a rigid lattice, with a cut-off between the 3rd
and 4th shells; :func:`fit_emt` fits the constants to ASE EMT per-atom energies.
For Pb, which ASE EMT lacks, :func:`gupta` uses the second-moment tight-binding
(Gupta/RGL) form F(ρ) = −ξ√ρ, fₛ = exp(−2q(rₛ/r₁ − 1)), cₛ = A exp(−p(rₛ/r₁ − 1)),
truncated after the 3rd shell, with the Pb parameters of Cleri & Rosato,
*Phys. Rev. B* 48, 22 (1993).

The energy of a site configuration is a table lookup per atom (:meth:`ShellPotential.table`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial import cKDTree

from atomcount.core.crystals import get_element
from atomcount.core.errors import AtomcountError

#: Neighbours in the first three fcc shells and their distances in units of a/√2.
SHELL_SIZES = (12, 6, 24)
SHELL_RADII = (1.0, np.sqrt(2.0), np.sqrt(3.0))

#: Exponents k/2 of the embedding function F(ρ) = Σₖ bₖ ρ^(k/2) (k = 0 is a constant).
_EMBEDDING_POWERS = (0.0, 0.5, 1.5, 2.0, 3.0)

#: Cleri & Rosato (1993) second-moment parameters for Pb: A (eV), ξ (eV), p, q.
GUPTA_PB = {"A": 0.0980, "xi": 0.9140, "p": 9.576, "q": 3.648}

EMT_ELEMENTS = ("Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au")


@dataclass(frozen=True)
class ShellPotential:
    """Embedded-atom energy on the first three fcc neighbour shells.

    Attributes
    ----------
    element : str
        Chemical symbol.
    density : tuple of float
        Shell weights f₁, f₂, f₃ of the embedding density (f₁ = 1).
    pair : tuple of float
        Pair energy per neighbour in each shell, c₁, c₂, c₃ (eV).
    embedding : tuple of float
        Coefficients bₖ (eV) of F(ρ) = Σₖ bₖ ρ^pₖ for the powers in ``powers``.
    powers : tuple of float
        Exponents pₖ of the embedding function.
    source : str
        Where the constants come from.
    """

    element: str
    density: tuple
    pair: tuple
    embedding: tuple
    powers: tuple
    source: str

    def site_energy(self, counts: np.ndarray) -> np.ndarray:
        """Energy (eV) of atoms with neighbour counts ``counts`` (..., 3)."""
        counts = np.asarray(counts, dtype=float)
        rho = counts @ np.asarray(self.density)
        embed = sum(b * rho**p for b, p in zip(self.embedding, self.powers))
        return embed + counts @ np.asarray(self.pair)

    def table(self) -> np.ndarray:
        """Site energies (eV) for every (n₁, n₂, n₃), shape (13, 7, 25)."""
        grid = np.stack(np.meshgrid(*[np.arange(s + 1) for s in SHELL_SIZES], indexing="ij"), -1)
        return self.site_energy(grid)


def shell_counts(positions: np.ndarray, nearest_neighbour: float) -> np.ndarray:
    """Neighbour counts (n, 3) in the first three shells of atoms on fcc sites.

    Parameters
    ----------
    positions : ndarray, shape (n, 3)
        Atom positions on an fcc lattice (Å).
    nearest_neighbour : float
        Nearest-neighbour distance a/√2 (Å).
    """
    tree = cKDTree(positions)
    pairs = tree.query_pairs(SHELL_RADII[-1] * nearest_neighbour * 1.03, output_type="ndarray")
    dist = np.linalg.norm(positions[pairs[:, 0]] - positions[pairs[:, 1]], axis=1) / nearest_neighbour
    shell = np.argmin(np.abs(dist[:, None] - np.asarray(SHELL_RADII)[None]), axis=1)
    counts = np.zeros((len(positions), 3), dtype=int)
    for k in (0, 1):
        np.add.at(counts, (pairs[:, k], shell), 1)
    return counts


def potential_for(element: str) -> ShellPotential:
    """The lattice energy used for ``element``: fitted EMT, or Gupta/RGL for Pb."""
    if element in EMT_ELEMENTS:
        return fit_emt(element)
    if element == "Pb":
        return gupta(element, **GUPTA_PB)
    get_element(element)
    raise AtomcountError(f"no lattice energy for {element}; supported: {', '.join(EMT_ELEMENTS)}, Pb")


def gupta(element: str, *, A: float, xi: float, p: float, q: float) -> ShellPotential:
    """Second-moment (Gupta/RGL) energy on three shells.

    Parameters
    ----------
    element : str
        Chemical symbol.
    A, xi : float
        Repulsive prefactor and hopping integral (eV).
    p, q : float
        Decay exponents of the repulsion and of the hopping (dimensionless).
    """
    r = np.asarray(SHELL_RADII)
    return ShellPotential(
        element=element,
        density=tuple(np.exp(-2 * q * (r - 1))),
        pair=tuple(A * np.exp(-p * (r - 1))),
        embedding=(-xi,),
        powers=(0.5,),
        source="Gupta/RGL second-moment tight binding, Cleri & Rosato, PRB 48, 22 (1993), 3 shells",
    )


def emt_training_set(element: str, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour counts and ASE EMT per-atom energies (eV) of random lattice clusters.

    Twelve balls of ≈700 fcc sites, each site occupied with a probability from 0.15 to
    1, cover coordinations from isolated atoms to bulk.
    """
    from ase import Atoms
    from ase.calculators.emt import EMT

    el = get_element(element)
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(-6, 7)] * 3, indexing="ij"), -1).reshape(-1, 3)
    sites = grid[grid.sum(axis=1) % 2 == 0] * (el.a / 2)
    sites = sites[np.linalg.norm(sites, axis=1) < 3.3 * el.a]
    counts, energies = [], []
    for fill in np.linspace(0.15, 1.0, 12):
        pos = sites[rng.random(len(sites)) < fill]
        atoms = Atoms(element + str(len(pos)), positions=pos)
        atoms.calc = EMT()
        energies.append(atoms.get_potential_energies())
        counts.append(shell_counts(pos, el.nearest_neighbour))
    return np.concatenate(counts), np.concatenate(energies)


@lru_cache(maxsize=None)
def fit_emt(element: str) -> ShellPotential:
    """Fit a :class:`ShellPotential` to ASE EMT per-atom energies on lattice sites.

    The shell weights f₂, f₃ are fitted by nonlinear least squares; for each trial the
    pair energies and embedding coefficients follow by linear least squares.
    """
    if element not in EMT_ELEMENTS:
        raise AtomcountError(f"ASE EMT has no parameters for {element}; it covers {', '.join(EMT_ELEMENTS)}")
    counts, energies = emt_training_set(element)
    counts = counts.astype(float)

    def design(weights):
        rho = counts @ np.array([1.0, *weights])
        return np.column_stack([rho**p for p in _EMBEDDING_POWERS] + [counts])

    def residual(weights):
        a = design(weights)
        return a @ np.linalg.lstsq(a, energies, rcond=None)[0] - energies

    weights = least_squares(residual, x0=[0.2, 0.05], bounds=([0, 0], [1, 1])).x
    coef = np.linalg.lstsq(design(weights), energies, rcond=None)[0]
    k = len(_EMBEDDING_POWERS)
    return ShellPotential(
        element=element,
        density=(1.0, *map(float, weights)),
        pair=tuple(map(float, coef[k:])),
        embedding=tuple(map(float, coef[:k])),
        powers=_EMBEDDING_POWERS,
        source="fitted to ASE EMT per-atom energies on rigid fcc sites (3 shells)",
    )
