"""PPISCS of crystal columns with converged slicing: how far the library's one slice per plane is off.

Run ``python -m atomcount.bench.ppiscs_columns [--elements Au,Al] [--voltage 300] [--atoms 20] [--finest 0.0125]``;
with ``--correction`` it builds the shipped slicing-correction table instead
(:mod:`atomcount.stem.ppiscs.slicing_correction`, section ``ppiscs-slicing-correction``). Every
simulation is cached in ``build/ppiscs_bench/columns_*.json`` (delete to re-run; an interrupted
study resumes at the first missing run), then the ``ppiscs-columns`` section of BENCHMARKS.md is
written from every study in the cache.

Each element is simulated in one projected cell ([100], rmsd 0.085 Å, tilts up to 25 mrad,
hard antialiasing cutoff) with one frozen-phonon configuration that every run shares, so the
differences between runs are those of the numerical settings alone: the library's scheme (each
atom whole in the slice of its plane) at the library's sampling and at 0.01 Å, and slices of
0.05, 0.025 and 0.0125 Å cut in Fourier space (:mod:`atomcount.stem.ppiscs.column_slicing`), with
0.025 Å slices also at 0.007 Å sampling to check the reference's sampling.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
from tqdm import tqdm

from atomcount.bench.ppiscs_library import CACHE, _cached
from atomcount.core.provenance import write_section
from atomcount.stem.ppiscs.library import aperture_weights, ring_integral, tilt_shifts
from atomcount.stem.ppiscs.column_slicing import simulate_sliced
from atomcount.stem.ppiscs.simulation import Entry, SimulationSettings
from atomcount.stem.ppiscs.slicing_correction import (
    BIN_WIDTH,
    DEFAULT_TABLE,
    REFERENCE_SAMPLING,
    REFERENCE_SLICE,
    TABLE_ALPHA,
    TABLE_ATOMS,
    TABLE_ZONE,
    SlicingCorrection,
    band_factors,
)
from atomcount.stem.ppiscs.validation import result_ppiscs

COMMAND = "python -m atomcount.bench.ppiscs_columns"

#: Detectors (α, θ0, θe in mrad); α ≤ 25 mrad keeps the tilt grid small.
COLUMN_DETECTORS = {
    "LAADF α=17.5, 25–60": (17.5, 25.0, 60.0),
    "paper example α=21, 46–190": (21.0, 46.0, 190.0),
    "HAADF α=25, 60–200": (25.0, 60.0, 200.0),
    "high angle α=25, 150–250": (25.0, 150.0, 250.0),
}
#: Runs: name → (lateral sampling in Å or None for the library's, slice thickness in Å or None for one per
#: plane), coarsest to finest; the finest run of a study is its reference.
RUNS = {
    "library scheme, library sampling": (None, None),
    "library scheme, 0.01 Å": (0.01, None),
    "0.05 Å slices, 0.01 Å": (0.01, 0.05),
    "0.025 Å slices, 0.01 Å": (0.01, 0.025),
    "0.025 Å slices, 0.007 Å": (0.007, 0.025),
    "0.0125 Å slices, 0.01 Å": (0.01, 0.0125),
}
#: The run that checks the reference's lateral sampling (simulated for studies of ≤ 20 atoms only).
SAMPLING_CHECK = "0.025 Å slices, 0.007 Å"
SHOWN_ATOMS = (1, 2, 5, 20, 61)


def _key(element: str, voltage: float, atoms: int, sampling: float | None, slice_thickness: float | None) -> str:
    return f"columns_{element}_{voltage:g}kV_{atoms}_{sampling}_{slice_thickness}"


def column_run(element: str, voltage: float, atoms: int, sampling: float | None,
               slice_thickness: float | None) -> dict:
    """PPISCS (Å², per detector, 1…``atoms`` atoms) and CPU seconds of one run at ``voltage`` kV."""
    entry = Entry(element, "100", voltage, 0.085)
    settings = SimulationSettings(supercell_length=4.0, max_convergence=25.0, max_atoms=atoms, antialias_taper=0.0)
    with tqdm(desc=f"{element} {sampling} {slice_thickness}", unit="slice", leave=False, mininterval=30) as bar:
        result = simulate_sliced(entry, settings=settings, sampling=sampling, slice_thickness=slice_thickness,
                                 progress=bar.update)
    # the ring intensities per tilt and thickness, for ring-resolved comparisons (not read by the section)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(CACHE / f"{_key(element, voltage, atoms, sampling, slice_thickness)}_rings.npz",
                        intensity=result.intensity, tilts=result.geometry.tilts,
                        multiplicity=result.geometry.multiplicity, cell_mrad=np.array(result.geometry.cell_mrad))
    return {"ppiscs": {name: result_ppiscs(result, *det).tolist() for name, det in COLUMN_DETECTORS.items()},
            "cpu_seconds": result.cpu_seconds, "gpts": list(result.geometry.gpts),
            "waves": int(len(result.geometry.indices))}


def run_study(elements: tuple[str, ...], voltage: float, atoms: int, finest: float) -> None:
    """Simulate (or find cached) every run down to ``finest`` Å slices, one element after the other."""
    for el in elements:
        for name, (samp, st) in RUNS.items():
            if (st is None or st >= finest) and (name != SAMPLING_CHECK or atoms <= 20):
                _cached(_key(el, voltage, atoms, samp, st),
                        lambda el=el, samp=samp, st=st: column_run(el, voltage, atoms, samp, st))


def cached_studies() -> dict:
    """{(element, kV, atoms): {run name: run}} of every cached run, runs in :data:`RUNS` order."""
    out: dict = {}
    found = {(p.stem.split("_")[1], float(p.stem.split("_")[2][:-2]), int(p.stem.split("_")[3]))
             for p in CACHE.glob("columns_*kV_*.json")}
    for el, kv, atoms in sorted(found, key=lambda t: (-t[1], t[0], t[2])):
        paths = {name: CACHE / f"{_key(el, kv, atoms, samp, st)}.json" for name, (samp, st) in RUNS.items()}
        out[(el, kv, atoms)] = {name: json.loads(path.read_text()) for name, path in paths.items() if path.exists()}
    return out


def columns_section(studies: dict) -> None:
    """The ``ppiscs-columns`` section of BENCHMARKS.md, from every cached study."""
    dets = list(COLUMN_DETECTORS)
    rows = []
    for (el, kv, atoms), runs in studies.items():
        shown = [n for n in SHOWN_ATOMS if n <= atoms]
        reference = list(runs)[-1]
        ref = runs[reference]["ppiscs"]
        for name, run in runs.items():
            cells = []
            for det in dets:
                if name == reference:
                    cells.append(" / ".join(f"{ref[det][n - 1]:.4f}" for n in shown) + " Å² (reference)")
                else:
                    cells.append(" / ".join(f"{100 * (run['ppiscs'][det][n - 1] / ref[det][n - 1] - 1):+.1f}"
                                            for n in shown) + " %")
            rows.append(f"| {el} | {kv:g} | {' / '.join(map(str, shown))} | {name} | {run['gpts'][0]}² | "
                        f"{run['cpu_seconds']:.1f} | " + " | ".join(cells) + " |")
    body = f"""[100], rmsd 0.085 Å, one projected cell, one frozen-phonon configuration shared by every run of
