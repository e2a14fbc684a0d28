"""``atomcount train``: train the column-height FCN (both heads)."""
from __future__ import annotations

import click


@click.command()
@click.option("--data", multiple=True, required=True, type=click.Path(exists=True, file_okay=False),
              help="Training data set folder (repeatable).")
@click.option("--val-data", type=click.Path(exists=True, file_okay=False), default=None,
              help="Held-out data set for periodic validation.")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Run folder; rerun to resume.")
@click.option("--steps", type=int, default=20000, show_default=True)
@click.option("--batch", type=int, default=8, show_default=True)
@click.option("--crop", type=int, default=128, show_default=True, help="Crop side (px, divisible by 8).")
@click.option("--width", type=int, default=16, show_default=True, help="Base width of the FCN.")
@click.option("--input-stride", type=click.Choice(["1", "2"]), default="1", show_default=True,
              help="2: the trunk runs at half resolution (2×2 blocks in, 2×2 blocks out; about 4× faster).")
@click.option("--lr", type=float, default=2e-3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--val-every", type=int, default=1000, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--threads", type=int, default=2, show_default=True, help="Torch CPU threads.")
@click.option("--workers", type=int, default=0, show_default=True,
              help="Processes rendering training images (0: the training process); the batches do not depend on it.")
@click.option("--particle-bias", type=float, default=0.9, show_default=True,
              help="Fraction of crops centred near a column; the rest fall anywhere (mostly vacuum).")
@click.option("--init", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Start from this model's weights (fine-tuning).")
@click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default="float32", show_default=True,
              help="Forward/backward arithmetic; bfloat16 autocast (auto: where the CPU has it natively) keeps float32 weights.")
def train(data, val_data, out, steps, batch, crop, width, input_stride, lr, seed, val_every, device, threads,
          workers, particle_bias, init, precision) -> None:
    """Train on images rendered on the fly from stored exit waves.

    Writes OUT/checkpoint.pt (resumable), OUT/log.csv, OUT/learning_curve.png and
    OUT/model.pt.
    """
    from atomcount.hrtem.training.loop import TrainConfig, train as run
    from atomcount.hrtem.training.plots import plot_learning_curve

    cfg = TrainConfig(data=list(data), val_data=val_data, out=out, steps=steps, batch=batch, crop=crop,
                      width=width, input_stride=int(input_stride), lr=lr, seed=seed, val_every=val_every, device=device, threads=threads,
                      workers=workers, particle_bias=particle_bias, init=init, precision=precision)
    path = run(cfg)
    plot_learning_curve(f"{out}/log.csv", f"{out}/learning_curve.png")
    click.echo(f"model written to {path}")
