"""``atomcount count``: atoms per column in HRTEM image files."""
from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--pixel-size", type=float, default=None,
              help="Pixel size in Å/px; overrides (or supplies missing) file metadata.")
@click.option("--head", type=click.Choice(["classification", "regression"]), default="classification",
              show_default=True, help="Network head to read (classification is the more accurate one).")
@click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None,
              help="Model file, or a shipped model's name: fcn_au_300kv (the default, Au 300 kV) or "
                   "fcn_au_300kv_fast (about 4x faster, a few points less exact; see its model card).")
@click.option("--out", type=click.Path(file_okay=False), default="atomcount_out", show_default=True,
              help="Output folder; one sub-folder per image (and per frame of a stack).")
@click.option("--no-figures", is_flag=True, help="Skip overlay.png and columns_3d.png (faster for movies).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default="auto", show_default=True,
              help="Network arithmetic; auto = bfloat16 on CPUs with native bfloat16 (about 2x faster), else float32.")
@click.option("--tta", is_flag=True,
              help="Average the network over the 8 symmetries of the square (8x slower; see BENCHMARKS.md).")
@click.option("--no-focus-check", is_flag=True,
              help="Count frames that read as overfocus too (by default such a frame whose columns the model "
                   "doubts is refused; see BENCHMARKS.md, hrtem-focus-check).")
@click.option("--min-cluster", type=int, default=16, show_default=True,
              help="Drop groups of fewer columns linked within 3.2 Å (spurious peaks in vacuum); 0 keeps all.")
def count(files, pixel_size, head, model_path, out, no_figures, device, precision, tta, no_focus_check,
          min_cluster) -> None:
    """Count the atoms in every column of each image in FILES.

    Reads .dm3 .dm4 .emd .ser .mrc .tif .png .npy .npz. A file holding a stack
    (a movie) is counted frame by frame; `atomcount movie` reads movies lazily, resumes,
    tracks columns through time and fuses their heights. Writes columns.csv (x, y in Å and px,
    height, confidence), summary.json, overlay.png and columns_3d.png per image.
    """
    import numpy as np
    from tqdm.auto import tqdm

    from atomcount.core.errors import AtomcountError
    from atomcount.core.figures import columns_3d, overlay
    from atomcount.hrtem.analysis.count import LOW_CONFIDENCE, count_columns
    from atomcount.hrtem.analysis.focus import refuse
    from atomcount.io import read_frames
    from atomcount.io.results import write_columns_csv, write_summary_json
    from atomcount.stem.lattice import lattice_check

    jobs = read_frames(files, pixel_size)
    refused = 0
    for name, frame, ps, src in tqdm(jobs, desc="counting", unit="image", disable=len(jobs) < 2):
        res = count_columns(frame, ps, head=head, model=model_path, device=device, min_cluster=min_cluster,
                           precision=precision, tta=tta)
        if not no_focus_check and refuse(res.focus_z, res.confidence):
            click.echo(f"error: {name}: refused: the Fresnel fringe reads overfocus (z = {res.focus_z:.0f}) and the "
                       f"model doubts its columns (mean confidence {res.confidence.mean():.2f}); the model reads "
                       "underfocus images only; nothing written (--no-focus-check counts it anyway)", err=True)
            refused += 1
            continue
        if res.focus_sign != "underfocus":
            why = ("the Fresnel fringe at the particle edge is dark: the image may be overfocused"
                   if res.focus_sign == "overfocus" else "the focus sign could not be read from the particle edge")
            click.echo(f"warning: {name}: {why}; the model reads underfocus images only", err=True)
        # the shipped model covers Au along [100] and [110]
        check = lattice_check(np.column_stack([res.y_px, res.x_px]), pixel_size=ps, element="Au", zone=("100", "110"))
        if check is not None and not check.ok:
            click.echo(f"warning: {name}: {check.message}", err=True)
        d = Path(out) / name
        d.mkdir(parents=True, exist_ok=True)
        write_columns_csv(d / "columns.csv", res.table())
        write_summary_json(d / "summary.json", res.summary() | {"source": str(src)})
        if not no_figures:
            overlay(frame, res.x_px, res.y_px, res.height, d / "overlay.png", pixel_size=ps,
                    flagged=res.confidence < LOW_CONFIDENCE)
            columns_3d(res.x_A, res.y_A, res.height, d / "columns_3d.png")
        click.echo(f"{name}: {len(res)} columns, {res.total_atoms} atoms -> {d}")
    if refused:
        raise AtomcountError(f"{refused} of {len(jobs)} image(s) refused as overfocus (reasons above)")
