"""Random Wulff-construction nanoparticles, oriented for imaging.

Each particle is drawn from a seeded generator: a Wulff shape with randomly perturbed
surface energies (:mod:`atomcount.core.crystals`), surface adatoms (paper 000 §3.3), surface
vacancies and an optional flat truncation (a support facet). The particle is then
rotated so that a zone axis points along the beam (+z), with a random in-plane
rotation, a small random tilt and a random lateral shift inside the field of view.

The ground truth (:class:`atomcount.core.columns.ColumnTable`) is computed in the crystal
frame, before the tilt, so that column membership is exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import permutations

import numpy as np
from ase import Atoms
from ase.cluster import Octahedron, wulff_construction
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from atomcount.core.columns import ColumnTable, cluster_columns, column_table, projection_basis
from atomcount.core.crystals import get_element, get_zone_axis
from atomcount.core.errors import AtomcountError

#: Largest column height the networks classify (paper 000: 15 atoms + background).
MAX_HEIGHT = 15

#: Particle shape families (see :class:`ParticleConfig`).
FAMILIES = ("wulff", "wulff-random", "octahedron")


@dataclass(frozen=True)
class ParticleConfig:
    """Ranges from which particles are drawn.

    Attributes
    ----------
    element : str
        fcc metal symbol.
    zones : tuple of str
        Zone axes to choose from (uniformly).
    n_atoms : tuple of int
        Range of Wulff sizes (number of atoms, sampled log-uniformly). 80–3000 atoms
        is ≈1.4–4.6 nm for Au.
    energy_jitter : float
        Relative standard deviation of the surface-energy perturbation.
    adatom_fraction : tuple of float
        Range of the number of adatoms as a fraction of surface atoms.
    vacancy_fraction : tuple of float
        Range of the fraction of surface atoms removed.
    truncation_probability : float
        Probability of a flat cut (support facet) removing up to 25 % of the height.
    max_tilt_deg : float
        Largest tilt of the zone axis from the beam (degrees).
    field_of_view : float
        Side of the square simulation cell (Å).
    margin : float
        Smallest distance between the particle and the cell edge (Å).
    max_height : int
        Particles with a taller column are redrawn smaller.
    family : str
        Shape family: ``"wulff"`` (tabulated surface energies perturbed by
        ``energy_jitter``, the training family), ``"wulff-random"`` (surface energies drawn
        uniformly between 0.6 and 1.6 times the tabulated ones, independently per facet
        family) or ``"octahedron"`` (ASE truncated octahedra, from the regular octahedron to
        the cuboctahedron). The last two are kept out of training to measure generalisation.
    """

    element: str = "Au"
    zones: tuple = ("110", "100")
    n_atoms: tuple = (80, 3000)
    energy_jitter: float = 0.08
    adatom_fraction: tuple = (0.0, 0.08)
    vacancy_fraction: tuple = (0.0, 0.04)
    truncation_probability: float = 0.3
    max_tilt_deg: float = 0.5
    field_of_view: float = 64.0
    margin: float = 4.0
    max_height: int = MAX_HEIGHT
    family: str = "wulff"

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise AtomcountError(f"unknown particle family {self.family!r}; choose from {', '.join(FAMILIES)}")
        get_element(self.element)
        for z in self.zones:
            get_zone_axis(z)
        if not 1 <= self.n_atoms[0] <= self.n_atoms[1]:
            raise AtomcountError(f"n_atoms range must satisfy 1 <= low <= high, got {self.n_atoms}")


@dataclass
class Particle:
    """An oriented particle and its column ground truth.

    Attributes
    ----------
    atoms : ase.Atoms
        Atoms in the simulation cell; the beam travels along +z.
    columns : ColumnTable
        Projected columns (positions in Å in the cell's xy frame).
    zone : str
        Zone axis along the beam, e.g. ``"110"``.
    info : dict
        Parameters that produced the particle (surface energies, sizes, angles).
    """

    atoms: Atoms
    columns: ColumnTable
    zone: str
    info: dict = field(default_factory=dict)


def _nn_vectors(a: float) -> np.ndarray:
    vecs = {p for base in [(1, 1, 0), (1, -1, 0), (-1, 1, 0), (-1, -1, 0)] for p in permutations(base)}
    return np.array(sorted(vecs), dtype=float) * a / 2


def _surface_mask(pos: np.ndarray, a: float) -> np.ndarray:
    nn = a / np.sqrt(2)
    counts = np.array([len(n) for n in cKDTree(pos).query_ball_point(pos, nn * 1.1)]) - 1
    return counts < 12


def _add_adatoms(pos: np.ndarray, a: float, n_add: int, rng: np.random.Generator) -> np.ndarray:
    """Place ``n_add`` atoms on empty fcc sites with ≥3 occupied neighbours."""
    if n_add <= 0:
        return pos
    surf = pos[_surface_mask(pos, a)]
    cand = (surf[:, None, :] + _nn_vectors(a)[None]).reshape(-1, 3)
    cand = np.unique(np.round(cand / (a / 2)).astype(int), axis=0) * (a / 2)
    tree = cKDTree(pos)
    empty = tree.query(cand)[0] > 0.1 * a
    cand = cand[empty]
    coordination = np.array([len(n) for n in tree.query_ball_point(cand, a / np.sqrt(2) * 1.1)])
    cand = cand[coordination >= 3]
    if len(cand) == 0:
        return pos
    pick = rng.choice(len(cand), size=min(n_add, len(cand)), replace=False)
    return np.concatenate([pos, cand[pick]])


def _orientation(zone: tuple[int, int, int], rng: np.random.Generator, max_tilt_deg: float) -> np.ndarray:
    """Rotation matrix taking crystal coordinates to the lab frame (zone → +z, tilted)."""
    to_lab = projection_basis(zone)  # rows u, v, w: crystal → (u, v, w) = lab (x, y, z)
    inplane = Rotation.from_euler("z", rng.uniform(0, 2 * np.pi)).as_matrix()
    phi = rng.uniform(0, 2 * np.pi)
    tilt = Rotation.from_rotvec(
        np.deg2rad(rng.uniform(0, max_tilt_deg)) * np.array([np.cos(phi), np.sin(phi), 0.0])
    ).as_matrix()
    return tilt @ inplane @ to_lab


def _shape_positions(cfg: ParticleConfig, rng: np.random.Generator, n_atoms: int) -> tuple[np.ndarray, dict]:
    """Atom positions (Å, crystal frame, centred, on the exact lattice) of one shape of ``cfg.family``."""
    el = get_element(cfg.element)
    if cfg.family == "octahedron":
        # a regular octahedron of edge length L atoms holds (2L³ + L)/3 atoms; a cutoff of
        # up to (L − 1)/2 layers truncates its corners down to the cuboctahedron
        length = max(2, int(round((1.5 * n_atoms) ** (1 / 3))))
        cutoff = int(rng.integers(0, (length - 1) // 2 + 1))
        cluster = Octahedron(cfg.element, length, cutoff=cutoff, latticeconstant=el.a)
        info = {"octahedron_length": length, "octahedron_cutoff": cutoff}
    else:
        surfaces = list(el.surface_energies)
        if cfg.family == "wulff-random":
            factors = rng.uniform(0.6, 1.6, len(surfaces))
        else:
            factors = np.exp(rng.normal(0.0, cfg.energy_jitter, len(surfaces)))
        energies = [el.surface_energies[s] * float(f) for s, f in zip(surfaces, factors)]
        cluster = wulff_construction(
            cfg.element, surfaces, energies, n_atoms, "fcc", rounding="closest", latticeconstant=el.a
        )
        info = {"surface_energies": dict(zip(map(str, surfaces), energies)), "wulff_size": n_atoms}
    pos = cluster.get_positions()
    pos -= pos.mean(axis=0)
    # snap onto the exact lattice (ASE builds it exactly; this removes float noise)
    pos = np.round(pos / (el.a / 2)) * (el.a / 2)
    return pos, info


def random_particle(rng: np.random.Generator, config: ParticleConfig | None = None) -> Particle:
    """Draw one oriented particle.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness; the same state gives the same particle.
    config : ParticleConfig, optional
        Ranges to draw from; defaults to :class:`ParticleConfig()`.

    Returns
    -------
    Particle

    Examples
    --------
    >>> p = random_particle(np.random.default_rng(0))
    >>> p.columns.total_atoms == len(p.atoms)
    True
    """
    cfg = config or ParticleConfig()
    el = get_element(cfg.element)
    zone_key = str(rng.choice(list(cfg.zones))).strip("[]")
    zone = get_zone_axis(zone_key)
    lo, hi = np.log(cfg.n_atoms[0]), np.log(cfg.n_atoms[1])
    n_target = int(round(np.exp(rng.uniform(lo, hi))))
    for _ in range(30):
        pos, info = _shape_positions(cfg, rng, n_target)
        n_surf = int(_surface_mask(pos, el.a).sum())
        pos = _add_adatoms(pos, el.a, int(rng.uniform(*cfg.adatom_fraction) * n_surf), rng)
        surf = np.flatnonzero(_surface_mask(pos, el.a))
        n_vac = int(rng.uniform(*cfg.vacancy_fraction) * len(surf))
        if n_vac:
            pos = np.delete(pos, rng.choice(surf, size=n_vac, replace=False), axis=0)
        truncated = bool(rng.uniform() < cfg.truncation_probability)
        if truncated:
            n = rng.normal(size=3)
            n /= np.linalg.norm(n)
            proj = pos @ n
            cut = proj.max() - rng.uniform(0.05, 0.25) * (proj.max() - proj.min())
            pos = pos[proj <= cut + 1e-9]
        labels = cluster_columns(pos, zone, tolerance=0.5)
        if np.bincount(labels).max() <= cfg.max_height:
            break
        n_target = max(cfg.n_atoms[0], int(n_target * 0.8))
    else:
        raise AtomcountError(
            f"could not draw a particle with columns of at most {cfg.max_height} atoms"
        )
    rot = _orientation(zone, rng, cfg.max_tilt_deg)
    lab = pos @ rot.T
    lab -= (lab.max(axis=0) + lab.min(axis=0)) / 2
    half_extent = np.abs(lab[:, :2]).max(axis=0)
    free = np.maximum(cfg.field_of_view / 2 - cfg.margin - half_extent, 0.0)
    shift = rng.uniform(-free, free)
    thickness = float(np.ptp(lab[:, 2])) + 4.0
    lab[:, :2] += cfg.field_of_view / 2 + shift
    lab[:, 2] += thickness / 2
    if lab[:, :2].min() < 0 or lab[:, :2].max() > cfg.field_of_view:
        raise AtomcountError(
            f"particle ({2 * half_extent.max():.1f} Å) does not fit the {cfg.field_of_view} Å field of view"
        )
    atoms = Atoms(
        cfg.element + str(len(lab)) if len(lab) > 1 else cfg.element,
        positions=lab,
        cell=[cfg.field_of_view, cfg.field_of_view, thickness],
        pbc=False,
    )
    info.update(
        {"element": cfg.element, "zone": zone_key, "n_atoms": len(lab), "truncated": truncated,
         "family": cfg.family}
    )
    return Particle(atoms=atoms, columns=column_table(lab[:, :2], labels), zone=zone_key, info=info)