an element (so only the numerical settings differ), tilts up to 25 mrad, hard antialiasing cutoff. In each study
the finest run is the reference (its PPISCS in Å² at the atoms per column listed); every other row is its deviation
from the reference at those thicknesses. CPU seconds of the simulation on one thread of this machine.

| element | kV | atoms | run | grid | CPU s | {' | '.join(dets)} |
|---|---|---|---|---|---|{'---|' * len(dets)}
{chr(10).join(rows)}

Reading: the first row of each study is what the library computes (one slice per plane, its own sampling, same
tilts and phonons); its deviation from the reference is the slicing error of the library's entries of that element.
The next-to-finest row shows how far the reference itself is from convergence."""
    write_section("ppiscs-columns", "PPISCS: crystal columns with converged slicing", body, COMMAND)


#: The two runs behind the slicing correction: the library's scheme, and the reference.
CORRECTION_RUNS = {"library": (None, None), "reference": (REFERENCE_SAMPLING, REFERENCE_SLICE)}
#: Elements and voltages of the shipped correction table (paper 001's elements, the library's voltages).
CORRECTION_ELEMENTS = ("Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au", "Pb")
CORRECTION_VOLTAGES = (300.0, 200.0)


def _aperture_rings(run: dict, alpha: float) -> np.ndarray:
    """Aperture-averaged rings (n_atoms, n_rings) of a cached run's per-tilt rings at ``alpha`` mrad."""
    w = aperture_weights(run["tilts"], tuple(run["cell_mrad"]), run["multiplicity"], alpha)
    return np.tensordot(w, run["intensity"].astype(np.float64), axes=(0, 0))


def _detected(rings: np.ndarray, cell_mrad: tuple, inner: float, outer: float) -> np.ndarray:
    """Detected fraction per thickness, rings of 1 mrad spread over the tilt cell as the library does."""
    return ring_integral(rings, inner, outer, 1.0, tilt_shifts(cell_mrad))


def correction_runs(element: str, voltage: float) -> dict:
    """Per-tilt rings of the library-scheme and reference runs of one column (simulated once, cached)."""
    out = {}
    for name, (samp, st) in CORRECTION_RUNS.items():
        key = _key(element, voltage, TABLE_ATOMS, samp, st)
        _cached(key, lambda samp=samp, st=st: column_run(element, voltage, TABLE_ATOMS, samp, st))
        with np.load(CACHE / f"{key}_rings.npz") as z:
            out[name] = {k: z[k] for k in z.files}
        out[name]["cpu_seconds"] = json.loads((CACHE / f"{key}.json").read_text())["cpu_seconds"]
    return out


