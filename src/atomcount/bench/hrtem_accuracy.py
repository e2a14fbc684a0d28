"""Column-height accuracy and speed of a model: ``python -m atomcount.bench.hrtem_accuracy``.

Writes three sections of BENCHMARKS.md: exact-height accuracy of both heads on held-out
images over the full Table 1 ranges (paper: 93 % regression, 85 % classification), the
defocus × dose sensitivity table, and inference time for a 512×512 frame.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from atomcount.core.provenance import write_section

PAPER = {"regression": 0.93, "classification": 0.85}
TARGET = {"regression": 0.95, "classification": 0.93}


def _timing_frame() -> tuple[np.ndarray, float]:
    """A 512×512 frame full of columns: the first particle of the first whole-frame trust set
    (that set simulated if missing), imaged at 1e4 e⁻/Å² with Table 1 settings, cut or padded to 512²."""
    from dataclasses import replace

    from atomcount.bench.hrtem_wholeframe import ensure_wholeframe_sets
    from atomcount.hrtem.evaluation.wholeframe import WHOLEFRAME_SETS
    from atomcount.hrtem.imaging import render_image
    from atomcount.hrtem.microscope import ImagingRanges
    from atomcount.hrtem.training.stream import load_entries

    wave, _, _ = load_entries(ensure_wholeframe_sets(workers=2, sets=WHOLEFRAME_SETS[:1]), indices=[0])[0]
    rng = np.random.default_rng(5)
    params = replace(ImagingRanges(), dose=(1e4, 1e4)).sample(rng)
    image = render_image(wave, params, rng)[:512, :512]
    pad = [(0, 512 - n) for n in image.shape]
    return np.pad(image, pad, mode="reflect").astype(np.float32), params.sampling


def _median_s(run, repeats: int, sync=lambda: None) -> float:
    """Median seconds of ``run()`` over ``repeats`` calls after one warm-up."""
    run()
    ts = []
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        run()
        sync()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def _time_frame(model_path: str | None, repeats: int, device: str, frame: np.ndarray, sampling: float,
                precision: str = "float32") -> tuple[float, float]:
    """Median seconds of ``count_columns`` on ``frame`` and of the forward pass alone."""
    import torch

    from atomcount.hrtem.analysis.count import count_columns, load_counting_model
    from atomcount.hrtem.analysis.predict import predict_maps

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    net, _ = load_counting_model(model_path, device)
    total = _median_s(lambda: count_columns(frame, sampling, model=model_path, device=device, precision=precision),
                      repeats, sync)
    return total, _median_s(lambda: predict_maps(net, frame, device, precision=precision), repeats, sync)


def _stride_two_forward(model_path: str | None, repeats: int, frame: np.ndarray, precision: str) -> float:
    """Forward-pass seconds of a stride-2 trunk (:class:`ColumnFCN` ``input_stride=2``) of the shipped
    model's width, laid out as ``load_counting_model`` lays out a model: untrained, so a timing of
    the architecture only (its read-out would work on meaningless maps)."""
    import torch

    from atomcount.hrtem.analysis.count import load_counting_model
    from atomcount.hrtem.analysis.predict import predict_maps
    from atomcount.hrtem.nn.fcn import ColumnFCN, fold_batch_norm

    width = load_counting_model(model_path)[0].width
    net = fold_batch_norm(ColumnFCN(width=width, input_stride=2)).to(memory_format=torch.channels_last)
    return _median_s(lambda: predict_maps(net, frame, "cpu", precision=precision), repeats)




def _inference_time(model_path: str | None, repeats: int) -> tuple[dict, int]:
    """Timings per precision on 2 and 1 CPU threads, on a frame full of columns:
    ``{(precision, threads): (count_columns s, forward s, stride-2 forward s, forward s of
    :data:`~atomcount.hrtem.analysis.count.FAST_MODEL`)}`` and the number of columns the shipped model finds in the frame.

    bfloat16 is timed only where the CPU has it natively (where ``precision="auto"`` picks it).
    """
    import torch

    from atomcount.hrtem.analysis.count import FAST_MODEL, count_columns, load_counting_model
    from atomcount.hrtem.analysis.predict import native_bfloat16, predict_maps

    frame, sampling = _timing_frame()
    columns = len(count_columns(frame, sampling, model=model_path).x_px)
    fast = load_counting_model(str(FAST_MODEL))[0]
    out = {}
    for precision in ("float32", "bfloat16") if native_bfloat16() else ("float32",):
        for threads in (2, 1):
            torch.set_num_threads(threads)
            out[precision, threads] = (*_time_frame(model_path, repeats, "cpu", frame, sampling, precision),
                                       _stride_two_forward(model_path, repeats, frame, precision),
                                       _median_s(lambda: predict_maps(fast, frame, "cpu", precision=precision),
                                                 repeats))
    torch.set_num_threads(2)
    return out, columns


def _gpu_section(model_path: str | None, cmd: str) -> None:
    """Write the GPU inference timing section (only on a machine with CUDA)."""
    import torch

    frame, sampling = _timing_frame()
    total, fwd = _time_frame(model_path, 20, "cuda", frame, sampling)
    body = f"""| device | `count_columns` on a 512×512 frame (the CPU section's frame) | network forward only |
|---|---|---|
| {torch.cuda.get_device_name(0)} | {total * 1e3:.1f} ms | {fwd * 1e3:.2f} ms |

`count_columns` includes the CPU work around the network (resampling, normalisation, peak finding,
least-squares read-out); the forward pass is the network alone (batch 1, float32).
"""
    write_section("hrtem-inference-gpu", "HRTEM column heights: inference time on a GPU", body, cmd)
    print(body)


def _whole_frames(model_path: str | None, n: int) -> dict:
    """Count particles placed anywhere in 128 Å (512×512 px at 0.25 Å/px) frames, both heads."""
    from atomcount.core.particles import ParticleConfig, random_particle
    from atomcount.hrtem.analysis.count import count_columns
    from atomcount.hrtem.evaluation.metrics import HeightScores
    from atomcount.hrtem.imaging import exit_wave, render_image
    from atomcount.hrtem.microscope import ImagingRanges

    scores = {h: HeightScores() for h in ("regression", "classification")}
    ranges = ImagingRanges(sampling=(0.25, 0.25))
    cfg = ParticleConfig(field_of_view=128.0, margin=8.0)
    for k in range(n):
        rng = np.random.default_rng([4242, k])
        part = random_particle(rng, cfg)
        image = render_image(exit_wave(part), ranges.sample(rng), rng)
        for head, sc in scores.items():
            res = count_columns(image.T, 0.25, head=head, model=model_path)  # rows = y, columns = x
            sc.add(np.stack([res.x_A, res.y_A], 1), res.height, part.columns.xy, part.columns.height)
    return {h: sc.summary() for h, sc in scores.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None, help="model file (shipped one by default)")
    ap.add_argument("--data", default="data/test", help="held-out data set")
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--cell-images", type=int, default=20, help="images per sensitivity cell")
    ap.add_argument("--frames", type=int, default=10, help="whole 512×512 frames to count")
    ap.add_argument("--skip-sensitivity", action="store_true")
    ap.add_argument("--gpu-timing-only", action="store_true", help="only the GPU inference timing")
    ap.add_argument("--skip-timing", action="store_true", help="keep the CPU inference timing section as it is")
    ap.add_argument("--timing-only", action="store_true", help="only the CPU inference timing section")
    a = ap.parse_args()
    cmd = f"python -m atomcount.bench.hrtem_accuracy --data {a.data} --images {a.images}"
    if a.gpu_timing_only:
        _gpu_section(a.model, "python -m atomcount.bench.hrtem_accuracy --gpu-timing-only")
        return
    if a.timing_only:
        _cpu_section(a.model, "python -m atomcount.bench.hrtem_accuracy --timing-only")
        return
    from atomcount.hrtem.analysis.count import load_counting_model
    from atomcount.hrtem.evaluation.report import accuracy_report, sensitivity_grid
    from atomcount.hrtem.training.stream import load_entries

    import torch

    torch.set_num_threads(1)  # accuracy runs; the timing part sets its own thread counts
    model, _ = load_counting_model(a.model)
    if not Path(a.data).exists():
        from atomcount.hrtem.dataset import DatasetSpec, generate

        print(f"{a.data} missing: simulating the held-out set (250 particles, seed 2, as `make weights`)")
        generate(a.data, DatasetSpec(n_particles=250, seed=2))
    entries = load_entries([a.data])
    scores = accuracy_report(model, entries, a.images)
    rows = []
    for h, s in scores.items():
        rows.append(f"| {h} | **{s.accuracy:.3f}** | {s.within_one:.3f} | {s.mean_image_accuracy:.3f} | "
                    f"{s.precision:.3f} | {s.recall:.3f} | {PAPER[h]:.2f} | {TARGET[h]:.2f} |")
    conf = scores["regression"].confusion
    per_h = [(h, conf[h, h] / conf[h].sum()) for h in range(1, 16) if conf[h].sum()]
    body = f"""Held-out: {a.images} images of {len(entries)} particles never seen in training, every parameter
drawn from the full Table 1 ranges. Heights read by a joint least-squares fit of the label Gaussians
at the detected peaks; matching radius 1 Å; unmatched true columns count as wrong.

| head | exact height | within ±1 | mean per-image exact | column precision | column recall | paper | target |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Exact accuracy of the regression head by true height:
{', '.join(f'{h}: {v:.2f}' for h, v in per_h)}

Confusion matrix (regression; rows true height 0…15, columns predicted, 0 = missed / spurious):
```
{np.array2string(conf, max_line_width=200)}
```
"""
    write_section("hrtem-accuracy", "HRTEM column heights: accuracy on held-out particles", body, cmd)
    print(body)
    if not a.skip_sensitivity:
        dfs = [-250.0, -225.0, -200.0, -175.0, -150.0]
        doses = [1e2, 1e3, 1e4, 1e5, 1e6]
        grid = sensitivity_grid(model, entries, dfs, doses, a.cell_images)
        parts = []
        for h, acc in grid.items():
            head = "| C10 (Å) \\ dose (e⁻/Å²) | " + " | ".join(f"{d:.0e}" for d in doses) + " |"
            sep = "|---" * (len(doses) + 1) + "|"
            lines = [f"| {df:.0f} | " + " | ".join(f"{v:.3f}" for v in row) + " |" for df, row in zip(dfs, acc)]
            parts.append(f"**{h}**\n\n{head}\n{sep}\n" + "\n".join(lines))
        body = (f"Exact-height accuracy per cell, {a.cell_images} images each (the same particles in every cell; "
                "other parameters from Table 1). Paper Fig. 4 / S5 shows the same kind of map.\n\n" + "\n\n".join(parts))
        write_section("hrtem-sensitivity", "HRTEM column heights: sensitivity to defocus and dose", body,
                      cmd + " (sensitivity part)")
        print(body)
    frames = _whole_frames(a.model, a.frames)
    body = f"""{a.frames} particles (seeds 4242/k, never in training) placed anywhere in a 128 Å field, imaged as
512×512 px at 0.25 Å/px with Table 1 parameters and counted with `count_columns` on the whole frame:

| head | exact height | within ±1 | column precision | column recall |
|---|---|---|---|---|
""" + "\n".join(f"| {h} | {v['accuracy_exact']:.3f} | {v['accuracy_within_1']:.3f} | {v['precision']:.3f} | "
                  f"{v['recall']:.3f} |" for h, v in frames.items())
    write_section("hrtem-frames", "HRTEM column heights: whole 512×512 frames", body, cmd)
    print(body)
    if not a.skip_timing:
        _cpu_section(a.model, cmd)


def _cpu_section(model_path: str | None, cmd: str) -> None:
    """Write the CPU inference timing section."""
    from atomcount.hrtem.analysis.count import FAST_MODEL

    t, columns = _inference_time(model_path, 5)
    rows = "\n".join(f"| {p} | {n} | {c * 1e3:.0f} ms | {f * 1e3:.0f} ms | {f2 * 1e3:.0f} ms | {f3 * 1e3:.0f} ms | "
                     f"{'≤ 150 ms' if n == 2 else ''} |" for (p, n), (c, f, f2, f3) in t.items())
    body = f"""The frame: the first particle of the whole-frame trust set at 1e4 e⁻/Å², 512×512 px
({columns} columns found by the model: the read-out has real work to do).

| precision | threads | `count_columns` (resample, normalise, network, peaks, read-out) | network forward (`predict_maps`) | forward, stride-2 trunk (untrained, same width: timing of the architecture only) | forward, `{FAST_MODEL.stem}` | target |
|---|---|---|---|---|---|---|
{rows}

Median of 5 after a warm-up. `count` uses `--precision auto`: bfloat16 where the CPU has it natively (then
listed here), float32 elsewhere; what bfloat16 changes in the counts is in section `hrtem-precision`.
The stride-2 trunk (`ColumnFCN(input_stride=2)`, `atomcount train --input-stride 2`) runs every stage at
half resolution; at width 32 it reads whole frames as the width-16 stride-1 model does (section
`hrtem-gpu-lease`). `{FAST_MODEL.stem}` (`count --model {FAST_MODEL.stem}`) is the faster model shipped beside
the default (its card: src/atomcount/models/{FAST_MODEL.stem}.md).

GPU timing: section `hrtem-inference-gpu` (written by `--gpu-timing-only` on a machine with CUDA).
"""
    write_section("hrtem-inference", "HRTEM column heights: inference time", body, cmd)
    print(body)


if __name__ == "__main__":
    main()
