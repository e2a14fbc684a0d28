"""Benchmark of the PPISCS surrogate: held-out accuracy, additivity, speed, fit, Monte Carlo.

``python -m atomcount.bench.ppiscs_surrogate [--weights W] [--compare other.npz …]``

Writes the ``ppiscs-surrogate-*`` sections of BENCHMARKS.md. NumPy runs on one thread
(the variables below are set before NumPy is imported).
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import sys  # noqa: E402
import time  # noqa: E402

import click  # noqa: E402
import numpy as np  # noqa: E402

from atomcount.core.provenance import write_section  # noqa: E402

CMD = "python -m atomcount.bench.ppiscs_surrogate"


def _accuracy(weights_list: list[str | None]) -> str:
    from atomcount.stem.ppiscs.surrogate import load
    from atomcount.stem.ppiscs.surrogate.evaluate import additivity_error, errors, make_test_set

    sets: dict[bool, object] = {}

    def test_for(meta: dict):
        """The held-out curves against the library as the model was trained on it (slicing-corrected or not)."""
        corrected = bool(meta.get("slicing_correction"))
        if corrected not in sets:
            sets[corrected] = make_test_set(slicing_correction=corrected)
        return sets[corrected]

    rows = ["| network | trained on | test | curves | mean L1n | 99th pct | max | additivity error |",
            "|---|---|---|---|---|---|---|---|"]
    by_inner = ["| network | detector inner angle θ0 | curves | mean L1n | 99th pct | max |", "|---|---|---|---|---|---|"]
    for w in weights_list:
        m = load(w)
        test = test_for(m.meta)
        e = errors(w, test)
        label = f"{m.kind} {m.meta['model_kw']}, {m.meta['steps']} steps" + (
            ", slicing-corrected library" if m.meta.get("slicing_correction") else "")
        for lo, hi in ((18, 40), (40, 100), (100, 250)):
            k = (test.inner >= lo) & (test.inner < hi)
            by_inner.append(f"| {label} | {lo}–{hi} mrad | {k.sum()} | {e[k].mean():.2e} | "
                            f"{np.percentile(e[k], 99):.2e} | {e[k].max():.2e} |")
        trained = np.isin(test.entry, m.meta["domain"]["entries"])
        for name, k in (("new (α, θ0, θe), trained entries", trained), ("entries never trained on", ~trained)):
            if k.any():
                rows.append(f"| {label} | {len(m.meta['domain']['entries'])} entries | {name} | {k.sum()} | "
                            f"{e[k].mean():.2e} | {np.percentile(e[k], 99):.2e} | {e[k].max():.2e} | "
                            f"{additivity_error(w, test) if name.startswith('new') else float('nan'):.1e} |")
    m = load(weights_list[0])
    test = test_for(m.meta)
    e = errors(weights_list[0], test)
    per = ["| entry | in training | curves | mean L1n | 99th pct | max |", "|---|---|---|---|---|---|"]
    for name in sorted(set(test.entry.tolist())):
        k = test.entry == name
        seen = "yes" if name in m.meta["domain"]["entries"] else (
            "held out" if name in m.meta["holdout_entries"] else "no (added to the library later)")
        per.append(f"| {name} | {seen} | {k.sum()} | {e[k].mean():.2e} | {np.percentile(e[k], 99):.2e} | {e[k].max():.2e} |")
    return (
        "Test curves: for every library entry, 12 convergence angles drawn uniformly in 10…35.5 mrad, each ≥ 0.02 mrad "
        "off the 0.2-mrad training grid, × 20 random detectors (θ0 in 18…240 mrad, θe in θ0+10…250 mrad), from a "
        "random stream separate from training; ground truth = the library's own PPISCS (`source=\"library\"`, "
        "slicing-corrected for a network trained on the corrected library). "
        "Two tests, never mixed: **new (α, θ0, θe) on trained entries** (interpolation in the continuous settings) and "
        "**entries never trained on** (a new element/zone/voltage: extrapolation in Z, which the shipped "
        "surrogate refuses at its interface). Normalised L1 (L1n) = mean over atoms of |pred − sim| / max(sim) "
        "(paper 001 Eq. 2). Additivity error = max |P(θ0,θm)+P(θm,θe)−P(θ0,θe)| / max P(θ0,θe).\n\n"
        + "\n".join(rows) + "\n\nBy the detector's inner angle (below ≈ 40 mrad the detector edge meets "
        "the bright-field disc, whose edge moves with α):\n\n" + "\n".join(by_inner)
        + "\n\nPer entry, first network:\n\n" + "\n".join(per)
    )


def _speed(weights: str | None) -> str:
    from atomcount.stem.ppiscs.surrogate import load, predict, predict_batch

    model = load(weights)
    rng = np.random.default_rng(0)
    b = 10000
    inner = rng.uniform(18, 200, b)
    args = ("Au", np.where(rng.random(b) < 0.5, "100", "110"), 300.0, rng.uniform(10, 35.5, b), inner,
            rng.uniform(inner + 10, 250), 0.085)
    predict_batch(*args, weights=weights, check=False)
    best = min(_timed(lambda: predict_batch(*args, weights=weights, check=False)) for _ in range(5))
    raw = min(_timed(lambda: model.curves(79, args[1], 300.0, args[3], 0.085, args[4], args[5])) for _ in range(5))
    predict("Au", "100", 300.0, 21.0, 46.0, 190.0, 0.085, weights=weights)
    n = 2000
    single = min(_timed(lambda: [predict("Au", "100", 300.0, 21.0, 46.0, 190.0, 0.085, weights=weights)
                                 for _ in range(n)]) for _ in range(3)) / n
    torch_loaded = "torch" in sys.modules
    return (
        "| measure | time | target |\n|---|---|---|\n"
        f"| batched, {b} random settings, `predict_batch(check=False)` | {best / b * 1e6:.1f} µs per curve | ≤ 10 µs |\n"
        f"| batched, network only (`Surrogate.curves`) | {raw / b * 1e6:.1f} µs per curve | |\n"
        f"| one call from Python, `predict(...)` (domain check included) | {single * 1e6:.0f} µs | ≤ 100 µs |\n\n"
        f"One thread (OMP/OpenBLAS = 1), float32. torch imported by the inference path: {torch_loaded}. "
        "Other jobs on the machine (see the load average above) make these upper bounds."
    )


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _applications(weights: str | None) -> str:
    from atomcount.stem.ppiscs.applications.fit import SYNTHETIC_CASE, synthetic_fit
    from atomcount.stem.ppiscs.applications.uncertainty import monte_carlo

    r, _ = synthetic_fit(weights)
    times = [synthetic_fit(weights)[0].seconds for _ in range(3)]
    c = SYNTHETIC_CASE
    lines = ["| setting | truth | measured (start) | σ | fitted |", "|---|---|---|---|---|"]
    for k in c["truth"]:
        lines.append(f"| {k} | {c['truth'][k]} | {c['measured'][k]} | {c['sigmas'][k]} | {r.params[k]:.2f} |")
    s = dict(**c["fixed"], **c["truth"])
    mc = [monte_carlo(s, {"convergence_mrad": 0.25, "inner_mrad": 0.5, "outer_mrad": 0.5, "rmsd": 0.0025}, 1000, k,
                      weights).seconds for k in range(3)]
    return (
        "The case of paper 001 Fig. 10 (Ag [001], 300 kV, its true and 'measured' α, θ0, θe and σ; rmsd 0.085 Å, the "
        "library's value, instead of the paper's 0.092 Å); the measured curve is "
        "the library simulation at the true settings, the fit starts from the 'measured' settings and stays within "
        "±3σ; Nelder–Mead on the mean absolute difference.\n\n" + "\n".join(lines) +
        f"\n\nFit time: {min(times) * 1e3:.0f} ms (best of 3; {r.evaluations} surrogate evaluations; target ≤ 100 ms); "
        f"mean |residual| {r.cost:.2e} Å².\n\n"
        f"Monte Carlo uncertainty, 1000 samples (uniform within ±σ, α 0.25, θ0 0.5, θe 0.5 mrad, rmsd 0.0025 Å, "
        f"one batch): {min(mc) * 1e3:.1f} ms."
    )


@click.command()
@click.option("--weights", default=None, help="Surrogate .npz [default: shipped].")
@click.option("--compare", multiple=True, help="Other weights to list in the accuracy table.")
@click.option("--sections", default="speed,accuracy,applications", show_default=True,
              help="Comma-separated sections to run (timings want an otherwise idle machine).")
def main(weights, compare, sections):
    """Run the surrogate benchmarks and write their BENCHMARKS.md sections."""
    chosen = sections.split(",")
    unknown = set(chosen) - {"speed", "accuracy", "applications"}
    if unknown:
        raise click.UsageError(f"unknown section {sorted(unknown)[0]!r}; choose from speed, accuracy, applications")
    command = CMD + "".join(f" --{k} {v}" for k, v in (("weights", weights), ("sections", sections)) if v
                            and not (k == "sections" and v == "speed,accuracy,applications"))
    command += "".join(f" --compare {c}" for c in compare)
    if "speed" in chosen:
        speed = _speed(weights)  # first, before anything imports torch
        write_section("ppiscs-surrogate-speed", "PPISCS surrogate: inference time", speed, command)
    if "accuracy" in chosen:
        write_section("ppiscs-surrogate-accuracy", "PPISCS surrogate: held-out error and additivity",
                      _accuracy([weights, *compare]), command)
    if "applications" in chosen:
        write_section("ppiscs-surrogate-applications", "PPISCS surrogate: Nelder–Mead fit and Monte Carlo",
                      _applications(weights), command)


if __name__ == "__main__":
    main()
