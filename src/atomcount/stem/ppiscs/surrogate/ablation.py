"""Ablation of the paper's network (paper 001 Fig. 3): dense vs fully connected, swish vs ReLU, width, depth.

``python -m atomcount.stem.ppiscs.surrogate.ablation --steps 400``

Every variant is trained for the same number of steps with the same seed and data, then
scored on the held-out test set of :mod:`.evaluate` (mean normalised L1). Writes the
``ppiscs-surrogate-ablation`` section of BENCHMARKS.md.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
import numpy as np
import torch

#: (label, DenseNet1D keyword arguments)
VARIANTS = (
    ("dense, swish, G=48, 6 layers", dict(growth=48, layers=6)),
    ("fully connected, swish, G=48, 6 layers", dict(growth=48, layers=6, dense=False)),
    ("dense, ReLU, G=48, 6 layers", dict(growth=48, layers=6, activation="relu")),
    ("dense, swish, G=24, 6 layers", dict(growth=24, layers=6)),
    ("dense, swish, G=96, 6 layers", dict(growth=96, layers=6)),
    ("dense, swish, G=48, 3 layers", dict(growth=48, layers=3)),
    ("dense, swish, G=48, 10 layers", dict(growth=48, layers=10)),
)


@click.command()
@click.option("--steps", default=400, show_default=True)
@click.option("--seed", default=0, show_default=True)
def main(steps, seed):
    """Train every variant for --steps and write the ablation table."""
    from atomcount.core.provenance import write_section
    from atomcount.stem.ppiscs.surrogate.evaluate import errors, make_test_set
    from atomcount.stem.ppiscs.surrogate.features import build_table
    from atomcount.stem.ppiscs.surrogate.train import TRAIN_ALPHAS, export, train

    torch.set_num_threads(1)
    table = build_table(TRAIN_ALPHAS, dtype=np.float32)
    test = make_test_set(names=sorted(set(table.entry.tolist())))  # new (α, θ0, θe) of the trained entries
    rows = ["| variant | parameters | seconds | held-out mean L1n |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for label, kw in VARIANTS:
            t0 = time.perf_counter()
            model, _, _ = train("dense", table, steps, seed=seed, lr=2e-3, batch=128, log_every=10**9, **kw)
            seconds = time.perf_counter() - t0
            path = Path(tmp) / "m.npz"
            export(model, "dense", path, {})
            from atomcount.stem.ppiscs.surrogate import load

            load.cache_clear()
            e = errors(path, test)
            n = sum(p.numel() for p in model.parameters())
            rows.append(f"| {label} | {n} | {seconds:.0f} | {e.mean():.2e} |")
            print(rows[-1], flush=True)
    body = (f"Each variant: {steps} steps, batch 128, seed {seed}, the paper's loss and schedule "
            "(see `atomcount.stem.ppiscs.surrogate.train`), trained on every library entry present; scored on new "
            f"(α, θ0, θe) of those entries ({len(test)} curves; entries: {', '.join(sorted(set(test.entry.tolist())))}). Budgets this short rank "
            "the variants' early progress, not their converged accuracy.\n\n" + "\n".join(rows))
    write_section("ppiscs-surrogate-ablation", "PPISCS surrogate: ablation of the paper's network (Fig. 3)", body,
                  f"python -m atomcount.stem.ppiscs.surrogate.ablation --steps {steps} --seed {seed}")


if __name__ == "__main__":
    main()
