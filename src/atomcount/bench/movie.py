"""In-situ movies: fused vs single-frame counting, hops, speed: ``python -m atomcount.bench.movie``.

Simulated movies of Au particles (fixed microscope: C10 −200 Å, Cs 0, focal spread 30 Å,
0.25 Å/px; only the shot noise changes from frame to frame; a random-walk drift of
0.2 Å per frame is added by shifting the noise-free image). Two kinds per particle:

* static — the particle does not change;
* hops — a surface atom moves from the top of one column to the top of another at a third
  and again at two thirds of the movie.

Each movie is run through ``atomcount movie`` (:func:`atomcount.movie.run.count_movie`) at
1e2, 1e3 and 1e4 e⁻/Å² per frame. Scored per frame against the truth (columns matched within
1 Å in drift-corrected coordinates; a missed column counts as wrong): exact height of the
single-frame read-out and of the fused (HMM) one; hops: true column-height changes whose
track shows the same change within one frame (detected) or not (missed), and changes shown
where nothing changed (false). Speed: frames per second of the whole pipeline on 512×512
frames (2 CPU threads) against ``count_columns`` alone.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from atomcount.core.provenance import write_section

DOSES = (1e2, 1e3, 1e4)
DRIFT_STEP = 0.2  # Å per frame (standard deviation per axis)


def _hopped(particle, rng):
    """A copy of ``particle`` with the top atom of one column moved onto the top of another."""
    from atomcount.core.columns import cluster_columns, column_table
    from atomcount.core.particles import Particle

    pos = particle.atoms.positions.copy()
    labels = cluster_columns(pos, (0, 0, 1), tolerance=0.5)
    heights = np.bincount(labels)
    source = rng.choice(np.flatnonzero(heights >= 3))
    target = rng.choice(np.flatnonzero((heights >= 2) & (heights < 14) & (np.arange(len(heights)) != source)))
    top = np.flatnonzero(labels == source)[np.argmax(pos[labels == source, 2])]
    tz = np.sort(pos[labels == target, 2])
    pos[top] = [*pos[labels == target][0, :2], tz[-1] + np.diff(tz).min()]
    atoms = particle.atoms.copy()
    atoms.positions = pos
    new = cluster_columns(pos, (0, 0, 1), tolerance=0.5)
    return Particle(atoms=atoms, columns=column_table(pos[:, :2], new), zone=particle.zone, info=particle.info)


def _frames(waves, states, dose, rng):
    """Frames (x along axis 1) of the exit waves ``waves[states[k]]`` with drift; and the drift (Å)."""
    from scipy import ndimage

    from atomcount.hrtem.imaging import detect, normalize, wave_intensity
    from atomcount.hrtem.microscope import ImagingParameters

    params = ImagingParameters(defocus=-200.0, cs=0.0, focal_spread=30.0, dose=dose, sampling=0.25)
    drift = np.cumsum(rng.normal(0, DRIFT_STEP, size=(len(states), 2)), axis=0)
    drift[0] = 0
    out = []
    for s, (dx, dy) in zip(states, drift):
        clean = wave_intensity(waves[s], params)  # indexed (x, y)
        shifted = np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(clean), (dx / 0.25, dy / 0.25))).real
        out.append(normalize(detect(np.maximum(shifted, 0), params, rng)).T)
    return np.asarray(out, np.float32), drift


def _score(tracks, truths, states):
    """Exact counts (single, fused) and hop detection of one movie."""
    from atomcount.hrtem.evaluation.metrics import match_columns

    n_frames = len(states)
    exact = {"single": 0, "fused": 0}
    total = 0
    per_frame = []  # {true column index: (track, single, fused)} per frame
    for k in range(n_frames):
        truth = truths[states[k]]
        sel = tracks["frame"] == k
        xy = np.stack([tracks["x_A"][sel], tracks["y_A"][sel]], axis=1)
        p, t = match_columns(xy, truth.xy, 1.0)
        total += len(truth)
        h1, hf = tracks["height"][sel][p], tracks["height_fused"][sel][p]
        exact["single"] += int((h1 == truth.height[t]).sum())
        exact["fused"] += int((hf == truth.height[t]).sum())
        per_frame.append({int(tt): (int(tr), int(a), int(b))
                          for tt, tr, a, b in zip(t, tracks["track"][sel][p], h1, hf)})
    hops = {"single": [0, 0, 0], "fused": [0, 0, 0]}  # detected, missed, false
    for k in range(1, n_frames):
        a, b = truths[states[k - 1]], truths[states[k]]
        p, t = match_columns(a.xy, b.xy, 0.5)   # the same true column before and after
        change = dict(zip(t.tolist(), (b.height[t] - a.height[p]).tolist()))
        before = {v[0]: v for v in per_frame[k - 1].values()}
        for col, (track, h1, hf) in per_frame[k].items():
            if track not in before:
                continue
            true_change = change.get(col, 0)
            nxt = {v[0]: v for v in per_frame[k + 1].values()} if k + 1 < n_frames else {}
            for i, name in ((1, "single"), (2, "fused")):
                seen = [per_frame[k][col][i] - before[track][i]]
                if track in nxt:
                    seen.append(nxt[track][i] - before[track][i])
                if true_change:
                    hops[name][0 if true_change in seen else 1] += 1
                elif seen[0] != 0:
                    hops[name][2] += 1
    return exact, total, hops


def _block_exact(out: Path, truth) -> int:
    """Exact columns of the first block's drift-aligned mean (``--average``), counted once."""
    from atomcount.hrtem.evaluation.metrics import match_columns

    cols = np.genfromtxt(out / "movie" / "average" / "00000" / "columns.csv", delimiter=",", names=True)
    p, t = match_columns(np.stack([cols["x_A"], cols["y_A"]], axis=1).reshape(-1, 2), truth.xy, 1.0)
    return int((np.atleast_1d(cols["height"]).astype(int)[p] == truth.height[t]).sum())


