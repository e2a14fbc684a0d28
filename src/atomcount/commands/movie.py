"""``atomcount movie``: count, track and fuse the columns of an in-situ HRTEM movie."""
from __future__ import annotations

import click


@click.command()
@click.argument("movie", nargs=-1, required=True, type=click.Path())
@click.option("--pixel-size", type=float, default=None,
              help="Pixel size in Å/px; overrides (or supplies missing) file metadata.")
@click.option("--frame-time", type=float, default=None,
              help="Time between frames in s, where the file does not say.")
@click.option("--out", type=click.Path(file_okay=False), default="atomcount_movie", show_default=True,
              help="Output folder: frames/NNNNN/ per frame, movie/ for the movie-level results.")
@click.option("--head", type=click.Choice(["classification", "regression"]), default="classification",
              show_default=True, help="Network head giving the single-frame heights.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None,
              help="Model file (the shipped Au 300 kV model by default).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default="auto", show_default=True,
              help="Network arithmetic; auto = bfloat16 on CPUs with native bfloat16, else float32.")
@click.option("--min-cluster", type=int, default=16, show_default=True,
              help="Drop groups of fewer columns linked within 3.2 Å; 0 keeps all.")
@click.option("--max-distance", type=float, default=1.0, show_default=True,
              help="Largest drift-corrected jump (Å) of a column between frames of one track.")
@click.option("--fuse", is_flag=True, help="Fuse each track's heights over time (hidden Markov model).")
@click.option("--rate", type=float, default=0.02, show_default=True,
              help="Fusion: probability per frame that a column gains or loses an atom.")
@click.option("--average", type=int, default=0, show_default=True,
              help="Also count the drift-aligned mean of each block of N frames (N× the dose; static particles).")
@click.option("--force", is_flag=True, help="Recount frames already counted with the same settings.")
@click.option("--overlay-movie", type=click.Choice(["gif", "mp4"]), default=None,
              help="Also write the frames with their tracked columns as an animation.")
@click.option("--no-figures", is_flag=True, help="Skip atoms_vs_time.png, kymograph.png, tracked_movie.png.")
def movie(movie, pixel_size, frame_time, out, head, model_path, device, precision, min_cluster, max_distance, fuse, rate,
          average, force, overlay_movie, no_figures) -> None:
    """Count the atoms of every column in every frame of MOVIE and follow the columns in time.

    MOVIE is one stack (.npy memory-mapped, .tif, .dm3/.dm4/.emd/.mrc/.ser read lazily),
    a folder of single-frame files, or several frame files. Frames are read as they are
    counted, so the movie never has to fit in memory. Rerunning the same command skips
    the frames already counted with the same model and settings.

    Writes frames/NNNNN/{columns.csv,summary.json} and movie/{timeseries.csv,tracks.csv,
    atoms_vs_time.png,kymograph.png,tracked_movie.png}; with --average N also movie/blocks.csv
    and movie/average/NNNNN/.
    """
    from atomcount.core.errors import check_range
    from atomcount.movie.frames import open_movie
    from atomcount.movie.run import MovieSettings, count_movie

    check_range("rate", rate, 0.0, 1.0)
    source = open_movie(list(movie), pixel_size=pixel_size, frame_time=frame_time)
    click.echo(f"{source.name}: {len(source)} frames of {source.shape[0]}×{source.shape[1]} px "
               f"at {source.pixel_size:g} Å/px")
    settings = MovieSettings(head=head, model=model_path, device=device, precision=precision, min_cluster=min_cluster,
                             max_distance=max_distance, fuse=fuse, rate=rate, average=average)
    report = count_movie(source, out, settings=settings, force=force, overlay_movie=overlay_movie,
                         figures=not no_figures, log=click.echo)
    click.echo(f"{report.counted} frames counted, {report.skipped} skipped, {report.tracks} tracks -> {out}/movie")
