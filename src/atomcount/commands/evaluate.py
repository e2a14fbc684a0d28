"""``atomcount evaluate``: the paper's metric on held-out particles, sensitivity grid."""
from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict

import click
import numpy as np


@click.group()
def evaluate() -> None:
    """Evaluate a column-height model on held-out simulated particles."""


@evaluate.command("accuracy")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Model file (the shipped one by default).")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="Held-out data set.")
@click.option("--images", type=int, default=500, show_default=True)
@click.option("--seed", type=int, default=2024, show_default=True)
@click.option("--json-out", type=click.Path(dir_okay=False), default=None, help="Write the scores as JSON.")
@click.option("--min-cluster", type=int, default=16, show_default=True,
              help="Drop groups of fewer columns linked within 3.2 Å; 0 keeps every peak.")
def accuracy(model_path, data, images, seed, json_out, min_cluster) -> None:
    """Exact and ±1 accuracy, precision, recall and confusion of both heads."""
    from atomcount.hrtem.analysis.count import load_counting_model
    from atomcount.hrtem.evaluation.report import accuracy_report
    from atomcount.hrtem.training.stream import load_entries

    model, _ = load_counting_model(model_path)
    scores = accuracy_report(model, load_entries([data]), images, seed=seed, min_cluster=min_cluster)
    result = {}
    for head, s in scores.items():
        result[head] = s.summary() | {"confusion": s.confusion.tolist()}
        click.echo(f"{head:15s} exact {s.accuracy:.3f}  within±1 {s.within_one:.3f}  "
                   f"precision {s.precision:.3f}  recall {s.recall:.3f}  ({s.n_true} columns)")
    if json_out:
        with open(json_out, "w") as fh:
            json.dump(result, fh, indent=1)


@evaluate.command("sensitivity")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--images-per-cell", type=int, default=20, show_default=True)
@click.option("--defocus", default="-250,-225,-200,-175,-150", show_default=True, help="C10 values (Å).")
@click.option("--dose", default="1e2,1e3,1e4,1e5,1e6", show_default=True, help="Doses (e-/Å^2).")
def sensitivity(model_path, data, images_per_cell, defocus, dose) -> None:
    """Accuracy on a defocus × dose grid, other parameters from Table 1."""
    from atomcount.hrtem.analysis.count import load_counting_model
    from atomcount.hrtem.evaluation.report import sensitivity_grid
    from atomcount.hrtem.training.stream import load_entries

    model, _ = load_counting_model(model_path)
    dfs = [float(v) for v in defocus.split(",")]
    doses = [float(v) for v in dose.split(",")]
    grid = sensitivity_grid(model, load_entries([data]), dfs, doses, images_per_cell)
    for head, acc in grid.items():
        click.echo(f"{head}: rows C10 {dfs} Å, columns dose {doses} e-/Å^2")
        click.echo(np.array2string(acc, precision=3))


@evaluate.command("forward-cv")
@click.option("--data", required=True, multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Data set(s) to split by mean column height.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the four models.")
@click.option("--steps", type=int, default=2000, show_default=True, help="Training steps per CV step.")
@click.option("--width", type=int, default=16, show_default=True)
@click.option("--crop", type=int, default=128, show_default=True)
@click.option("--images", type=int, default=100, show_default=True, help="Test images per CV step.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--reference", type=click.Path(exists=True, file_okay=False), default=None,
              help="Other held-out particles for the in-distribution baseline of each step.")
@click.option("--batch", type=int, default=8, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--workers", type=int, default=0, show_default=True, help="Processes rendering training images.")
@click.option("--threads", type=int, default=2, show_default=True, help="Torch CPU threads.")
@click.option("--benchmarks", type=click.Path(dir_okay=False), default=None,
              help="Also write the result as the hrtem-forward-cv section of this BENCHMARKS.md.")
def forward_cv_cmd(data, out, steps, width, crop, images, seed, reference, batch, device, workers, threads,
                   benchmarks) -> None:
    """Five folds sorted by mean column height; train on folds 1..k, test on k+1 (paper Table 2)."""
    from atomcount.core.provenance import write_section
    from atomcount.hrtem.evaluation.forward_cv import forward_cv, forward_cv_markdown
    from atomcount.hrtem.training.loop import TrainConfig
    from atomcount.hrtem.training.stream import load_entries

    cfg = TrainConfig(steps=steps, width=width, crop=crop, seed=seed, batch=batch, device=device, workers=workers,
                      threads=threads)
    ref = load_entries([reference]) if reference else None
    res = forward_cv(load_entries(list(data)), cfg, out, images, reference=ref)
    with open(f"{out}/forward_cv.json", "w") as fh:
        json.dump({"config": asdict(cfg), "images_per_step": images, "steps": res}, fh, indent=1)
    if benchmarks:
        write_section("hrtem-forward-cv", "HRTEM column heights: forward cross-validation (paper Table 2)",
                      forward_cv_markdown(res, cfg, images), shlex.join(["atomcount", *sys.argv[1:]]), benchmarks)
    for r in res:
        click.echo(f"step {r['step']}: train mean height {r['train_mean_height']}, test {r['test_mean_height']}: "
                   f"regression {r['regression']:.3f}, classification {r['classification']:.3f}; "
                   f"in-distribution regression {r.get('regression_in_distribution', float('nan')):.3f}")
