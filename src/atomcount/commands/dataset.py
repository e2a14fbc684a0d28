"""``atomcount dataset info``: summarise a data set."""
from __future__ import annotations

import json

import click


@click.group()
def dataset() -> None:
    """Inspect simulated data sets."""


@dataset.command("info")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info(path: str, as_json: bool) -> None:
    """Summarise the data set in PATH: entries, zones, sizes, height histogram."""
    from atomcount.hrtem.dataset import summarize

    s = summarize(path)
    if as_json:
        click.echo(json.dumps(s, indent=1))
        return
    click.echo(f"{s['path']}: {s['entries_done']}/{s['entries_planned']} particles of {s['element']}, seed {s['seed']}")
    click.echo(f"zones: {s['zones']}; atoms per particle {s['atoms_per_particle'][0]}–{s['atoms_per_particle'][1]}; "
               f"{s['columns_total']} columns")
    click.echo("height histogram: " + ", ".join(f"{h}:{c}" for h, c in s["height_histogram"].items()))
