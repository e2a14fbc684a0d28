"""The PPISCS library: one HDF5 file per entry, PPISCS from it, generation at scale.

File layout (``<Element>_<zone>_<kV>kV_rmsd<rmsd>.h5``, gzip-compressed float32):

``intensity`` (n_waves, n_atoms, n_rings)
    Fraction of each plane wave's intensity in each ring [j·w, (j+1)·w) mrad after
    1…n_atoms atoms per column (phonon average).
``batch_totals`` (n_batches, n_atoms, n_rings)
    Multiplicity-weighted mean ring intensity of each batch of waves (phonon-noise estimates).
``tilts`` (n_waves, 2), ``multiplicity`` (n_waves,), ``batches`` (n_waves,)
    Tilt of each wave (mrad), size of its symmetry orbit, its batch.
attributes
    element, Z, zone, voltage (kV), rmsd (Å, per direction), cell_area (Å², projected cell),
    columns (per projected cell), cell_mrad (tilt quadrature cell, mrad), ring_width (mrad),
    gpts, extent (Å), repeats, settings (JSON), seconds (wall), cpu_seconds, device, version.

Files are written to a temporary name and moved into place with :func:`os.replace`, so a
library directory never holds a half-written entry; :func:`generate` skips entries that
are already there with the same settings, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atomcount.core.crystals import get_element
from atomcount.core.errors import AtomcountError
from atomcount.stem.ppiscs.simulation import Entry, EntryResult, SimulationSettings, simulate_entry

#: Library shipped with the package (regenerate with ``atomcount ppiscs simulate``).
DEFAULT_LIBRARY = Path(__file__).resolve().parents[2] / "data" / "ppiscs"
#: Entries of the domain queue (:mod:`atomcount.stem.ppiscs.queue`) in a source checkout; read after
#: the shipped library when it exists.
QUEUE_LIBRARY = Path(__file__).resolve().parents[4] / "library" / "ppiscs"
FORMAT_VERSION = 1


def library_dir(path: str | os.PathLike | None = None) -> Path:
    """The library directory: ``path``, else ``$ATOMCOUNT_PPISCS_LIBRARY``, else the shipped one.

    Where a search path of several directories is given (see :func:`library_dirs`), the
    first one (where new entries are written).
    """
    return library_dirs(path)[0]


def library_dirs(path: str | os.PathLike | None = None) -> list[Path]:
    """Library directories to read, first first: ``path`` or ``$ATOMCOUNT_PPISCS_LIBRARY``, split
    at ``os.pathsep`` like ``PATH`` (e.g. ``library/ppiscs:src/atomcount/data/ppiscs``); by default
    the shipped library, then :data:`QUEUE_LIBRARY` when it exists."""
    if path is None and "ATOMCOUNT_PPISCS_LIBRARY" not in os.environ:
        return [DEFAULT_LIBRARY] + ([QUEUE_LIBRARY] if QUEUE_LIBRARY.is_dir() else [])
    text = os.fspath(path) if path is not None else os.environ["ATOMCOUNT_PPISCS_LIBRARY"]
    dirs = [Path(p) for p in text.split(os.pathsep) if p]
    if not dirs:
        raise AtomcountError("empty PPISCS library path")
    return dirs


def aperture_weights(tilts: np.ndarray, cell: tuple, multiplicity: np.ndarray, alpha: float, subsamples: int = 16) -> np.ndarray:
    """Quadrature weights of the tilts for a convergence semi-angle ``alpha`` (mrad).

    Each tilt stands for a rectangular cell of sides ``cell`` (mrad); its weight is the
    cell's area inside the aperture disc (``subsamples``² points per cell) times its
    orbit ``multiplicity``. Weights are normalised to sum to one.
    """
    off = (np.arange(subsamples) + 0.5) / subsamples - 0.5
    ox, oy = np.meshgrid(off * cell[0], off * cell[1], indexing="ij")
    px = tilts[:, 0, None, None] + ox
    py = tilts[:, 1, None, None] + oy
    inside = (px**2 + py**2 <= alpha**2).mean(axis=(1, 2))
    w = inside * multiplicity
    if w.sum() <= 0:
        raise AtomcountError(f"convergence angle {alpha} mrad holds no simulated tilt")
    return w / w.sum()


def aperture_average(intensity: np.ndarray, tilts: np.ndarray, cell: tuple, multiplicity: np.ndarray,
                     alpha: float) -> np.ndarray:
    """Ring intensities (n_atoms, n_rings) of a probe of semi-angle ``alpha`` (mrad): the per-tilt
    ``intensity`` (n_waves, n_atoms, n_rings) weighted by :func:`aperture_weights`."""
    w = aperture_weights(tilts, cell, multiplicity, alpha)
    return np.tensordot(w, intensity.astype(np.float64), axes=(0, 0))


def tilt_shifts(cell: tuple, subsamples: int = 8, azimuths: int = 16) -> np.ndarray:
    """Radial shifts (mrad) that spread a tilt's rings over its quadrature cell.

    Within a tilt cell of sides ``cell`` (mrad) the diffraction pattern moves rigidly with
    the tilt δ, so a beam at azimuth φ moves radially by δ·(cos φ, sin φ). Averaging over δ
    uniform in the cell and φ uniform turns the midpoint rule over tilts (every beam of a
    cell at one angle) into a smooth quadrature: Bragg beams then cross a detector edge
    gradually, as they do for a continuous aperture.
    """
    off = (np.arange(subsamples) + 0.5) / subsamples - 0.5
    dx, dy = np.meshgrid(off * cell[0], off * cell[1], indexing="ij")
    phi = (np.arange(azimuths) + 0.5) * 2 * np.pi / azimuths
    return (dx.ravel()[:, None] * np.cos(phi) + dy.ravel()[:, None] * np.sin(phi)).ravel()


def ring_integral(rings: np.ndarray, inner: float, outer: float, ring_width: float,
                  shifts: np.ndarray | None = None) -> np.ndarray:
    """Integrate ring intensities over [inner, outer) mrad along the last axis.

    The cumulative intensity C(θ) is interpolated linearly inside a ring and, with
    ``shifts`` (mrad, see :func:`tilt_shifts`), averaged as mean_s C(θ − s). Either way
    ``ring_integral(a, b) + ring_integral(b, c) == ring_integral(a, c)`` exactly.
    """
    n = rings.shape[-1]
    cum = np.concatenate([np.zeros(rings.shape[:-1] + (1,)), np.cumsum(rings, axis=-1, dtype=np.float64)], -1)
    s = np.zeros(1) if shifts is None else np.asarray(shifts, float)

    def at(theta: float) -> np.ndarray:
        x = np.clip((theta - s) / ring_width, 0.0, float(n))
        j = np.minimum(np.floor(x).astype(int), n - 1)
        f = x - j
        return (cum[..., j] * (1 - f) + cum[..., j + 1] * f).mean(-1)

    return at(outer) - at(inner)


@dataclass
class LibraryEntry:
    """One entry read from the library, able to form PPISCS for any α and detector."""

    entry: Entry
    intensity: np.ndarray
    batch_totals: np.ndarray
    tilts: np.ndarray
    multiplicity: np.ndarray
    attrs: dict

    @property
    def n_atoms(self) -> int:
        """Thickness range: 1…n_atoms atoms per column."""
        return self.intensity.shape[1]

    @property
    def max_angle(self) -> float:
        """Outer edge of the last ring (mrad)."""
        return self.intensity.shape[2] * float(self.attrs["ring_width"])

    @property
    def max_convergence(self) -> float:
        """Largest convergence semi-angle served (mrad)."""
        return float(json.loads(self.attrs["settings"])["max_convergence"])

    def weighted_rings(self, alpha: float) -> np.ndarray:
        """Aperture-averaged ring intensities (n_atoms, n_rings) for semi-angle ``alpha`` (mrad)."""
        return aperture_average(self.intensity, self.tilts, tuple(self.attrs["cell_mrad"]), self.multiplicity, alpha)

    def ppiscs(self, alpha: float, inner: float, outer: float) -> np.ndarray:
        """PPISCS (Å² per column) for 1…n_atoms atoms, semi-angle ``alpha`` and detector [inner, outer) (mrad)."""
        scale = float(self.attrs["cell_area"]) / int(self.attrs["columns"])
        shifts = tilt_shifts(tuple(self.attrs["cell_mrad"]))
        return scale * ring_integral(self.weighted_rings(alpha), inner, outer, float(self.attrs["ring_width"]), shifts)


#: Mantissa bits kept of the stored float32 intensities: a relative rounding of at most
#: 2⁻¹³ = 1.2e-4, far below the phonon noise (≈ 1 %), and about half the gzip size.
MANTISSA_BITS = 12


def round_mantissa(a: np.ndarray, bits: int = MANTISSA_BITS) -> np.ndarray:
    """float32 copy of ``a`` rounded to ``bits`` mantissa bits (relative error ≤ 2^-(bits+1)).

    The dropped low bits are zero, so gzip with byte shuffling compresses the array well.
    """
    if not 1 <= bits <= 23:
        raise AtomcountError(f"mantissa bits must be within 1…23, got {bits}")
    x = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    drop = 23 - bits
    half = np.uint32(1 << (drop - 1)) if drop else np.uint32(0)
    mask = np.uint32((0xFFFFFFFF >> drop) << drop)
    return ((x + half) & mask).view(np.float32)


def write_entry(result: EntryResult, entry: Entry, settings: SimulationSettings, directory: Path) -> Path:
    """Write ``result`` atomically to ``directory/<entry.name>.h5`` (intensities rounded by :func:`round_mantissa`)."""
    import h5py

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{entry.name}.h5"
    tmp = directory / f".{entry.name}.{os.getpid()}.tmp"
    g = result.geometry
    try:
        with h5py.File(tmp, "w", track_order=True) as f:
            opts = dict(compression="gzip", compression_opts=6, shuffle=True, track_times=False)
            f.create_dataset("intensity", data=round_mantissa(result.intensity), **opts)
            f.create_dataset("batch_totals", data=round_mantissa(result.batch_totals), **opts)
            f.create_dataset("tilts", data=g.tilts, track_times=False)
            f.create_dataset("multiplicity", data=g.multiplicity, track_times=False)
            f.create_dataset("batches", data=result.batches, track_times=False)
            attrs = {
                "element": entry.element,
                "Z": get_element(entry.element).Z,
                "zone": entry.zone,
                "voltage": float(entry.voltage),
                "rmsd": float(entry.rmsd),
                "cell_area": float(result.crystal.cell[0] * result.crystal.cell[1]),
                "columns": int(result.crystal.columns),
                "cell_mrad": np.asarray(g.cell_mrad, float),
                "ring_width": float(settings.ring_width),
                "gpts": np.asarray(g.gpts),
                "extent": np.asarray(g.extent),
                "repeats": np.asarray(g.repeats),
                "settings": settings.to_json(),
                "seconds": float(result.seconds),
                "cpu_seconds": float(result.cpu_seconds),
                "device": result.device,
                "version": FORMAT_VERSION,
            }
            f.attrs.update(attrs)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_entry(path: str | os.PathLike) -> LibraryEntry:
    """Read one entry file."""
    import h5py

    with h5py.File(path, "r") as f:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        entry = Entry(attrs["element"], attrs["zone"], float(attrs["voltage"]), float(attrs["rmsd"]))
        return LibraryEntry(
            entry, f["intensity"][()], f["batch_totals"][()], f["tilts"][()], f["multiplicity"][()], attrs
        )


def list_entries(directory: str | os.PathLike | None = None) -> list[dict]:
    """Attributes of every entry in the library (without the arrays)."""
    import h5py

    out, seen = [], set()
    paths = sorted((p for d in library_dirs(directory) for p in d.glob("*.h5")), key=lambda p: p.name)
    for path in paths:
        if path.name in seen:  # the first directory of the search path wins
            continue
        seen.add(path.name)
        with h5py.File(path, "r") as f:
            d = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
            d["path"] = str(path)
            d["n_atoms"] = f["intensity"].shape[1]
            d["n_waves"] = f["intensity"].shape[0]
            out.append(d)
    return out


#: Settings added after the first entries were written, with the value those entries used.
_LEGACY_SETTINGS = {"projection": "infinite", "slices_per_plane": 1, "antialias_taper": 0.01}


def stored_settings(text: str | bytes) -> dict:
    """Settings stored with an entry, completed with the values of settings added later."""
    text = text.decode() if isinstance(text, bytes) else text
    return {**_LEGACY_SETTINGS, **json.loads(text)}


def is_done(entry: Entry, settings: SimulationSettings, directory: Path) -> bool:
    """Whether ``directory`` already holds ``entry`` made with ``settings``.

    Raises
    ------
    AtomcountError
        If it holds the entry made with other settings.
    """
    import h5py

    path = directory / f"{entry.name}.h5"
    if not path.exists():
        return False
    with h5py.File(path, "r") as f:
        stored = f.attrs["settings"]
    if stored_settings(stored) != json.loads(settings.to_json()):
        raise AtomcountError(f"{path} was made with other settings; remove it or choose another directory")
    return True


def run_entry(entry: Entry, settings: SimulationSettings, directory: str, threads: int) -> dict:
    """Simulate and write one entry unless it is already there (a Dask task)."""
    d = Path(directory)
    if is_done(entry, settings, d):
        return {"entry": entry.name, "skipped": True, "seconds": 0.0}
    result = simulate_entry(entry, settings, threads=threads)
    write_entry(result, entry, settings, d)
    return {"entry": entry.name, "skipped": False, "seconds": result.seconds, "device": result.device}


def generate(
    entries: list[Entry],
    directory: str | os.PathLike,
    settings: SimulationSettings = SimulationSettings(),
    workers: int = 1,
    threads: int = 2,
    scheduler: str | None = None,
    progress: bool = True,
) -> list[dict]:
    """Simulate ``entries`` into ``directory``, skipping those already done.

    Parameters
    ----------
    entries : list of Entry
    directory : path
        Library directory (created if needed).
    settings : SimulationSettings
    workers : int
        Dask workers of the LocalCluster (ignored with ``scheduler``); 0 or 1 runs in
        this process without Dask.
    threads : int
        FFTW threads per worker.
    scheduler : str, optional
        Address of a running Dask scheduler (e.g. ``tcp://host:8786``).
    progress : bool
        Show a progress bar (one step per entry).

    Returns
    -------
    list of dict
        One record per entry: name, skipped, seconds (wall time of the simulation).
    """
    from atomcount.core.parallel import map_tasks

    directory = str(Path(directory).resolve())
    todo = [e for e in entries if not is_done(e, settings, Path(directory))]
    records = [{"entry": e.name, "skipped": True, "seconds": 0.0} for e in entries if e not in todo]
    records += map_tasks(run_entry, [(e, settings, directory, threads) for e in todo], workers=workers,
                         scheduler=scheduler, desc="PPISCS entries", unit="entry", progress=progress,
                         total=len(entries), initial=len(records))
    return records
