"""``atomcount model3d``: a 3-D atomic model from a table of column counts."""
from __future__ import annotations

import click


@click.command()
@click.argument("columns", type=click.Path())
@click.option("--element", required=True, help="fcc metal, e.g. Au.")
@click.option("--zone", required=True, type=click.Choice(["100", "110", "111"]), help="Zone axis along the beam.")
@click.option("--support", is_flag=True,
              help="Particle on a flat support: columns rest on a plane perpendicular to the beam where they reach it.")
@click.option("--no-relax", is_flag=True, help="Skip the Monte Carlo relaxation (initial placement only).")
@click.option("--ensemble", type=int, default=16, show_default=True,
              help="Models drawn from the count probabilities for per-atom occupancy (0: none).")
@click.option("--sweeps", type=int, default=400, show_default=True, help="Annealing move attempts per column.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--colour", type=click.Choice(["depth", "probability"]), default="depth", show_default=True,
              help="Colour of the spheres in model.png.")
@click.option("--out", type=click.Path(file_okay=False), default="model3d_out", show_default=True)
def model3d(columns, element, zone, support, no_relax, ensemble, sweeps, seed, colour, out) -> None:
    """Build a 3-D model from COLUMNS.csv (written by `count` or `stem count`).

    Writes model.xyz (extended XYZ with per-atom probability), model.cif, model.html
    (browser view) and model.png into --out.
    """
    from pathlib import Path

    from atomcount.model3d.export import write_model
    from atomcount.model3d.figures import model_figure
    from atomcount.model3d.model import model_3d

    atoms = model_3d(columns, element, zone, support=support, relax=not no_relax,
                     ensemble=ensemble, sweeps=sweeps, seed=seed)
    paths = write_model(atoms, out)
    paths.append(model_figure(atoms, Path(out) / "model.png", colour=colour,
                              title=f"{element} [{zone}], {len(atoms)} atoms"))
    click.echo(f"{len(atoms)} atoms; energy {atoms.info['energy_initial_eV']:.2f} -> "
               f"{atoms.info['energy_eV']:.2f} eV; wrote {', '.join(p.name for p in paths)} to {out}")
