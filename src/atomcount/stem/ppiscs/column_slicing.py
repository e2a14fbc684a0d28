"""Crystal columns cut into thin slices in Fourier space: the converged reference of the library.

The library (:func:`~atomcount.stem.ppiscs.simulation.simulate_entry`) puts every atom whole into
the slice of its atomic plane (infinite projection, the phase-object approximation inside each
atom). For one heavy atom that under-reads high-angle scattering by 6–20 % (BENCHMARKS
``ppiscs-slicing``). This module runs the same plane-wave multislice over the same tilt grid,
supercell and frozen-phonon displacements, but every slice of thickness ``slice_thickness``
holds each atom's share of its infinite projection (:mod:`.sliced_potential`), exact at any
lateral sampling. With ``slice_thickness=None`` it reproduces the library's scheme in the same
code, so the two can be compared on identical phonon configurations (the ratio is then free of
most phonon noise).

The slice potential is built from the cumulative potential below each slice edge e,

    C_e(k) = V∞(k) Σ_a exp(−2πi k·r_a) R(|k|, e − z_a),

so slice [e_j, e_{j+1}) holds C_{e_{j+1}} − C_{e_j}; atoms wholly below an edge enter with R = 1
through a running sum, and only atoms whose potential straddles the edge are evaluated. The
first slice also holds whatever lies below the entrance surface; the exit after n atoms misses
the upper tail of atom n and holds the lower tail of atom n + 1. Half a plane spacing (1.02 Å for
Au [100]) from an atom's centre, R differs from 0 or 1 by 2 % (Au; Al 6.5 %) at k = 0 but by
< 1e-6 from k = 2/Å on, so these tails touch only the lowest spatial frequencies; the two
exchanged tails are of the same element and nearly cancel (not quantified separately).

Propagation follows abTEM's conventional multislice with a hard antialiasing cutoff at 2/3 of
the Nyquist frequency: the transmission function exp(iσV) is band-limited, the Fresnel
propagator carries the same aperture (test against :func:`simulate_entry`).
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import scipy.fft as sfft

from atomcount.core.crystals import get_element
from atomcount.core.errors import AtomcountError
from atomcount.core.units import wavelength
from atomcount.stem.ppiscs.simulation import (
    MAX_ATOMS,
    Entry,
    EntryResult,
    SimulationSettings,
    _configure_abtem,
    _fft_size,
    crystal_cell,
    geometry,
    plane_waves,
    supercell_atoms,
)
from atomcount.stem.ppiscs.sliced_potential import CumulativeFraction, cumulative_fraction

#: R is taken as exactly 0 (1) where it is within this distance of 0 (1).
_TAIL = 1e-6


def _atom_projection(symbol: str, extent: tuple, gpts: tuple) -> np.ndarray:
    """Fourier transform of one atom's infinite projected potential at the origin (abTEM units × pixels)."""
    import abtem
    from ase import Atoms

    atoms = Atoms(symbol, positions=[(0.0, 0.0, 4.0)], cell=(*extent, 8.0), pbc=True)
    with abtem.config.set(_configure_abtem(1, antialias_taper=0.0)):
        v = abtem.Potential(atoms, gpts=gpts, slice_thickness=8.0, projection="infinite").build()
        return sfft.fft2(np.asarray(v.array, dtype=np.float64).sum(0)).ravel()


class _Shares:
    """R(|k|, z) − [z > 0] on the grid, evaluated only where it is not 0.

    The long tails of R in z belong to the smallest |k| only, so the pixels are kept sorted
    by |k| and, for each height, only the prefix of them where R is neither 0 nor 1 is
    evaluated (a few hundred pixels beyond 1 Å from the atom's centre).
    """

    def __init__(self, table: CumulativeFraction, k: np.ndarray):
        self.table = table
        self.order = np.argsort(k.ravel(), kind="stable")
        ks = k.ravel()[self.order]
        dk = table.k[1] - table.k[0]
        pos = np.clip(ks / dk, 0.0, len(table.k) - 1.000001)
        self.index = pos.astype(np.int64)
        self.frac = (pos - self.index).astype(np.float32)
        partial = (table.r > _TAIL) & (table.r < 1.0 - _TAIL)  # (nk, nz)
        k_top = np.where(partial.any(0), table.k[::-1][np.argmax(partial[::-1], axis=0)], -1.0)
        # pixels needed at each tabulated height, widened by one table step in z and k
        k_top = np.maximum.reduce([k_top, np.roll(k_top, 1), np.roll(k_top, -1)]) + 2 * dk
        self.count = np.searchsorted(ks, k_top, side="right")
        self.z_reach = float(np.abs(table.z[partial.any(0)]).max())

    def at(self, z: float) -> tuple[np.ndarray, np.ndarray]:
        """Flat pixel indices and R − [z > 0] there, at height ``z`` (Å) above the atom."""
        t = self.table
        zi = np.clip((z - t.z[0]) / (t.z[1] - t.z[0]), 0.0, len(t.z) - 1.000001)
        j = int(zi)
        f = zi - j
        n = int(max(self.count[j], self.count[j + 1]))
        column = (t.r[:, j] * (1 - f) + t.r[:, j + 1] * f).astype(np.float32) - np.float32(z > 0)
        lo = column[self.index[:n]]
        return self.order[:n], lo + (column[self.index[:n] + 1] - lo) * self.frac[:n]


