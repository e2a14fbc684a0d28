"""Checks of the PPISCS simulation: probe-scan identity, convergence, analytic limits.

Every function returns plain numbers (dicts, arrays) so that tests and the benchmark
(:mod:`atomcount.bench.ppiscs_library`) share them.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from atomcount.core.crystals import get_element
from atomcount.core.units import wavelength
from atomcount.stem.ppiscs.library import aperture_weights, ring_integral, tilt_shifts
from atomcount.stem.ppiscs.simulation import (
    Entry,
    EntryResult,
    SimulationSettings,
    _configure_abtem,
    crystal_cell,
    column_potential,
    simulate_entry,
    supercell_atoms,
)

#: Detectors (α, θ0, θe in mrad) used by the convergence studies.
DETECTORS = {
    "paper example α=21, 46–190": (21.0, 46.0, 190.0),
    "LAADF α=17.5, 25–60": (17.5, 25.0, 60.0),
    "HAADF α=35.5, 60–200": (35.5, 60.0, 200.0),
    "high angle α=25, 150–250": (25.0, 150.0, 250.0),
}


def result_ppiscs(result: EntryResult, alpha: float, inner: float, outer: float, ring_width: float = 1.0,
                  hard: bool = False, smear: bool = True) -> np.ndarray:
    """PPISCS (Å² per column, 1…N atoms) from a fresh :class:`EntryResult`.

    ``hard=True`` weighs each tilt inside the aperture equally (|q| < α), which is exactly
    what a probe with a hard aperture on the same grid contains (no smearing); the default
    uses the cell-area quadrature of the library, with the rings spread over each tilt cell
    (:func:`~atomcount.stem.ppiscs.library.tilt_shifts`) unless ``smear=False``.
    """
    g = result.geometry
    if hard:
        w = (np.hypot(g.tilts[:, 0], g.tilts[:, 1]) < alpha) * g.multiplicity.astype(float)
        w = w / w.sum()
    else:
        w = aperture_weights(g.tilts, g.cell_mrad, g.multiplicity, alpha)
    rings = np.tensordot(w, result.intensity.astype(np.float64), axes=(0, 0))
    scale = result.crystal.cell[0] * result.crystal.cell[1] / result.crystal.columns
    shifts = tilt_shifts(g.cell_mrad) if (smear and not hard) else None
    return scale * ring_integral(rings, inner, outer, ring_width, shifts)


def probe_scan(entry: Entry, settings: SimulationSettings, alpha: float, inner: float, outer: float,
               region: str = "supercell", defocus: float = 0.0, cs_um: float = 0.0, threads: int = 1,
               phonon_seed: int | None = None) -> np.ndarray:
    """PPISCS (Å² per column, 1…N atoms) from a direct abTEM probe scan.

    The probe (hard aperture ``alpha`` mrad, defocus Å = C10, Cs µm) scans a grid over
    the whole supercell (``region="supercell"``) or one projected cell (``"cell"``) with a
    spacing below λ/(2α), fine enough for the grid mean to equal the integral of the
    band-limited image. The frozen-phonon configurations are those of
    :func:`simulate_entry` with ``shared_phonons=True`` and the same seed.
    """
    import abtem

    from atomcount.stem.ppiscs.simulation import geometry

    element = get_element(entry.element)
    crystal = crystal_cell(element, entry.zone)
    geom = geometry(crystal, entry.voltage, settings)
    n_atoms = settings.max_atoms
    atoms = supercell_atoms(element, crystal, geom.repeats, n_atoms)
    seed = entry.seed if phonon_seed is None else phonon_seed
    lam = wavelength(entry.voltage)
    with abtem.config.set(_configure_abtem(threads, settings.antialias_taper)):
        phonons = abtem.FrozenPhonons(atoms, num_configs=settings.num_configs, sigmas=entry.rmsd,
                                      ensemble_mean=True, seed=seed)
        potential = column_potential(phonons, crystal, geom.gpts, settings, n_atoms)
        probe = abtem.Probe(semiangle_cutoff=alpha, soft=False, energy=entry.voltage * 1e3, extent=geom.extent,
                            gpts=geom.gpts, aberrations={"C10": defocus, "C30": cs_um * 1e4})
        size = np.array(geom.extent) if region == "supercell" else crystal.cell[:2]
        band = 2 * alpha * 1e-3 / lam  # highest spatial frequency of the image (1/Å)
        n = [int(np.floor(s * band)) + 2 for s in size]
        scan = abtem.GridScan(start=(0.0, 0.0), end=tuple(size), gpts=tuple(n), endpoint=False)
        images = probe.scan(potential, scan=scan, detectors=abtem.AnnularDetector(inner=inner, outer=outer))
        arr = np.asarray(images.to_cpu().array, dtype=np.float64)
    arr = arr.reshape(n_atoms + 1, -1).mean(-1)[1:]  # entrance plane dropped; mean over positions
    return arr * crystal.cell[0] * crystal.cell[1] / crystal.columns


def identity_case() -> tuple[Entry, SimulationSettings, tuple[float, float, float]]:
    """The small case of the probe-scan identity: Au [100], 2×2 cells, 60 kV, 4 atoms."""
    entry = Entry("Au", "100", 60.0, 0.085)
    settings = SimulationSettings(supercell_length=8.0, max_detector=100.0, tilt_spacing=0.0, num_configs=2,
                                  shared_phonons=True, use_symmetry=False, max_atoms=4, batch_size=8)
    return entry, settings, (15.0, 30.0, 90.0)


def identity_check(threads: int = 1) -> dict:
    """Decomposition vs probe scans on :func:`identity_case`.

    Returns
    -------
    dict
        ``decomposition``, ``scan_supercell``, ``scan_cell``, ``scan_aberrated`` (Å², per
        thickness), ``independent_phonons`` (decomposition with other configurations) and
        the relative differences.
    """
    entry, settings, (alpha, inner, outer) = identity_case()
    result = simulate_entry(entry, settings, threads=threads)
    dec = result_ppiscs(result, alpha, inner, outer, hard=True)
    other = result_ppiscs(simulate_entry(entry, settings, threads=threads, phonon_seed=entry.seed + 1),
                          alpha, inner, outer, hard=True)
    sup = probe_scan(entry, settings, alpha, inner, outer, "supercell", threads=threads)
    cell = probe_scan(entry, settings, alpha, inner, outer, "cell", threads=threads)
    aber = probe_scan(entry, settings, alpha, inner, outer, "supercell", defocus=100.0, cs_um=1.0, threads=threads)
    rel = lambda a, b: float(np.max(np.abs(a / b - 1)))  # noqa: E731
    return {
        "case": f"{entry.element} [{entry.zone}] {entry.voltage:g} kV, rmsd {entry.rmsd} Å, 2×2 cells, "
                f"α={alpha:g} mrad, {inner:g}–{outer:g} mrad, {settings.num_configs} phonon configurations, "
                f"{len(result.geometry.indices)} plane waves, 1…{settings.max_atoms} atoms",
        "decomposition": dec.tolist(),
        "scan_supercell": sup.tolist(),
        "scan_cell": cell.tolist(),
        "scan_aberrated": aber.tolist(),
        "independent_phonons": other.tolist(),
        "rel_supercell": rel(sup, dec),
        "rel_cell": rel(cell, dec),
        "rel_aberrated": rel(aber, sup),
        "rel_independent": rel(other, dec),
    }


def born_cross_section(symbol: str, voltage: float, inner: float, outer: float, alpha: float = 0.0,
                       n_tilt: int = 24) -> float:
    """Single-atom elastic cross-section (Å²) into [inner, outer) mrad, first Born approximation.

    σ = γ² λ² ∫ |f(k − q)|² d²k with Lobato's electron scattering factor f (Å, abTEM) and
    the relativistic mass factor γ, averaged over incident tilts q uniform in a disc of
    ``alpha`` mrad (polar quadrature with ``n_tilt`` radii).
    """
    from abtem.core.energy import relativistic_mass_correction
    from abtem.parametrizations import LobatoParametrization

    f = LobatoParametrization().scattering_factor(symbol)
    lam = wavelength(voltage)
    gamma = relativistic_mass_correction(voltage * 1e3)
    # detector on a fine polar grid (mrad)
    th = np.linspace(inner, outer, 801)
    th = 0.5 * (th[1:] + th[:-1])
    phi = np.linspace(0, 2 * np.pi, 181)[:-1]
    dth, dphi = (outer - inner) / 800, 2 * np.pi / 180
    kx = (th[:, None] * np.cos(phi)) * 1e-3 / lam
    ky = (th[:, None] * np.sin(phi)) * 1e-3 / lam
    if alpha > 0:
        r = (np.arange(n_tilt) + 0.5) / n_tilt * alpha
        tilts = [(ri * np.cos(p), ri * np.sin(p), ri) for ri in r for p in np.linspace(0, 2 * np.pi, 12, endpoint=False)]
    else:
        tilts = [(0.0, 0.0, 1.0)]
    total, wsum = 0.0, 0.0
    for qx, qy, w in tilts:
        k2 = (kx - qx * 1e-3 / lam) ** 2 + (ky - qy * 1e-3 / lam) ** 2
        dsig = gamma**2 * f(k2.ravel()).reshape(k2.shape) ** 2  # Å² per sr
        total += w * float((dsig * th[:, None]).sum() * dth * dphi * 1e-6)
        wsum += w
    return total / wsum


def isolated_atom(symbol: str, voltage: float, inner: float, outer: float, extent: float = 16.0,
                  sampling: float = 0.02, projection: str = "infinite", slice_thickness: float | None = None) -> float:
    """Single-atom cross-section (Å²) into [inner, outer) mrad from a plane-wave multislice.

    One atom in the middle of a periodic box of side ``extent`` (Å), plane wave at normal
    incidence, hard antialiasing cutoff: the fraction scattered into the detector times the
    box area. By default the whole atom is one slice of infinite projection (the phase-object
    approximation); ``projection="finite"`` with ``slice_thickness`` (Å) cuts its 3-D
    potential into slices with free propagation between them.
    """
    import abtem
    from ase import Atoms

    depth = extent
    atoms = Atoms(symbol, positions=[(extent / 2, extent / 2, depth / 2)], cell=(extent, extent, depth), pbc=True)
    with abtem.config.set(_configure_abtem(1, antialias_taper=0.0)):
        potential = abtem.Potential(atoms, sampling=sampling, projection=projection,
                                    slice_thickness=depth if slice_thickness is None else slice_thickness)
        exit_wave = abtem.PlaneWave(energy=voltage * 1e3).multislice(potential)
        psi = np.asarray(exit_wave.to_cpu().array, dtype=np.complex128)
    return _detected(psi, extent, voltage, inner, outer)


def _detected(psi: np.ndarray, extent: float, voltage: float, inner: float, outer: float) -> float:
    """Cross-section (Å²) of an exit wave of unit incident intensity in a box of side ``extent`` (Å)."""
    n = psi.shape
    intensity = np.abs(np.fft.fft2(psi)) ** 2 / float(np.prod(n)) ** 2  # fraction of |ψ_in|² = 1
    kx, ky = (np.fft.fftfreq(m, d=extent / m) for m in n)
    theta = np.hypot(kx[:, None], ky[None, :]) * wavelength(voltage) * 1e3
    return float(intensity[(theta >= inner) & (theta < outer)].sum()) * extent**2


def isolated_atom_fourier_sliced(symbol: str, voltage: float, detectors: list[tuple[float, float]],
                                 slice_thickness: float, extent: float = 8.0, sampling: float = 0.02) -> list[float]:
    """Single-atom cross-sections (Å²) with the atom cut into slices in Fourier space.

    As :func:`isolated_atom` with finite slicing, but each slice's potential is the atom's
    infinite projection times its share :func:`~atomcount.stem.ppiscs.sliced_potential.slice_weights`,
    exact at any lateral sampling. Returns one value per (inner, outer) detector (mrad).
    """
    import abtem
    from ase import Atoms

    from atomcount.stem.ppiscs.sliced_potential import cumulative_fraction, slice_weights

    n = int(round(extent / sampling))
    atoms = Atoms(symbol, positions=[(extent / 2,) * 3], cell=(extent,) * 3, pbc=True)
    with abtem.config.set(_configure_abtem(1, antialias_taper=0.0)):
        whole = np.asarray(abtem.Potential(atoms, gpts=(n, n), slice_thickness=extent,
                                           projection="infinite").build().array).sum(0)
        freq = np.fft.fftfreq(n, extent / n)
        k = np.hypot(freq[:, None], freq[None, :])
        edges = np.arange(int(round(extent / slice_thickness)) + 1) * slice_thickness
        weights = slice_weights(cumulative_fraction(symbol), k, edges, extent / 2)
        slices = np.fft.ifft2(np.fft.fft2(whole)[None] * weights).real.astype(np.float32)
        potential = abtem.PotentialArray(slices, slice_thickness=slice_thickness, sampling=extent / n)
        psi = np.asarray(abtem.PlaneWave(energy=voltage * 1e3).multislice(potential).to_cpu().array, np.complex128)
    return [_detected(psi, extent, voltage, a, b) for a, b in detectors]


def projected_potential_spectrum(symbol: str, projection: str, sampling: float, k: tuple = (3.0, 5.0, 8.0, 10.0, 13.0),
                                 extent: float = 8.0, slice_thickness: float = 0.5) -> list[float]:
    """Fourier amplitude of one atom's projected potential relative to the scattering factor.

    The slices of abTEM's potential (``projection`` "infinite" or "finite") are summed over
    the box depth and Fourier transformed; the radial mean of |FT| at each spatial frequency
    ``k`` (1/Å) is divided by Lobato's electron scattering factor f(k) and normalised at
    k = 0.5/Å. 0 means exact: the projected potential's transform is f(k) up to a constant.
    """
    import abtem
    from abtem.parametrizations import LobatoParametrization
    from ase import Atoms

    f = LobatoParametrization().scattering_factor(symbol)
    atoms = Atoms(symbol, positions=[(extent / 2,) * 3], cell=(extent,) * 3, pbc=True)
    with abtem.config.set(_configure_abtem(1)):
        v = abtem.Potential(atoms, sampling=sampling, projection=projection,
                            slice_thickness=extent if projection == "infinite" else slice_thickness).build()
        proj = np.asarray(v.array).sum(0)
    n = proj.shape[0]
    freq = np.fft.fftfreq(n, extent / n)
    kk = np.hypot(freq[:, None], freq[None, :])
    amp = np.abs(np.fft.fft2(proj))
    ratio = [float(amp[m].mean() / f(kk[m] ** 2).mean()) for m in (np.abs(kk - k0) < 0.2 for k0 in (0.5, *k))]
    return [r / ratio[0] - 1 for r in ratio[1:]]


def compare_settings(entry: Entry, reference: SimulationSettings, variants: dict, threads: int = 1,
                     min_atoms: int = 5) -> list[dict]:
    """Relative PPISCS differences of ``variants`` against ``reference`` over :data:`DETECTORS`.

    Returns one row per variant: name, wall time (s), and per detector the largest
    relative difference for thicknesses ≥ ``min_atoms`` and for all thicknesses.
    """
    ref = simulate_entry(entry, reference, threads=threads)
    zero = {k: (0.0, 0.0) for k in DETECTORS}
    rows = [{"name": "reference", "seconds": ref.seconds, "waves": len(ref.geometry.indices),
             "gpts": ref.geometry.gpts, "errors": zero, "errors_unsmeared": zero}]
    for name, settings in variants.items():
        res = simulate_entry(entry, settings, threads=threads)
        row = {"name": name, "seconds": res.seconds, "waves": len(res.geometry.indices), "gpts": res.geometry.gpts}
        for key, smear in (("errors", True), ("errors_unsmeared", False)):
            row[key] = {}
            for k, d in DETECTORS.items():
                rel = np.abs(result_ppiscs(res, *d, smear=smear) / result_ppiscs(ref, *d, smear=smear) - 1)
                row[key][k] = (float(rel[min_atoms - 1:].max()), float(rel.max()))
        rows.append(row)
    return rows


def with_changes(settings: SimulationSettings, **changes) -> SimulationSettings:
    """``settings`` with some fields replaced."""
    return replace(settings, **changes)



#: Slicings of the single-atom study: ("infinite", None) is the whole atom in one slice.
SLICINGS = (("infinite", None), ("finite", 1.0), ("finite", 0.5), ("finite", 0.25), ("finite", 0.1), ("finite", 0.05))
#: Detectors (inner, outer in mrad) of the slicing study.
SLICING_DETECTORS = {"LAADF 25–60": (25.0, 60.0), "HAADF 60–200": (60.0, 200.0), "high angle 150–250": (150.0, 250.0)}
