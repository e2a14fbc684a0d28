"""``atomcount train-continue``: advance the continuing HRTEM training run by one chunk."""
from __future__ import annotations

from pathlib import Path

import click


@click.command("train-continue")
@click.option("--hours", type=float, default=2.0, show_default=True, help="Training budget of this chunk (h).")
@click.option("--threads", type=int, default=1, show_default=True, help="Torch CPU threads for the evaluation.")
@click.option("--workers", type=int, default=2, show_default=True,
              help="Processes simulating missing data sets before training.")
@click.option("--skip-eval", is_flag=True, help="Train only; no ledger row, no shipping.")
@click.option("--no-ship", is_flag=True, help="Evaluate and log, but never replace the shipped model.")
@click.option("--restart", is_flag=True,
              help="The run has finished: start a new one of the committed recipe (the ledger continues).")
def train_continue(hours, threads, workers, skip_eval, no_ship, restart) -> None:
    """Resume the committed run in training/hrtem, train for HOURS, evaluate, log, ship when better.

    Stops cleanly on SIGTERM/SIGINT (checkpoint written); rerun to continue. Commit
    training/hrtem (and src/atomcount/models when shipped) afterwards.
    """
    from atomcount.hrtem.training.chunks import STATE_DIR, ensure_train_sets, read_ledger, restart_run, run_chunk

    if restart:
        info = restart_run(STATE_DIR)
        click.echo(f"run of seed {info['previous_seed']} ended at step {info['previous_steps']}; a new run starts "
                   f"({info['cpu_hours_before']:.2f} CPU-hours before it)")
    ensure_train_sets(workers)
    if not skip_eval and not read_ledger():
        click.echo("no ledger yet: evaluating the shipped model as the baseline row")
        _evaluate_and_log(None, chunk="baseline", state={"steps": 0, "cpu_hours": 0.0, "wall_hours": 0.0},
                          threads=threads, workers=workers, ship_allowed=False, baseline=True)
    state = run_chunk(hours=hours)
    click.echo(f"run at step {state['steps']}, {state['cpu_hours']:.2f} CPU-hours in total")
    if skip_eval:
        return
    from atomcount.hrtem.training.chunks import export_weights

    model_file = export_weights(STATE_DIR)
    chunk = str(sum(1 for r in read_ledger() if r["head"] == "regression" and r["chunk"] != "baseline") + 1)
    _evaluate_and_log(str(model_file), chunk=chunk, state=state, threads=threads, workers=workers,
                      ship_allowed=not no_ship)


def _evaluate_and_log(model_file: str | None, *, chunk: str, state: dict, threads: int, workers: int,
                      ship_allowed: bool, baseline: bool = False) -> None:
    """Whole-frame evaluation → ledger row → ship when ≥ 1 point better → ledger figure and section."""
    from atomcount.bench.hrtem_wholeframe import WHOLEFRAME_INTRO, run
    from atomcount.hrtem.evaluation.wholeframe import scores, wholeframe_markdown
    from atomcount.hrtem.training.chunks import (
        append_ledger,
        best_shipped_exact,
        ledger_rows,
        load_recipe,
        read_ledger,
    )
    from atomcount.hrtem.training.ledger import write_ledger_report

    records = run(model_file, workers=workers, threads=threads)
    if baseline:
        from atomcount.core.provenance import write_section

        write_section("hrtem-wholeframe", "HRTEM column heights on whole frames of never-trained particles "
                      "(the trust evaluation)", WHOLEFRAME_INTRO + wholeframe_markdown(records),
                      "python -m atomcount.bench.hrtem_wholeframe")
    best = max(scores(records, head=h)["exact"] for h in ("regression", "classification"))
    previous = best_shipped_exact(read_ledger())
    better = ship_allowed and not baseline and best >= previous + 0.01
    if better:
        ship_default(Path(model_file), command="make train-continue", workers=workers, threads=threads,
                     extra={"cpu_hours": round(state["cpu_hours"], 2),
                            "wholeframe_markdown": wholeframe_markdown(records)})
    r = load_recipe()
    # a new seed marks a restarted curve; "-ema" rows evaluate the weight average, not the last iterate;
    # "-h" gives the learning-rate horizon (steps), 300 000 before ledger row 8; "-s2" a stride-2 trunk;
    # "-w32" a width other than 16
    recipe = "shipped" if baseline else (f"seed{r.seed}" + (f"-s{r.input_stride}" if r.input_stride > 1 else "")
                                         + (f"-w{r.width}" if r.width != 16 else "")
                                         + (f"-ema{r.ema_decay:g}" if r.ema_decay else "") + f"-h{r.steps}")
    shipped = "baseline" if baseline else ("yes" if better else "")
    append_ledger(ledger_rows(records, chunk=chunk, recipe=recipe, state=state, shipped=shipped))
    write_ledger_report()
    click.echo(f"chunk {chunk}: best exact {best:.3f} (shipped model {previous:.3f}); "
               f"{'shipped' if better else 'not shipped'}")


def ship_default(model_file: Path, *, command: str, extra: dict, workers: int, threads: int,
                 half: bool = False, name: str = "fcn_au_300kv") -> Path:
    """Make ``model_file`` the shipped model ``name`` (card with held-out crops and whole frames).

    Evaluates it on ``data/test`` (simulated when missing), fits its height calibration on
    ``data/val``, refits its confidence maps on whole frames of the training family (ECE ≤ 0.05
    on the trust set needs them), then evaluates the trust set again so that the card's
    calibration figures are those of the shipped file (heights and columns do not change with
    the refit, only the confidences). ``extra`` goes into the card (see :func:`atomcount.hrtem.training.ship.ship`).
    """
    from atomcount.bench.hrtem_wholeframe import ensure_wholeframe_sets, run
    from atomcount.hrtem.dataset import DatasetSpec, generate, missing_entries
    from atomcount.hrtem.evaluation.wholeframe import CALIBRATION_SET, wholeframe_markdown
    from atomcount.hrtem.training.ship import recalibrate, ship, update_card

    for root, n, seed in (("data/test", 250, 2), ("data/val", 60, 3)):
        if missing_entries(Path(root), n):
            generate(root, DatasetSpec(n_particles=n, seed=seed))
    target = ship(Path(model_file), Path("data/test"), name, 500, command,
                  train_data=[Path("data/train")], val_data=Path("data/val"), extra=extra, half=half)
    recalibrate(name, frames=Path(ensure_wholeframe_sets(sets=(CALIBRATION_SET,))[0]))
    update_card(name, wholeframe_markdown=wholeframe_markdown(run(str(target), workers=workers, threads=threads)))
    return target
