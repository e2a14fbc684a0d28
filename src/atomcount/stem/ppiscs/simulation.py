"""Frozen-phonon plane-wave multislice of one PPISCS library entry.

For a crystal that is periodic in the scan cell, integrating the ADF intensity over the
probe positions of one period cancels every interference term between different incident
directions (Lobato et al., Ultramicroscopy 2023; DESIGN.md §3):

    PPISCS(α, θ0, θe, n) = A_cell / n_col · Σ_q w_q(α) I_q(θ0, θe, n) / Σ_q w_q(α),

where ``I_q`` is the fraction of a plane wave of incident tilt ``q`` scattered into the
detector after ``n`` atoms of every column, ``w_q(α)`` the aperture weights, ``A_cell`` the
projected cell area (Å²) and ``n_col`` the number of columns in it. One simulation of the
plane waves inside the largest aperture, recorded in 1-mrad rings after every atom of the
column, therefore serves every convergence angle ≤ 35.5 mrad and every annular detector.

Conventions
-----------
* ``rmsd`` is the root-mean-square displacement **per Cartesian direction** (Å): abTEM's
  ``FrozenPhonons(sigmas=rmsd)`` displaces every atom by a Gaussian of standard deviation
  ``rmsd`` along x, y and z independently (3-D rms = √3 · rmsd). With B = 8π² rmsd² this is
  the usual Debye–Waller convention; with u² ∝ T above the Debye temperature and
  0.085 Å for Au at room temperature, 0.075…0.15 Å is Au from about 230 K to 900 K.
* Angles are λ·|k| (mrad), the convention of abTEM's detectors.
* Tilts lie on a sub-grid (every ``step``-th point) of the supercell's reciprocal grid, so
  every plane wave is periodic in the supercell. Each tilt stands for the square cell of that
  sub-grid around it (a quadrature of the smooth tilt dependence; aperture weights are the
  cell areas inside the aperture disc). With ``use_symmetry`` only an irreducible wedge of
  the projected point group (4mm for [100], 2mm for [110]) is simulated and each tilt
  carries the size of its orbit.
* Phonons: with ``shared_phonons=False`` every batch of plane waves sees its own
  ``num_configs`` frozen-phonon configurations, so the phonon average runs over
  batches × ``num_configs`` configurations for the cost of ``num_configs``. With
  ``shared_phonons=True`` every wave sees the same configurations (needed to compare
  exactly with a probe scan).
"""
from __future__ import annotations

import json
import os
import time
import zlib
from dataclasses import asdict, dataclass, field

import numpy as np

from atomcount.core.crystals import Element, column_repeat, get_element, get_zone_axis, plane_spacing
from atomcount.core.errors import AtomcountError, check_range
from atomcount.core.units import wavelength

#: Largest thickness (atoms per column) of the library, per zone axis (paper 001, §2.1).
MAX_ATOMS = {"100": 61, "110": 87}

#: Ranges of the library (paper 001, Table 1).
MAX_CONVERGENCE = 35.5  # mrad
MIN_INNER = 18.0  # mrad
MAX_OUTER = 250.0  # mrad
RMSD_RANGE = (0.075, 0.15)  # Å, per direction
VOLTAGES = (60.0, 80.0, 100.0, 120.0, 200.0, 300.0)  # kV

_FFT_SIZES = np.array(
    sorted(
        2**a * 3**b * 5**c * 7**d
        for a in range(12)
        for b in range(6)
        for c in range(4)
        for d in range(3)
        if 16 <= 2**a * 3**b * 5**c * 7**d <= 4096 and a >= 1
    )
)


