"""PPISCS of crystal columns with converged slicing: how far the library's one slice per plane is off.

Run ``python -m atomcount.bench.ppiscs_columns [--atoms 20] [--elements Au,Al]``. Every
simulation is cached in ``build/ppiscs_bench/columns_*.json`` (delete to re-run; an interrupted
study resumes at the first missing run), then the ``ppiscs-columns`` section of BENCHMARKS.md is
written from the cache.

Each element is simulated in one projected cell ([100], 300 kV, rmsd 0.085 Å, tilts up to 25 mrad,
hard antialiasing cutoff) with one frozen-phonon configuration that every run shares, so the
differences between runs are those of the numerical settings alone: the library's scheme (each
atom whole in the slice of its plane) at the library's sampling and at 0.01 Å, and slices of
0.05, 0.025 and 0.0125 Å cut in Fourier space (:mod:`atomcount.ppiscs.column_slicing`).
"""
from __future__ import annotations

import argparse

from tqdm import tqdm

from atomcount.bench.ppiscs_library import _cached
from atomcount.bench.report import write_section
from atomcount.ppiscs.column_slicing import simulate_sliced
from atomcount.ppiscs.simulation import Entry, SimulationSettings
from atomcount.ppiscs.validation import result_ppiscs

COMMAND = "python -m atomcount.bench.ppiscs_columns"

#: Detectors (α, θ0, θe in mrad); α ≤ 25 mrad keeps the tilt grid small.
COLUMN_DETECTORS = {
    "LAADF α=17.5, 25–60": (17.5, 25.0, 60.0),
    "paper example α=21, 46–190": (21.0, 46.0, 190.0),
    "HAADF α=25, 60–200": (25.0, 60.0, 200.0),
    "high angle α=25, 150–250": (25.0, 150.0, 250.0),
}
#: Runs: name → (lateral sampling in Å or None for the library's, slice thickness in Å or None for one per plane).
RUNS = {
    "library scheme, library sampling": (None, None),
    "library scheme, 0.01 Å": (0.01, None),
    "0.05 Å slices, 0.01 Å": (0.01, 0.05),
    "0.025 Å slices, 0.01 Å": (0.01, 0.025),
    "0.0125 Å slices, 0.01 Å": (0.01, 0.0125),
}
REFERENCE = "0.0125 Å slices, 0.01 Å"
SHOWN_ATOMS = (1, 2, 5, 20, 61)


def column_run(element: str, atoms: int, sampling: float | None, slice_thickness: float | None) -> dict:
    """PPISCS (Å², per detector, 1…``atoms`` atoms) and CPU seconds of one run."""
    entry = Entry(element, "100", 300.0, 0.085)
    settings = SimulationSettings(supercell_length=4.0, max_convergence=25.0, max_atoms=atoms, antialias_taper=0.0)
    with tqdm(desc=f"{element} {sampling} {slice_thickness}", unit="slice", leave=False, mininterval=30) as bar:
        result = simulate_sliced(entry, settings=settings, sampling=sampling, slice_thickness=slice_thickness,
                                 progress=bar.update)
    return {"ppiscs": {name: result_ppiscs(result, *det).tolist() for name, det in COLUMN_DETECTORS.items()},
            "cpu_seconds": result.cpu_seconds, "gpts": list(result.geometry.gpts),
            "waves": int(len(result.geometry.indices))}


def column_study(elements: tuple[str, ...], atoms: int) -> dict:
    """Every run of every element (cached one by one)."""
    return {el: {name: _cached(f"columns_{el}_{atoms}_{samp}_{st}",
                               lambda el=el, samp=samp, st=st: column_run(el, atoms, samp, st))
                 for name, (samp, st) in RUNS.items()} for el in elements}


def columns_section(study: dict, atoms: int) -> None:
    """The ``ppiscs-columns`` section of BENCHMARKS.md."""
    dets = list(COLUMN_DETECTORS)
    shown = [n for n in SHOWN_ATOMS if n <= atoms]
    rows = []
    for el, runs in study.items():
        ref = runs[REFERENCE]["ppiscs"]
        for name, run in runs.items():
            cells = []
            for det in dets:
                if name == REFERENCE:
                    cells.append(" / ".join(f"{ref[det][n - 1]:.4f}" for n in shown) + " Å²")
                else:
                    cells.append(" / ".join(f"{100 * (run['ppiscs'][det][n - 1] / ref[det][n - 1] - 1):+.1f}"
                                            for n in shown) + " %")
            rows.append(f"| {el} | {name} | {run['gpts'][0]}² | {run['cpu_seconds'] / 60:.1f} | " + " | ".join(cells) + " |")
    body = f"""{el_list(study)} [100], 300 kV, rmsd 0.085 Å, one projected cell, one frozen-phonon configuration shared by
every run (so only the numerical settings differ), tilts up to 25 mrad, hard antialiasing cutoff, {atoms} atoms per
column. The reference is {REFERENCE}; every other row is its deviation from it at {' / '.join(map(str, shown))} atoms
per column (the reference row gives its PPISCS). CPU minutes on one thread of this machine.

| element | run | grid | CPU min | {' | '.join(dets)} |
|---|---|---|---|{'---|' * len(dets)}
{chr(10).join(rows)}

Reading: the first row of each element is what the library computes (one slice per plane, its own sampling, same
tilts and phonons); its deviation from the reference is the slicing error of every library entry of that element.
The 0.025 Å row against the reference shows how far the reference itself is from convergence."""
    write_section("ppiscs-columns", "PPISCS: crystal columns with converged slicing", body, COMMAND)


def el_list(study: dict) -> str:
    """'Au and Al' from the study's elements."""
    names = list(study)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--elements", default="Au,Al", help="comma-separated elements")
    p.add_argument("--atoms", type=int, default=20, help="atoms per column (thickest)")
    a = p.parse_args()
    elements = tuple(x for x in a.elements.split(",") if x)
    columns_section(column_study(elements, a.atoms), a.atoms)


if __name__ == "__main__":
    main()
