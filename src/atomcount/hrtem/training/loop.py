"""Training loop for the column-height FCN: both heads on one trunk.

Loss = weighted pixel MSE of the height map (foreground pixels weighted up so the
background does not dominate; the paper uses a plain RMSE) + soft-target cross-entropy
of the class maps. AdamW with weight decay, cosine learning rate with warm-up, a dose
curriculum (clean images first), checkpoints every ``checkpoint_every`` steps that
resume bit-for-bit (model, optimiser, step and random states), a CSV log and periodic
validation on held-out particles with the paper's metric.
"""
from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from atomcount.core.errors import AtomcountError
from atomcount.hrtem.analysis.predict import resolve_precision
from atomcount.hrtem.nn.checkpoint import save_model
from atomcount.hrtem.nn.fcn import ColumnFCN, widen
from atomcount.hrtem.training.stream import HRTEMStream, iter_batches, load_entries


@dataclass
class TrainConfig:
    """Settings of one training run (stored with the checkpoints).

    Attributes
    ----------
    data : list of str
        Training data set folders.
    val_data : str or None
        Held-out data set folder for periodic validation.
    out : str
        Run folder (checkpoint, log, final model).
    steps : int
        Optimiser steps.
    batch : int
        Images per step.
    crop : int
        Crop side (pixels).
    width : int
        Base width of the FCN.
    lr : float
        Peak learning rate.
    weight_decay : float
        AdamW weight decay.
    class_weight : float
        Weight of the cross-entropy term.
    foreground_weight : float
        Extra MSE weight of pixels inside column Gaussians.
    curriculum_fraction : float
        Fraction of the steps over which the lowest dose falls from 1e4 to the range minimum.
    seed : int
        Seed of every random choice.
    checkpoint_every : int
        Steps between checkpoints.
    val_every : int
        Steps between validations (0: never).
    val_images : int
        Held-out images per validation.
    device : str
        ``"cpu"`` or ``"cuda"``.
    threads : int
        Torch CPU threads.
    workers : int
        Processes rendering training images (0: the training process itself).
    particle_bias : float
        Fraction of crops centred near a column (the rest anywhere in the field, mostly vacuum).
    init : str or None
        Model file whose weights start the run (fine-tuning); ignored when resuming. A model of half
        ``width`` is first widened into an equivalent one (:func:`atomcount.hrtem.nn.fcn.widen`).
    detector_mix : float
        Fraction of training images whose detector MTF acts on the intensity before the shot
        noise (white noise) instead of on the counts (:func:`atomcount.hrtem.imaging.detect`).
    log_every : int
        Steps between rows of ``log.csv`` (validation rows are always written).
    checkpoint_seconds : float
        Longest time between checkpoints (s), whatever ``checkpoint_every`` says.
    precision : str
        Arithmetic of the forward and backward passes (:data:`atomcount.hrtem.analysis.predict.PRECISIONS`):
        ``"bfloat16"`` autocast keeps float32 weights, optimiser and losses; ``"auto"`` uses
        it where the CPU has native bfloat16 (1.6× the steps per CPU-hour there; ``hrtem-train-precision``).
    ema_decay : float
        Keep an exponential moving average of the weights (and batch-norm statistics) with
        this decay per step (0: none); the final model and exported weights are the average.
        At a high learning rate single iterates scatter around the optimum; their average
        reads whole frames better (BENCHMARKS.md, ``hrtem-train-precision`` and ``hrtem-ledger``).
    """

    data: list = field(default_factory=lambda: ["data/train"])
    val_data: str | None = None
    out: str = "runs/fcn"
    steps: int = 20000
    batch: int = 8
    crop: int = 128
    width: int = 16
    input_stride: int = 1
    lr: float = 2e-3
    weight_decay: float = 1e-4
    class_weight: float = 1.0
    foreground_weight: float = 4.0
    curriculum_fraction: float = 0.2
    seed: int = 0
    checkpoint_every: int = 200
    val_every: int = 1000
    val_images: int = 48
    device: str = "cpu"
    threads: int = 2
    workers: int = 0
    particle_bias: float = 0.9
    init: str | None = None
    detector_mix: float = 0.0
    log_every: int = 1
    checkpoint_seconds: float = 600.0
    precision: str = "float32"
    ema_decay: float = 0.0


