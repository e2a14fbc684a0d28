"""The queue of PPISCS library entries over the whole domain of paper 001 (Table 1).

The domain is :data:`ELEMENTS` × :data:`ZONES` × :data:`VOLTAGES` × :data:`RMSD_GRID`
(8 × 2 × 6 × 5 = 480 entries), simulated with :data:`QUEUE_SETTINGS`. The queue holds no
state of its own: an entry is done when its file is in the queue's library directory (or in
the library shipped with the package) with those settings; entries are written atomically
(:func:`~atomcount.stem.ppiscs.library.write_entry`), so an interrupted run loses at most the
entry it was simulating and never duplicates one.

``atomcount ppiscs queue`` prints what is done and what is left with time estimates;
``atomcount ppiscs queue --run --hours H`` advances it, cheapest entries first, on the
CPU or on a GPU when CuPy sees one.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atomcount.core.crystals import get_element
from atomcount.core.errors import AtomcountError
from atomcount.stem.ppiscs.library import DEFAULT_LIBRARY, QUEUE_LIBRARY, is_done, list_entries, run_entry, stored_settings
from atomcount.stem.ppiscs.simulation import MAX_ATOMS, VOLTAGES, Entry, SimulationSettings, crystal_cell, geometry
from atomcount.stem.ppiscs.slicing_correction import load_correction

#: Elements of paper 001 (Table 1).
ELEMENTS = ("Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au", "Pb")
#: Zone axes of paper 001.
ZONES = ("100", "110")
#: rmsd grid (Å, per direction): spacing ≤ 0.025 Å, so that linear interpolation errs by about
#: (0.025 / 0.0375)² of the 1–1.9 % measured with spacing 0.0375 Å (``ppiscs-rmsd``); 0.085 Å
#: is the first library's value.
RMSD_GRID = (0.075, 0.085, 0.1, 0.125, 0.15)
#: Settings of the queue's entries: those of the first library (one slice of infinite
#: projection per atomic plane), so that every entry is comparable with it. The slicing study
#: (``ppiscs-slicing``) shows what they leave out for heavy elements; the converged settings
#: need a more accurate sliced potential first (docs/ppiscs_library.md).
QUEUE_SETTINGS = SimulationSettings()
#: Library directory of the queue (``library/ppiscs`` of the source checkout).
QUEUE_DIR = QUEUE_LIBRARY


def domain(elements=ELEMENTS, zones=ZONES, voltages=VOLTAGES, rmsds=RMSD_GRID) -> list[Entry]:
    """Every entry of the domain (or of the given subset of it)."""
    return [Entry(el, z, float(kv), float(r)) for el in elements for z in zones for kv in voltages for r in rmsds]


@dataclass(frozen=True)
class Work:
    """Size of one entry's simulation.

    Attributes
    ----------
    waves : int
        Plane waves (tilts).
    slices : int
        Slices through the full thickness.
    pixels : int
        Grid points of one wave.
    batches : int
        Batches of waves (each builds its own potential).
    """

    waves: int
    slices: int
    pixels: int
    batches: int

    def terms(self) -> np.ndarray:
        """Propagation (waves × slices × pixels) and potential (batches × slices × pixels) terms."""
        return np.array([self.waves * self.slices * self.pixels, self.batches * self.slices * self.pixels], float)


def work(entry: Entry, settings: SimulationSettings) -> Work:
    """Size of the simulation of ``entry`` with ``settings`` (exact, from its geometry)."""
    crystal = crystal_cell(get_element(entry.element), entry.zone)
    geom = geometry(crystal, entry.voltage, settings)
    n_atoms = settings.max_atoms or MAX_ATOMS[entry.zone]
    waves = len(geom.indices)
    return Work(waves=waves, slices=crystal.planes * settings.slices_per_plane * n_atoms,
                pixels=int(np.prod(geom.gpts)), batches=-(-waves // max(1, settings.batch_size)))


class CostModel:
    """CPU seconds of an entry, fitted to the entries already made with the same settings.

    ``seconds ≈ c₁ · waves · slices · pixels + c₂ · batches · slices · pixels``, the
    propagation and potential terms, fitted by non-negative least squares (one term, the
    propagation, when fewer than three entries are known).
    """

    def __init__(self, settings: SimulationSettings, directories: list[Path]):
        wanted = json.loads(settings.to_json())
        rows, seconds = [], []
        for d in directories:
            for attrs in list_entries(d) if d.exists() else []:
                if (stored_settings(attrs["settings"]) != wanted or attrs.get("device") != "cpu"
                        or "cpu_seconds" not in attrs):  # the first entries recorded wall time only
                    continue
                e = Entry(attrs["element"], attrs["zone"], float(attrs["voltage"]), float(attrs["rmsd"]))
                rows.append(work(e, settings).terms())
                seconds.append(float(attrs["cpu_seconds"]))
        self.n_fitted = len(rows)
        self.coef: np.ndarray | None = None
        if len(rows) >= 3:
            from scipy.optimize import nnls

            a, s = np.array(rows), np.array(seconds)
            scale = a.max(0)
            coef, _ = nnls(a / scale, s)
            self.coef = coef / scale
        elif rows:
            a, s = np.array(rows)[:, 0], np.array(seconds)
            self.coef = np.array([float(s.sum() / a.sum()), 0.0])

    def cpu_seconds(self, entry: Entry, settings: SimulationSettings) -> float | None:
        """Estimated CPU seconds (all threads) of ``entry``; ``None`` before any entry is known."""
        if self.coef is None:
            return None
        return float(work(entry, settings).terms() @ self.coef)


def _done_in(entry: Entry, settings: SimulationSettings, directories: list[Path]) -> Path | None:
    """The first directory holding ``entry`` made with ``settings``, or ``None``."""
    for d in directories:
        if d.exists() and is_done(entry, settings, d):
            return d
    return None


def status(directory: Path = QUEUE_DIR, settings: SimulationSettings = QUEUE_SETTINGS,
           entries: list[Entry] | None = None, shipped: Path | None = DEFAULT_LIBRARY) -> list[dict]:
    """State of every entry of the queue, cheapest first.

    Parameters
    ----------
    directory : path
        The queue's library directory (where new entries go).
    settings : SimulationSettings
    entries : list of Entry, optional
        Default: the whole :func:`domain`.
    shipped : path, optional
        A second library whose entries count as done (the one shipped with the package).

    Returns
    -------
    list of dict
        ``entry`` (Entry), ``done`` (bool), ``cpu_seconds`` (estimate, or the measured time
        for done entries; ``None`` when no entry with these settings is known yet), ``work``.
    """
    dirs = [Path(directory)] + ([Path(shipped)] if shipped is not None else [])
    entries = domain() if entries is None else entries
    model = CostModel(settings, dirs)
    measured = {a["path"]: float(a["cpu_seconds"]) for d in dirs if d.exists() for a in list_entries(d)
                if "cpu_seconds" in a}
    rows = []
    for e in entries:
        where = _done_in(e, settings, dirs)
        est = measured.get(str(where / f"{e.name}.h5")) if where else model.cpu_seconds(e, settings)
        rows.append({"entry": e, "done": where is not None, "cpu_seconds": est, "work": work(e, settings)})
    rows.sort(key=lambda r: (r["work"].terms().sum(), r["entry"].name))
    return rows


def run(hours: float, directory: Path = QUEUE_DIR, settings: SimulationSettings = QUEUE_SETTINGS,
        entries: list[Entry] | None = None, threads: int = 1, progress=None,
        shipped: Path | None = DEFAULT_LIBRARY, before_entry: Callable[[Entry], object] | None = None) -> list[dict]:
    """Simulate the queue's missing entries, cheapest first, until ``hours`` of wall time pass.

    An entry is started only while time is left; one that would end after the deadline by
    the cost model's estimate is skipped in favour of cheaper ones. ``before_entry`` is called
    with each entry before it is simulated (the CLI adds the slicing-correction row of a new
    element, zone and voltage there, so that no entry lands that corrected consumers cannot read).

    Returns
    -------
    list of dict
        One record per entry simulated: name, seconds (wall), device.
    """
    if hours <= 0:
        raise AtomcountError(f"hours must be positive, got {hours}")
    deadline = time.time() + hours * 3600
    records = []
    dirs = [Path(directory)] + ([Path(shipped)] if shipped is not None else [])
    for row in status(directory, settings, entries, shipped):
        if row["done"]:
            continue
        left = deadline - time.time()
        if left <= 0:
            break
        model = CostModel(settings, dirs)
        est = model.cpu_seconds(row["entry"], settings)
        if est is not None and est / max(1, threads) > left:
            continue
        if before_entry is not None:
            before_entry(row["entry"])
        record = run_entry(row["entry"], settings, str(Path(directory).resolve()), threads)
        records.append(record)
        if progress is not None:
            progress(record)
    return records


def status_markdown(rows: list[dict], directory: Path) -> str:
    """The queue's state as Markdown: totals, then done and left per (zone, voltage)."""
    done = [r for r in rows if r["done"]]
    left = [r for r in rows if not r["done"]]
    est = [r["cpu_seconds"] for r in left]
    known = [e for e in est if e is not None]
    size = sum(p.stat().st_size for p in Path(directory).glob("*.h5")) if Path(directory).exists() else 0
    try:
        shown = Path(directory).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        shown = Path(directory)
    lines = [
        f"PPISCS queue `{shown}`: {len(done)} of {len(rows)} entries done "
        f"(new entries {size / 1e6:.1f} MB on disk; the shipped library's count as done), "
        f"settings {QUEUE_SETTINGS.to_json()}.",
        "",
        ("Left: " + (f"about {sum(known) / 3600:.1f} CPU-hours (all threads; cost model fitted to "
                     f"the done entries)" if len(known) == len(est) else "no estimate until an entry with "
                     "these settings has been made on the CPU") if left else "Nothing left."),
        "",
        "| zone | kV | done | left | CPU-hours left |",
        "|---|---|---|---|---|",
    ]
    table = load_correction()
    cells = {(r["entry"].element, r["entry"].zone, r["entry"].voltage) for r in rows}
    lacking = sorted(c for c in cells if not table.has_row(*c))
    if lacking:
        lines[2:2] = [f"Slicing correction: {len(lacking)} of {len(cells)} (element, zone, kV) cells have no row yet; "
                      "`queue --run` simulates a cell's row (2 phonon configurations of a 20-atom column, library "
                      "scheme and 0.025 Å slices) before the cell's first entry, at a cost not in the estimate above.",
                      ""]
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["entry"].zone, r["entry"].voltage), []).append(r)
    for (zone, kv), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        todo = [r["cpu_seconds"] for r in rs if not r["done"]]
        hours = "—" if any(t is None for t in todo) else f"{sum(todo) / 3600:.1f}"
        lines.append(f"| [{zone}] | {kv:g} | {len(rs) - len(todo)} | {len(todo)} | {hours} |")
    return "\n".join(lines) + "\n"
