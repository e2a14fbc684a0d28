"""``atomcount simulate hrtem``: generate an HRTEM training data set."""
from __future__ import annotations

import click

from atomcount.core.crystals import ELEMENTS
from atomcount.core.particles import FAMILIES


@click.group()
def simulate() -> None:
    """Simulate training data."""


@simulate.command("hrtem")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("-n", "--particles", "n_particles", type=int, required=True, help="Number of particles.")
@click.option("--seed", type=int, default=0, show_default=True, help="Master seed; same seed, same data.")
@click.option("--element", type=click.Choice(sorted(ELEMENTS)), default="Au", show_default=True)
@click.option("--zones", default="110,100", show_default=True, help="Comma-separated zone axes (100,110,111,211).")
@click.option("--atoms", "n_atoms", nargs=2, type=int, default=(80, 3000), show_default=True,
              help="Range of Wulff sizes (number of atoms), log-uniform.")
@click.option("--family", type=click.Choice(FAMILIES), default="wulff", show_default=True,
              help="Particle shape family (wulff-random and octahedron are kept out of training).")
@click.option("--fov", "field_of_view", type=float, default=64.0, show_default=True,
              help="Side of the simulated field (Å); the particle lands anywhere inside it.")
@click.option("--sampling", type=float, default=0.08, show_default=True, help="Multislice sampling (Å).")
@click.option("--energy", type=float, default=300.0, show_default=True, help="Accelerating voltage (kV).")
@click.option("--images-per-particle", type=int, default=0, show_default=True,
              help="Also store this many rendered images + labels per particle (Table 1 ranges).")
@click.option("--workers", type=int, default=2, show_default=True, help="LocalCluster worker processes.")
@click.option("--scheduler", default=None, help="Address of a running dask.distributed scheduler.")
@click.option("--device", type=click.Choice(["cpu", "gpu"]), default="cpu", show_default=True)
def hrtem(path, n_particles, seed, element, zones, n_atoms, family, field_of_view, sampling, energy,
          images_per_particle, workers, scheduler, device) -> None:
    """Exit waves of random Wulff particles and their column ground truth, into PATH.

    Resumable: run the same command again after an interruption and only missing
    particles are computed.
    """
    from atomcount.core.particles import ParticleConfig
    from atomcount.hrtem.dataset import DatasetSpec, generate

    spec = DatasetSpec(
        n_particles=n_particles,
        seed=seed,
        particle=ParticleConfig(element=element, zones=tuple(z.strip() for z in zones.split(",")),
                                n_atoms=tuple(n_atoms), family=family, field_of_view=field_of_view,
                                margin=max(4.0, field_of_view / 16)),
        sampling=sampling,
        energy=energy,
        images_per_particle=images_per_particle,
    )
    done = generate(path, spec, workers=workers, scheduler=scheduler, device=device)
    click.echo(f"{len(done)} particles computed; {path} holds {n_particles}.")
