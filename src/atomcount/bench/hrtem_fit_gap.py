"""Does the HRTEM model underfit or overfit? ``python -m atomcount.bench.hrtem_fit_gap``.

The same evaluation (:func:`atomcount.hrtem.evaluation.report.accuracy_report`: images over the full
Table 1 ranges, and one defocus across the dose decades) on particles the model was trained on
(``data/train``) and on particles of the same family it never saw (``data/test``). Equal scores mean the
model cannot yet fit its own training particles — more distinct particles will not help, capacity or
optimisation will; a training score well above the held-out one means the opposite. A diagnostic for
choosing the next training run (issues 9 item 7 and 16), not an accuracy claim: the trust evaluation is
``hrtem-wholeframe``. Writes the ``hrtem-fit-gap`` section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse

import numpy as np

#: Dose decades of the per-dose part (e⁻/Å²) and its defocus (Å, mid Table 1 range).
DOSES = (1e2, 1e3, 1e4, 1e5, 1e6)
DEFOCUS = -200.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None, help="model file (the shipped one by default)")
    ap.add_argument("--particles", type=int, default=250, help="particles drawn from each set")
    ap.add_argument("--images", type=int, default=200, help="images per set (the per-dose cells get a tenth each)")
    a = ap.parse_args()
    if a.particles < 1 or a.images < 10:
        ap.error("--particles must be ≥ 1 and --images ≥ 10")
    import torch

    from atomcount.core.provenance import write_section
    from atomcount.hrtem.analysis.count import load_counting_model
    from atomcount.hrtem.evaluation.report import accuracy_report, sensitivity_grid
    from atomcount.hrtem.training.stream import load_entries

    torch.set_num_threads(1)
    model, _ = load_counting_model(a.model)
    rows = []
    for name, role in (("data/train", "trained on"), ("data/test", "never seen, same family")):
        entries = load_entries([name])[: a.particles]
        scores = accuracy_report(model, entries, a.images)
        grid = sensitivity_grid(model, entries, [DEFOCUS], list(DOSES), a.images // 10)
        for head in ("classification", "regression"):
            s = scores[head]
            dose = " | ".join(f"{v:.3f}" for v in np.asarray(grid[head])[0])
            rows.append(f"| {head} | {name} ({role}) | {s.accuracy:.3f} | {s.within_one:.3f} | {dose} |")
    model_name = a.model or "the shipped model"
    body = f"""Model: {model_name}. {a.images} images of the first {a.particles} particles of each set, every
parameter from the Table 1 ranges (64 Å fields, particle-centred: the training distribution), and
{a.images // 10} images per dose at C10 = {DEFOCUS:g} Å. Exact-height fraction of true columns.

| head | particles | exact | ±1 | """ + " | ".join(f"exact at {d:.0e}" for d in DOSES) + """ |
|---|---|---|---|""" + "---|" * len(DOSES) + "\n" + "\n".join(rows) + """

Reading: where the two sets score alike the model does not fit its own training particles better than
new ones — it underfits, and more distinct training particles would not raise its accuracy; a wider or
longer-trained network would."""
    cmd = "python -m atomcount.bench.hrtem_fit_gap" + (f" --model {a.model}" if a.model else "") + (
        f" --particles {a.particles}" if a.particles != 250 else "") + (f" --images {a.images}" if a.images != 200 else "")
    write_section("hrtem-fit-gap", "HRTEM: fit on training particles vs held-out particles", body, cmd)
    print(body)


if __name__ == "__main__":
    main()