@dataclass(frozen=True)
class SimulationSettings:
    """Numerical settings of a PPISCS simulation.

    Attributes
    ----------
    supercell_length : float
        Target side of the supercell (Å); each side holds ``max(1, round(L / b))``
        projected cells of side ``b``.
    max_convergence : float
        Largest convergence semi-angle served (mrad).
    max_detector : float
        Outer edge of the last detector ring (mrad).
    cutoff_margin : float
        The antialiasing cutoff (2/3 of Nyquist) is put at least this far above
        ``max_detector`` (mrad); the potential needs spatial frequencies up to the
        scattering angle plus the incident tilt.
    tilt_spacing : float
        Target spacing of the tilt grid (mrad); the grid step is the nearest integer
        multiple of the supercell's reciprocal spacing λ/L.
    num_configs : int
        Frozen-phonon configurations per batch of plane waves.
    shared_phonons : bool
        All batches use the same configurations (see module notes).
    batch_size : int
        Plane waves propagated together.
    use_symmetry : bool
        Simulate only the irreducible wedge of tilts.
    ring_width : float
        Width of the detector rings (mrad).
    max_atoms : int or None
        Thickness in atoms per column; ``None`` uses :data:`MAX_ATOMS` of the zone axis.
    projection : {"infinite", "finite"}
        abTEM potential projection: ``"infinite"`` projects each atom whole into the slice
        that holds its centre; ``"finite"`` integrates the 3-D potential over each slice.
    slices_per_plane : int
        Slices per atomic-plane spacing (1: one slice per plane, the plane in its middle).
    antialias_taper : float
        Width of abTEM's cosine taper at the antialiasing cutoff (fraction of the cutoff;
        abTEM's default 0.01). Applied at every slice, the taper is not idempotent, so it
        attenuates more the more slices there are; 0 (a hard cutoff) makes free
        propagation leave the ring intensities unchanged (test ``test_free_propagation…``).
    """

    supercell_length: float = 16.0
    max_convergence: float = MAX_CONVERGENCE
    max_detector: float = MAX_OUTER
    cutoff_margin: float = 40.0
    tilt_spacing: float = 5.0
    num_configs: int = 1
    shared_phonons: bool = False
    batch_size: int = 4
    use_symmetry: bool = True
    ring_width: float = 1.0
    max_atoms: int | None = None
    projection: str = "infinite"
    slices_per_plane: int = 1
    antialias_taper: float = 0.01

    def __post_init__(self) -> None:
        if self.projection not in ("infinite", "finite"):
            raise AtomcountError(f"projection must be 'infinite' or 'finite', got {self.projection!r}")
        if int(self.slices_per_plane) != self.slices_per_plane or self.slices_per_plane < 1:
            raise AtomcountError(f"slices_per_plane must be a positive integer, got {self.slices_per_plane}")

    def to_json(self) -> str:
        """Settings as a canonical JSON string (stored with every entry)."""
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class Entry:
    """One library entry: element, zone axis, voltage (kV) and rmsd (Å, per direction)."""

    element: str
    zone: str
    voltage: float
    rmsd: float

    def __post_init__(self) -> None:
        get_element(self.element)
        if self.zone not in MAX_ATOMS:
            raise AtomcountError(f"zone axis {self.zone!r} not simulated; use one of {', '.join(MAX_ATOMS)}")
        check_range("voltage", self.voltage, 20.0, 1000.0, "kV")
        check_range("rmsd", self.rmsd, 0.0, 0.5, "Å")

    @property
    def name(self) -> str:
        """File stem, e.g. ``Au_100_300kV_rmsd0.0850``."""
        return f"{self.element}_{self.zone}_{self.voltage:g}kV_rmsd{self.rmsd:.4f}"

    @property
    def seed(self) -> int:
        """Deterministic seed of the entry (independent of generation order)."""
        return zlib.crc32(self.name.encode())


@dataclass
class Crystal:
    """Orthorhombic cell of an fcc crystal with ``zone`` along z.

    Attributes
    ----------
    positions : ndarray (n, 3)
        Atom positions in one repeat of the column (Å), planes in the middle of slices.
    cell : ndarray (3,)
        Cell lengths (Å): projected cell (x, y) and one column repeat (z).
    columns : int
        Atomic columns in the projected cell.
    planes : int
        Atomic planes per column repeat (slices per atom of a column).
    symmetry : list of ndarray (2, 2)
        Point-group operations of the projected structure (act on tilt indices).
    """

    positions: np.ndarray
    cell: np.ndarray
    columns: int
    planes: int
    symmetry: list = field(default_factory=list)


