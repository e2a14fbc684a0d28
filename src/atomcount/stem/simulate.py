"""ADF-STEM images of projected particles: a fast incoherent model and an exact multislice.

Both return a :class:`StemImage` whose ``image`` is *normalised*: the fraction of the
incident beam that reaches the annular detector at each probe position (the convention of
PPISCS work, Lobato et al., Ultramicroscopy 2023). Arrays are indexed (row, col) = (y, x);
the pixel (r, c) is the probe position x = c·pixel_size, y = r·pixel_size (Å).

Fast model (:func:`simulate_fast`)
    Linear incoherent imaging: every column is a point object of strength σ_n, its PPISCS
    (Å², from :func:`atomcount.ppiscs_curve` for its ``n`` atoms), imaged through the
    probe intensity P(r):

        I(r) = background + Σ_c σ_{n_c} · P(r − r_c),      ∫ P dA = 1,

    so the integral of I − background over a column's cell (its Voronoi cell, when the
    neighbours' tails balance) is its cross-section in Å² — the quantity the counting
    methods measure. P is the probe of an ideal aberration-free round aperture of
    semi-angle α (its Fourier transform is the aperture autocorrelation, the incoherent
    transfer function, which cuts off at 2α/λ) blurred by a Gaussian effective source of
    full width at half maximum ``source_size`` (Å). The Airy-like rings of the aperture
    give the cross-talk between neighbouring columns that real images have; a Gaussian
    peak would hide it. The image is built in Fourier space on a grid fine enough to hold
    the band limit (then sampled at ``pixel_size``), so the grid sum is the integral.
Exact model (:func:`simulate_exact`)
    abTEM frozen-phonon multislice (PRISM: the plane waves inside the aperture propagated
    once per phonon configuration, then summed into a probe at every scan position, which
    for a periodic cell without interpolation equals a direct probe scan) and an annular
    detector; minutes on a CPU for tens of atoms, meant for checks of the fast model.
Noise (:func:`add_dose`)
    A dose D (e⁻/Å²) puts D·Δx² electrons on each pixel; the detector counts are
    Poisson(D·Δx²·I) and the normalised image is counts / (D·Δx²).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from atomcount.core.errors import AtomcountError, check_range
from atomcount.core.particles import Particle
from atomcount.core.units import wavelength

#: Default microscope (inside the shipped PPISCS library and surrogate for Au [100] and [110]).
DEFAULT_SETTINGS = dict(voltage=300.0, convergence=21.0, inner=46.0, outer=190.0, rmsd=0.085)


@dataclass
class StemImage:
    """A simulated ADF-STEM image and the columns it shows.

    Attributes
    ----------
    image : ndarray (ny, nx), float64
        Normalised intensity (fraction of the incident beam on the detector), indexed (y, x).
    pixel_size : float
        Probe step (Å/px).
    dose : float or None
        Incident electrons per Å² (None: noise-free).
    xy : ndarray (n, 2)
        Column positions (Å), x then y, in the image frame (x = col · pixel_size).
    height : ndarray of int (n,)
        Atoms per column.
    cross_section : ndarray (n,)
        PPISCS of each column (Å²) that the fast model put into the image; NaN for the
        exact model (the multislice knows no per-column cross-section).
    settings : dict
        Element, zone, voltage (kV), convergence, inner, outer (mrad), rmsd (Å) and the
        model's own parameters.
    """

    image: np.ndarray
    pixel_size: float
    dose: float | None
    xy: np.ndarray
    height: np.ndarray
    cross_section: np.ndarray
    settings: dict = field(default_factory=dict)


def _check_settings(voltage: float, convergence: float, inner: float, outer: float) -> None:
    check_range("voltage", voltage, 20.0, 1000.0, "kV")
    check_range("convergence angle", convergence, 1.0, 60.0, "mrad")
    check_range("inner angle", inner, 0.0, 500.0, "mrad")
    check_range("outer angle", outer, 0.0, 500.0, "mrad")
    if not inner < outer:
        raise AtomcountError(f"inner angle {inner} mrad must be below the outer angle {outer} mrad")


def column_cross_sections(height: np.ndarray, *, element: str, zone: str, voltage: float, convergence: float,
                          inner: float, outer: float, rmsd: float, source: str | None = None) -> np.ndarray:
    """PPISCS (Å²) of columns of ``height`` atoms, from :func:`atomcount.ppiscs_curve`.

    Raises
    ------
    AtomcountError
        For heights below 1 or beyond the curve's thickness range, and settings the PPISCS
        source refuses.
    """
    from atomcount.stem.ppiscs.curve import ppiscs_curve

    height = np.asarray(height)
    curve = ppiscs_curve(element, zone, voltage, convergence, inner, outer, rmsd, source=source)
    if height.size and (height.min() < 1 or height.max() > len(curve)):
        raise AtomcountError(f"column heights must lie in 1…{len(curve)} atoms for [{zone}], "
                             f"got {height.min()}…{height.max()}")
    return curve[height.astype(int) - 1]


def probe_transfer(ky: np.ndarray, kx: np.ndarray, *, voltage: float, convergence: float,
                   source_size: float) -> np.ndarray:
    """Fourier transform of the normalised probe intensity at spatial frequencies (1/Å).

    The autocorrelation of a round aperture of semi-angle ``convergence`` (mrad), normalised
    to 1 at k = 0 and zero beyond 2α/λ, times the Gaussian of an effective source of FWHM
    ``source_size`` (Å).
    """
    k = np.hypot(ky[:, None], kx[None, :])
    s = np.clip(k * wavelength(voltage) / (2 * convergence * 1e-3), 0.0, 1.0)
    otf = 2 / np.pi * (np.arccos(s) - s * np.sqrt(1 - s**2))
    sd = source_size / (2 * np.sqrt(2 * np.log(2)))
    return otf * np.exp(-2 * np.pi**2 * sd**2 * k**2)


def incoherent_image(xy: np.ndarray, strength: np.ndarray, *, shape: tuple[int, int], pixel_size: float,
                     voltage: float, convergence: float, source_size: float, jitter: float = 0.0,
                     rng: np.random.Generator | None = None) -> np.ndarray:
    """Σ strength_c · P(r − r_c) sampled at the probe positions (noise-free, 1/Å² per unit strength).

    Parameters
    ----------
    xy : ndarray (n, 2)
        Point positions (Å), x then y.
    strength : ndarray (n,)
        Integral of each point's peak (Å² for cross-sections).
    shape : tuple of int
        Image size (ny, nx) in pixels.
    pixel_size : float
        Probe step (Å/px).
    voltage, convergence, source_size
        kV, mrad, Å (see :func:`probe_transfer`).
    jitter : float
        Standard deviation (Å) of a random x shift of each scan line (scan noise); needs ``rng``.
    rng : numpy.random.Generator, optional
        Source of the line shifts.

    Returns
    -------
    ndarray (ny, nx)
        The image is periodic in the field (peaks closer to an edge than the probe tails
        wrap around); its grid sum times ``pixel_size``² is Σ strength when the pixel is
        below the Nyquist step λ/(4α), and within aliasing of it otherwise.
    """
    ny, nx = shape
    band = 2 * convergence * 1e-3 / wavelength(voltage)  # highest frequency of the image (1/Å)
    m = max(1, int(np.ceil(2 * band * pixel_size * 1.0001)))  # oversampling to hold the band
    dx = pixel_size / m
    ky = np.fft.fftfreq(ny * m, d=dx)
    kx = np.fft.rfftfreq(nx * m, d=dx)
    xy = np.asarray(xy, float).reshape(-1, 2)
    ey = np.exp(-2j * np.pi * np.outer(ky, xy[:, 1])) * np.asarray(strength, float)
    ex = np.exp(-2j * np.pi * np.outer(xy[:, 0], kx))
    spectrum = (ey @ ex) * probe_transfer(ky, kx, voltage=voltage, convergence=convergence,
                                          source_size=source_size) / dx**2
    if jitter > 0:
        if rng is None:
            raise AtomcountError("scan jitter needs a random generator")
        shifts = np.repeat(rng.normal(0.0, jitter, size=ny), m)  # Å, one per scan line
        rows = np.fft.ifft(spectrum, axis=0)  # back to real rows, still in kx
        rows *= np.exp(-2j * np.pi * shifts[:, None] * kx[None, :])
        return np.fft.irfft(rows, n=nx * m, axis=1).real[::m, ::m]
    return np.fft.irfft2(spectrum, s=(ny * m, nx * m))[::m, ::m]


def add_dose(image: np.ndarray, *, dose: float, pixel_size: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts of a normalised image at ``dose`` (e⁻/Å²), normalised back.

    Parameters
    ----------
    image : ndarray
        Normalised intensity (≥ 0; tiny negative ringing of a band-limited image is clipped).
    dose : float
        Incident electrons per Å², 1…1e9.
    pixel_size : float
        Probe step (Å/px); each pixel receives dose · pixel_size² electrons.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray
        counts / (dose · pixel_size²), with mean ``image`` and variance image / (dose · pixel_size²).
    """
    check_range("dose", dose, 1.0, 1e9, "e⁻/Å²")
    electrons = dose * pixel_size**2
    return rng.poisson(np.clip(image, 0.0, None) * electrons) / electrons


