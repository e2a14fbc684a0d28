"""``atomcount demo``: simulate a particle, count it with the shipped model, show figures."""
from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np


@click.command()
@click.option("--out", type=click.Path(file_okay=False), default="demo_output", show_default=True)
@click.option("--seed", type=int, default=3, show_default=True)
@click.option("--zone", type=click.Choice(["110", "100"]), default="110", show_default=True)
@click.option("--dose", type=float, default=1e4, show_default=True, help="e-/Å^2")
@click.option("--defocus", type=float, default=-200.0, show_default=True, help="C10 in Å (negative = underfocus)")
def demo(out, seed, zone, dose, defocus) -> None:
    """End to end on built-in defaults: particle → exit wave → image → counts → figures."""
    from atomcount.core.figures import columns_3d, image_panel, overlay, particle_view
    from atomcount.core.particles import ParticleConfig, random_particle
    from atomcount.hrtem.analysis.count import DEFAULT_MODEL, count_columns
    from atomcount.hrtem.evaluation.metrics import HeightScores
    from atomcount.hrtem.imaging import exit_wave, render_image
    from atomcount.hrtem.labels import height_map
    from atomcount.hrtem.microscope import ImagingParameters

    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    particle = random_particle(rng, ParticleConfig(zones=(zone,), n_atoms=(600, 1500)))
    click.echo(f"particle: {len(particle.atoms)} Au atoms, [{zone}] zone axis, {len(particle.columns)} columns, "
               f"tallest column {particle.columns.height.max()} atoms")
    particle_view(particle.atoms.positions, outdir / "particle.png",
                  f"{len(particle.atoms)} Au atoms, [{zone}] along the beam")
    wave = exit_wave(particle)
    params = ImagingParameters(defocus=defocus, dose=dose, focal_spread=30.0, sampling=0.25)
    image = render_image(wave, params, rng)
    truth = height_map(particle.columns, image.shape, params.sampling)
    panel = [image, truth]
    titles = [f"C10 {defocus:.0f} Å, dose {dose:.0e} e/Å²", "ground truth: atoms per column"]
    for df in (-250.0, -150.0):
        for d in (1e2, 1e6):
            p = ImagingParameters(defocus=df, dose=d, focal_spread=30.0, sampling=0.25)
            panel.append(render_image(wave, p, rng))
            titles.append(f"C10 {df:.0f} Å, dose {d:.0e} e/Å²")
    image_panel([a.T for a in panel], titles, outdir / "simulated_images.png", ncols=3)
    np.save(outdir / "image.npy", image.T)
    click.echo(f"figures: {outdir / 'simulated_images.png'}")
    if not DEFAULT_MODEL.exists():
        click.echo("no shipped model found; run `make weights` to train one. Stopping after the simulation.")
        return
    # the image array is (x, y); users' images are (rows=y, cols=x)
    user_image = image.T
    summary = {}
    for head in ("regression", "classification"):
        res = count_columns(user_image, params.sampling, head=head)
        s = HeightScores()
        s.add(np.stack([res.x_A, res.y_A], 1), res.height, particle.columns.xy, particle.columns.height)
        summary[head] = s.summary() | {"total_atoms_counted": res.total_atoms}
        click.echo(f"{head:15s}: {len(res)} columns, {res.total_atoms} atoms counted (true {len(particle.atoms)}); "
                   f"exact-height accuracy {s.accuracy:.1%}, within ±1 {s.within_one:.1%}")
        if head == "regression":
            overlay(user_image, res.x_px, res.y_px, res.height, outdir / "overlay.png", pixel_size=params.sampling)
            columns_3d(res.x_A, res.y_A, res.height, outdir / "columns_3d.png")
    summary["true_atoms"] = len(particle.atoms)
    (outdir / "summary.json").write_text(json.dumps(summary, indent=1))
    click.echo(f"wrote {outdir}/overlay.png, columns_3d.png, summary.json")
