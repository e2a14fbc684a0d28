"""HRTEM training on a lent GPU: the continuing run's recipe, sized for a GPU and finished inside one lease.

``python -m atomcount.hrtem.training.lease --variant s2w32 --out runs/lease/s2w32 --deadline UNIX_TIME``
(``scripts/gpu_lease.sh`` runs the variants side by side and collects their weights). The run times
its first steps, then sets its step count so that the cosine schedule ends — annealed — just before
the deadline, and exports its weight average as ``model.pt`` (what the whole-frame evaluation and
``ship`` read; ``python -m atomcount.bench.hrtem_gpu_lease`` measures them). Rendering is on the CPU (worker processes), so variants that share a machine share
its cores; the GPU is not the bottleneck at these widths.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

from atomcount.core.errors import AtomcountError
from atomcount.hrtem.training.chunks import RECIPE, export_weights
from atomcount.hrtem.training.loop import TrainConfig, train

#: What varies between the lease's runs: capacity (width), input stride and where each starts from.
VARIANTS = {
    # the CPU run's next recipe (chunks.RECIPE): stride-2 trunk at twice the width, first from seed 17
    # widened, continued since its result of the 2026-11-25 lease was shipped as the fast model
    "s2w32": {"width": 32, "input_stride": 2, "init": "src/atomcount/models/fcn_au_300kv_fast.pt", "seed": 18},
    # the shipped stride-1 model: widened to twice its width (same maps at step 0) while it was width 16,
    # continued since the lease of 2026-11-25 shipped its width-32 result
    "s1w32": {"width": 32, "input_stride": 1, "init": "src/atomcount/models/fcn_au_300kv.pt", "seed": 19},
}

#: Images per step on the GPU and the matching peak rate (√4 × the CPU recipe's 4e-4 at batch 8).
BATCH, LR = 32, 8e-4

#: Steps timed before the step count is set (the first ``TIMING_SKIP`` are not counted: start-up).
TIMING_STEPS, TIMING_SKIP = 60, 20


def lease_config(variant: str, out: str, steps: int, workers: int, device: str = "cuda") -> TrainConfig:
    """The recipe of one variant: :data:`~atomcount.hrtem.training.chunks.RECIPE` at GPU batch size."""
    if variant not in VARIANTS:
        raise AtomcountError(f"unknown variant {variant!r}: choose from {', '.join(VARIANTS)}")
    return replace(RECIPE, **VARIANTS[variant], out=out, steps=steps, batch=BATCH, lr=LR, device=device,
                   threads=2, workers=workers, checkpoint_every=500, checkpoint_seconds=120.0, log_every=50)


def measured_rate(log_csv: Path, skip: int = TIMING_SKIP) -> float:
    """Steps per second between step ``skip`` and the last step of a training log."""
    rows = [r for r in csv.DictReader(log_csv.open()) if r["seconds"]]
    first = next((r for r in rows if int(r["step"]) >= skip), None)
    last = rows[-1] if rows else None
    if first is None or last is first:
        raise AtomcountError(f"{log_csv} holds too few steps to time")
    return (int(last["step"]) - int(first["step"])) / (float(last["seconds"]) - float(first["seconds"]))


def steps_for(rate: float, seconds: float, safety: float = 0.93) -> int:
    """Steps that fit in ``seconds`` at ``rate`` steps/s, with a safety margin, a multiple of 100."""
    steps = int(rate * seconds * safety) // 100 * 100
    if steps < 500:
        raise AtomcountError(f"only {steps} steps fit before the deadline ({rate:.2f} steps/s, {seconds:.0f} s)")
    return steps


def run(variant: str, out: Path, deadline: float, workers: int, device: str = "cuda") -> Path:
    """Time the variant, train it to the deadline and export its weight average; returns ``model.pt``."""
    timing = replace(lease_config(variant, str(out / "timing"), TIMING_STEPS, workers, device), log_every=1)
    train(timing, progress=False)
    rate = measured_rate(out / "timing" / "log.csv")
    # loading the entries and starting the workers again costs about what the timing's start-up did
    steps = steps_for(rate, deadline - time.time() - 60.0)
    cfg = lease_config(variant, str(out), steps, workers, device)
    (out / "recipe.json").write_text(json.dumps(asdict(cfg), indent=1))
    print(f"{variant}: {rate:.2f} steps/s at batch {BATCH}; training {steps} steps", flush=True)
    train(cfg, progress=False, deadline=deadline)
    return export_weights(out)


def main(argv: list[str] | None = None) -> None:
    """Command line: one variant, trained to a deadline."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", required=True, choices=sorted(VARIANTS))
    p.add_argument("--out", required=True, type=Path, help="run folder")
    p.add_argument("--deadline", required=True, type=float, help="end of training (Unix time, s)")
    p.add_argument("--workers", type=int, default=7, help="rendering processes")
    p.add_argument("--device", default="cuda")
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    print(run(a.variant, a.out, a.deadline, a.workers, a.device))


if __name__ == "__main__":
    main()