def slice_spectra(pos: np.ndarray, kx: np.ndarray, ky: np.ndarray, h: float, n_slices: int,
                  shares: _Shares | None):
    """Yield each slice's potential divided by V∞(k), flat on the (kx, ky) grid.

    Parameters
    ----------
    pos : ndarray (n, 3)
        Atom positions (Å), sorted by z.
    kx, ky : ndarray
        Grid frequencies (1/Å), FFT order.
    h : float
        Slice thickness (Å); slice j is [j h, (j + 1) h).
    n_slices : int
        Slices; the first also takes what lies below z = 0, the last what lies above.
    shares : _Shares or None
        Share tables of the atoms' element; ``None`` puts every atom whole into the slice
        that holds its centre (the library's scheme).

    Yields
    ------
    ndarray (len(kx) · len(ky),), complex128
        Σ_a exp(−2πi k·r_a) × (atom a's share of the slice); they sum to Σ_a exp(−2πi k·r_a).
    """
    reach = 0.0 if shares is None else shares.z_reach
    below = np.zeros(len(kx) * len(ky), np.complex128)  # phases of the atoms whose centre is below the edge
    previous = np.zeros_like(below)  # cumulative potential / V∞ below the last edge
    entered, first_near = 0, 0
    near: dict[int, np.ndarray] = {}  # phases of the atoms within reach of the edge
    for s in range(n_slices):
        top = (s + 1) * h
        last = s == n_slices - 1
        while entered < len(pos) and (pos[entered, 2] < top or last):
            below += near[entered] if entered in near else _ramp(*pos[entered, :2], kx, ky)
            entered += 1
        current = below.copy()
        if shares is not None and not last:
            while first_near < len(pos) and pos[first_near, 2] < top - reach:
                near.pop(first_near, None)
                first_near += 1
            a = first_near
            while a < len(pos) and pos[a, 2] < top + reach:
                if a not in near:
                    near[a] = _ramp(*pos[a, :2], kx, ky)
                idx, r = shares.at(top - pos[a, 2])
                current[idx] += near[a][idx] * r
                a += 1
        yield current - previous
        previous = current


def _ramp(x: float, y: float, kx: np.ndarray, ky: np.ndarray) -> np.ndarray:
    """Structure-factor phase exp(−2πi k·r) of an atom at (x, y) Å on the grid, flat complex64."""
    px = np.exp(-2j * np.pi * x * kx).astype(np.complex64)
    py = np.exp(-2j * np.pi * y * ky).astype(np.complex64)
    return np.outer(px, py).ravel()


