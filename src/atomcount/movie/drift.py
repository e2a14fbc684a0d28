"""Frame-to-frame drift by cross-correlation with a reference frame.

The drift of frame k is the displacement (Å) of its content relative to the reference
(the movie's first frame): a column at (x, y) in the reference appears at
(x + dx, y + dy) in frame k. It is measured with scikit-image's
:func:`~skimage.registration.phase_cross_correlation` on low-pass filtered frames (plain
cross-correlation, sub-pixel by upsampling), which stays reliable at the 1e2 e⁻/Å² per
frame of in-situ work where the whitened (phase) correlation is dominated by shot noise.

Drift is removed from the column positions, not from the images: the network counts the
frames as recorded, and linking works in reference coordinates. :func:`remove_drift` shifts
a frame back to the reference for averaging.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Gaussian low-pass width (Å) applied before correlating: keeps the particle and the
#: lattice fringes (≥ 2 Å), removes pixel shot noise.
LOWPASS = 0.5
#: Sub-pixel precision of the correlation peak (1/UPSAMPLE px).
UPSAMPLE = 20


def prepare_reference(frame: np.ndarray, *, pixel_size: float) -> np.ndarray:
    """The low-pass filtered, zero-mean frame that :func:`measure_drift` correlates against.

    Parameters
    ----------
    frame : ndarray, 2-D
        Image.
    pixel_size : float
        Pixel size (Å/px).
    """
    image = ndimage.gaussian_filter(np.asarray(frame, np.float32), LOWPASS / pixel_size)
    return image - image.mean()


def measure_drift(reference: np.ndarray, frame: np.ndarray, *, pixel_size: float) -> tuple[float, float]:
    """Displacement (dx, dy) in Å of ``frame``'s content relative to the reference.

    Parameters
    ----------
    reference : ndarray, 2-D
        Output of :func:`prepare_reference` for the reference frame.
    frame : ndarray, 2-D
        Frame of the same shape.
    pixel_size : float
        Pixel size (Å/px).

    Returns
    -------
    dx, dy : float
        Drift along x (array columns) and y (array rows), Å.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = ndimage.gaussian_filter(rng.normal(size=(96, 96)), 3)
    >>> ref = prepare_reference(a, pixel_size=0.25)
    >>> [round(v, 2) for v in measure_drift(ref, np.roll(a, (2, -3), axis=(0, 1)), pixel_size=0.25)]
    [-0.75, 0.5]
    """
    from skimage.registration import phase_cross_correlation

    moving = prepare_reference(frame, pixel_size=pixel_size)
    shift, _, _ = phase_cross_correlation(reference, moving, upsample_factor=UPSAMPLE, normalization=None)
    # ``shift`` registers ``moving`` onto the reference: the content moved by −shift
    return -float(shift[1]) * pixel_size, -float(shift[0]) * pixel_size


def remove_drift(frame: np.ndarray, drift: tuple[float, float], *, pixel_size: float) -> np.ndarray:
    """``frame`` shifted back by ``drift`` (Å) onto the reference (Fourier shift, periodic edges).

    Parameters
    ----------
    frame : ndarray, 2-D
        Image.
    drift : tuple of float
        (dx, dy) from :func:`measure_drift` (Å).
    pixel_size : float
        Pixel size (Å/px).

    Examples
    --------
    >>> a = np.zeros((8, 8)); a[2, 3] = 1
    >>> np.unravel_index(remove_drift(np.roll(a, 1, axis=1), (0.25, 0.0), pixel_size=0.25).argmax(), a.shape)
    (np.int64(2), np.int64(3))
    """
    dx, dy = drift
    shifted = ndimage.fourier_shift(np.fft.rfft2(frame), (-dy / pixel_size, -dx / pixel_size), n=frame.shape[1])
    return np.fft.irfft2(shifted, s=frame.shape).astype(np.float32)
