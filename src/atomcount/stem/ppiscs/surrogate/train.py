"""Train a PPISCS surrogate on the library and export it for :mod:`.numpy_infer`.

``python -m atomcount.stem.ppiscs.surrogate.train --model additive --steps 6000 --out runs/ppiscs/additive``

Data: every library entry not held out, at the training convergence angles
:data:`TRAIN_ALPHAS` (α on a 0.2-mrad grid), with detectors drawn afresh every step
(:func:`~.features.sample_detectors`). The test set (:mod:`.evaluate`) uses other
convergence angles and other detectors, and whole held-out entries.

Loss (paper 001 Eq. 1): λ1·L1n + λ2·L2n + λlog·L1log (+ λc·L1cstr for the paper's
network; it vanishes identically for the additive one), normalised by max(y) per curve.
Two stages with the paper's weights: stage 1 (first 1/9 of the steps, 20 of 180 epochs
in the paper) λ = (0.1, 0.01, 16, 0.01), stage 2 λ = (100, 2e4, 16, 100). Learning
rate: linear warm-up, then exponential decay; Adam. The paper's learning rates
(5e-5, 2.5e-5) assume 16 M examples × 180 epochs on a GPU; this CPU budget uses a
larger rate (``--lr``) and fewer steps.

Resumable: with ``--checkpoint FILE --hours H`` a run advances in time-boxed chunks (state written
atomically every 10 minutes and at the stop; the same command continues it) and exports the
weights once it has done ``--steps``; chunks reach the same weights as one uninterrupted run.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import click
import numpy as np
import torch

from atomcount.core.errors import AtomcountError
from atomcount.stem.ppiscs.surrogate.features import (
    EDGE_NODES, CurveTable, build_table, detector_basis, encode_full, network_inputs, sample_detectors, N_OUT, NODES,
)
from atomcount.stem.ppiscs.surrogate.nets import AdditiveNet, DenseNet1D

#: Training convergence angles (mrad); the test set draws others from the same range.
ALPHA_RANGE = (10.0, 35.5)
TRAIN_ALPHAS = np.round(np.arange(ALPHA_RANGE[0], ALPHA_RANGE[1] + 1e-9, 0.2), 3)
STAGE_WEIGHTS = ((0.1, 0.01, 16.0, 0.01), (100.0, 2e4, 16.0, 100.0))


def losses(pred: torch.Tensor, true: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """L1n, L2n, L1log of curves (…, 87): means over every curve's atoms; ``mask`` (broadcast with the
    curves) marks the atoms each curve has."""
    mask = mask.expand_as(true)
    scale = (true * mask).amax(-1, keepdim=True)
    d = (pred - true) / scale * mask
    count = mask.sum()
    logd = (torch.log(pred.clamp_min(1e-12)) - torch.log(true.clamp_min(1e-12))) * mask
    return {"l1n": d.abs().sum() / count, "l2n": (d**2).sum() / count, "l1log": logd.abs().sum() / count}


class Sampler:
    """Batches of (settings, detectors, target curves) from a :class:`CurveTable`."""

    def __init__(self, table: CurveTable, seed: int, edge: bool = False, harmonics: int = 0,
                 elements: bool = False):
        self.table, self.edge = table, edge
        self.rng = np.random.default_rng(seed)
        self.x = network_inputs(table.inputs(), harmonics, elements)
        self.mask = (np.arange(N_OUT) < table.n_atoms()[:, None]).astype(np.float32)

    def settings(self, batch: int) -> np.ndarray:
        return self.rng.integers(len(self.table), size=batch)

    def additive(self, batch: int, detectors: int) -> tuple[torch.Tensor, ...]:
        idx = self.settings(batch)
        inner, outer = sample_detectors(self.rng, (batch, detectors))
        b = detector_basis(inner, outer, self.table.alpha[idx, None], edge_nodes=EDGE_NODES if self.edge else None)
        y = self.table.ppiscs(idx[:, None], inner, outer)
        t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
        return t(self.x[idx]), t(b), t(y), t(self.mask[idx][:, None, :])

    def dense(self, batch: int) -> tuple[torch.Tensor, ...]:
        idx = self.settings(batch)
        inner, outer = sample_detectors(self.rng, (batch,))
        # split point with both parts ≥ 5 mrad wide for the additivity constraint
        mid = self.rng.uniform(inner + 5.0, outer - 5.0)
        cs = self.rng.uniform(-1.0, 1.0, batch)
        df = self.rng.uniform(-100.0, 100.0, batch)
        tb = self.table
        enc = lambda a, b: encode_full(tb.z[idx], tb.zone[idx], tb.kv[idx], tb.alpha[idx], tb.rmsd[idx], a, b, cs, df)  # noqa: E731
        y = tb.ppiscs(idx, inner, outer)
        t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
        return t(enc(inner, outer)), t(enc(inner, mid)), t(enc(mid, outer)), t(y), t(self.mask[idx])


def make_model(kind: str, **kw) -> torch.nn.Module:
    """``"additive"`` → :class:`AdditiveNet`, ``"dense"`` → :class:`DenseNet1D` (kw: their arguments)."""
    if kind == "additive":
        return AdditiveNet(**kw)
    if kind == "dense":
        return DenseNet1D(**kw)
    raise ValueError(f"unknown model {kind!r}")


def _save_state(path: Path, state: dict) -> None:
    """Write a training state atomically (``torch.save`` to a temporary name, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(kind: str, table: CurveTable, steps: int, seed: int = 0, lr: float = 1e-3, warmup: int = 300,
          batch: int = 256, detectors: int = 8, log_every: int = 200, *, checkpoint: str | os.PathLike | None = None,
          until_step: int | None = None, deadline: float | None = None, checkpoint_seconds: float = 600.0,
          **model_kw) -> tuple[torch.nn.Module, list[dict], dict]:
    """Train a model, resumably; returns it, the log (step, seconds, losses) and the run's status.

    ``batch`` is the number of settings per step; the additive network sees ``detectors``
    detectors per setting (cheap: its trunk does not depend on the detector), the dense
    one one detector per setting plus the two halves for the constraint.

    With ``checkpoint`` (a file) the run resumes from it when it exists — it must have been
    written with the same settings and training entries — and writes it atomically every
    ``checkpoint_seconds`` and when it stops: at ``steps``, at ``until_step`` or when
    ``time.time()`` passes ``deadline``. Weights, Adam state, step, the batch generator's
    state and the log are kept, so chunks reach the same weights as one uninterrupted run.

    Returns
    -------
    model, log, status
        ``status``: {"step": steps done, "steps": steps, "finished": bool, "seconds": training
        seconds over all chunks}.
    """
    config = {"kind": kind, "steps": steps, "seed": seed, "lr": lr, "warmup": warmup, "batch": batch,
              "detectors": detectors, "model_kw": model_kw, "entries": sorted(set(table.entry.tolist())),
              "settings": len(table), "curve_sum": float(table.cum.sum(dtype=np.float64))}  # the data, e.g. corrected or not
    torch.manual_seed(seed)
    model = make_model(kind, **model_kw)
    sampler = Sampler(table, seed + 1, edge=bool(model_kw.get("edge", False)),
                      harmonics=int(model_kw.get("alpha_harmonics", 0)),
                      elements=bool(model_kw.get("element_onehot", False)))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start, log, done_seconds = 0, [], 0.0
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        state = torch.load(path, weights_only=False)
        if state["config"] != config:
            diff = sorted(k for k in config if state["config"].get(k) != config[k])
            raise AtomcountError(f"{path} was written by a run with other settings ({', '.join(diff)}); "
                                 "pass another --checkpoint or delete it to start over")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sampler.rng.bit_generator.state = state["rng"]
        start, log, done_seconds = state["step"], state["log"], state["seconds"]
    stop = min(steps, until_step) if until_step is not None else steps
    stage1 = max(1, steps // 9)
    final_lr = lr / 20
    t0 = last_save = time.perf_counter()

    def status(step: int) -> dict:
        return {"step": step, "steps": steps, "finished": step >= steps,
                "seconds": done_seconds + time.perf_counter() - t0}

    def save(step: int) -> None:
        if path is not None:
            _save_state(path, {"config": config, "model": model.state_dict(), "optimizer": opt.state_dict(),
                               "rng": sampler.rng.bit_generator.state, "step": step, "log": log,
                               "seconds": status(step)["seconds"]})

    step = start
    for step in range(start, stop):
        if deadline is not None and time.time() >= deadline:
            break
        if step < warmup:
            rate = lr * (step + 1) / warmup
        else:
            rate = lr * (final_lr / lr) ** ((step - warmup) / max(1, steps - warmup))
        for g in opt.param_groups:
            g["lr"] = rate
        w1, w2, wlog, wc = STAGE_WEIGHTS[0 if step < stage1 else 1]
        if kind == "additive":
            x, b, y, m = sampler.additive(batch, detectors)
            parts = losses(model(x, b), y, m)
            cstr = torch.zeros(())
        else:
            x, xa, xb, y, m = sampler.dense(batch)
            parts = losses(model(x), y, m)
            scale = (y * m).amax(-1, keepdim=True)
            cstr = (((model(xa) + model(xb)) - y) / scale * m).abs().sum() / m.sum()
        loss = w1 * parts["l1n"] + w2 * parts["l2n"] + wlog * parts["l1log"] + wc * cstr
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            rec = {"step": step, "seconds": round(status(step)["seconds"], 1), "lr": rate,
                   **{k: float(v.detach()) for k, v in parts.items()}, "cstr": float(cstr.detach())}
            log.append(rec)
            print(json.dumps(rec), flush=True)
        if time.perf_counter() - last_save >= checkpoint_seconds:
            save(step + 1)
            last_save = time.perf_counter()
    else:
        step = stop
    save(step)
    return model, log, status(step)


def export(model: torch.nn.Module, kind: str, path: Path, meta: dict) -> None:
    """Write the weights as float32 arrays (``.npz``) for :mod:`.numpy_infer`, with ``meta`` as JSON inside."""
    arrays: dict[str, np.ndarray] = {}
    if kind == "additive":
        linears = [m for m in model.trunk if isinstance(m, torch.nn.Linear)]
        for k, lin in enumerate(linears):
            arrays[f"trunk{k}_w"] = lin.weight.detach().numpy().T
            arrays[f"trunk{k}_b"] = lin.bias.detach().numpy()
        for name in ("head_u", "head_v"):
            lin = getattr(model, name)
            arrays[f"{name}_w"] = lin.weight.detach().numpy().T
            arrays[f"{name}_b"] = lin.bias.detach().numpy()
        arrays["v_scale"] = (model.prior * model.log_scale.exp()).detach().numpy()
        arrays["nodes"] = NODES
        if model.edge:
            arrays["edge_nodes"] = EDGE_NODES
    else:
        for k, lin in enumerate(model.hidden):
            arrays[f"hidden{k}_w"] = lin.weight.detach().numpy().T
            arrays[f"hidden{k}_b"] = lin.bias.detach().numpy()
        arrays["out_w"] = model.out.weight.detach().numpy().T
        arrays["out_b"] = model.out.bias.detach().numpy()
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, meta=np.array(json.dumps({"kind": kind, **meta})), **arrays)
    os.replace(tmp, path)


def domain_of(table: CurveTable) -> dict:
    """The trained domain: the entries' settings and the continuous ranges sampled."""
    from atomcount.stem.ppiscs.surrogate.features import MIN_WIDTH, THETA_MAX, THETA_MIN

    return {
        "entries": sorted(set(table.entry.tolist())),
        "settings": sorted({(int(z), str(zo), float(kv), float(r)) for z, zo, kv, r in
                            zip(table.z, table.zone, table.kv, table.rmsd)}),
        "alpha_mrad": list(ALPHA_RANGE),
        "theta_mrad": [THETA_MIN, THETA_MAX],
        "min_width_mrad": MIN_WIDTH,
    }


@click.command()
@click.option("--model", "kind", type=click.Choice(["additive", "dense"]), required=True)
@click.option("--steps", default=6000, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--lr", default=1e-3, show_default=True)
@click.option("--batch", default=256, show_default=True, help="Settings per step.")
@click.option("--detectors", default=8, show_default=True, help="Detectors per setting (additive).")
@click.option("--width", default=128, show_default=True, help="Additive: trunk width. Dense: growth G.")
@click.option("--depth", default=4, show_default=True, help="Additive: trunk depth. Dense: layers.")
@click.option("--rank", default=8, show_default=True, help="Additive: factorisation rank.")
@click.option("--edge/--no-edge", default=False, show_default=True,
              help="Additive: add hats on θ − α that follow the bright-field disc edge (measured: no gain; "
                   "BENCHMARKS.md, ppiscs-surrogate-accuracy).")
@click.option("--alpha-harmonics", default=0, show_default=True,
              help="Additive: follow the settings by sin/cos of π·2^k·α for k < n (features.alpha_harmonics; "
                   "measured: BENCHMARKS.md, ppiscs-surrogate-learning).")
@click.option("--element-onehot/--no-element-onehot", default=False, show_default=True,
              help="Additive: one input indicator per element (features.network_inputs).")
@click.option("--slicing-correction/--no-slicing-correction", default=False, show_default=True,
              help="Train on the library corrected to converged slicing (the shipped table, "
                   "atomcount.stem.ppiscs.slicing_correction); every entry needs a row in it.")
@click.option("--holdout", default="", help="Comma-separated entry names never used in training.")
@click.option("--library", default=None, type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(), help="Output .npz of the weights.")
@click.option("--checkpoint", default=None, type=click.Path(dir_okay=False),
              help="Resume from / save the training state here (atomically, every 10 min and at the stop).")
@click.option("--hours", default=None, type=float, help="With --checkpoint: stop after this wall time (h); "
              "run the same command again to continue.")
def main(kind, steps, seed, lr, batch, detectors, width, depth, rank, edge, alpha_harmonics, element_onehot,
         slicing_correction, holdout,
         library, out, checkpoint, hours):
    """Train a PPISCS surrogate (one thread) and export its weights when it has done --steps."""
    from atomcount.stem.ppiscs.library import list_entries
    from atomcount.stem.ppiscs.slicing_correction import load_correction

    if hours is not None and checkpoint is None:
        raise click.UsageError("--hours needs --checkpoint (the state to continue from)")
    torch.set_num_threads(1)
    held = [h for h in holdout.split(",") if h]
    names = [d["path"] and Path(d["path"]).stem for d in list_entries(library)]
    train_names = [n for n in names if n not in held]
    t0 = time.perf_counter()
    correction = load_correction() if slicing_correction else None
    table = build_table(TRAIN_ALPHAS, library, train_names, dtype=np.float32, correction=correction)
    print(f"table: {len(table)} settings from {len(train_names)} entries in {time.perf_counter() - t0:.0f} s", flush=True)
    kw = (dict(width=width, depth=depth, rank=rank, edge=edge, alpha_harmonics=alpha_harmonics,
               element_onehot=element_onehot) if kind == "additive"
          else dict(growth=width, layers=depth))
    deadline = time.time() + 3600 * hours if hours is not None else None
    model, log, status = train(kind, table, steps, seed=seed, lr=lr, batch=batch, detectors=detectors,
                               checkpoint=checkpoint, deadline=deadline, **kw)
    seconds = status["seconds"]
    if not status["finished"]:
        print(f"stopped at step {status['step']} of {steps} ({seconds / 3600:.2f} CPU-h so far); state in "
              f"{checkpoint}: run the same command again to continue")
        return
    meta = {"model_kw": kw, "domain": domain_of(table), "holdout_entries": held, "train_alphas": "10…35.5 mrad step 0.2",
            "slicing_correction": correction.describe() if correction else None,
            "steps": steps, "seed": seed, "lr": lr, "batch": batch, "detectors": detectors,
            "train_seconds": round(seconds), "final_log": log[-1],
            "command": f"python -m atomcount.stem.ppiscs.surrogate.train --model {kind} --steps {steps} --seed {seed} "
                       f"--lr {lr} --batch {batch} --detectors {detectors} --width {width} --depth {depth} --rank {rank}"
                       + (" --edge" if edge and kind == "additive" else "")
                       + (f" --alpha-harmonics {alpha_harmonics}" if alpha_harmonics and kind == "additive" else "")
                       + (" --element-onehot" if element_onehot and kind == "additive" else "")
                       + (" --slicing-correction" if slicing_correction else "")
                       + (f" --holdout {holdout}" if holdout else "") + f" --out {out}"
                       + (f" --checkpoint {checkpoint} (in chunks of --hours)" if checkpoint else "")}
    export(model, kind, Path(out), meta)
    torch.save({"state": model.state_dict(), "meta": meta, "log": log}, Path(out).with_suffix(".pt"))
    print(f"wrote {out} ({seconds:.0f} s training)")


if __name__ == "__main__":
    main()