def accuracy(n_particles: int, n_frames: int, seed: int) -> tuple[str, dict]:
    """Run the simulated movies; return a markdown table and the numbers."""
    from atomcount.core.particles import ParticleConfig, random_particle
    from atomcount.hrtem.imaging import exit_wave
    from atomcount.movie.frames import open_movie
    from atomcount.movie.run import MovieSettings, count_movie

    rng = np.random.default_rng(seed)
    cfg = ParticleConfig(zones=("110",), n_atoms=(400, 1200), max_tilt_deg=0.0, adatom_fraction=(0.0, 0.0),
                         vacancy_fraction=(0.0, 0.0), truncation_probability=0.0, field_of_view=64.0)
    third = n_frames // 3
    kinds = {"static": [0] * n_frames, "hops": [0] * third + [1] * third + [2] * (n_frames - 2 * third)}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n_particles):
            particles = [random_particle(rng, cfg)]
            particles += [_hopped(particles[-1], rng)]
            particles += [_hopped(particles[-1], rng)]
            waves = [exit_wave(p) for p in particles]
            truths = [p.columns for p in particles]
            for kind, states in kinds.items():
                for dose in DOSES:
                    frames, _ = _frames(waves, states, dose, rng)
                    path = Path(tmp) / f"p{i}_{kind}_{dose:g}.npy"
                    np.save(path, frames)
                    settings = MovieSettings(fuse=True, average=n_frames if kind == "static" else 0)
                    count_movie(open_movie(path, pixel_size=0.25), Path(tmp) / path.stem, settings=settings,
                                progress=False, figures=False, log=lambda s: None)
                    tr = np.genfromtxt(Path(tmp) / path.stem / "movie" / "tracks.csv", delimiter=",", names=True)
                    tracks = {n: tr[n].astype(int) if n.startswith(("height", "track", "frame")) else tr[n]
                              for n in tr.dtype.names}
                    exact, total, hops = _score(tracks, truths, states)
                    if kind == "static":
                        exact["mean"] = _block_exact(Path(tmp) / path.stem, truths[0])
                    acc = results.setdefault((kind, dose), {"single": 0, "fused": 0, "total": 0,
                                                            "hops_single": np.zeros(3, int),
                                                            "hops_fused": np.zeros(3, int)})
                    acc["single"] += exact["single"]
                    acc["fused"] += exact["fused"]
                    acc["total"] += total
                    acc["mean"] = acc.get("mean", 0) + exact.get("mean", 0)
                    if kind == "hops":
                        acc["hops_single"] += hops["single"]
                        acc["hops_fused"] += hops["fused"]
    lines = ["| movie | dose per frame (e⁻/Å²) | exact, single frames | exact, fused (HMM) | "
             "exact, aligned mean counted once | height changes detected / missed / false: single | fused |",
             "|---|---|---|---|---|---|---|"]
    for (kind, dose), r in results.items():
        hs = "/".join(map(str, r["hops_single"])) if kind == "hops" else "–"
        hf = "/".join(map(str, r["hops_fused"])) if kind == "hops" else "–"
        mean = f"{r['mean'] * len(kinds['static']) / r['total']:.1%}" if kind == "static" else "–"
        lines.append(f"| {kind} | {dose:.0e} | {r['single'] / r['total']:.1%} | {r['fused'] / r['total']:.1%} "
                     f"| {mean} | {hs} | {hf} |")
    return "\n".join(lines), results


