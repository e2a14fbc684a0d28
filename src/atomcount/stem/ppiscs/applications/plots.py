"""Figures like paper 001 Figs. 4–12 from the shipped surrogate: :func:`write_all`."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_fit(path: Path, weights=None) -> None:
    """Fig. 10: measured (library at the truth), start and fitted curves of the synthetic case."""
    from atomcount.stem.ppiscs.applications.fit import SYNTHETIC_CASE, synthetic_fit
    from atomcount.stem.ppiscs.surrogate import predict

    r, measured = synthetic_fit(weights)
    c = SYNTHETIC_CASE
    start = predict(**c["fixed"], **c["measured"], weights=weights)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(1, len(measured) + 1)
    ax.plot(x, measured, "o", ms=3, color="C3", label=f"ground truth (library) {c['truth']}")
    ax.plot(x, start, "-", color="C0", label="surrogate at measured settings")
    ax.plot(x, r.curve, "--", color="C2", label="surrogate after Nelder–Mead: " +
            ", ".join(f"{v:.2f}" for v in r.params.values()))
    ax.set(xlabel="atoms in column", ylabel="PPISCS (Å²)", title=f"{c['fixed']['element']} [{c['fixed']['zone']}] {c['fixed']['voltage_kv']:g} kV fit "
           f"({r.seconds * 1e3:.0f} ms)")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_uncertainty(path: Path, weights=None) -> None:
    """Fig. 11: mean ± std of 1000 Monte Carlo curves for two settings."""
    from atomcount.stem.ppiscs.applications.uncertainty import monte_carlo

    sig = {"convergence_mrad": 0.25, "inner_mrad": 0.5, "outer_mrad": 0.5, "rmsd": 0.0025}
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, zone, inner in zip(axes, ("100", "110"), (60.0, 40.0)):
        s = dict(element="Au", zone=zone, voltage_kv=300.0, convergence_mrad=21.0, inner_mrad=inner,
                 outer_mrad=190.0, rmsd=0.085)
        r = monte_carlo(s, sig, 1000, 0, weights)
        x = np.arange(1, len(r.mean) + 1)
        ax.plot(x, r.mean, color="C0", label="mean")
        ax.fill_between(x, r.mean - r.std, r.mean + r.std, alpha=0.3, label="± std (1000 samples)")
        ax2 = ax.twinx()
        ax2.plot(x, r.std, color="C1")
        ax2.set_ylabel("std (Å²)", color="C1")
        ax.set(xlabel="atoms in column", ylabel="PPISCS (Å²)", title=f"Au [{zone}] α=21, {inner:g}–190 mrad; σ={sig}")
        ax.title.set_fontsize(7)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_error_probability(path: Path, weights=None, dose: float = 1e4) -> None:
    """Fig. 12: probability of error vs inner angle and outer angle / convergence / thickness / voltage."""
    from atomcount.stem.ppiscs.applications.error_probability import error_probability_grid

    base = dict(element="Au", zone="100", voltage_kv=300.0, convergence_mrad=17.5, outer_mrad=250.0, rmsd=0.085)
    inners = np.linspace(20.0, 150.0, 27)
    panels = [("outer_mrad", [150.0, 200.0, 250.0], "θe (mrad)"),
              ("convergence_mrad", [12.0, 17.5, 25.0, 35.5], "α (mrad)"),
              ("max_atoms", [20, 40, 61], "thickness (atoms)"),
              ("voltage_kv", [200.0, 300.0], "HT (kV)"),
              ("rmsd", [0.075, 0.1, 0.125, 0.15], "rmsd (Å)")]
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(20, 3.6))
    for ax, (vary, values, label) in zip(axes, panels):
        ok = [inners < 240.0 if vary != "outer_mrad" else inners <= v - 10.0 for v in values]
        for v, mask in zip(values, ok):
            pe = error_probability_grid(base, inners[mask], vary, [v], dose, extrapolate=False)[0]
            ax.plot(inners[mask], pe, label=f"{v:g}")
        ax.set(xlabel="inner angle θ0 (mrad)", ylabel="probability of error", title=f"{label}, dose {dose:g} e⁻/Å²")
        ax.legend(fontsize=7, title=label, title_fontsize=7)
    fig.suptitle("Au [100], 1…N atoms equally likely; the rmsd panel is the temperature panel (0.075–0.15 Å is "
                 "Au at about 230–900 K); elements: Fig. 9", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(out: str | os.PathLike, weights=None) -> list[Path]:
    """Write every figure into ``out``; returns the paths."""
    from atomcount.stem.ppiscs.applications.sweeps import plot_sweeps
    from atomcount.stem.ppiscs.surrogate import load
    from atomcount.stem.ppiscs.surrogate.evaluate import errors, make_test_set, plot_best_worst, plot_histograms

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = load(weights).meta
    held = meta["holdout_entries"]
    # against the library as the network was trained on it (slicing-corrected or not), as the accuracy bench does
    test = make_test_set(names=meta["domain"]["entries"] + held, slicing_correction=bool(meta.get("slicing_correction")))
    err = errors(weights, test)
    paths = [out / f"ppiscs_fig{k}.png" for k in ("4_errors", "5_curves", "9_sweeps", "10_fit", "11_uncertainty",
                                                  "12_error_probability")]
    plot_histograms(err, test, paths[0], held)
    plot_best_worst(weights, err, test, paths[1], held)
    plot_sweeps(dict(element="Au", zone_axis="100", voltage_kv=300.0, convergence_mrad=21.0, inner_mrad=46.0,
                     outer_mrad=190.0, rmsd=0.085), paths[2], weights)
    plot_fit(paths[3], weights)
    plot_uncertainty(paths[4], weights)
    plot_error_probability(paths[5], weights)
    return paths
