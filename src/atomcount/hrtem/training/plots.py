"""Learning-curve figure from a training log."""
from __future__ import annotations

import csv
from pathlib import Path


def plot_learning_curve(log_csv: str | Path, out_png: str | Path) -> Path:
    """Plot loss (smoothed) and validation accuracy against step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = list(csv.DictReader(open(log_csv)))
    step = np.array([int(r["step"]) for r in rows])
    loss = np.array([float(r["loss"]) for r in rows])
    k = max(1, len(loss) // 100)
    smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].plot(step[k - 1 :], smooth)
    ax[0].set_yscale("log")
    ax[0].set_xlabel("step")
    ax[0].set_ylabel("training loss (MSE + CE)")
    val = [(int(r["step"]), float(r["val_accuracy"]), float(r["val_accuracy_cls"])) for r in rows if r["val_accuracy"]]
    if val:
        v = np.array(val)
        ax[1].plot(v[:, 0], v[:, 1], "o-", label="regression")
        ax[1].plot(v[:, 0], v[:, 2], "s-", label="classification")
        ax[1].legend()
    ax[1].set_xlabel("step")
    ax[1].set_ylabel("held-out exact-height accuracy")
    ax[1].set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)
