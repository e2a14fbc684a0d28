"""Does bfloat16 training buy steps without losing accuracy? ``python -m atomcount.bench.hrtem_train_precision``.

A controlled comparison for the continuing HRTEM run (issue 16's recipe): both arms start
from the same checkpoint of ``training/hrtem`` (copied to ``build/``; the run itself is not
touched) and train the same number of steps on the same batches, one in float32 and one
in bfloat16 autocast (float32 weights, optimiser and losses). Reported per arm: CPU seconds
per step, the training loss over the second half of the steps (same batches, so the
difference is the arithmetic's), and the trust evaluation (whole frames of never-trained
particles, float32 inference) of the weights each arm reaches and of the common start.

Two modes. ``--ema-decay 0`` compares raw iterates and adds the mean of the three weight sets
(a crude weight average: how much single iterates at the run's learning rate scatter); it
writes the ``hrtem-train-precision`` section. By default the arms keep the run's own weight
average (the recipe's ``ema_decay``, continued from the checkpoint) and are evaluated as that,
as the run is evaluated and shipped: the ``hrtem-train-precision-ema`` section, the test the
run's switch to bfloat16 waits on.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import numpy as np

ARMS = ("float32", "bfloat16")

#: Largest loss of trust-set exact accuracy (fraction, either head, equal steps) at which the
#: run's switch to bfloat16 training (1.6× the steps per CPU-hour) pays.
SWITCH_TOLERANCE = 0.003


def snapshot(source: Path, target: Path) -> Path:
    """Copy the run's recipe, checkpoint and log once, so that both arms start from the same step
    even while the run itself goes on writing new checkpoints."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("recipe.json", "checkpoint.pt", "log.csv"):
        shutil.copy(source / name, target / name)
    return target