def crystal_cell(element: Element, zone: str) -> Crystal:
    """Projected cell of ``element`` along ``zone`` ("100" or "110").

    Examples
    --------
    >>> c = crystal_cell(get_element("Au"), "110")
    >>> c.columns, c.planes, round(float(c.cell[2]), 3)
    (2, 2, 2.884)
    """
    a = element.a
    hkl = get_zone_axis(zone)
    repeat = column_repeat(element, hkl)
    dz = plane_spacing(element, hkl)
    mirrors = [np.diag([sx, sy]) for sx in (1, -1) for sy in (1, -1)]
    if zone == "100":
        frac = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
        cell = np.array([a, a, a])
        swaps = [np.array([[0, 1], [1, 0]]) @ m for m in mirrors]
        symmetry = mirrors + swaps  # 4mm
    elif zone == "110":
        frac = np.array([[0, 0, 0], [0.5, 0.5, 0.5]])
        cell = np.array([a / np.sqrt(2), a, a / np.sqrt(2)])
        symmetry = mirrors  # 2mm
    else:
        raise AtomcountError(f"zone axis {zone!r} not simulated; use one of {', '.join(MAX_ATOMS)}")
    assert np.isclose(cell[2], repeat)
    positions = frac * cell
    positions[:, 2] += dz / 2
    planes = int(round(repeat / dz))
    return Crystal(positions, cell, columns=len(frac), planes=planes, symmetry=symmetry)


@dataclass
class Geometry:
    """Supercell, sampling and tilts of one entry.

    Attributes
    ----------
    repeats : tuple of int
        Projected cells along x and y.
    extent : tuple of float
        Supercell side lengths (Å).
    gpts : tuple of int
        Real-space grid.
    step : tuple of int
        Tilt sub-grid step, in supercell reciprocal-grid points.
    indices : ndarray (n_waves, 2)
        Tilt indices on the supercell reciprocal grid.
    multiplicity : ndarray (n_waves,)
        Size of each tilt's symmetry orbit (1 without symmetry).
    tilts : ndarray (n_waves, 2)
        Tilts (mrad).
    cell_mrad : tuple of float
        Side lengths of each tilt's quadrature cell (mrad).
    """

    repeats: tuple
    extent: tuple
    gpts: tuple
    step: tuple
    indices: np.ndarray
    multiplicity: np.ndarray
    tilts: np.ndarray
    cell_mrad: tuple


def _fft_size(n: float) -> int:
    return int(_FFT_SIZES[np.searchsorted(_FFT_SIZES, np.ceil(n))])


def geometry(crystal: Crystal, voltage: float, settings: SimulationSettings) -> Geometry:
    """Supercell, grid and tilt grid for ``crystal`` at ``voltage`` (kV).

    The grid is the smallest FFT-friendly one whose antialiasing cutoff (2/3 of the
    Nyquist frequency) reaches ``max_detector + cutoff_margin``.
    """
    lam = wavelength(voltage)
    repeats = tuple(max(1, int(round(settings.supercell_length / b))) for b in crystal.cell[:2])
    extent = tuple(float(r * b) for r, b in zip(repeats, crystal.cell[:2]))
    k_needed = (settings.max_detector + settings.cutoff_margin) * 1e-3 / lam  # 1/Å
    gpts = tuple(_fft_size(3 * k_needed * L) for L in extent)
    dtheta = [lam / L * 1e3 for L in extent]  # mrad per reciprocal-grid point
    step = tuple(max(1, int(round(settings.tilt_spacing / d))) for d in dtheta)
    cell = tuple(s * d for s, d in zip(step, dtheta))
    half = np.hypot(*cell) / 2
    nmax = [int(np.ceil((settings.max_convergence + half) / c)) for c in cell]
    ii, jj = np.meshgrid(np.arange(-nmax[0], nmax[0] + 1), np.arange(-nmax[1], nmax[1] + 1), indexing="ij")
    ij = np.stack([ii.ravel(), jj.ravel()], -1)
    # keep the cells that overlap the largest aperture
    near = np.clip(np.abs(ij * cell) - np.array(cell) / 2, 0, None)
    ij = ij[np.hypot(near[:, 0], near[:, 1]) < settings.max_convergence]
    if settings.use_symmetry:
        orbits: dict[tuple, set] = {}
        for p in map(tuple, ij):
            orbit = {tuple(int(v) for v in op @ p) for op in crystal.symmetry}
            orbits.setdefault(max(orbit), orbit)
        reps = sorted(orbits)
        ij = np.array(reps, dtype=int)
        mult = np.array([len(orbits[r]) for r in reps], dtype=int)
    else:
        mult = np.ones(len(ij), dtype=int)
    tilts = ij * np.array(cell)
    return Geometry(repeats, extent, gpts, step, ij * np.array(step), mult, tilts, cell)


