"""HRTEM microscope parameters: ranges of paper 000 (Table 1), sampling and validation.

Conventions (stated once, used everywhere):

* Aberrations follow the Krivanek/abTEM coefficient notation with the phase
  χ(k) = π λ k² [C10 + C12 cos 2(φ − φ12)] + ½ π Cs λ³ k⁴ and the wave transfer
  exp(−iχ). **C10 < 0 is underfocus.** The paper's defocus range −250…−150 Å is read
  as C10 ∈ [−250, −150] Å (abTEM's ``defocus`` argument is −C10).
* Cs is given in µm at the interface (paper Table 1), converted to Å internally.
* The focal spread Δ is the standard deviation (Å) of the Gaussian defocus
  distribution: temporal envelope exp(−½ (π λ Δ k²)²).
* The source semi-angle α (mrad) gives the spatial envelope
  exp(−(π α/λ)² (C10 λ k + Cs λ³ k³)²) (Kirkland 2010, eq. 3.71 form).
* The detector MTF, MTF(q) = (1 − c1)/(1 + (q/(2 c2))^c3) + c1, takes q in units of the
  image Nyquist frequency: a detector's MTF is a property of its pixels, so it scales
  with the pixel pitch, not with Å⁻¹ in the specimen.
* Dose is electrons per Å²; the mean count per pixel is dose × pixel area.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from atomcount.core.errors import AtomcountError, check_range
from atomcount.core.units import wavelength

@dataclass(frozen=True)
class ImagingRanges:
    """Ranges of the imaging parameters (paper 000, Table 1, unless noted).

    Every attribute is a ``(low, high)`` tuple; equal bounds fix a value.

    Attributes
    ----------
    defocus : C10 (Å); negative is underfocus.
    cs : spherical aberration C30 (µm).
    astigmatism : two-fold astigmatism |C12| (Å).
    astigmatism_angle : its azimuth φ12 (rad).
    focal_spread : standard deviation of the defocus spread (Å).
    source_angle : semi-angle of the partially coherent source (mrad); not in Table 1,
        default 0 (off).
    dose : electrons per Å², sampled log-uniformly.
    mtf_c1, mtf_c2, mtf_c3 : detector MTF parameters (dimensionless).
    blur : standard deviation of a Gaussian blur (image pixels).
    sampling : image pixel size (Å/px).
    energy : accelerating voltage (kV).
    """

    defocus: tuple = (-250.0, -150.0)
    cs: tuple = (-20.0, 20.0)
    astigmatism: tuple = (0.0, 50.0)
    astigmatism_angle: tuple = (0.0, 2 * np.pi)
    focal_spread: tuple = (20.0, 40.0)
    source_angle: tuple = (0.0, 0.0)
    dose: tuple = (1e2, 1e6)
    mtf_c1: tuple = (0.0, 0.01)
    mtf_c2: tuple = (0.5, 0.6)
    mtf_c3: tuple = (2.3, 2.3)
    blur: tuple = (0.0, 2.0)
    sampling: tuple = (0.250, 0.265)
    energy: tuple = (300.0, 300.0)

    def __post_init__(self) -> None:
        for f in fields(self):
            lo, hi = getattr(self, f.name)
            if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
                raise AtomcountError(f"range {f.name}={lo, hi} must be finite with low <= high")
        if self.dose[0] <= 0:
            raise AtomcountError(f"dose must be positive, got range {self.dose}")

    def sample(self, rng: np.random.Generator) -> "ImagingParameters":
        """Draw one parameter set (dose log-uniform, the rest uniform)."""
        values = {}
        for f in fields(self):
            lo, hi = getattr(self, f.name)
            if f.name == "dose":
                values[f.name] = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            else:
                values[f.name] = float(rng.uniform(lo, hi))
        return ImagingParameters(**values)

    def contains(self, params: "ImagingParameters") -> list[str]:
        """Names of the parameters of ``params`` that fall outside these ranges."""
        out = []
        for f in fields(self):
            lo, hi = getattr(self, f.name)
            v = getattr(params, f.name)
            if not (lo - 1e-9 * max(1, abs(lo)) <= v <= hi + 1e-9 * max(1, abs(hi))):
                out.append(f.name)
        return out


@dataclass(frozen=True)
class ImagingParameters:
    """One set of imaging parameters; units as in :class:`ImagingRanges`."""

    defocus: float = -200.0
    cs: float = 0.0
    astigmatism: float = 0.0
    astigmatism_angle: float = 0.0
    focal_spread: float = 30.0
    source_angle: float = 0.0
    dose: float = 1e4
    mtf_c1: float = 0.005
    mtf_c2: float = 0.55
    mtf_c3: float = 2.3
    blur: float = 0.0
    sampling: float = 0.25
    energy: float = 300.0

    def __post_init__(self) -> None:
        check_range("defocus", self.defocus, -5000.0, 5000.0, "Å")
        check_range("cs", self.cs, -5000.0, 5000.0, "µm")
        check_range("astigmatism", self.astigmatism, 0.0, 1000.0, "Å")
        check_range("focal_spread", self.focal_spread, 0.0, 500.0, "Å")
        check_range("source_angle", self.source_angle, 0.0, 5.0, "mrad")
        check_range("dose", self.dose, 1e-3, 1e9, "e-/Å^2")
        check_range("mtf_c1", self.mtf_c1, 0.0, 1.0)
        check_range("mtf_c2", self.mtf_c2, 1e-3, 10.0)
        check_range("mtf_c3", self.mtf_c3, 0.1, 20.0)
        check_range("blur", self.blur, 0.0, 20.0, "px")
        check_range("sampling", self.sampling, 0.05, 2.0, "Å/px")
        check_range("energy", self.energy, 20.0, 1000.0, "kV")

    def to_dict(self) -> dict:
        """Plain dictionary of the parameters."""
        return asdict(self)


def ctf_phase(k: np.ndarray, phi: np.ndarray, p: ImagingParameters) -> np.ndarray:
    """Aberration phase χ(k) (rad) for spatial frequency ``k`` (1/Å) at azimuth ``phi``."""
    lam = wavelength(p.energy)
    cs = p.cs * 1e4  # µm -> Å
    c1 = p.defocus + p.astigmatism * np.cos(2 * (phi - p.astigmatism_angle))
    return np.pi * lam * k**2 * c1 + 0.5 * np.pi * cs * lam**3 * k**4


def temporal_envelope(k: np.ndarray, p: ImagingParameters) -> np.ndarray:
    """Partial temporal coherence envelope exp(−½ (π λ Δ k²)²)."""
    lam = wavelength(p.energy)
    return np.exp(-0.5 * (np.pi * lam * p.focal_spread * k**2) ** 2)


def spatial_envelope(k: np.ndarray, p: ImagingParameters) -> np.ndarray:
    """Partial spatial coherence envelope for a Gaussian source of semi-angle α."""
    if p.source_angle == 0.0:
        return np.ones_like(k)
    lam = wavelength(p.energy)
    alpha = p.source_angle * 1e-3
    grad = p.defocus * lam * k + p.cs * 1e4 * lam**3 * k**3
    return np.exp(-((np.pi * alpha / lam) ** 2) * grad**2)


def mtf(q: np.ndarray, c1: float, c2: float, c3: float) -> np.ndarray:
    """Detector modulation transfer function, ``q`` in units of the Nyquist frequency.

    Examples
    --------
    >>> float(mtf(np.array(0.0), 0.01, 0.55, 2.3))
    1.0
    """
    return (1.0 - c1) / (1.0 + (np.abs(q) / (2.0 * c2)) ** c3) + c1