def _image_shape(particle: Particle, pixel_size: float) -> tuple[int, int]:
    """(ny, nx) probe positions covering the particle's field of view."""
    cell = particle.atoms.cell
    return int(round(float(cell[1, 1]) / pixel_size)), int(round(float(cell[0, 0]) / pixel_size))


def _check_particle(particle: Particle, pixel_size: float) -> None:
    if not isinstance(particle, Particle):
        raise AtomcountError(f"expected an atomcount.core.particles.Particle, got {type(particle).__name__}")
    check_range("pixel size", pixel_size, 0.01, 2.0, "Å/px")
    if len(particle.columns) == 0:
        raise AtomcountError("the particle has no columns")


def simulate_fast(particle: Particle, *, pixel_size: float = 0.2, dose: float | None = None,
                  voltage: float = 300.0, convergence: float = 21.0, inner: float = 46.0, outer: float = 190.0,
                  rmsd: float = 0.085, source_size: float = 0.5, background: float = 0.0, jitter: float = 0.0,
                  seed: int | list[int] | np.random.Generator | None = 0, ppiscs_source: str | None = None) -> StemImage:
    """Fast ADF-STEM image of a particle: library cross-sections spread over the probe.

    Parameters
    ----------
    particle : Particle
        From :func:`atomcount.core.particles.random_particle`, with its zone axis along the beam;
        its field of view sets the image size.
    pixel_size : float
        Probe step (Å/px).
    dose : float, optional
        Incident electrons per Å² (Poisson noise); None for the noise-free image.
    voltage : float
        kV.
    convergence, inner, outer : float
        Probe semi-angle α and annular detector θ0…θe (mrad); must be settings the PPISCS
        source holds (the shipped surrogate and library: Au [100] and [110] at 300 kV).
    rmsd : float
        Thermal rms displacement per direction (Å).
    source_size : float
        FWHM of the Gaussian effective source (Å); 0.5 Å is typical of a corrected 300 kV
        instrument and widens the 0.48 Å Airy core of α = 21 mrad to ≈ 0.7 Å.
    background : float
        Constant fraction of the beam on the detector everywhere (a support film), ≥ 0.
    jitter : float
        Scan-line jitter (Å, standard deviation of each line's x shift); 0 for none.
    seed : int, list of int or Generator, optional
        Randomness of the noise and jitter (any :func:`numpy.random.default_rng` seed); the
        same seed gives the same image.
    ppiscs_source : str, optional
        ``"surrogate"`` or ``"library"`` for :func:`atomcount.ppiscs_curve` (default: its default).

    Returns
    -------
    StemImage
    """
    _check_particle(particle, pixel_size)
    _check_settings(voltage, convergence, inner, outer)
    check_range("source size", source_size, 0.0, 5.0, "Å")
    check_range("background", background, 0.0, 1.0)
    check_range("jitter", jitter, 0.0, 5.0, "Å")
    element = particle.info.get("element", particle.atoms.get_chemical_symbols()[0])
    sigma = column_cross_sections(particle.columns.height, element=element, zone=particle.zone, voltage=voltage,
                                  convergence=convergence, inner=inner, outer=outer, rmsd=rmsd, source=ppiscs_source)
    rng = np.random.default_rng(seed)
    shape = _image_shape(particle, pixel_size)
    image = background + incoherent_image(particle.columns.xy, sigma, shape=shape, pixel_size=pixel_size,
                                          voltage=voltage, convergence=convergence, source_size=source_size,
                                          jitter=jitter, rng=rng)
    if dose is not None:
        image = add_dose(image, dose=dose, pixel_size=pixel_size, rng=rng)
    settings = dict(element=element, zone=particle.zone, voltage=voltage, convergence=convergence, inner=inner,
                    outer=outer, rmsd=rmsd, model="fast", source_size=source_size, background=background,
                    jitter=jitter)
    return StemImage(image, float(pixel_size), dose, particle.columns.xy.copy(),
                     particle.columns.height.copy(), sigma, settings)