def plane_waves(geom: Geometry, indices: np.ndarray) -> np.ndarray:
    """Unit-amplitude plane waves exp(2πi q·r) for reciprocal-grid ``indices`` (complex64)."""
    x = [np.arange(n) / n for n in geom.gpts]  # fractional coordinates
    px = np.exp(2j * np.pi * np.outer(indices[:, 0], x[0]))
    py = np.exp(2j * np.pi * np.outer(indices[:, 1], x[1]))
    return (px[:, :, None] * py[:, None, :]).astype(np.complex64)


def supercell_atoms(element: Element, crystal: Crystal, repeats: tuple, atoms_per_column: int):
    """ASE ``Atoms`` of the supercell, ``atoms_per_column`` column repeats thick."""
    from ase import Atoms

    atoms = Atoms(
        [element.symbol] * len(crystal.positions),
        positions=crystal.positions,
        cell=np.diag(crystal.cell),
        pbc=True,
    )
    return atoms.repeat((repeats[0], repeats[1], atoms_per_column))


def exit_planes(crystal: Crystal, atoms_per_column: int, slices_per_plane: int = 1) -> tuple[int, ...]:
    """abTEM exit planes: the entrance (-1) and the slice completing each atom of a column."""
    per_atom = crystal.planes * slices_per_plane
    return (-1,) + tuple(range(per_atom - 1, per_atom * atoms_per_column, per_atom))


def column_potential(atoms_or_phonons, crystal: Crystal, gpts: tuple, settings: SimulationSettings,
                     atoms_per_column: int):
    """abTEM ``Potential`` of the supercell, sliced and projected as ``settings`` say.

    Each atomic-plane spacing is cut into ``settings.slices_per_plane`` equal slices, so
    every atom of a column ends on a slice boundary and :func:`exit_planes` records it.
    """
    import abtem

    per_atom = crystal.planes * settings.slices_per_plane
    thickness = float(crystal.cell[2] / per_atom)
    return abtem.Potential(
        atoms_or_phonons, gpts=gpts, slice_thickness=(thickness,) * (per_atom * atoms_per_column),
        exit_planes=exit_planes(crystal, atoms_per_column, settings.slices_per_plane),
        projection=settings.projection, parametrization="lobato",
    )


def _configure_abtem(threads: int, antialias_taper: float = 0.01) -> dict:
    """abTEM settings: eager arrays, fixed FFT plans, the antialiasing taper, GPU when present."""
    device = "cpu"
    try:
        import cupy  # noqa: F401

        if cupy.cuda.runtime.getDeviceCount() > 0:
            device = "gpu"
    except Exception:  # no CuPy or no GPU: stay on the CPU
        pass
    return {
        "dask.lazy": False,
        "device": device,
        "fftw.threads": int(threads),
        "fftw.planning_effort": "FFTW_ESTIMATE",
        "diagnostics.progress_bar": False,
        "antialias.taper": float(antialias_taper),
    }


@dataclass
class EntryResult:
    """Simulated ring intensities of one entry (see :func:`simulate_entry`).

    Attributes
    ----------
    intensity : ndarray (n_waves, n_atoms, n_rings), float32
        Fraction of each plane wave's intensity in each detector ring after 1…n_atoms
        atoms per column, averaged over phonon configurations.
    batch_totals : ndarray (n_batches, n_atoms, n_rings), float32
        Per batch of waves, the multiplicity-weighted mean ring intensity over the batch
        (for phonon-noise estimates).
    batches : ndarray (n_waves,), int
        Batch of each wave.
    geometry : Geometry
    crystal : Crystal
    seconds : float
        Wall time of the simulation (s).
    cpu_seconds : float
        CPU time of this process during the simulation, all threads (s).
    device : str
    """

    intensity: np.ndarray
    batch_totals: np.ndarray
    batches: np.ndarray
    geometry: Geometry
    crystal: Crystal
    seconds: float
    cpu_seconds: float
    device: str


