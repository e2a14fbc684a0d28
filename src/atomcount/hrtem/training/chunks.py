"""HRTEM training that adds up: one long run advanced in time-boxed chunks across sessions.

``atomcount train-continue --hours 2.5`` (``make train-continue HOURS=2.5``) resumes the run
whose state lives in the repository (:data:`STATE_DIR`: ``recipe.json``, ``checkpoint.pt``
— weights, optimiser state, step and CPU time, a few MB — and ``ledger.csv``), trains until
its time budget or a SIGTERM/SIGINT, checkpoints at least every 10 minutes, then evaluates
the weights on the whole-frame trust evaluation (:mod:`atomcount.hrtem.evaluation.wholeframe`),
appends one ledger row and, when exact accuracy improved by ≥ 1 point over the shipped
model, ships the weights with a new model card. Commit ``training/hrtem`` afterwards.

Batches depend only on (seed, step) (:func:`atomcount.hrtem.training.stream.step_rng`) and the
learning rate only on the step, so two chunks reach the same weights as one uninterrupted
run of the same length.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

from atomcount.core.errors import AtomcountError
from atomcount.hrtem.training.loop import TrainConfig

#: Where the continuing run keeps its committed state (relative to the repository root).
STATE_DIR = Path("training/hrtem")

#: The recipe of the continuing run. Fine-tunes the shipped model (GPU + CPU, see its card)
#: on 1200 Wulff particles, with 50 % of crops anywhere in the 64 Å field (vacuum) and half
#: of the images through a white-noise detector model; the horizon of the cosine schedule is
#: far beyond any one chunk, so the rate is near its peak for the first dozen CPU-hours. At that
#: rate single iterates scatter (whole-frame exact 0.760–0.773 between checkpoints), so the run
#: keeps a weight average over ≈ 1000 steps and is evaluated and shipped as that (from chunk 7).
#: After ledger row 7 (step 47 014: +0.3 point in 1.9 CPU-h at lr ≈ 3.8e-4) the horizon became
#: 62 000 steps: the rate drops to 6.4e-5 and anneals to its floor over ≈ 15 000 steps, so the
#: curve's plateau is that of an annealed run, not of one held near its peak rate. That run (seed 16,
#: stride 1) keeps its own ``recipe.json`` until it finishes.
#:
#: Seed 17 (``recipe.json`` of its run): the same data and schedule shape on a stride-2 trunk
#: (``input_stride=2``: 3.5× fewer CPU-seconds a step, a 512² forward pass 5× faster), its trunk carried
#: over from the shipped model (:func:`atomcount.hrtem.training.loop.carry_over`).
#:
#: The next run: twice the width on the stride-2 trunk, started from seed 17's final weights widened so
#: that it computes exactly what they compute (:func:`atomcount.hrtem.nn.fcn.widen`). Why: the shipped
#: model scores the same on the particles it was trained on as on new ones of that family
#: (``hrtem-fit-gap``: 0.842 vs 0.826), so it underfits — capacity, not more particles, is what the data
#: call for. Width 32 at stride 2 costs about what width 16 at stride 1 did per step. But its checkpoint
#: is 47 MB (11.7 MB of weights, four copies), too big to commit after every chunk, so ``--restart``
#: refuses it (:data:`MAX_CHECKPOINT_MB`); it ran one chunk (ledger rows 14–15, state not kept). On CPU
#: the next run needs capacity that costs few parameters (wider high-resolution stages, whose weights
#: are small); this recipe is for a lent GPU, in one lease.
#:
#: The lease of 2026-11-25 ran it (``atomcount.hrtem.training.lease``, variant ``s2w32``: batch 32, 11 400
#: steps, 365 000 images) beside the shipped stride-1 model widened to width 32 (``s1w32``): whole-frame
#: exact 0.806 (stride 2) and 0.838 (stride 1, shipped) — docs/compute_log.md, BENCHMARKS.md
#: ``hrtem-gpu-lease``. Width-32 runs go on in leases; their checkpoints cannot be committed.
RECIPE = TrainConfig(data=["data/train"], val_data=None, out=str(STATE_DIR), steps=60_000, batch=8, crop=128,
                     width=32, input_stride=2, lr=4e-4, seed=18, checkpoint_every=1000, val_every=0, threads=1,
                     workers=1, particle_bias=0.5, curriculum_fraction=0.0, detector_mix=0.5, log_every=100,
                     checkpoint_seconds=600.0, init=str(STATE_DIR / "init-seed17-s2w16.pt"), ema_decay=0.999)

#: Data sets the recipe trains on, with the commands that regenerate them.
TRAIN_SETS = (("data/train", 1200, 1),)

LEDGER_FIELDS = ["date", "chunk", "recipe", "steps", "cpu_hours", "wall_hours", "head", "exact", "within_1",
                 "exact_ge10", "precision_1e2", "precision_1e3", "precision_1e4", "precision_1e5",
                 "recall_min", "shipped"]


#: Largest training checkpoint (MB) a run may have: it is committed after every chunk.
MAX_CHECKPOINT_MB = 16.0


def checkpoint_megabytes(cfg: TrainConfig) -> float:
    """Size (MB) of a run's checkpoint: float32 weights, their weight average and two Adam moments."""
    from atomcount.hrtem.nn.fcn import ColumnFCN

    net = ColumnFCN(width=cfg.width, input_stride=cfg.input_stride)
    n = sum(t.numel() for t in net.state_dict().values())
    return 4 * n * (4 if cfg.ema_decay else 3) / 1e6