def speed(n_frames: int, seed: int) -> tuple[float, float]:
    """(pipeline frames/s, count_columns frames/s) on 512×512 frames, 2 CPU threads."""
    import torch

    from atomcount.core.particles import ParticleConfig, random_particle
    from atomcount.hrtem.analysis.count import count_columns
    from atomcount.hrtem.imaging import exit_wave, render_image
    from atomcount.hrtem.microscope import ImagingParameters
    from atomcount.movie.frames import open_movie
    from atomcount.movie.run import MovieSettings, count_movie

    torch.set_num_threads(2)
    rng = np.random.default_rng(seed)
    wave = exit_wave(random_particle(rng, ParticleConfig(n_atoms=(400, 1200), field_of_view=64.0)))
    params = ImagingParameters(dose=1e3, sampling=0.25)
    frames = np.asarray([np.block([[render_image(wave, params, rng) for _ in range(2)] for _ in range(2)])
                         for _ in range(n_frames)], np.float32)
    count_columns(frames[0], 0.25)  # load the model, warm up
    t = time.perf_counter()
    for f in frames:
        count_columns(f, 0.25, keep_probabilities=True)
    alone = n_frames / (time.perf_counter() - t)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "m.npy", frames)
        t = time.perf_counter()
        count_movie(open_movie(Path(tmp) / "m.npy", pixel_size=0.25), Path(tmp) / "out",
                    settings=MovieSettings(fuse=True), progress=False, figures=False, log=lambda s: None)
        pipeline = n_frames / (time.perf_counter() - t)
    return pipeline, alone


def figure(folder: Path, seed: int, n_frames: int = 12) -> Path:
    """The README figure: a hopping particle at 1e3 e⁻/Å² per frame, tracked and fused."""
    import shutil

    from atomcount.core.particles import ParticleConfig, random_particle
    from atomcount.hrtem.imaging import exit_wave
    from atomcount.movie.frames import open_movie
    from atomcount.movie.run import MovieSettings, count_movie

    rng = np.random.default_rng(seed)
    cfg = ParticleConfig(zones=("110",), n_atoms=(400, 1200), max_tilt_deg=0.0, field_of_view=64.0)
    particles = [random_particle(rng, cfg)]
    particles += [_hopped(particles[-1], rng), _hopped(_hopped(particles[-1], rng), rng)]
    third = n_frames // 3
    frames, _ = _frames([exit_wave(p) for p in particles], [0] * third + [1] * third + [2] * (n_frames - 2 * third),
                        1e3, rng)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "movie.npy", frames)
        count_movie(open_movie(Path(tmp) / "movie.npy", pixel_size=0.25), Path(tmp) / "out",
                    settings=MovieSettings(fuse=True), progress=False, log=lambda s: None)
        return Path(shutil.copy(Path(tmp) / "out" / "movie" / "tracked_movie.png", folder / "tracked_movie.png"))


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write its BENCHMARKS.md section."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--particles", type=int, default=2)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--speed-frames", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--figure", type=Path, default=Path("docs/figures/movie"),
                    help="Folder for the README figure of a tracked movie.")
    args = ap.parse_args(argv)
    table, res = accuracy(args.particles, args.frames, args.seed)
    print(table, flush=True)
    fps, alone = speed(args.speed_frames, args.seed)
    static_fused_1e2 = res[("static", 1e2)]["fused"] / res[("static", 1e2)]["total"]
    static_single_1e3 = res[("static", 1e3)]["single"] / res[("static", 1e3)]["total"]
    static_mean_1e2 = res[("static", 1e2)]["mean"] * args.frames / res[("static", 1e2)]["total"]
    goal = "met" if static_fused_1e2 >= static_single_1e3 else "missed"
    goal_mean = "met" if static_mean_1e2 >= static_single_1e3 - 0.01 else "missed"
    body = f"""{args.particles} Au [110] particles (400–1200 atoms, 64 Å field, 256² px), {args.frames} frames per movie,
fixed microscope (C10 −200 Å, Cs 0, focal spread 30 Å), drift {DRIFT_STEP} Å per frame per axis, shipped model,
classification head, HMM rate 0.02. Exact = fraction of true columns per frame with the exact height
(missed columns count as wrong). Aligned mean (`--average {args.frames}`): the frames shifted back by
the measured drift and averaged (N× the dose in one image), counted once — what a static particle allows. Height changes: true column changes (2 per hop) whose track shows the
same change within one frame / that it does not show / changes shown where nothing changed.

{table}

Goal (fused static 1e2 e⁻/Å² over {args.frames} frames ≥ single frames at 1e3): HMM fusion **{goal}**
({static_fused_1e2:.1%} vs {static_single_1e3:.1%}); aligned mean **{goal_mean}** (within 1 point:
{static_mean_1e2:.1%}). The HMM treats frames as independent evidence; at 1e2 e⁻/Å² the network's
per-frame errors are not independent (the same column is misread the same way), which caps what
fusing its probabilities can gain, while averaging the aligned images gives the network one image
at N× the dose.

Speed, 512×512 frames, 2 CPU threads, `atomcount movie` pipeline (lazy .npy, drift, tracking, fusion,
no figures): **{fps:.2f} frames/s**; `count_columns` alone {alone:.2f} frames/s (goal ≥ 10 frames/s:
{'met' if fps >= 10 else 'missed: the network forward pass dominates'}). GPU: not measured in this run.
"""
    cmd = "python -m atomcount.bench.movie" + ("" if argv is None else " " + " ".join(argv))
    write_section("movie", "In-situ movies: fused vs single-frame counting, speed", body, cmd)
    print(body)
    print(figure(args.figure, args.seed))


if __name__ == "__main__":
    main()
