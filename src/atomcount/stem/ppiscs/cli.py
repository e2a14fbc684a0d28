"""``atomcount ppiscs …``: simulate the library, print curves, validate, list entries."""
from __future__ import annotations

import click

from atomcount.core.errors import AtomcountError


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise AtomcountError(f"{name} must be a comma-separated list of numbers, got {text!r}") from None


@click.group()
def ppiscs() -> None:
    """ADF-STEM probe-position-integrated scattering cross-sections (Å² per column)."""


@ppiscs.command()
@click.option("--elements", default="Al,Ni,Cu,Pd,Ag,Pt,Au,Pb", show_default=True, help="Comma-separated symbols.")
@click.option("--zones", default="100,110", show_default=True, help="Zone axes.")
@click.option("--voltages", default="300,200", show_default=True, help="kV, comma-separated.")
@click.option("--rmsd", "rmsds", default="0.085", show_default=True, help="Å per direction, comma-separated.")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None, help="Library directory [default: the shipped one].")
@click.option("--workers", default=1, show_default=True, help="Dask LocalCluster workers (0 or 1: in this process).")
@click.option("--threads", default=2, show_default=True, help="FFTW threads per worker.")
@click.option("--scheduler", default=None, help="Address of a running Dask scheduler instead of a LocalCluster.")
@click.option("--tilt-spacing", default=5.0, show_default=True, help="Tilt-grid spacing target (mrad).")
@click.option("--num-configs", default=1, show_default=True, help="Phonon configurations per batch of waves.")
@click.option("--max-atoms", default=None, type=int, help="Thickness (atoms per column) [default: 61 for 100, 87 for 110].")
def simulate(elements, zones, voltages, rmsds, out, workers, threads, scheduler, tilt_spacing, num_configs, max_atoms):
    """Simulate library entries (element × zone × voltage × rmsd), resuming where stopped."""
    from atomcount.stem.ppiscs.library import generate, library_dir
    from atomcount.stem.ppiscs.simulation import Entry, SimulationSettings

    settings = SimulationSettings(tilt_spacing=tilt_spacing, num_configs=num_configs, max_atoms=max_atoms)
    entries = [
        Entry(el.strip(), z.strip(), kv, r)
        for kv in _floats(voltages, "voltages")
        for el in elements.split(",")
        for z in zones.split(",")
        for r in _floats(rmsds, "rmsd")
    ]
    records = generate(entries, library_dir(out), settings, workers=workers, threads=threads, scheduler=scheduler)
    for r in sorted(records, key=lambda r: r["entry"]):
        status = "skipped (present)" if r["skipped"] else f"{r['seconds']:.0f} s"
        click.echo(f"{r['entry']}: {status}")


@ppiscs.command()
@click.option("--run", "run_it", is_flag=True, help="Simulate missing entries (cheapest first) instead of only listing.")
@click.option("--hours", default=1.0, show_default=True, help="Wall-clock budget of --run (h).")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Queue library directory [default: library/ppiscs of the checkout].")
@click.option("--elements", default=None, help="Restrict to these symbols (comma-separated).")
@click.option("--zones", default=None, help="Restrict to these zone axes.")
@click.option("--voltages", default=None, help="Restrict to these voltages (kV).")
@click.option("--threads", default=2, show_default=True, help="FFTW threads.")
@click.option("--report", default=None, type=click.Path(dir_okay=False), help="Write the status as Markdown here.")
def queue(run_it, hours, out, elements, zones, voltages, threads, report):
    """The library queue over paper 001's whole domain: what is done, what is left, how long."""
    from pathlib import Path

    from atomcount.stem.ppiscs import queue as q

    directory = Path(out) if out else q.QUEUE_DIR
    entries = q.domain(
        elements=tuple(e.strip() for e in elements.split(",")) if elements else q.ELEMENTS,
        zones=tuple(z.strip() for z in zones.split(",")) if zones else q.ZONES,
        voltages=tuple(_floats(voltages, "voltages")) if voltages else q.VOLTAGES,
    )
    if run_it:
        from atomcount.bench.ppiscs_columns import add_correction_row

        def correct(entry):
            if add_correction_row((entry.element, entry.zone, entry.voltage)):
                click.echo(f"slicing-correction row added: {entry.element} [{entry.zone}] {entry.voltage:g} kV")

        q.run(hours, directory, entries=entries, threads=threads, before_entry=correct,
              progress=lambda r: click.echo(f"{r['entry']}: {r['seconds']:.0f} s on {r.get('device', 'cpu')}"))
    text = q.status_markdown(q.status(directory, entries=entries), directory)
    if report:
        Path(report).write_text(text)
    click.echo(text)


