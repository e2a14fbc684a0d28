"""Detection threshold of the classification head: ``python -m atomcount.bench.hrtem_threshold``.

A column is a peak of the foreground probability 1 − P(background) above a threshold
(0.3 so far, never tuned). Lower finds more faint columns (recall) and more phantoms
(precision). The sweep runs on the calibration frames (whole frames of the training family,
:data:`atomcount.hrtem.evaluation.wholeframe.CALIBRATION_SET`, never part of the trust set); the
threshold that maximises the worst of precision and recall over the dose decades there is
then measured once on the trust set. Writes the ``hrtem-threshold`` section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse

from atomcount.hrtem.analysis.readout import DETECTION_THRESHOLD


def decade_table(records, decades: list[str]) -> dict:
    """{decade: (precision, recall, exact)} of the classification head, plus ``"all"``."""
    from atomcount.hrtem.evaluation.wholeframe import scores

    out = {}
    for d in [*decades, "all"]:
        s = scores(records, head="classification", **({} if d == "all" else {"decade": d}))
        out[d] = (s["precision"], s["recall"], s["exact"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None, help="model file (the shipped one by default)")
    ap.add_argument("--thresholds", default="0.15,0.2,0.25,0.3,0.4", help="comma-separated thresholds to sweep")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    a = ap.parse_args()
    from atomcount.bench.hrtem_wholeframe import run
    from atomcount.core.provenance import write_section
    from atomcount.hrtem.evaluation.wholeframe import CALIBRATION_SET, DOSE_DECADES, decade_name

    decades = [decade_name(d) for d in DOSE_DECADES]
    thresholds = [float(t) for t in a.thresholds.split(",")]
    sweep = {t: decade_table(run(a.model, threads=a.threads, threshold=t, sets=(CALIBRATION_SET,),
                                 detectors=None), decades) for t in thresholds}
    best = max(thresholds, key=lambda t: min(min(p, r) for d, (p, r, _) in sweep[t].items() if d != "all"))
    head = "| threshold | " + " | ".join(decades) + " | all: exact |"
    lines = [head, "|---" * (len(decades) + 2) + "|"]
    for t in thresholds:
        mark = " (best)" if t == best else (" (default)" if t == DETECTION_THRESHOLD else "")
        cells = [f"{sweep[t][d][0]:.3f} / {sweep[t][d][1]:.3f}" for d in decades]
        lines.append(f"| {t:g}{mark} | " + " | ".join(cells) + f" | {sweep[t]['all'][2]:.4f} |")
    trust = {t: decade_table(run(a.model, threads=a.threads, threshold=t), decades)
             for t in sorted({best, DETECTION_THRESHOLD})}
    tlines = [head, "|---" * (len(decades) + 2) + "|"]
    for t, tab in trust.items():
        cells = [f"{tab[d][0]:.3f} / {tab[d][1]:.3f}" for d in decades]
        tlines.append(f"| {t:g} | " + " | ".join(cells) + f" | {tab['all'][2]:.4f} |")
    worst = {t: min(min(p, r) for d, (p, r, _) in tab.items() if d != "all") for t, tab in trust.items()}
    verdict = (f"On the trust set the best threshold's worst decade reads {worst[best]:.3f} against "
               f"{worst[DETECTION_THRESHOLD]:.3f} for the default {DETECTION_THRESHOLD:g}: "
               + ("a gain worth a change of the default." if worst[best] > worst[DETECTION_THRESHOLD] + 0.005 else
                  "no real gain, so the default stays; the columns missed at low dose are not a matter of the "
                  "threshold."))
    body = ("Classification head; each cell: precision / recall of the columns in that dose decade (e⁻/Å²). "
            "Best: the threshold whose worst precision or recall over the decades is highest on the "
            f"calibration frames ({CALIBRATION_SET[1]} Wulff particles of the training family, seed "
            f"{CALIBRATION_SET[2]}, whole frames).\n\n**Calibration frames (sweep)**\n\n" + "\n".join(lines)
            + "\n\n**Trust set (never-trained families), best vs default**\n\n" + "\n".join(tlines)
            + "\n\n" + verdict + "\n")
    write_section("hrtem-threshold", "HRTEM column detection threshold (classification head)", body,
                  f"python -m atomcount.bench.hrtem_threshold --thresholds {a.thresholds}")
    print(body)


if __name__ == "__main__":
    main()
