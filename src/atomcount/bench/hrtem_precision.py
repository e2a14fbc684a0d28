"""What bfloat16 inference changes in the counts: ``python -m atomcount.bench.hrtem_precision``.

Runs the trust evaluation (:mod:`atomcount.bench.hrtem_wholeframe`: whole frames of
never-trained particles, every dose decade) once in float32, as the model was trained,
and once in bfloat16 autocast, which ``count --precision auto`` picks on CPUs with
native bfloat16 (about twice as fast, section ``hrtem-inference``), and writes the
``hrtem-precision`` section of BENCHMARKS.md: exact, ±1, precision and recall per head
and dose decade for each, and how many matched columns change their height.
"""
from __future__ import annotations

import argparse

import numpy as np

PRECISIONS = ("float32", "bfloat16")


def precision_markdown(records: dict) -> str:
    """Table of scores per precision, head and decade, and the share of columns read differently."""
    from atomcount.hrtem.evaluation.wholeframe import scores

    lines = ["| head | dose (e⁻/Å²) | " + " | ".join(f"{p} exact / ±1 / precision / recall" for p in PRECISIONS) + " |",
             "|---|---|" + "---|" * len(PRECISIONS)]
    first = records[PRECISIONS[0]]
    decades = sorted(set(first.arrays()[1]["decade"].tolist()), key=lambda d: float(d.split("-")[0]))
    for head in ("classification", "regression"):
        for decade in [None, *decades]:
            where = {"head": head} | ({"decade": decade} if decade else {})
            cells = []
            for p in PRECISIONS:
                s = scores(records[p], **where)
                cells.append(f"{s['exact']:.4f} / {s['within_1']:.4f} / {s['precision']:.4f} / {s['recall']:.4f}")
            lines.append(f"| {head} | {decade or '**all**'} | " + " | ".join(cells) + " |")
    changed = []
    for head in ("classification", "regression"):
        a, b = (records[p].arrays()[0] for p in PRECISIONS)
        ma, mb = a["head"] == head, b["head"] == head
        ra, rb = a["read"][ma], b["read"][mb]
        changed.append(f"{head}: {np.mean(ra != rb):.4f} of {ma.sum()} true columns read differently "
                       f"(missed in one and found in the other included)")
    return "\n".join(lines) + "\n\n" + "; ".join(changed) + ".\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None, help="model file (the shipped one by default)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    a = ap.parse_args()
    from atomcount.bench.hrtem_wholeframe import WHOLEFRAME_INTRO, run
    from atomcount.core.provenance import write_section
    from atomcount.hrtem.analysis.predict import native_bfloat16

    records = {p: run(a.model, threads=a.threads, precision=p) for p in PRECISIONS}
    model = a.model or "the shipped model (src/atomcount/models/fcn_au_300kv.pt)"
    native = "has" if native_bfloat16() else "does NOT have (bfloat16 was emulated, slowly)"
    body = (f"Model: {model}. The trust set of `hrtem-wholeframe`: " + WHOLEFRAME_INTRO
            + f"This machine {native} native bfloat16. Each cell: exact / ±1 / precision / recall.\n\n"
            + precision_markdown(records))
    write_section("hrtem-precision", "HRTEM column heights: float32 vs bfloat16 inference", body,
                  "python -m atomcount.bench.hrtem_precision")
    print(body)


if __name__ == "__main__":
    main()