def simulate_entry(
    entry: Entry,
    settings: SimulationSettings = SimulationSettings(),
    threads: int = 1,
    phonon_seed: int | None = None,
    progress=None,
) -> EntryResult:
    """Frozen-phonon multislice of all tilts of one entry, detected in rings.

    Parameters
    ----------
    entry : Entry
        Element, zone axis, voltage (kV) and rmsd (Å, per direction).
    settings : SimulationSettings
        Numerical settings.
    threads : int
        FFTW threads.
    phonon_seed : int, optional
        Base seed of the phonon configurations; default :attr:`Entry.seed`.
    progress : callable, optional
        Called with the number of finished waves after each batch.

    Returns
    -------
    EntryResult
    """
    import abtem

    element = get_element(entry.element)
    crystal = crystal_cell(element, entry.zone)
    geom = geometry(crystal, entry.voltage, settings)
    n_atoms = settings.max_atoms or MAX_ATOMS[entry.zone]
    atoms = supercell_atoms(element, crystal, geom.repeats, n_atoms)
    n_rings = int(round(settings.max_detector / settings.ring_width))
    base_seed = entry.seed if phonon_seed is None else int(phonon_seed)
    config = _configure_abtem(threads, settings.antialias_taper)
    n_waves = len(geom.indices)
    bs = max(1, min(settings.batch_size, n_waves))
    n_batches = -(-n_waves // bs)
    intensity = np.zeros((n_waves, n_atoms, n_rings), np.float32)
    batches = np.repeat(np.arange(n_batches), bs)[:n_waves]
    t0, c0 = time.perf_counter(), time.process_time()
    with abtem.config.set(config):
        detector = abtem.FlexibleAnnularDetector(
            step_size=settings.ring_width, inner=0.0, outer=settings.max_detector
        )
        for b in range(n_batches):
            idx = np.arange(b * bs, (b + 1) * bs) % n_waves  # pad the last batch
            seed = base_seed if settings.shared_phonons else base_seed + 7919 * (b + 1)
            phonons = abtem.FrozenPhonons(
                atoms, num_configs=settings.num_configs, sigmas=entry.rmsd,
                ensemble_mean=False, seed=seed,
            )
            potential = column_potential(phonons, crystal, geom.gpts, settings, n_atoms)
            waves = abtem.Waves(
                plane_waves(geom, geom.indices[idx]), energy=entry.voltage * 1e3, extent=geom.extent,
                ensemble_axes_metadata=[abtem.core.axes.OrdinalAxis(values=tuple(range(len(idx))))],
            )
            measured = waves.multislice(potential, detectors=detector)
            arr = np.asarray(measured.to_cpu().array, dtype=np.float64)
            # (configs, entrance + n_atoms exit planes, waves, rings, 1) -> mean over configs
            arr = arr.reshape(settings.num_configs, n_atoms + 1, len(idx), n_rings).mean(0)[1:]
            arr /= float(np.prod(geom.gpts)) ** 2  # fraction of the incident intensity
            take = np.arange(b * bs, min((b + 1) * bs, n_waves))
            intensity[take] = np.moveaxis(arr, 1, 0)[: len(take)]
            if progress is not None:
                progress(len(take))
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    m = geom.multiplicity[:, None, None]
    batch_totals = np.stack(
        [(intensity[batches == b] * m[batches == b]).sum(0) / m[batches == b].sum() for b in range(n_batches)]
    ).astype(np.float32)
    return EntryResult(intensity, batch_totals, batches, geom, crystal, seconds, cpu_seconds, config["device"])


def default_threads() -> int:
    """Threads for FFTW: the CPUs this process may use, at most 2 by default."""
    return max(1, min(2, len(os.sched_getaffinity(0))))