def simulate_exact(particle: Particle, *, pixel_size: float = 0.2, dose: float | None = None,
                   voltage: float = 300.0, convergence: float = 21.0, inner: float = 46.0, outer: float = 190.0,
                   rmsd: float = 0.085, num_configs: int = 4, sampling: float = 0.03, seed: int = 0,
                   threads: int = 1) -> StemImage:
    """ADF-STEM image of a particle by abTEM frozen-phonon multislice (PRISM, equal to a probe scan here).

    Parameters
    ----------
    particle : Particle
        Small particles only (tens of atoms in a field of ≈ 20 Å): the cost is one
        multislice per probe position and phonon configuration.
    pixel_size : float
        Probe step (Å/px) of the scan over the whole field.
    dose : float, optional
        e⁻/Å² (Poisson noise by :func:`add_dose`); None for the phonon-averaged image.
    voltage, convergence, inner, outer, rmsd
        kV, mrad, mrad, mrad, Å (per direction) as in :func:`simulate_fast`.
    num_configs : int
        Frozen-phonon configurations averaged.
    sampling : float
        Potential and wave sampling (Å); the antialiasing cutoff (2/3 of Nyquist) must
        reach the outer detector angle.
    seed : int
        Seed of the phonon configurations and the noise.
    threads : int
        FFTW threads.

    Returns
    -------
    StemImage
        ``cross_section`` is NaN: the multislice has no per-column cross-section.
    """
    import abtem

    from atomcount.core.crystals import get_zone_axis, plane_spacing, get_element
    from atomcount.stem.ppiscs.simulation import _configure_abtem

    _check_particle(particle, pixel_size)
    _check_settings(voltage, convergence, inner, outer)
    check_range("sampling", sampling, 0.005, 0.2, "Å")
    if num_configs < 1:
        raise AtomcountError(f"num_configs must be ≥ 1, got {num_configs}")
    cutoff = 2 / 3 * 0.5 / sampling * wavelength(voltage) * 1e3  # mrad
    if outer > cutoff:
        raise AtomcountError(f"outer angle {outer} mrad beyond the antialiasing cutoff {cutoff:.0f} mrad "
                             f"of {sampling} Å sampling; use ≤ {2 / 3 * 0.5 * wavelength(voltage) * 1e3 / outer:.3f} Å")
    element = particle.info.get("element", particle.atoms.get_chemical_symbols()[0])
    dz = plane_spacing(get_element(element), get_zone_axis(particle.zone))
    shape = _image_shape(particle, pixel_size)
    atoms = particle.atoms.copy()
    atoms.pbc = True
    with abtem.config.set(_configure_abtem(threads)):
        phonons = abtem.FrozenPhonons(atoms, num_configs=num_configs, sigmas=rmsd, seed=seed)
        potential = abtem.Potential(phonons, sampling=sampling, slice_thickness=float(dz),
                                    projection="infinite", parametrization="lobato")
        # PRISM: the plane waves inside the aperture, propagated once, serve every probe position;
        # interpolation 1 keeps the whole periodic cell, so the probe is that of a direct scan
        s_matrix = abtem.SMatrix(potential=potential, semiangle_cutoff=convergence, energy=voltage * 1e3,
                                 interpolation=1)
        scan = abtem.GridScan(start=(0.0, 0.0), end=(shape[1] * pixel_size, shape[0] * pixel_size),
                              gpts=(shape[1], shape[0]), endpoint=False)
        measured = s_matrix.scan(scan=scan, detectors=abtem.AnnularDetector(inner=inner, outer=outer), lazy=True)
        measured = measured.compute(scheduler="synchronous")  # one chunk at a time: bounded memory
        image = np.asarray(measured.to_cpu().array, dtype=np.float64).T  # abTEM (x, y) -> (y, x)
    if dose is not None:
        image = add_dose(image, dose=dose, pixel_size=pixel_size, rng=np.random.default_rng([seed, 1]))
    settings = dict(element=element, zone=particle.zone, voltage=voltage, convergence=convergence, inner=inner,
                    outer=outer, rmsd=rmsd, model="exact", num_configs=num_configs, sampling=sampling)
    n = len(particle.columns)
    return StemImage(image, float(pixel_size), dose, particle.columns.xy.copy(), particle.columns.height.copy(),
                     np.full(n, np.nan), settings)