@ppiscs.command()
@click.option("--element", required=True, help="Chemical symbol, e.g. Au.")
@click.option("--zone", required=True, help="Zone axis: 100 or 110.")
@click.option("--voltage", required=True, type=float, help="kV.")
@click.option("--convergence", required=True, type=float, help="Probe semi-angle α (mrad).")
@click.option("--inner", required=True, type=float, help="Inner detector angle θ0 (mrad).")
@click.option("--outer", required=True, type=float, help="Outer detector angle θe (mrad).")
@click.option("--rmsd", required=True, type=float, help="rms displacement per direction (Å).")
@click.option("--source", default=None, help="surrogate or library [default: library with --library, else surrogate].")
@click.option("--library", default=None, type=click.Path(file_okay=False), help="Library directory.")
@click.option("--slicing-correction", is_flag=True,
              help="Library source: correct the entries to converged slicing (the shipped table).")
@click.option("--csv", "csv_path", default=None, type=click.Path(dir_okay=False), help="Write atoms,ppiscs_A2 CSV.")
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False), help="Write a PNG plot.")
def curve(element, zone, voltage, convergence, inner, outer, rmsd, source, library, slicing_correction, csv_path,
          plot_path):
    """PPISCS (Å²) of a column of 1…N atoms."""
    from atomcount.stem.ppiscs.curve import ppiscs_curve

    options = {"slicing_correction": True} if slicing_correction else {}
    values = ppiscs_curve(element, zone, voltage, convergence, inner, outer, rmsd, source=source, library=library,
                          **options)
    rows = [(n + 1, float(v)) for n, v in enumerate(values)]
    if csv_path:
        with open(csv_path, "w") as fh:
            fh.write("atoms,ppiscs_A2\n")
            fh.writelines(f"{n},{v:.6g}\n" for n, v in rows)
    if plot_path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot([n for n, _ in rows], [v for _, v in rows], "o-", ms=3)
        ax.set(xlabel="atoms in column", ylabel="PPISCS (Å²)",
               title=f"{element} [{zone}] {voltage:g} kV, α={convergence:g}, {inner:g}–{outer:g} mrad")
        fig.tight_layout()
        fig.savefig(plot_path, dpi=120)
        plt.close(fig)
    if not csv_path and not plot_path:
        click.echo("atoms  ppiscs_A2")
        for n, v in rows:
            click.echo(f"{n:5d}  {v:.6g}")


@ppiscs.command()
@click.option("--library", default=None, type=click.Path(file_okay=False), help="Library directory.")
def info(library):
    """List the library's entries."""
    from atomcount.stem.ppiscs.library import library_dir, list_entries

    entries = list_entries(library)
    click.echo(f"library: {library_dir(library)} ({len(entries)} entries)")
    for d in entries:
        click.echo(
            f"{d['element']:>2} [{d['zone']}] {d['voltage']:5.0f} kV rmsd {d['rmsd']:.4f} Å: "
            f"1…{d['n_atoms']} atoms, {d['n_waves']} tilts, {d['seconds']:.0f} s on {d['device']}"
        )


@ppiscs.command()
@click.option("--quick", is_flag=True, help="Only the fast checks.")
def validate(quick):
    """Run the validation benchmark and write its BENCHMARKS.md sections."""
    from atomcount.bench.ppiscs_library import main

    main(quick=quick)


# Surrogate applications (fit, uncertainty, error-probability, figures) live with their code.
from atomcount.stem.ppiscs.applications.commands import register as _register_applications  # noqa: E402

_register_applications(ppiscs)