def simulate_sliced(entry: Entry, *, settings: SimulationSettings = SimulationSettings(), sampling: float | None = None,
                    slice_thickness: float | None = None, phonon_seed: int | None = None,
                    threads: int = 1, progress=None) -> EntryResult:
    """Plane-wave multislice of one entry's tilts with the potential sliced in Fourier space.

    Parameters
    ----------
    entry : Entry
        Element, zone axis, voltage (kV) and rmsd (Å, per direction).
    settings : SimulationSettings
        Supercell, tilt grid, rings, ``max_atoms`` and ``num_configs`` are used (all tilts
        are propagated together); the projection and slicing settings are replaced by
        ``slice_thickness``.
    sampling : float, optional
        Lateral sampling (Å); default the library's (from the antialiasing requirement).
    slice_thickness : float, optional
        Slice thickness (Å), rounded so that every atomic plane spacing holds a whole number
        of slices; ``None`` puts each atom whole into the slice of its plane (the library's
        scheme).
    phonon_seed : int, optional
        Seed of the displacements; default :attr:`Entry.seed`. Every batch of waves sees the
        same ``num_configs`` configurations, so two calls with the same seed differ only in
        their numerical settings.
    threads : int
        FFT workers.
    progress : callable, optional
        Called with the number of finished slices × configurations.

    Returns
    -------
    EntryResult
        Ring intensities after 1…``max_atoms`` atoms per column, as :func:`simulate_entry`.
    """
    element = get_element(entry.element)
    crystal = crystal_cell(element, entry.zone)
    geom = geometry(crystal, entry.voltage, settings)
    if sampling is not None:
        if not 0.001 <= sampling <= 0.05:
            raise AtomcountError(f"sampling must be within 0.001–0.05 Å, got {sampling}")
        geom = replace(geom, gpts=tuple(_fft_size(L / sampling) for L in geom.extent))
    n_atoms = settings.max_atoms or MAX_ATOMS[entry.zone]
    spacing = float(crystal.cell[2] / crystal.planes)
    if slice_thickness is None:
        per_plane = 1
    else:
        if not 0.001 <= slice_thickness <= spacing:
            raise AtomcountError(f"slice_thickness must be within 0.001–{spacing:.3f} Å (one plane), "
                                 f"got {slice_thickness}")
        per_plane = max(1, int(round(spacing / slice_thickness)))
    h = spacing / per_plane
    n_slices = crystal.planes * per_plane * n_atoms
    per_atom = crystal.planes * per_plane
    lam = wavelength(entry.voltage)
    from abtem.core.energy import energy2sigma

    sigma = energy2sigma(entry.voltage * 1e3)
    nx, ny = geom.gpts
    kx = sfft.fftfreq(nx, geom.extent[0] / nx)
    ky = sfft.fftfreq(ny, geom.extent[1] / ny)
    k = np.hypot(kx[:, None], ky[None, :])
    cutoff = 2.0 / 3.0 / max(geom.extent[0] / nx, geom.extent[1] / ny) / 2.0
    aperture = (k < cutoff).astype(np.float32)
    propagator = (np.exp(-1j * np.pi * lam * h * k**2) * aperture).astype(np.complex64)
    n_rings = int(round(settings.max_detector / settings.ring_width))
    ring = np.floor(k * lam * 1e3 / settings.ring_width).astype(np.int64).ravel()
    inside = ring < n_rings
    ring_in = ring[inside]
    v0 = _atom_projection(entry.element, geom.extent, geom.gpts).astype(np.complex64)
    shares = None if slice_thickness is None else _Shares(cumulative_fraction(entry.element), k)

    base = supercell_atoms(element, crystal, geom.repeats, n_atoms).get_positions()
    rng = np.random.default_rng(entry.seed if phonon_seed is None else int(phonon_seed))
    n_waves = len(geom.indices)
    intensity = np.zeros((n_waves, n_atoms, n_rings), np.float64)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(settings.num_configs):
        pos = base + rng.normal(0.0, entry.rmsd, base.shape) if entry.rmsd > 0 else base
        pos = pos[np.argsort(pos[:, 2], kind="stable")]
        psi = plane_waves(geom, geom.indices)
        for s, spectrum in enumerate(slice_spectra(pos, kx, ky, h, n_slices, shares)):
            v = sfft.ifft2((v0 * spectrum.astype(np.complex64)).reshape(nx, ny), workers=threads).real
            t = sfft.ifft2(sfft.fft2(np.exp(1j * sigma * v).astype(np.complex64), workers=threads) * aperture,
                           workers=threads)
            psi = sfft.ifft2(sfft.fft2(psi * t, axes=(1, 2), workers=threads) * propagator, axes=(1, 2),
                             workers=threads)
            if (s + 1) % per_atom == 0:
                power = np.abs(sfft.fft2(psi, axes=(1, 2), workers=threads)) ** 2 / float(nx * ny) ** 2
                n = (s + 1) // per_atom - 1
                for w in range(n_waves):
                    intensity[w, n] += np.bincount(ring_in, power[w].ravel()[inside], minlength=n_rings)
            if progress is not None:
                progress(1)
    intensity /= settings.num_configs
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    m = geom.multiplicity[:, None, None]
    batch_totals = ((intensity * m).sum(0) / m.sum())[None].astype(np.float32)
    return EntryResult(intensity.astype(np.float32), batch_totals, np.zeros(n_waves, int), geom, crystal,
                       seconds, cpu_seconds, "cpu")