def _check_committable(cfg: TrainConfig) -> None:
    """Refuse to begin a run whose checkpoint would be too big to commit after every chunk."""
    size = checkpoint_megabytes(cfg)
    if size > MAX_CHECKPOINT_MB:
        raise AtomcountError(f"the committed recipe's checkpoint would be {size:.0f} MB (width {cfg.width}), more "
                             f"than the {MAX_CHECKPOINT_MB:.0f} MB a commit may carry: choose a smaller network")


def load_recipe(state_dir: Path = STATE_DIR) -> TrainConfig:
    """The run's recipe: ``recipe.json`` when the run exists, else :data:`RECIPE` (written there; refused
    when its checkpoint would be too big to commit)."""
    path = state_dir / "recipe.json"
    if path.exists():
        return TrainConfig(**json.loads(path.read_text()))
    _check_committable(RECIPE)
    state_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(RECIPE), indent=1))
    return RECIPE


def _cpu_hours_before(state_dir: Path) -> float:
    """CPU-hours of the runs before the current one (``restart.json``; 0 for the first run)."""
    path = state_dir / "restart.json"
    return float(json.loads(path.read_text())["cpu_hours_before"]) if path.exists() else 0.0


def restart_run(state_dir: Path = STATE_DIR) -> dict:
    """Replace the finished run in ``state_dir`` by a new one of :data:`RECIPE`.

    The finished run's checkpoint, log, exported weights and recipe are removed (they stay in
    the repository's history); its ledger rows stay, and ``restart.json`` records the CPU-hours
    spent so far, so the ledger's CPU-hours keep adding up across the restart. Refuses while
    the run is unfinished.

    Returns
    -------
    dict
        The contents of ``restart.json``.
    """
    import torch

    _check_committable(RECIPE)  # before anything of the finished run is removed
    ckpt = state_dir / "checkpoint.pt"
    old = load_recipe(state_dir)
    blob = torch.load(ckpt, weights_only=False) if ckpt.exists() else None
    if blob is None or blob["step"] < old.steps:
        at = 0 if blob is None else blob["step"]
        raise AtomcountError(f"the run in {state_dir} is at step {at} of {old.steps}: finish it before a restart")
    info = {"cpu_hours_before": _cpu_hours_before(state_dir) + blob.get("cpu_seconds", 0.0) / 3600,
            "previous_seed": old.seed, "previous_steps": int(blob["step"]), "date": dt.date.today().isoformat()}
    for name in ("checkpoint.pt", "log.csv", "model.pt", "recipe.json"):
        (state_dir / name).unlink(missing_ok=True)
    tmp = state_dir / "restart.json.tmp"
    tmp.write_text(json.dumps(info, indent=1))
    os.replace(tmp, state_dir / "restart.json")
    load_recipe(state_dir)
    return info


def ensure_train_sets(workers: int) -> None:
    """Simulate the recipe's training sets where they are missing or incomplete (resumable)."""
    from atomcount.hrtem.dataset import DatasetSpec, generate, missing_entries

    for root, n, seed in TRAIN_SETS:
        if missing_entries(Path(root), n):
            generate(root, DatasetSpec(n_particles=n, seed=seed), workers=workers)


