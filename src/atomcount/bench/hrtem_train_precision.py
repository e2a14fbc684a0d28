"""Does bfloat16 training buy steps without losing accuracy? ``python -m atomcount.bench.hrtem_train_precision``.

A controlled comparison for the continuing HRTEM run (issue 16's recipe): both arms start
from the same checkpoint of ``training/hrtem`` (copied to ``build/``; the run itself is not
touched) and train the same number of steps on the same batches, one in float32 and one
in bfloat16 autocast (float32 weights, optimiser and losses). Reported per arm: CPU seconds
per step, the training loss over the second half of the steps (same batches, so the
difference is the arithmetic's), and the trust evaluation (whole frames of never-trained
particles, float32 inference) of the weights each arm reaches. Writes the
``hrtem-train-precision`` section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import numpy as np

ARMS = ("float32", "bfloat16")


def snapshot(source: Path, target: Path) -> Path:
    """Copy the run's recipe, checkpoint and log once, so that both arms start from the same step
    even while the run itself goes on writing new checkpoints."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("recipe.json", "checkpoint.pt", "log.csv"):
        shutil.copy(source / name, target / name)
    return target


def run_arm(precision: str, steps: int, source: Path, work: Path) -> dict:
    """Train one arm ``steps`` steps from the checkpoint in ``source``; its CPU time, late loss and model file."""
    from atomcount.training.chunks import export_weights, run_chunk

    d = work / precision
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    recipe = json.loads((source / "recipe.json").read_text()) | {"precision": precision, "log_every": 1}
    (d / "recipe.json").write_text(json.dumps(recipe, indent=1))
    shutil.copy(source / "checkpoint.pt", d / "checkpoint.pt")
    shutil.copy(source / "log.csv", d / "log.csv")  # its header; rows past the checkpoint are dropped on resume
    first, before = _step_and_cpu_seconds(d)
    state = run_chunk(steps=steps, state_dir=d)
    rows = [r for r in csv.DictReader((d / "log.csv").open()) if r["loss"] and int(r["step"]) > first]
    late = [float(r["loss"]) for r in rows[len(rows) // 2:]]
    return {"cpu_s_per_step": (state["cpu_hours"] * 3600 - before) / steps, "late_loss": float(np.mean(late)),
            "loss_rows": len(late), "model": str(export_weights(d))}


def _step_and_cpu_seconds(state_dir: Path) -> tuple[int, float]:
    import torch

    blob = torch.load(state_dir / "checkpoint.pt", weights_only=False)
    return int(blob["step"]), float(blob.get("cpu_seconds", 0.0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=1000, help="steps per arm")
    ap.add_argument("--source", default="training/hrtem", help="state folder whose checkpoint both arms start from")
    ap.add_argument("--work", default="build/train_precision", help="scratch folder of the two arms")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the evaluation")
    a = ap.parse_args()
    from atomcount.analysis.predict import native_bfloat16
    from atomcount.bench.hrtem_wholeframe import run
    from atomcount.bench.report import write_section
    from atomcount.evaluation.wholeframe import scores

    work = Path(a.work)
    source = snapshot(Path(a.source), work / "start")
    arms = {p: run_arm(p, a.steps, source, work) for p in ARMS}
    lines = ["| arm | CPU s per step | mean training loss, 2nd half | exact (classification) | exact (regression) "
             "| ±1 (classification) |", "|---|---|---|---|---|---|"]
    for p, r in arms.items():
        rec = run(r["model"], threads=a.threads)
        c, g = scores(rec, head="classification"), scores(rec, head="regression")
        r |= {"exact_cls": c["exact"], "exact_reg": g["exact"], "within_1_cls": c["within_1"]}
        lines.append(f"| {p} | {r['cpu_s_per_step']:.3f} | {r['late_loss']:.4f} | {c['exact']:.4f} | "
                     f"{g['exact']:.4f} | {c['within_1']:.4f} |")
    speedup = arms["float32"]["cpu_s_per_step"] / arms["bfloat16"]["cpu_s_per_step"]
    native = "has" if native_bfloat16() else "does NOT have"
    body = (f"Both arms: {a.steps} steps of the continuing run's recipe from the same checkpoint of `{a.source}`, "
            f"the same batches; evaluation on the trust set (`hrtem-wholeframe`) in float32. This machine {native} "
            f"native bfloat16.\n\n" + "\n".join(lines)
            + f"\n\nbfloat16 takes {1 / speedup:.2f}× the CPU time per step of float32 ({speedup:.2f}× the steps per "
              "CPU-hour). Differences in exact of a few tenths of a point are within what one such short run "
              "moves by chance.\n")
    write_section("hrtem-train-precision", "HRTEM training: float32 vs bfloat16 steps", body,
                  f"python -m atomcount.bench.hrtem_train_precision --steps {a.steps}")
    print(body)


if __name__ == "__main__":
    main()
