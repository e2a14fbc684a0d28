"""Counting atoms per column in an ADF-STEM image: :func:`count_stem`.

image → normalised to the beam → columns (peaks or given) → cross-section per column
(Gaussian model or Voronoi cell) → counts by statistics (mixture + ICL), by simulation
(nearest library PPISCS) or by both (mixture with its means at the library values).

>>> import atomcount
>>> result = atomcount.count_stem(image, pixel_size=0.12, normalised=True)  # doctest: +SKIP
>>> result.total_atoms, result.table()["count"]                             # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from atomcount.core.errors import AtomcountError, check_range
from atomcount.stem.lattice import LatticeCheck, lattice_check, lattice_fraction
from atomcount.stem.mixture import MixtureFit
from atomcount.stem.normalise import Normalisation
from atomcount.stem.reference import Reference

METHODS = ("statistics", "library", "hybrid")
CROSS_SECTIONS = ("gaussian", "voronoi", "voronoi-unmixed")
#: Share of found peaks that must sit at the common nearest-neighbour spacing (see _require_lattice).
MIN_LATTICE_FRACTION = 0.5
#: Share of nearest-neighbour directions that must fall in the three main 10° bins (see _require_lattice).
MIN_DIRECTION_SHARE = 0.4


@dataclass
class StemCountResult:
    """Columns of one ADF-STEM image with their cross-sections and atom counts.

    Attributes
    ----------
    x_px, y_px : ndarray (N,)
        Column positions in pixels: x along the array's second axis, y along its first.
    x_A, y_A : ndarray (N,)
        The same in Å (centre of pixel 0 at 0 Å).
    cross_section : ndarray (N,)
        Scattering cross-section per column (Å² for a normalised image, else relative units).
    count : ndarray of int (N,)
        Atoms per column.
    probability : ndarray (N,)
        Posterior probability of the assigned count.
    pixel_size : float
        Pixel size (Å/px).
    method : str
        "statistics", "library" or "hybrid".
    cross_section_method : str
        "gaussian" or "voronoi".
    mixture : MixtureFit
        The equal-width mixture of the cross-sections with the order chosen by ICL.
    normalisation : Normalisation
        How the image was brought to the beam's units.
    reference : Reference or None
        Simulated or user cross-sections per atom count (library and hybrid routes).
    gaussian_width : float or None
        Fitted Gaussian σ (Å) for the Gaussian model.
    background : float or None
        Gaussian model: its constant background (normalised image units), fitted or as given.
    count_offset : int
        Statistics route: atoms in the lowest mixture component.
    lattice : LatticeCheck or None
        Stated pixel size against the one the columns' lattice implies (when ``element`` is given).
    """

    x_px: np.ndarray
    y_px: np.ndarray
    x_A: np.ndarray
    y_A: np.ndarray
    cross_section: np.ndarray
    count: np.ndarray
    probability: np.ndarray
    pixel_size: float
    method: str
    cross_section_method: str
    mixture: MixtureFit
    normalisation: Normalisation
    reference: Reference | None = None
    gaussian_width: float | None = None
    background: float | None = None
    count_offset: int = 1
    lattice: LatticeCheck | None = None

    def __len__(self) -> int:
        return len(self.count)

    @property
    def total_atoms(self) -> int:
        """Sum of the counts."""
        return int(self.count.sum())

    @property
    def n_components(self) -> int:
        """Order of the mixture (chosen on the ICL curve, or given)."""
        return self.mixture.order

    @property
    def icl(self) -> np.ndarray:
        """ICL over the mixture orders scanned (index 0 = one component)."""
        return self.mixture.icl

    def table(self) -> dict[str, np.ndarray]:
        """Columns as a dict of equal-length arrays (CSV-ready)."""
        return {"x_A": self.x_A, "y_A": self.y_A, "x_px": self.x_px, "y_px": self.y_px,
                "cross_section": self.cross_section, "count": self.count, "probability": self.probability}

    def summary(self) -> dict:
        """Counts, mixture, ICL curve, reference and provenance (JSON-ready)."""
        counts, freq = np.unique(self.count, return_counts=True)
        out = {
            "columns": len(self), "total_atoms": self.total_atoms, "method": self.method,
            "cross_section_method": self.cross_section_method,
            "cross_section_unit": "Å²" if self.normalisation.absolute else "relative (raw intensity × Å²)",
            "normalisation": self.normalisation.note,
            "count_histogram": {str(int(c)): int(f) for c, f in zip(counts, freq)},
            "mean_probability": float(self.probability.mean()),
            "n_components": self.n_components,
            "mixture": {"means": self.mixture.means, "weights": self.mixture.weights, "width": self.mixture.width},
            "icl": self.icl, "icl_local_minima": self.mixture.local_minima, "order_rule": self.mixture.rule,
            "pixel_size_A": self.pixel_size,
            "gaussian_width_A": self.gaussian_width,
            "background": self.background,
        }
        if self.method == "statistics":
            out["count_assignment"] = (f"consecutive counts from the mixture components; the lowest holds "
                                       f"{self.count_offset} atom(s) = round(mean₁ / (mean₂ − mean₁))")
            if self.n_components == 1:
                out["warning"] = ("ICL chose one component: the cross-sections do not separate into counts by "
                                  "statistics alone (too few columns or too much noise); every column got the "
                                  "same count. Use the library or hybrid route, or look at the ICL curve.")
        if self.lattice is not None:
            out["lattice_pixel_size_A"] = self.lattice.implied
            if not self.lattice.ok:
                out["pixel_size_warning"] = self.lattice.message
        if self.reference is not None:
            lib = self.reference.values
            half_step = 0.5 * abs(lib[-1] - lib[-2]) if len(lib) > 1 else 0.0
            out["library"] = {"source": self.reference.source, "values_A2": lib,
                              "columns_beyond_library": int(np.sum(self.cross_section > lib.max() + half_step))}
        return out


def _column_positions(positions, pixel_size: float) -> np.ndarray:
    """(N, 2) of x_A, y_A → (N, 2) of (row, col) in pixels."""
    xy = np.asarray(positions, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) == 0:
        raise AtomcountError(f"positions must be an (N, 2) array of x, y in Å, got shape {xy.shape}")
    if not np.isfinite(xy).all():
        raise AtomcountError("positions contain NaN or infinite values")
    return xy[:, ::-1] / pixel_size


def _missed_columns(image: np.ndarray, fit, *, pixel_size: float, min_distance: float) -> np.ndarray:
    """Columns peak finding missed: peaks of the fit residual, ``min_distance`` from every fitted column.

    A thin column beside a thick one can sit on the thick one's tail and be no local maximum
    of the image; once the thick one is modelled it is a peak of the residual. Counting noise
    grows with the intensity, so the residual's noise variance is modelled as a + b·model
    (Poisson plus a constant, fitted to the squared residual) and a residual peak must rise
    above zero by ``PROMINENCE`` times the noise where it lies, not the quieter average.
    """
    from scipy.spatial import cKDTree

    from atomcount.stem.columns import find_columns
    from atomcount.stem.cross_sections import gaussian_image

    model = gaussian_image(image.shape, fit.positions_px, fit.volume, pixel_size=pixel_size, width=fit.width,
                           background=fit.background)
    residual = image - model
    design = np.column_stack([np.ones(image.size), model.ravel()])
    a, b = np.maximum(np.linalg.lstsq(design, residual.ravel() ** 2, rcond=None)[0], 0.0)
    try:
        extra = find_columns(residual, pixel_size=pixel_size, min_distance=min_distance,
                             noise_sd=np.sqrt(a + b * np.clip(model, 0.0, None)), baseline=0.0)
    except AtomcountError:  # nothing left in the residual
        return np.zeros((0, 2))
    d, _ = cKDTree(fit.positions_px).query(extra)
    return extra[d * pixel_size >= min_distance]


def _on_particle(image: np.ndarray, positions_px: np.ndarray, *, spacing_px: float) -> np.ndarray:
    """Which peaks lie on the bright part of the image (the particle rather than the vacuum).

    The image smoothed over one lattice spacing (``spacing_px``) is split by Otsu's
    threshold; the bright region grown by one spacing is the particle. Used only to judge
    whether the peaks form a lattice (noise peaks in a large vacuum would outvote the
    crystal), not to drop columns: thin edge columns can fall outside.
    """
    from skimage.filters import threshold_otsu

    smooth = ndimage.gaussian_filter(image, spacing_px)
    if np.ptp(smooth) <= 0:
        return np.ones(len(positions_px), bool)
    particle = ndimage.binary_dilation(smooth > threshold_otsu(smooth), iterations=max(int(round(spacing_px)), 1))
    return particle[tuple(np.rint(positions_px).astype(int).T)]


def _require_lattice(positions_px: np.ndarray, *, on_particle: np.ndarray, neighbour_distance: float) -> np.ndarray:
    """The peaks that belong to a lattice; refuse when they do not form one.

    A column of a crystal has a neighbour within ``neighbour_distance`` (px; 2.5 times the
    smallest column distance, i.e. 1.6 lattice spacings by default, beyond the second shell
    of fcc [100] and [110]): isolated peaks (noise in the vacuum around a particle) are dropped. The others on the particle
    (``on_particle``, see :func:`_on_particle`) must look like a crystal: at
    least ``MIN_LATTICE_FRACTION`` of them have their nearest neighbour within ±10 % of the
    median distance (:func:`atomcount.stem.lattice.lattice_fraction`), and the nearest-
    neighbour directions (modulo 180°) must cluster: at least ``MIN_DIRECTION_SHARE`` of
    them in the three most common of eighteen 10° bins (a projected lattice has two or
    three nearest-neighbour directions per grain; peaks scattered at random, packed no
    closer than the smallest column distance, give ≈ 0.2–0.3). Measured on
    ``../shared/real``: resolved particles 0.46–0.99 by direction and 0.71–0.99 by
    distance, the HAADF image without a lattice 0.22 and the coarse HR-STEM image 0.30.
    """
    from scipy.spatial import cKDTree

    pos = np.asarray(positions_px, dtype=float)
    if len(pos) < 2:
        return pos
    dist, idx = cKDTree(pos).query(pos, k=2)
    kept = dist[:, 1] <= neighbour_distance
    pos, judged = pos[kept], pos[kept & on_particle]
    if len(judged) < 2:
        return pos
    dist, idx = cKDTree(judged).query(judged, k=2)
    step = judged[idx[:, 1]] - judged
    angle = np.mod(np.arctan2(step[:, 0], step[:, 1]), np.pi)
    direction_share = np.sort(np.histogram(angle, bins=18, range=(0, np.pi))[0])[-3:].sum() / len(judged)
    share = lattice_fraction(judged)
    if share < MIN_LATTICE_FRACTION or direction_share < MIN_DIRECTION_SHARE:
        raise AtomcountError(f"no atomic columns found: the {len(judged)} peaks do not form a lattice ({share:.0%} have "
                             f"their nearest neighbour at the common spacing, {MIN_LATTICE_FRACTION:.0%} needed; "
                             f"{direction_share:.0%} along the three main directions, {MIN_DIRECTION_SHARE:.0%} "
                             "needed); pass positions explicitly if there are columns")
    return pos


def count_stem(image: np.ndarray, *, pixel_size: float, element: str | None = None, zone: str | None = None,
               method: str = "statistics", normalised: bool = False, black_level: float | None = None,
               vacuum_level: float | None = None, detector_map: np.ndarray | None = None,
               positions: np.ndarray | None = None, cross_section: str = "gaussian",
               voltage: float | None = None, convergence: float | None = None, inner: float | None = None,
               outer: float | None = None, rmsd: float | None = None, source_size: float = 0.5, library=None,
               max_components: int | None = None, min_distance: float | None = None,
               recover_missed: bool = False, n_components: int | None = None,
               background: float | None = None) -> StemCountResult:
    """Count the atoms in every column of an ADF-STEM image.

    Parameters
    ----------
    image : ndarray, 2-D
        ADF-STEM image, rows = y, columns = x.
    pixel_size : float
        Pixel size (Å/px).
    element, zone : str, optional
        Element ("Au") and zone axis ("100", "110") for the simulated reference.
    method : {"statistics", "library", "hybrid"}
        Counts from an equal-width Gaussian mixture of the cross-sections with its order
        chosen by ICL (no simulation; works on raw images), from the nearest reference
        cross-section, or from a mixture whose means are the reference cross-sections and
        whose weights and width are fitted. The library route's probabilities use that
        fitted width as the spread of a column's cross-section, with equal priors.
    normalised : bool
        The image is already in units of the incident beam.
    black_level, vacuum_level : float, optional
        Detector levels (raw units) to normalise as (I − black) / (vacuum − black).
    detector_map : ndarray, optional
        Detector scan giving the vacuum (and black) level instead.
    positions : ndarray (N, 2), optional
        Column positions as x, y in Å, instead of peak finding.
    cross_section : {"gaussian", "voronoi", "voronoi-unmixed"}
        Estimator: fitted Gaussian volumes, Voronoi-cell sums (cells cut at the median
        nearest-neighbour distance, so edge cells do not reach into the vacuum), or those
        sums with the cross-talk through the probe's tails removed
        (:func:`atomcount.stem.cross_sections.unmix_crosstalk`; needs ``voltage``,
        ``convergence`` and ``source_size``).
    voltage, convergence, inner, outer, rmsd : float, optional
        kV, mrad, mrad, mrad, Å: microscope settings of the simulated reference.
    source_size : float
        FWHM (Å) of the effective source blurring the probe, for ``"voronoi-unmixed"``.
    library : path, optional
        User table of cross-sections (Å²) per atom count 1…N (replaces the simulated one).
    max_components : int, optional
        Highest mixture order tried.
    n_components : int, optional
        Mixture order to use instead of the ICL rule (:func:`atomcount.stem.mixture.fit_mixture`:
        by default the highest-order local ICL minimum with regularly spaced means).
    min_distance : float, optional
        Smallest distance between columns for peak finding (Å); by default 0.65 of the
        lattice spacing read from the image's autocorrelation. Found peaks that do not form
        a lattice are refused ("no atomic columns found").
    recover_missed : bool
        Gaussian route with found peaks: add peaks of the fit residual as columns (a thin
        column on a thick neighbour's tail is no peak of the image) and fit again. It finds
        every such column in synthetic images of Gaussian columns; on real images, whose
        columns are not Gaussian, it also turns model mismatch (at particle edges, between
        columns) into false columns, hence off by default.
    background : float, optional
        Gaussian route: fix the model's constant background at this value, in units of the
        normalised image (0 for a normalised image with empty vacuum and no support film);
        fitted when None.

    Returns
    -------
    StemCountResult

    Raises
    ------
    AtomcountError
        Non-2-D or non-finite image, missing pixel size, unknown method, no normalisation for
        the library or hybrid route, settings outside the reference's domain, no probe settings
        for unmixing, a fixed background with Voronoi cross-sections, no columns found,
        fewer than two columns.
    """
    from atomcount.io import check_image
    from atomcount.stem.columns import MIN_DISTANCE_FRACTION, default_min_distance, find_columns
    from atomcount.stem.cross_sections import (
        fit_gaussians,
        nearest_neighbour_distance,
        unmix_crosstalk,
        voronoi_cross_sections,
    )
    from atomcount.stem.mixture import assign_library, fit_library_mixture, fit_mixture
    from atomcount.stem.normalise import normalise_image
    from atomcount.stem.reference import reference_cross_sections

    if method not in METHODS:
        raise AtomcountError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if cross_section not in CROSS_SECTIONS:
        raise AtomcountError(f"cross_section must be one of {', '.join(CROSS_SECTIONS)}, not {cross_section!r}")
    if background is not None and cross_section != "gaussian":
        raise AtomcountError("a fixed background applies to the Gaussian model: use cross_section 'gaussian'")
    if cross_section == "voronoi-unmixed":
        if voltage is None or convergence is None:
            raise AtomcountError("cross_section 'voronoi-unmixed' needs the probe: give voltage and convergence")
        check_range("voltage", voltage, 20.0, 1000.0, "kV")
        check_range("convergence", convergence, 1.0, 100.0, "mrad")
        check_range("source size", source_size, 0.0, 5.0, "Å")
    img = check_image(image, pixel_size)
    ps = float(pixel_size)
    img, norm = normalise_image(img, normalised=normalised, black_level=black_level, vacuum_level=vacuum_level,
                                detector_map=detector_map, require_absolute=method != "statistics")
    reference = None
    if method != "statistics":
        reference = reference_cross_sections(element=element, zone=zone, voltage=voltage, convergence=convergence,
                                             inner=inner, outer=outer, rmsd=rmsd, library=library)
    if positions is not None:
        rc = _column_positions(positions, ps)
    else:
        if min_distance is None:
            min_distance = default_min_distance(img, pixel_size=ps)
        rc = find_columns(img, pixel_size=ps, min_distance=min_distance)
        rc = _require_lattice(rc, on_particle=_on_particle(img, rc, spacing_px=min_distance / MIN_DISTANCE_FRACTION / ps),
                              neighbour_distance=2.5 * min_distance / ps)
    if len(rc) < 2:
        raise AtomcountError(f"{len(rc)} column found; counting needs at least two columns")
    lattice = None if element is None else lattice_check(rc, pixel_size=ps, element=element, zone=zone)
    width = None
    if cross_section == "gaussian":
        fit = fit_gaussians(img, rc, pixel_size=ps, background=background)
        if recover_missed and positions is None:
            missed = _missed_columns(img, fit, pixel_size=ps, min_distance=min_distance)
            if len(missed):
                fit = fit_gaussians(img, np.vstack([fit.positions_px, missed]), pixel_size=ps, background=background)
        rc, xs, width, background = fit.positions_px, fit.volume, fit.width, fit.background
    else:
        cut = nearest_neighbour_distance(rc) * ps
        xs = voronoi_cross_sections(img, rc, pixel_size=ps, max_radius=cut)
        if cross_section == "voronoi-unmixed":
            xs = unmix_crosstalk(xs, rc, shape=img.shape, pixel_size=ps, voltage=voltage, convergence=convergence,
                                 source_size=source_size, max_radius=cut)
    mixture = fit_mixture(xs, max_components=max_components, n_components=n_components)
    offset = 1
    if method == "statistics":
        if mixture.order > 1:
            offset = max(1, int(round(mixture.means[0] / (mixture.means[1] - mixture.means[0]))))
        count, prob = mixture.labels + offset, mixture.probability
    else:
        # the spread of the cross-sections about the reference values (maximum likelihood)
        anchored = fit_library_mixture(xs, reference.values)
        if method == "library":
            count, prob = assign_library(xs, reference.values, anchored.width)
        else:
            count, prob = anchored.labels + 1, anchored.probability
    return StemCountResult(
        x_px=rc[:, 1], y_px=rc[:, 0], x_A=rc[:, 1] * ps, y_A=rc[:, 0] * ps, cross_section=xs,
        count=np.asarray(count, dtype=int), probability=prob, pixel_size=ps, method=method,
        cross_section_method=cross_section, mixture=mixture, normalisation=norm, reference=reference,
        gaussian_width=width, background=background, count_offset=offset, lattice=lattice)