def build_correction(elements: tuple[str, ...], voltages: tuple[float, ...]) -> tuple[SlicingCorrection, dict]:
    """The correction table from the (cached) runs, and the runs themselves keyed by (element, kV)."""
    runs = {(el, kv): correction_runs(el, kv) for kv in voltages for el in elements}
    factors = {k: band_factors(_aperture_rings(r["library"], TABLE_ALPHA), _aperture_rings(r["reference"], TABLE_ALPHA), 1.0)
               for k, r in runs.items()}
    n_bins = max(f.shape[1] for f in factors.values())
    table = np.ones((len(elements), len(voltages), TABLE_ATOMS, n_bins))
    for (el, kv), f in factors.items():
        table[elements.index(el), voltages.index(kv), :, : f.shape[1]] = f
    return SlicingCorrection(elements, voltages, table), runs


def correction_section(correction: SlicingCorrection, runs: dict) -> None:
    """The ``ppiscs-slicing-correction`` section: what the correction changes and what it leaves."""
    dets = list(COLUMN_DETECTORS)
    rows = []
    for (el, kv), r in runs.items():
        lib, ref = r["library"], r["reference"]
        f = correction.ring_factors(el, TABLE_ZONE, kv, TABLE_ATOMS, lib["intensity"].shape[2], 1.0)
        change, residual, before = [], [], []
        for det in dets:
            alpha, inner, outer = COLUMN_DETECTORS[det]
            lr = _aperture_rings(lib, alpha)
            raw = _detected(lr, tuple(lib["cell_mrad"]), inner, outer)
            corr = _detected(lr * f, tuple(lib["cell_mrad"]), inner, outer)
            reference = _detected(_aperture_rings(ref, alpha), tuple(ref["cell_mrad"]), inner, outer)
            change.append(" / ".join(f"{100 * (corr[n - 1] / raw[n - 1] - 1):+.1f}" for n in (1, 5, 20)) + " %")
            before.append(float(np.max(np.abs(raw / reference - 1))))
            residual.append(float(np.max(np.abs(corr / reference - 1))))
        rows.append(f"| {el} | {kv:g} | " + " | ".join(change) + " | "
                    + " | ".join(f"{100 * b:.1f} → {100 * a:.2f} %" for b, a in zip(before, residual))
                    + f" | {lib['cpu_seconds'] + ref['cpu_seconds']:.0f} |")
    body = f"""Table `src/atomcount/data/{DEFAULT_TABLE.name}` ({DEFAULT_TABLE.stat().st_size / 1024:.0f} KiB): for every
element and voltage, the ratio of a {REFERENCE_SLICE} Å-slice, {REFERENCE_SAMPLING} Å-sampling run to the library's
scheme (one slice per plane, the library's sampling) of the same [100] column ({TABLE_ATOMS} atoms, rmsd 0.085 Å,
one projected cell, one shared frozen-phonon configuration, tilts up to 25 mrad), per thickness and
{BIN_WIDTH:g} mrad band of scattering angle, taken at α = {TABLE_ALPHA:g} mrad
(`atomcount.stem.ppiscs.slicing_correction`). Applied to an entry's rings, it holds for any α and detector.

"change" is what the correction does to the library's PPISCS at 1 / 5 / 20 atoms; "max |library − reference|"
is the largest deviation over 1–{TABLE_ATOMS} atoms before → after the correction, at each detector's own α
(17.5 and 25 mrad test how well a table taken at {TABLE_ALPHA:g} mrad carries over). CPU seconds of the two runs
on one thread.

| element | kV | change: {' | change: '.join(dets)} | max abs(library − reference): {' | max abs(library − reference): '.join(dets)} | CPU s |
|---|---|{'---|' * (2 * len(dets))}---|
{chr(10).join(rows)}

Reading: the residual is what a per-element table cannot remove (the band average over {BIN_WIDTH:g} mrad and the
α dependence); it is measured on the column the table was taken from, so it checks the construction, not the
transfer to other thicknesses (beyond {TABLE_ATOMS} atoms the last row is used), rmsd or the [110] zone (refused)."""
    write_section("ppiscs-slicing-correction", "PPISCS: slicing correction of the library, per element and voltage",
                  body, f"{COMMAND} --correction")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--elements", default=None,
                   help="comma-separated elements (default Au,Al; with --correction all eight of paper 001)")
    p.add_argument("--atoms", type=int, default=20, help="atoms per column (thickest)")
    p.add_argument("--voltage", type=float, default=300.0, help="kV")
    p.add_argument("--finest", type=float, default=0.0125, help="thinnest slices simulated (Å)")
    p.add_argument("--correction", action="store_true",
                   help="build the shipped slicing-correction table (elements × 300, 200 kV) and its section")
    a = p.parse_args()
    if a.correction:
        elements = tuple(a.elements.split(",")) if a.elements else CORRECTION_ELEMENTS
        correction, runs = build_correction(elements, CORRECTION_VOLTAGES)
        correction.save(DEFAULT_TABLE)
        correction_section(correction, runs)
        return
    run_study(tuple(x for x in (a.elements or "Au,Al").split(",") if x), a.voltage, a.atoms, a.finest)
    columns_section(cached_studies())


if __name__ == "__main__":
    main()