def carry_over(source: torch.nn.Module, target: torch.nn.Module) -> list[str]:
    """Copy into ``target`` every entry of ``source``'s state with the same name and shape.

    Between networks of the same architecture that is all of it. From a stride-1 to a
    stride-2 network (:class:`~atomcount.hrtem.nn.fcn.ColumnFCN` ``input_stride``) the trunk
    carries over; the first convolution (4 input channels instead of 1) and the heads (2×2
    outputs per trunk pixel) keep their fresh initialisation.

    Returns
    -------
    list of str
        Names of the target's entries that were not carried over.
    """
    mine, theirs = target.state_dict(), source.state_dict()
    fresh = [k for k, v in mine.items() if k not in theirs or theirs[k].shape != v.shape]
    target.load_state_dict({k: (v if k in fresh else theirs[k]) for k, v in mine.items()})
    return fresh


def loss_terms(out: dict, height: torch.Tensor, classes: torch.Tensor, cfg: TrainConfig) -> dict:
    """The two loss terms for one batch."""
    w = 1.0 + cfg.foreground_weight * (1.0 - classes[:, :1])
    mse = (w * (out["regression"] - height) ** 2).sum() / w.sum()
    ce = -(classes * F.log_softmax(out["classification"], dim=1)).sum(dim=1).mean()
    return {"mse": mse, "ce": ce, "loss": mse + cfg.class_weight * ce}


class WeightAverage:
    """Exponential moving average of a model's state (floating entries; others copied).

    Parameters
    ----------
    model : torch.nn.Module
        Model whose current state starts the average.
    decay : float
        Weight of the old average per update (0 < decay < 1).
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise AtomcountError(f"ema_decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def update(self, model: torch.nn.Module) -> None:
        """Fold the model's current state into the average."""
        with torch.no_grad():
            for k, v in model.state_dict().items():
                if v.is_floating_point():
                    self.state[k].mul_(self.decay).add_(v.detach(), alpha=1.0 - self.decay)
                else:
                    self.state[k].copy_(v)


