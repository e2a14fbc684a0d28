"""The sign of the defocus from the Fresnel fringe at the particle edge.

A microscopist tells underfocus from overfocus by the fringe just outside an edge: bright at
underfocus (C10 < 0), dark at overfocus. The shipped HRTEM model was trained on underfocus
only (C10 −250…−150 Å) and reads overfocus images badly, so ``count`` warns when the fringe
says overfocus (or cannot be read) instead of returning heights silently. The fringe alone does
not justify a refusal: on whole frames of never-trained particles at ≥ 1e4 e⁻/Å² a valid
underfocus frame can read strongly negative (a thick particle whose thinner edge columns fall
outside the core), see BENCHMARKS.md (hrtem-wholeframe). Together with the model's own doubt
(:func:`refuse`) it does.

The particle is found in the image itself (the network's columns are unreliable on exactly the
images this check is for): smoothed over 2 Å, a particle is darker than the vacuum (electrons
scattered outside the objective aperture) at either focus sign; its core is where the image
falls below the vacuum level by a fifth of the particle's depth. The score is a z value:
the mean of the 1 Å-smoothed image in a band 0.5–3 Å outside the core minus its mean in the
vacuum farther than 12 Å, divided by the standard error of that difference estimated from
the vacuum's own fluctuations.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Band outside the particle core where the first Fresnel fringe lies (Å).
FRINGE_BAND = (0.5, 3.0)
#: Vacuum reference: farther than this from the particle core (Å).
VACUUM_DISTANCE = 12.0
#: Smoothing of the image before measuring the fringe (Å, Gaussian σ): removes the lattice fringes.
SMOOTHING = 1.0
#: Smoothing used to find the particle core (Å).
CORE_SMOOTHING = 2.0
#: The particle must be this many vacuum standard deviations darker than the vacuum.
MIN_DEPTH = 8.0
#: The core is where the 2 Å-smoothed image is darker than the vacuum by this fraction of the
#: particle's depth: low enough to reach the edge columns, high enough that an overfocus
#: dark fringe (a tenth of the depth or less) stays outside.
CORE_FRACTION = 0.2
#: |z| above which the sign is reported as determined (``count`` warns on overfocus).
Z_DECIDE = 3.0
#: ``count`` refuses a frame whose fringe reads below −REFUSE_Z while the mean confidence of the
#: columns the model finds is below REFUSE_CONFIDENCE (:func:`refuse`). Chosen on whole frames of the
#: training family as the rule that refuses most overfocus frames and no more than 1 % of the
#: underfocus ones; on the trust set it refused 0 of 288 underfocus frames and 94 % / 72 % / 19 % / 0 %
#: of the overfocus frames at 1e5–1e6 / 1e4–1e5 / 1e3–1e4 / 1e2–1e3 e⁻/Å² (BENCHMARKS.md,
#: ``hrtem-focus-check``); the frames it lets through still get the fringe's warning.
REFUSE_Z = 10.0
REFUSE_CONFIDENCE = 0.9
@dataclass(frozen=True)
class FocusSign:
    """Result of :func:`focus_sign`.

    Attributes
    ----------
    sign : str
        ``"underfocus"``, ``"overfocus"`` or ``"undetermined"`` (too little vacuum, too few
        columns, or a fringe weaker than the noise).
    z : float
        Fringe contrast in units of its standard error (positive: bright fringe); NaN when
        it cannot be measured.
    """

    sign: str
    z: float


def focus_sign(image: np.ndarray, pixel_size: float) -> FocusSign:
    """Underfocus or overfocus from the Fresnel fringe around the particle.

    Parameters
    ----------
    image : ndarray (H, W)
        HRTEM image (any scale); vacuum must be part of the frame.
    pixel_size : float
        Å/px.

    Returns
    -------
    FocusSign
    """
    img = np.asarray(image, np.float64)
    core_smooth = ndimage.gaussian_filter(img, CORE_SMOOTHING / pixel_size)
    vacuum = float(np.median(core_smooth))
    noise = 1.4826 * float(np.median(np.abs(core_smooth - vacuum)))
    depth = vacuum - float(core_smooth.min())
    if not np.isfinite(depth) or depth < MIN_DEPTH * max(noise, 1e-12):
        return FocusSign("undetermined", float("nan"))
    core = core_smooth < vacuum - CORE_FRACTION * depth
    dist = ndimage.distance_transform_edt(~core) * pixel_size
    sigma_px = SMOOTHING / pixel_size
    smooth = ndimage.gaussian_filter(img, sigma_px)
    band = (dist > FRINGE_BAND[0]) & (dist < FRINGE_BAND[1])
    far = dist > VACUUM_DISTANCE
    if band.sum() < 50 or far.sum() < 500:
        return FocusSign("undetermined", float("nan"))
    # a smoothed pixel averages ≈ 4πσ² pixels' worth of noise: so many pixels make one
    # independent sample of the smoothed image
    per_sample = max(1.0, 4 * np.pi * sigma_px**2)
    se = smooth[far].std() * np.sqrt(per_sample / band.sum() + per_sample / far.sum())
    z = float((smooth[band].mean() - smooth[far].mean()) / se) if se > 0 else float("nan")
    if not np.isfinite(z) or abs(z) < Z_DECIDE:
        return FocusSign("undetermined", z)
    return FocusSign("underfocus" if z > 0 else "overfocus", z)


def refuse(z: float, confidence: np.ndarray) -> bool:
    """Whether ``count`` refuses a frame: the fringe reads strongly overfocus and the model doubts its columns.

    Parameters
    ----------
    z : float
        Fringe z of :func:`focus_sign` (NaN: never refused).
    confidence : ndarray
        Calibrated confidences of the columns found in the frame (none found: never refused).
    """
    if not np.isfinite(z) or len(confidence) == 0:
        return False
    return bool(z < -REFUSE_Z and float(np.mean(confidence)) < REFUSE_CONFIDENCE)