def run_chunk(*, hours: float | None = None, steps: int | None = None, state_dir: Path = STATE_DIR,
              entries: list | None = None, progress: bool = True) -> dict:
    """Advance the run by a time budget (or a number of steps); returns its state after the chunk.

    Parameters
    ----------
    hours : float, optional
        Wall-clock budget of the training part (h).
    steps : int, optional
        Step budget instead (tests, reproducibility checks).
    state_dir : Path
        Folder holding ``recipe.json`` and ``checkpoint.pt``.
    entries : list, optional
        In-memory training entries instead of the recipe's data folders.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        ``steps`` done so far, ``cpu_hours`` spent so far (runs before a restart included),
        ``wall_hours`` of this run, ``finished``.
    """
    import torch

    from atomcount.hrtem.training.loop import train

    if (hours is None) == (steps is None):
        raise AtomcountError("give exactly one of hours and steps")
    if hours is not None and hours <= 0:
        raise AtomcountError(f"hours must be positive, got {hours}")
    cfg = load_recipe(state_dir)
    cfg.out = str(state_dir)
    ckpt = state_dir / "checkpoint.pt"
    done = torch.load(ckpt, weights_only=False)["step"] if ckpt.exists() else 0
    deadline = time.time() + hours * 3600 if hours is not None else None
    stop_at = done + steps if steps is not None else None
    path = train(cfg, progress=progress, entries=entries, stop_at=stop_at, deadline=deadline)
    blob = torch.load(ckpt, weights_only=False)
    return {"steps": int(blob["step"]), "cpu_hours": _cpu_hours_before(state_dir) + blob.get("cpu_seconds", 0.0) / 3600,
            "wall_hours": blob["elapsed"] / 3600, "finished": path is not None}


def export_weights(state_dir: Path = STATE_DIR) -> Path:
    """Write the checkpoint's weights (its weight average when it keeps one) as ``state_dir/model.pt`` (what ``ship`` reads)."""
    import torch

    from atomcount.core.provenance import machine_description
    from atomcount.hrtem.nn.checkpoint import save_model
    from atomcount.hrtem.nn.fcn import ColumnFCN

    blob = torch.load(state_dir / "checkpoint.pt", weights_only=False)
    model = ColumnFCN(**blob["config"])
    # the weight average when the run keeps one (what the run is evaluated and shipped as)
    model.load_state_dict(blob.get("ema") or blob["model"])
    cfg = load_recipe(state_dir)
    target = state_dir / "model.pt"
    save_model(target, model, {"train_config": asdict(cfg), "steps": blob["step"], "train_seconds": blob["elapsed"],
                               "cpu_hours": blob.get("cpu_seconds", 0.0) / 3600, "machine": machine_description()})
    return target


def ledger_rows(records, *, chunk: str, recipe: str, state: dict, shipped: str) -> list[dict]:
    """Ledger rows (one per head) from a whole-frame evaluation.

    ``shipped`` is ``"yes"`` when these weights were shipped, ``"baseline"`` for the row of
    the model shipped before the run, else ``""``.
    """
    from atomcount.hrtem.evaluation.wholeframe import DOSE_DECADES, decade_name, scores

    rows = []
    for head in ("regression", "classification"):
        s = scores(records, head=head)
        per_decade = [scores(records, head=head, decade=decade_name(d)) for d in DOSE_DECADES]
        rows.append({
            "date": dt.date.today().isoformat(), "chunk": chunk, "recipe": recipe, "steps": state["steps"],
            "cpu_hours": f"{state['cpu_hours']:.2f}", "wall_hours": f"{state['wall_hours']:.2f}", "head": head,
            "exact": f"{s['exact']:.4f}", "within_1": f"{s['within_1']:.4f}",
            "exact_ge10": f"{scores(records, head=head, min_height=10)['exact']:.4f}",
            **{f"precision_{decade_name(d).split('-')[0]}": f"{p['precision']:.4f}"
               for d, p in zip(DOSE_DECADES, per_decade)},
            "recall_min": f"{min(p['recall'] for p in per_decade):.4f}", "shipped": shipped,
        })
    return rows


def append_ledger(rows: list[dict], state_dir: Path = STATE_DIR) -> Path:
    """Append rows to ``state_dir/ledger.csv`` atomically (header written once; folder created)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "ledger.csv"
    old = list(csv.DictReader(path.open())) if path.exists() else []
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=LEDGER_FIELDS)
        w.writeheader()
        w.writerows(old + rows)
    os.replace(tmp, path)
    return path


def read_ledger(state_dir: Path = STATE_DIR) -> list[dict]:
    """The ledger's rows (empty when there is none)."""
    path = state_dir / "ledger.csv"
    return list(csv.DictReader(path.open())) if path.exists() else []


def best_shipped_exact(rows: list[dict]) -> float:
    """Best exact accuracy (either head) of the weights currently shipped, from the ledger."""
    shipped = [r for r in rows if r["shipped"] in ("yes", "baseline")]
    if not shipped:
        return float("nan")
    last_chunk = shipped[-1]["chunk"]
    return max(float(r["exact"]) for r in shipped if r["chunk"] == last_chunk)
