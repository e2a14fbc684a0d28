"""HRTEM exit waves (abTEM multislice) and image formation (CTF, envelopes, dose, MTF).

The expensive step, the multislice exit wave, is done once per oriented particle at a
fine sampling and stored Fourier-cropped (frequencies |kx|, |ky| < ``k_store``). The
microscope is applied afterwards by :func:`render_image`, so one exit wave yields any
number of images with fresh parameters (paper 000 §3.3 renders "on the fly").

Image formation, in order:

1. wave transfer exp(−iχ) × temporal × spatial envelopes × objective aperture;
2. intensity |ψ|² on a grid fine enough that |ψ|² is not aliased below the image
   Nyquist frequency;
3. Fourier resampling of the intensity to the image pixel size, Gaussian blur;
4. dose: mean count per pixel = dose × pixel area, Poisson noise;
5. detector MTF on the noisy image (frequencies in units of Nyquist);
6. normalisation to zero mean and unit variance (what the network sees).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft as sfft

from atomcount.core.crystals import get_element, get_zone_axis, plane_spacing
from atomcount.core.errors import AtomcountError, check_range
from atomcount.core.particles import Particle
from atomcount.hrtem.microscope import (
    ImagingParameters,
    ctf_phase,
    mtf,
    spatial_envelope,
    temporal_envelope,
)

#: Objective aperture radius (1/Å). The focal-spread envelope at the smallest spread
#: of Table 1 (20 Å) is below 1 % beyond it.
K_APERTURE = 1.7


@dataclass
class ExitWave:
    """A stored exit wave.

    Attributes
    ----------
    fourier : ndarray of complex64, shape (m, m)
        Fourier coefficients ψ̃(k) for |kx|, |ky| < m/(2·extent), FFT-shifted
        (zero frequency at index m//2), normalised so that a vacuum wave has
        ψ̃(0) = m² (i.e. unit amplitude on an m×m real-space grid).
    extent : float
        Side of the square field of view (Å).
    energy : float
        Accelerating voltage (kV).
    """

    fourier: np.ndarray
    extent: float
    energy: float

    @property
    def k_max(self) -> float:
        """Largest stored frequency (1/Å)."""
        return self.fourier.shape[0] / (2 * self.extent)


def exit_wave(
    particle: Particle,
    sampling: float = 0.08,
    energy: float = 300.0,
    k_store: float = 2.0,
    device: str = "cpu",
) -> ExitWave:
    """Compute the exit wave of an oriented particle with abTEM (plane wave, no phonons).

    Parameters
    ----------
    particle : Particle
        Oriented particle; its cell defines the field of view.
    sampling : float
        Multislice real-space sampling (Å). 0.0625–0.08 Å keeps the correlation with
        a converged (0.04 Å) reference ≥ 0.99 (see BENCHMARKS.md).
    energy : float
        Accelerating voltage (kV).
    k_store : float
        Stored frequency half-width (1/Å); must exceed :data:`K_APERTURE`.
    device : {"cpu", "gpu"}
        abTEM device.

    Returns
    -------
    ExitWave
    """
    import abtem

    check_range("sampling", sampling, 0.01, 0.2, "Å")
    check_range("k_store", k_store, K_APERTURE, 1 / (2 * sampling) * 2 / 3, "1/Å")
    atoms = particle.atoms.copy()
    el = get_element(atoms.get_chemical_symbols()[0])
    d = plane_spacing(el, get_zone_axis(particle.zone))
    per_slice = max(1, int(round(2.0 / d)))
    dz = per_slice * d
    # put the first atomic plane half a plane spacing below the entrance surface so that
    # planes sit inside slices, never on their boundaries
    z = atoms.positions[:, 2]
    atoms.positions[:, 2] = z - z.min() + d / 2
    n_slices = int(np.ceil((np.ptp(z) + d) / dz))
    cell = atoms.cell.array.copy()
    cell[2, 2] = n_slices * dz
    atoms.set_cell(cell)
    extent = float(cell[0, 0])
    gpts = int(2 * round(extent / sampling / 2))
    potential = abtem.Potential(
        atoms, gpts=gpts, slice_thickness=dz, projection="infinite", device=device
    )
    # FFTW_MEASURE (abTEM's default) picks FFT algorithms by timing them, so two runs of the
    # same particle could differ by float32 rounding; estimated plans make the data
    # set bit-for-bit reproducible across processes (tested: dask == serial).
    with abtem.config.set({"fftw.planning_effort": "FFTW_ESTIMATE"}):
        wave = abtem.PlaneWave(energy=energy * 1e3, device=device).multislice(potential, lazy=False)
    arr = np.asarray(wave.array if device == "cpu" else wave.to_cpu().array)
    m = int(2 * round(k_store * extent))
    f = sfft.fftshift(sfft.fft2(arr.astype(np.complex64)))
    c = gpts // 2
    crop = f[c - m // 2 : c + m // 2, c - m // 2 : c + m // 2]
    crop = crop * np.float32(m * m / (gpts * gpts))
    return ExitWave(fourier=crop.astype(np.complex64), extent=extent, energy=energy)


@lru_cache(maxsize=16)
def _half_plane_frequencies(n: int, extent: float) -> np.ndarray:
    """|k| (1/Å) on the rfft half-plane of an n×n image of a field ``extent`` (Å), axis 0 shifted."""
    k = np.hypot(*np.meshgrid((np.arange(n) - n // 2) / extent, np.arange(n // 2 + 1) / extent, indexing="ij"))
    k.setflags(write=False)
    return k


@lru_cache(maxsize=16)
def _rfft_nyquist_radius(n0: int, n1: int) -> np.ndarray:
    """|q| in units of the Nyquist frequency on the (unshifted) rfft grid of an n0×n1 image."""
    q = np.hypot(np.fft.fftfreq(n0)[:, None] * 2, np.fft.rfftfreq(n1)[None, :] * 2)
    q.setflags(write=False)
    return q


@lru_cache(maxsize=16)
def _frequencies(n: int, extent: float) -> tuple[np.ndarray, np.ndarray]:
    """|k| (1/Å) and azimuth on an FFT-shifted n×n grid of a field ``extent`` (Å)."""
    k1 = (np.arange(n) - n // 2) / extent
    kx, ky = np.meshgrid(k1, k1, indexing="ij")
    return np.hypot(kx, ky), np.arctan2(ky, kx)


def _even_fast_len(n: int) -> int:
    """Smallest even length ≥ n whose only prime factors are 2, 3 and 5."""
    while True:
        r = n + n % 2
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return n + n % 2
        n += 1


def image_size(extent: float, sampling: float) -> int:
    """Even number of pixels whose pitch is closest to ``sampling`` for ``extent``."""
    return int(2 * round(extent / sampling / 2))


def wave_intensity(wave: ExitWave, params: ImagingParameters) -> np.ndarray:
    """Image intensity before dose and detector, at the image pixel size.

    Returns the noise-free intensity (vacuum = 1) on ``image_size(extent, sampling)``
    pixels, blurred by ``params.blur`` pixels.
    """
    if abs(params.energy - wave.energy) > 1e-6:
        raise AtomcountError(
            f"imaging energy {params.energy} kV differs from the exit wave's {wave.energy} kV"
        )
    m = wave.fourier.shape[0]
    n_img = image_size(wave.extent, params.sampling)
    if n_img > m:
        raise AtomcountError(
            f"sampling {params.sampling} Å/px is finer than the stored exit wave allows "
            f"({wave.extent / m:.3f} Å/px)"
        )
    k_ap = min(K_APERTURE, wave.k_max)
    # only frequencies inside the aperture matter: work on the smallest square holding it
    m_ap = min(m, int(2 * np.ceil(k_ap * wave.extent)) + 2)
    c = m // 2 - m_ap // 2
    k, phi = _frequencies(m_ap, wave.extent)
    chi = ctf_phase(k, phi, params)
    h = np.exp(-1j * chi) * (temporal_envelope(k, params) * spatial_envelope(k, params) * (k <= k_ap))
    psi_k = wave.fourier[c : c + m_ap, c : c + m_ap] * h.astype(np.complex64)
    # |psi|^2 holds frequencies up to 2 k_ap; a grid with Nyquist k_r aliases them
    # only above 2 k_r - 2 k_ap, which must exceed the image Nyquist frequency k_img.
    k_img = n_img / (2 * wave.extent)
    n_r = _even_fast_len(max(int(np.ceil(2 * wave.extent * (k_ap + k_img / 2))), n_img))
    pad = np.zeros((n_r, n_r), np.complex64)
    o = n_r // 2 - m_ap // 2
    pad[o : o + m_ap, o : o + m_ap] = psi_k
    psi = sfft.ifft2(sfft.ifftshift(pad), workers=1) * np.float32(n_r * n_r / (m * m))
    intensity = psi.real**2 + psi.imag**2
    ik = sfft.fftshift(sfft.rfft2(intensity, workers=1), axes=0)
    # crop to the image grid (rfft keeps the non-negative half along the last axis)
    o = n_r // 2 - n_img // 2
    crop = ik[o : o + n_img, : n_img // 2 + 1].copy()
    kimg = _half_plane_frequencies(n_img, wave.extent)
    if params.blur > 0:
        sigma = params.blur * wave.extent / n_img  # Å
        crop *= np.exp(-2 * (np.pi * sigma * kimg) ** 2)
    out = sfft.irfft2(sfft.ifftshift(crop, axes=0), s=(n_img, n_img), workers=1)
    return (out * (n_img * n_img) / (n_r * n_r)).astype(np.float32)


def detect(
    intensity: np.ndarray, params: ImagingParameters, rng: np.random.Generator, *, mtf_on: str = "counts"
) -> np.ndarray:
    """Electron counting (Poisson) and detector MTF.

    Parameters
    ----------
    intensity : ndarray
        Noise-free intensity, vacuum = 1.
    params : ImagingParameters
        Uses ``dose`` (e⁻/Å²), ``sampling`` (Å/px) and the MTF coefficients.
    rng : numpy.random.Generator
    mtf_on : {"counts", "intensity"}
        ``"counts"``: the MTF filters the Poisson counts (shot noise is correlated, as in a
        scintillator-coupled camera; atomcount's training default). ``"intensity"``: the MTF
        filters the noise-free intensity and the shot noise stays white (a direct-electron
        detector model). Real detectors lie between; the whole-frame evaluation uses both.

    Returns
    -------
    ndarray of float32
        Counts per pixel after the MTF (mean = dose × pixel area × mean intensity).
    """
    if mtf_on not in ("counts", "intensity"):
        raise AtomcountError(f"mtf_on must be 'counts' or 'intensity', got {mtf_on!r}")
    scale = params.dose * params.sampling**2
    q = _rfft_nyquist_radius(*intensity.shape)
    transfer = mtf(q, params.mtf_c1, params.mtf_c2, params.mtf_c3)

    def filtered(a: np.ndarray) -> np.ndarray:
        return sfft.irfft2(sfft.rfft2(a, workers=1) * transfer, s=a.shape, workers=1).astype(np.float32)

    if mtf_on == "intensity":
        return rng.poisson(np.maximum(filtered(np.asarray(intensity, np.float32)), 0.0) * scale).astype(np.float32)
    return filtered(rng.poisson(np.maximum(intensity, 0.0) * scale).astype(np.float32))


def normalize(image: np.ndarray) -> np.ndarray:
    """Zero mean, unit standard deviation (float32)."""
    image = np.asarray(image, dtype=np.float32)
    std = float(image.std())
    return (image - image.mean()) / (std if std > 0 else 1.0)


def render_image(
    wave: ExitWave, params: ImagingParameters, rng: np.random.Generator, *, mtf_on: str = "counts"
) -> np.ndarray:
    """One normalised HRTEM image of ``wave`` under ``params`` (pixel size ``params.sampling``).

    ``mtf_on`` is passed to :func:`detect`.
    """
    return normalize(detect(wave_intensity(wave, params), params, rng, mtf_on=mtf_on))
