"""HRTEM training data sets: one HDF5 file per particle in a folder, written atomically.

Layout of a data set folder::

    dataset.json            generation settings (seed, particle ranges, sampling, …)
    entries/p000000.h5      one particle: exit wave + column table (+ optional images)
    entries/p000001.h5
    ...

Each entry is computed from ``numpy.random.default_rng([seed, index])`` alone, written
to a temporary name and renamed, so an interrupted run resumes by computing only the
missing entries and ends identical to an uninterrupted one. Generation runs on
``dask.distributed`` (a LocalCluster by default, or any scheduler address).
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import h5py
import numpy as np

from atomcount.core.columns import ColumnTable
from atomcount.core.errors import AtomcountError, check_range
from atomcount.core.particles import ParticleConfig
from atomcount.hrtem.imaging import ExitWave
from atomcount.hrtem.microscope import ImagingRanges

FORMAT_VERSION = 1


@dataclass(frozen=True)
class DatasetSpec:
    """Everything that determines a data set's content.

    Attributes
    ----------
    n_particles : int
        Number of particles (entries).
    seed : int
        Master seed; entry ``i`` uses ``default_rng([seed, i])``.
    particle : ParticleConfig
        Particle ranges.
    sampling : float
        Multislice sampling (Å).
    energy : float
        Accelerating voltage (kV).
    images_per_particle : int
        Images rendered and stored per entry (0: exit waves only; training renders
        on the fly).
    imaging : ImagingRanges
        Ranges for the stored images.
    """

    n_particles: int
    seed: int = 0
    particle: ParticleConfig = field(default_factory=ParticleConfig)
    sampling: float = 0.08
    energy: float = 300.0
    images_per_particle: int = 0
    imaging: ImagingRanges = field(default_factory=ImagingRanges)

    def __post_init__(self) -> None:
        if int(self.n_particles) < 1:
            raise AtomcountError(f"n_particles must be >= 1, got {self.n_particles}")
        check_range("sampling", self.sampling, 0.02, 0.1, "Å")
        if self.images_per_particle < 0:
            raise AtomcountError("images_per_particle must be >= 0")

    def to_json(self) -> dict:
        """JSON-serialisable form."""
        d = asdict(self)
        d["format_version"] = FORMAT_VERSION
        return d

    @classmethod
    def from_json(cls, d: dict) -> "DatasetSpec":
        """Inverse of :meth:`to_json`."""
        d = dict(d)
        d.pop("format_version", None)
        d["particle"] = ParticleConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d["particle"].items()})
        d["imaging"] = ImagingRanges(**{k: tuple(v) for k, v in d["imaging"].items()})
        return cls(**d)


def entry_path(root: Path, index: int) -> Path:
    """Path of entry ``index``."""
    return Path(root) / "entries" / f"p{index:06d}.h5"


def compute_entry(spec: DatasetSpec, index: int, device: str = "cpu") -> dict:
    """Simulate entry ``index``: particle, exit wave, optional images (pure function)."""
    from atomcount.core.particles import random_particle
    from atomcount.hrtem.imaging import exit_wave, render_image
    from atomcount.hrtem.labels import height_map

    rng = np.random.default_rng([spec.seed, index])
    particle = random_particle(rng, spec.particle)
    wave = exit_wave(particle, sampling=spec.sampling, energy=spec.energy, device=device)
    out = {"wave": wave, "columns": particle.columns, "info": particle.info, "images": [], "params": []}
    for _ in range(spec.images_per_particle):
        p = spec.imaging.sample(rng)
        img = render_image(wave, p, rng)
        out["images"].append((img, height_map(particle.columns, img.shape, p.sampling)))
        out["params"].append(p.to_dict())
    return out


def write_entry(path: Path, entry: dict) -> None:
    """Write an entry atomically (temporary file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".h5.tmp")
    with h5py.File(tmp, "w") as f:
        w: ExitWave = entry["wave"]
        f.create_dataset("exit_wave", data=w.fourier)
        f.attrs["extent"] = w.extent
        f.attrs["energy"] = w.energy
        f.attrs["info"] = json.dumps(entry["info"])
        f.create_dataset("columns/xy", data=entry["columns"].xy)
        f.create_dataset("columns/height", data=entry["columns"].height)
        for k, ((img, lab), p) in enumerate(zip(entry["images"], entry["params"])):
            g = f.create_group(f"images/{k}")
            g.create_dataset("image", data=img)
            g.create_dataset("height_map", data=lab)
            g.attrs["params"] = json.dumps(p)
    os.replace(tmp, path)


