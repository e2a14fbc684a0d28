"""PPISCS of crystal columns with converged slicing: how far the library's one slice per plane is off.

Run ``python -m atomcount.bench.ppiscs_columns [--elements Au,Al] [--voltage 300] [--atoms 20] [--finest 0.0125]``. Every
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
from atomcount.stem.ppiscs.column_slicing import simulate_sliced
from atomcount.stem.ppiscs.simulation import Entry, SimulationSettings
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--elements", default="Au,Al", help="comma-separated elements")
    p.add_argument("--atoms", type=int, default=20, help="atoms per column (thickest)")
    p.add_argument("--voltage", type=float, default=300.0, help="kV")
    p.add_argument("--finest", type=float, default=0.0125, help="thinnest slices simulated (Å)")
    a = p.parse_args()
    run_study(tuple(x for x in a.elements.split(",") if x), a.voltage, a.atoms, a.finest)
    columns_section(cached_studies())


if __name__ == "__main__":
    main()