def run_arm(precision: str, steps: int, source: Path, work: Path, *, ema_decay: float, reuse: bool = False) -> dict:
    """Train one arm ``steps`` steps from the checkpoint in ``source``; its CPU time, late loss and model file.

    ``ema_decay`` 0 trains and exports raw iterates; otherwise the arm keeps (and exports) the
    weight average with that decay. With ``reuse`` an arm already trained that far is not
    trained again.
    """
    from atomcount.hrtem.training.chunks import export_weights, run_chunk

    d = work / precision
    first, before = _step_and_cpu_seconds(source)
    done = (d / "checkpoint.pt").exists() and _step_and_cpu_seconds(d)[0] == first + steps
    if not (reuse and done):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        recipe = json.loads((source / "recipe.json").read_text()) | {"precision": precision, "log_every": 1,
                                                                      "ema_decay": ema_decay}
        (d / "recipe.json").write_text(json.dumps(recipe, indent=1))
        shutil.copy(source / "checkpoint.pt", d / "checkpoint.pt")
        shutil.copy(source / "log.csv", d / "log.csv")  # its header; rows past the checkpoint are dropped on resume
        run_chunk(steps=steps, state_dir=d)
    rows = [r for r in csv.DictReader((d / "log.csv").open()) if r["loss"] and int(r["step"]) > first]
    late = [float(r["loss"]) for r in rows[len(rows) // 2:]]
    return {"cpu_s_per_step": (_step_and_cpu_seconds(d)[1] - before) / steps, "late_loss": float(np.mean(late)),
            "model": str(export_weights(d))}


def mean_weights(paths: list[str], target: Path) -> str:
    """Model file whose every floating weight and statistic is the mean over the model files ``paths``."""
    import torch

    from atomcount.hrtem.nn.checkpoint import load_model, save_model

    models = [load_model(p)[0] for p in paths]
    states = [m.state_dict() for m in models]
    mean = {k: (sum(s[k].double() for s in states) / len(states)).to(v.dtype) if v.is_floating_point() else v
            for k, v in states[0].items()}
    models[0].load_state_dict(mean)
    save_model(target, models[0].eval(), {"note": "mean of " + ", ".join(paths)})
    return str(target)


def evaluate(model: str, work: Path, name: str, threads: int, reuse: bool) -> dict:
    """Trust-set exact and ±1 of a model file, cached in ``work/eval_<name>.json``."""
    from atomcount.bench.hrtem_wholeframe import run
    from atomcount.hrtem.evaluation.wholeframe import scores

    cache = work / f"eval_{name}.json"
    if reuse and cache.exists():
        return json.loads(cache.read_text())
    rec = run(model, threads=threads)
    c, g = scores(rec, head="classification"), scores(rec, head="regression")
    out = {"exact_cls": c["exact"], "exact_reg": g["exact"], "within_1_cls": c["within_1"]}
    cache.write_text(json.dumps(out))
    return out


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
    ap.add_argument("--ema-decay", type=float, default=None,
                    help="weight average of the arms: the recipe's when omitted, 0 for raw iterates")
    ap.add_argument("--reuse", action="store_true",
                    help="keep the snapshot, the arms already trained and the evaluations already made in --work")
    a = ap.parse_args()
    from atomcount.core.provenance import write_section
    from atomcount.hrtem.analysis.predict import native_bfloat16
    from atomcount.hrtem.training.chunks import export_weights

    if not native_bfloat16():
        # measured on an AVX2-only EPYC: 38 s per bfloat16 step against 1.0 s in float32
        raise SystemExit("error: this CPU has no native bfloat16 (AVX512-BF16 or AMX); the bfloat16 arm would be "
                         "emulated, tens of times slower than float32. Run this benchmark on a CPU that has it.")
    ema = a.ema_decay if a.ema_decay is not None else json.loads((Path(a.source) / "recipe.json").read_text())["ema_decay"]
    if not 0 <= ema < 1:
        raise SystemExit(f"error: --ema-decay must be in [0, 1), got {ema}")
    work = Path(a.work)
    source = work / "start" if a.reuse and (work / "start").exists() else snapshot(Path(a.source), work / "start")
    arms = {p: run_arm(p, a.steps, source, work, ema_decay=ema, reuse=a.reuse) for p in ARMS}
    start = export_weights(source)
    models = {"start": str(start), **{p: r["model"] for p, r in arms.items()}}
    if not ema:
        models["mean of the three"] = mean_weights(list(models.values()), work / "mean.pt")
    lines = ["| weights | CPU s per step | mean training loss, 2nd half | exact (classification) | exact (regression) "
             "| ±1 (classification) |", "|---|---|---|---|---|---|"]
    for name, path in models.items():
        e = evaluate(path, work, name.replace(" ", "_"), a.threads, a.reuse)
        r = arms.get(name)
        cost = f"{r['cpu_s_per_step']:.3f} | {r['late_loss']:.4f}" if r else "– | –"
        lines.append(f"| {name} | {cost} | {e['exact_cls']:.4f} | {e['exact_reg']:.4f} | {e['within_1_cls']:.4f} |")
    speedup = arms["float32"]["cpu_s_per_step"] / arms["bfloat16"]["cpu_s_per_step"]
    kept = f"weight average {ema:g}, continued from the checkpoint" if ema else "raw iterates, no weight average"
    body = (f"Both arms: {a.steps} steps of the continuing run's recipe ({kept}) from the "
            f"same checkpoint of `{a.source}` (row 'start', step {_step_and_cpu_seconds(source)[0]}), the same "
            f"batches; evaluation on the trust set (`hrtem-wholeframe`) in float32, regression without the height "
            f"calibration that `ship` fits. This machine has native bfloat16.\n\n" + "\n".join(lines)
            + f"\n\nbfloat16 takes {1 / speedup:.2f}× the CPU time per step of float32 ({speedup:.2f}× the steps per "
              "CPU-hour)."
            + (" The last row averages the three weight sets: the spread between single iterates and "
               "their mean is what a weight average (`ema_decay`) recovers.\n" if not ema else
               f" Every row is the weight average, as the run is evaluated and shipped; the run switches to "
               f"bfloat16 when the two arms agree within {SWITCH_TOLERANCE * 100:.1f} points on both heads.\n"))
    if ema:
        write_section("hrtem-train-precision-ema", "HRTEM training: float32 vs bfloat16 steps, weight-averaged", body,
                      f"python -m atomcount.bench.hrtem_train_precision --steps {a.steps}")
    else:
        write_section("hrtem-train-precision", "HRTEM training: float32 vs bfloat16 steps", body,
                      f"python -m atomcount.bench.hrtem_train_precision --steps {a.steps} --ema-decay 0")
    print(body)


if __name__ == "__main__":
    main()