def read_entry(path: Path) -> tuple[ExitWave, ColumnTable, dict]:
    """Read the exit wave, column table and particle info of one entry."""
    try:
        with h5py.File(path, "r") as f:
            wave = ExitWave(f["exit_wave"][()], float(f.attrs["extent"]), float(f.attrs["energy"]))
            cols = ColumnTable(f["columns/xy"][()], f["columns/height"][()])
            info = json.loads(f.attrs["info"])
    except (OSError, KeyError) as exc:
        raise AtomcountError(f"cannot read data set entry {path}: {exc}") from None
    return wave, cols, info


def _run_entry(root: str, spec_json: dict, index: int, device: str) -> int:
    spec = DatasetSpec.from_json(spec_json)
    write_entry(entry_path(Path(root), index), compute_entry(spec, index, device))
    return index


def missing_entries(root: Path, n: int) -> list[int]:
    """Indices whose entry file does not exist yet."""
    return [i for i in range(n) if not entry_path(root, i).exists()]


def open_spec(root: Path) -> DatasetSpec:
    """Read ``dataset.json`` of a data set folder."""
    meta = Path(root) / "dataset.json"
    if not meta.exists():
        raise AtomcountError(f"{root} is not an atomcount data set (no dataset.json)")
    return DatasetSpec.from_json(json.loads(meta.read_text()))


def generate(
    root: str | Path,
    spec: DatasetSpec,
    workers: int = 2,
    scheduler: str | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> list[int]:
    """Generate (or resume) a data set.

    Parameters
    ----------
    root : path
        Data set folder; created if needed.
    spec : DatasetSpec
        What to generate. Must equal the stored spec when resuming.
    workers : int
        Worker processes of the LocalCluster (ignored with ``scheduler``). With 1 and
        no scheduler, runs in this process.
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler (e.g. an HPC cluster).
    device : {"cpu", "gpu"}
        abTEM device for the multislice.
    progress : bool
        Show a progress bar.

    Returns
    -------
    list of int
        Indices computed by this call.
    """
    root = Path(root)
    meta = root / "dataset.json"
    if meta.exists():
        old = json.loads(meta.read_text())
        if old != json.loads(json.dumps(spec.to_json())):
            raise AtomcountError(f"{root} holds a data set with different settings; use a new folder")
    else:
        root.mkdir(parents=True, exist_ok=True)
        tmp = meta.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(spec.to_json(), indent=1))
        os.replace(tmp, meta)
    with _exclusive(root):
        return _generate_locked(root, spec, workers, scheduler, device, progress)


@contextmanager
def _exclusive(root: Path):
    """Hold ``root/.lock`` so that two generators never write the same folder."""
    lock = root / ".lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        pid = lock.read_text().strip() or "?"
        alive = pid.isdigit() and Path(f"/proc/{pid}").exists()
        if alive or not Path("/proc").exists():
            raise AtomcountError(f"{root} is being written by process {pid}; wait for it or remove {lock}") from None
        lock.unlink()  # left behind by a killed run
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _generate_locked(root: Path, spec: DatasetSpec, workers: int, scheduler: str | None, device: str,
                     progress: bool) -> list[int]:
    from atomcount.core.parallel import map_tasks

    for stale in (root / "entries").glob("*.tmp") if (root / "entries").exists() else []:
        stale.unlink()
    todo = missing_entries(root, spec.n_particles)
    args = [(str(root), spec.to_json(), i, device) for i in todo]
    done = map_tasks(_run_entry, args, workers, scheduler, desc="exit waves", unit="particle", progress=progress,
                     total=spec.n_particles, initial=spec.n_particles - len(todo))
    return sorted(done)


def summarize(root: str | Path) -> dict:
    """Summary of a data set: counts, zones, sizes and heights."""
    root = Path(root)
    spec = open_spec(root)
    files = sorted((root / "entries").glob("p*.h5"))
    zones: dict[str, int] = {}
    n_atoms, n_cols = [], []
    hist = np.zeros(32, int)
    for path in files:
        _, cols, info = read_entry(path)
        zones[info["zone"]] = zones.get(info["zone"], 0) + 1
        n_atoms.append(cols.total_atoms)
        n_cols.append(len(cols))
        hist += np.bincount(np.clip(cols.height, 0, 31), minlength=32)
    last = int(np.flatnonzero(hist).max()) + 1 if hist.any() else 1
    return {
        "path": str(root),
        "entries_done": len(files),
        "entries_planned": spec.n_particles,
        "seed": spec.seed,
        "element": spec.particle.element,
        "zones": zones,
        "atoms_per_particle": [int(min(n_atoms, default=0)), int(max(n_atoms, default=0))],
        "columns_total": int(sum(n_cols)),
        "height_histogram": {int(h): int(c) for h, c in enumerate(hist[:last]) if h > 0},
        "images_per_particle": spec.images_per_particle,
    }
