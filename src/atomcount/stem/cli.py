"""``atomcount stem``: ADF-STEM commands (``count``: atoms per column from cross-sections)."""
from __future__ import annotations

import warnings
from pathlib import Path

import click
import numpy as np

from atomcount.core.errors import AtomcountError


@click.group()
def stem() -> None:
    """ADF-STEM: count atoms from column scattering cross-sections."""


def _read_positions(path: str) -> np.ndarray:
    """x, y (Å) of columns from a CSV with a header naming ``x_A, y_A`` (as columns.csv) or ``x, y``."""
    try:
        table = np.genfromtxt(path, delimiter=",", names=True, dtype=float, encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise AtomcountError(f"cannot read positions from {path}: {exc}") from None
    names = table.dtype.names or ()
    for x, y in (("x_A", "y_A"), ("x", "y")):
        if x in names and y in names:
            return np.atleast_1d(np.column_stack([table[x], table[y]]))
    raise AtomcountError(f"{path} needs a header with x_A and y_A (Å), or x and y; found {', '.join(names) or 'none'}")


def _read_detector_map(path: str) -> np.ndarray:
    from atomcount.io import read_image

    with warnings.catch_warnings():  # its calibration does not matter, only its levels
        warnings.simplefilter("ignore")
        return read_image(path, pixel_size=1.0).data


@stem.command("count")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--pixel-size", type=float, default=None, help="Pixel size in Å/px; overrides (or supplies missing) file metadata.")
@click.option("--method", type=click.Choice(["statistics", "library", "hybrid"]), default="statistics", show_default=True,
              help="Counts from a Gaussian mixture + ICL, the nearest simulated cross-section, or the mixture fixed to it.")
@click.option("--cross-section", "cross_section", type=click.Choice(["gaussian", "voronoi", "voronoi-unmixed"]),
              default="gaussian", show_default=True,
              help="Fitted Gaussian volumes, Voronoi-cell sums, or those sums with the probe-tail cross-talk removed "
                   "(needs --voltage, --convergence).")
@click.option("--normalised", is_flag=True, help="The image is already in units of the incident beam.")
@click.option("--black-level", type=float, default=None, help="Detector black level (raw units).")
@click.option("--vacuum-level", type=float, default=None, help="Detector vacuum level (raw units).")
@click.option("--detector-map", type=click.Path(dir_okay=False), default=None,
              help="Detector scan image giving the vacuum (and black) level.")
@click.option("--positions", type=click.Path(dir_okay=False), default=None,
              help="CSV of column positions (header x_A,y_A in Å, e.g. a columns.csv) instead of peak finding.")
@click.option("--element", default=None, help="Element of the simulated reference (Au, Pt, …).")
@click.option("--zone", default=None, help="Zone axis of the simulated reference (100 or 110).")
@click.option("--voltage", type=float, default=None, help="Accelerating voltage (kV).")
@click.option("--convergence", type=float, default=None, help="Probe semi-angle (mrad).")
@click.option("--inner", type=float, default=None, help="Detector inner angle (mrad).")
@click.option("--outer", type=float, default=None, help="Detector outer angle (mrad).")
@click.option("--rmsd", type=float, default=None, help="rms thermal displacement (Å).")
@click.option("--source-size", type=float, default=0.5, show_default=True,
              help="FWHM of the effective source blurring the probe (Å), for --cross-section voronoi-unmixed.")
@click.option("--library", type=click.Path(dir_okay=False), default=None,
              help="Table of cross-sections (Å²) per atom count 1…N (text/CSV), instead of the simulated one.")
@click.option("--max-components", type=int, default=None, help="Highest mixture order tried.")
@click.option("--n-components", type=int, default=None,
              help="Mixture order to use (default: highest local ICL minimum with regularly spaced means).")
@click.option("--min-distance", type=float, default=None,
              help="Smallest distance between columns (Å); default 0.65 of the lattice spacing seen in the image.")
@click.option("--recover-missed", is_flag=True,
              help="Add peaks of the Gaussian-fit residual as columns (thin columns beside thick ones).")
@click.option("--background", type=float, default=None,
              help="Fix the Gaussian model's constant background (normalised units; 0 for an empty vacuum); "
                   "fitted by default.")
@click.option("--out", type=click.Path(file_okay=False), default="atomcount_stem", show_default=True,
              help="Output folder; one sub-folder per image (and per frame of a stack).")
@click.option("--no-figures", is_flag=True, help="Write only columns.csv and summary.json.")
def count(files, pixel_size, method, cross_section, normalised, black_level, vacuum_level, detector_map, positions,
          element, zone, voltage, convergence, inner, outer, rmsd, source_size, library, max_components, min_distance,
          recover_missed, n_components, background, out, no_figures) -> None:
    """Count the atoms in every column of each ADF-STEM image in FILES.

    Reads the formats of `atomcount count`. Writes per image columns.csv (x, y in Å and px,
    cross-section, count, probability), summary.json, overlay.png, columns_3d.png,
    cross_sections.png (histogram, mixture, reference values) and icl.png. Every image is
    counted before anything is written, so bad input leaves no output behind.
    """
    from atomcount.core.figures import columns_3d, overlay
    from atomcount.io import read_frames
    from atomcount.io.results import write_columns_csv, write_summary_json
    from atomcount.stem.counting import count_stem
    from atomcount.stem.figures import cross_section_histogram, icl_curve

    settings = dict(method=method, cross_section=cross_section, normalised=normalised, black_level=black_level,
                    vacuum_level=vacuum_level, element=element, zone=zone, voltage=voltage, convergence=convergence,
                    inner=inner, outer=outer, rmsd=rmsd, source_size=source_size, library=library,
                    max_components=max_components, min_distance=min_distance, recover_missed=recover_missed, n_components=n_components,
                    background=background)
    if detector_map is not None:
        settings["detector_map"] = _read_detector_map(detector_map)
    if positions is not None:
        settings["positions"] = _read_positions(positions)
    jobs = read_frames(files, pixel_size)
    results = [(name, frame, src, count_stem(frame, pixel_size=ps, **settings)) for name, frame, ps, src in jobs]
    for name, frame, src, res in results:
        if res.lattice is not None and not res.lattice.ok:
            click.echo(f"warning: {name}: {res.lattice.message}", err=True)
        d = Path(out) / name
        d.mkdir(parents=True, exist_ok=True)
        write_columns_csv(d / "columns.csv", res.table())
        write_summary_json(d / "summary.json", res.summary() | {"source": str(src)})
        if not no_figures:
            overlay(frame, res.x_px, res.y_px, res.count, d / "overlay.png", pixel_size=res.pixel_size,
                    vmax=max(int(res.count.max()), 2))  # STEM columns can hold far more than 15 atoms
            columns_3d(res.x_A, res.y_A, res.count, d / "columns_3d.png")
            cross_section_histogram(res, d / "cross_sections.png")
            icl_curve(res, d / "icl.png")
        click.echo(f"{name}: {len(res)} columns, {res.total_atoms} atoms ({method}, {res.n_components} mixture "
                   f"components) -> {d}")
        if "warning" in res.summary():
            click.echo(f"{name}: warning: {res.summary()['warning']}", err=True)