def _lr(step: int, cfg: TrainConfig) -> float:
    warm = max(1, cfg.steps // 50)
    if step < warm:
        return cfg.lr * (step + 1) / warm
    t = (step - warm) / max(1, cfg.steps - warm)
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def _dose_floor(step: int, cfg: TrainConfig, lowest: float) -> float:
    n = cfg.curriculum_fraction * cfg.steps
    if n <= 0 or step >= n:
        return lowest
    return float(np.exp(np.log(1e4) + (np.log(lowest) - np.log(1e4)) * step / n))


def train(cfg: TrainConfig, progress: bool = True, entries: list | None = None,
          val_entries: list | None = None, stop_at: int | None = None,
          deadline: float | None = None) -> Path | None:
    """Train (or resume) a run; returns the path of the final model file.

    Parameters
    ----------
    cfg : TrainConfig
        Settings; ``cfg.data`` / ``cfg.val_data`` are read unless entries are given.
    progress : bool
        Show a progress bar.
    entries, val_entries : list, optional
        In-memory training / validation entries (e.g. one fold of a cross-validation).
    stop_at : int, optional
        Pause after this step (checkpoint written, no final model; returns None) — for
        time-boxed sessions; call again to continue.
    deadline : float, optional
        Pause at the first step that ends after this time (``time.time()``, s), or on
        SIGTERM/SIGINT: a checkpoint is written and None returned; call again to continue.
        Where the pause falls does not change the weights a continued run reaches.
    """
    from tqdm.auto import tqdm

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    stream = HRTEMStream(entries if entries is not None else load_entries(cfg.data), crop=cfg.crop,
                         particle_bias=cfg.particle_bias, detector_mix=cfg.detector_mix)
    model = ColumnFCN(width=cfg.width, input_stride=cfg.input_stride).to(cfg.device)
    if cfg.init:
        from atomcount.hrtem.nn.checkpoint import load_model

        start, _ = load_model(cfg.init)  # on the CPU: widening draws its ε there
        if cfg.width == 2 * start.width:  # grow it without changing what it computes
            start = widen(start, torch.Generator().manual_seed(cfg.seed))
        elif start.width != cfg.width:
            raise AtomcountError(f"--init model has width {start.width}: neither {cfg.width} nor half of it")
        carry_over(start, model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, elapsed, cpu = 0, 0.0, 0.0
    ckpt = out / "checkpoint.pt"
    if ckpt.exists():
        blob = torch.load(ckpt, map_location=cfg.device, weights_only=False)
        model.load_state_dict(blob["model"])
        opt.load_state_dict(blob["optimizer"])
        torch.set_rng_state(blob["torch_rng"])
        step, elapsed, cpu = blob["step"], blob["elapsed"], blob.get("cpu_seconds", 0.0)
    ema = WeightAverage(model, cfg.ema_decay) if cfg.ema_decay else None
    if ema and ckpt.exists() and blob.get("ema") is not None:
        ema.state = blob["ema"]
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1))
    log_path = out / "log.csv"
    _truncate_log(log_path, step)
    if val_entries is None and cfg.val_data:
        val_entries = load_entries([cfg.val_data])
    val = _Validator(val_entries, cfg) if val_entries and cfg.val_every else None
    lowest = stream.ranges.dose[0]
    low = resolve_precision(cfg.precision, cfg.device) == "bfloat16"
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, unit="step", desc="training")
    model.train()
    t0, c0 = time.time() - elapsed, time.process_time() - cpu
    last_save = time.time()
    with open(log_path, "a", newline="") as fh, _StopSignals() as signals:
        log = csv.writer(fh)
        if step == 0:
            log.writerow(["step", "loss", "mse", "ce", "lr", "seconds", "val_accuracy", "val_accuracy_cls"])
        batches = iter_batches(stream, cfg.seed, range(step, min(cfg.steps, stop_at or cfg.steps)), cfg.batch,
                               lambda s: _dose_floor(s, cfg, lowest), cfg.workers)
        for arrays in batches:
            lr = _lr(step, cfg)
            for g in opt.param_groups:
                g["lr"] = lr
            x, h, c = (torch.from_numpy(a).to(cfg.device) for a in arrays)
            with torch.autocast(torch.device(cfg.device).type, dtype=torch.bfloat16, enabled=low):
                maps = model(x)
            terms = loss_terms({k: v.float() for k, v in maps.items()}, h, c, cfg)
            opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            opt.step()
            if ema:
                ema.update(model)
            step += 1
            bar.update()
            row = [step, *(f"{float(terms[k].detach()):.5f}" for k in ("loss", "mse", "ce")), f"{lr:.2e}",
                   f"{time.time() - t0:.1f}", "", ""]
            if val and step % cfg.val_every == 0:
                acc = val.run(model)
                row[-2:] = [f"{acc['regression']:.4f}", f"{acc['classification']:.4f}"]
                bar.set_postfix(val=row[-2])
                model.train()
            if step % cfg.log_every == 0 or row[-1]:
                log.writerow(row)
            pause = signals.received or (deadline is not None and time.time() >= deadline)
            if (step % cfg.checkpoint_every == 0 or step in (cfg.steps, stop_at) or pause
                    or time.time() - last_save >= cfg.checkpoint_seconds):
                fh.flush()
                _save_checkpoint(ckpt, model, opt, step, time.time() - t0, time.process_time() - c0,
                                 ema.state if ema else None)
                last_save = time.time()
            if pause:
                break
    bar.close()
    if step < cfg.steps:
        return None
    final = out / "model.pt"
    from atomcount.core.provenance import machine_description

    if ema:
        model.load_state_dict(ema.state)
    save_model(final, model, {"train_config": asdict(cfg), "steps": step, "train_seconds": time.time() - t0,
                              "machine": machine_description()})
    return final


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows beyond the checkpoint's step (they are redone after a resume)."""
    if not path.exists():
        return
    rows = list(csv.reader(path.open()))
    keep = [r for r in rows if r and (r[0] == "step" or int(r[0]) <= step)]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as fh:
        csv.writer(fh).writerows(keep)
    os.replace(tmp, path)


def _save_checkpoint(path: Path, model, opt, step: int, elapsed: float, cpu_seconds: float,
                     ema: dict | None = None) -> None:
    """Atomic checkpoint: weights, optimiser, RNG, step, wall and CPU seconds so far, weight average."""
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "torch_rng": torch.get_rng_state(), "step": step, "elapsed": elapsed,
                "cpu_seconds": cpu_seconds, "config": model.config(), "ema": ema}, tmp)
    os.replace(tmp, path)


class _StopSignals:
    """Within the block, SIGTERM and SIGINT set ``received`` instead of killing the process.

    Only installed in the main thread (signal handlers cannot be set elsewhere).
    """

    def __init__(self) -> None:
        self.received = False
        self._old: dict = {}

    def _handle(self, signum, frame) -> None:
        self.received = True

    def __enter__(self) -> "_StopSignals":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        import signal

        for sig, handler in self._old.items():
            signal.signal(sig, handler)


class _Validator:
    """Fixed held-out images (same every time) scored with the paper's metric."""

    def __init__(self, entries: list, cfg: TrainConfig) -> None:
        from atomcount.hrtem.evaluation.testset import build_test_images

        self.images = build_test_images(entries, cfg.val_images, seed=12345)
        self.device = cfg.device

    def run(self, model: ColumnFCN) -> dict:
        from atomcount.hrtem.evaluation.testset import score_images

        scores = score_images(model, self.images, device=self.device)
        return {k: v.accuracy for k, v in scores.items()}
