"""Refusing frames the HRTEM model cannot read: ``python -m atomcount.bench.hrtem_focus_check``.

The model was trained on underfocus (C10 −250…−150 Å) and reads overfocus frames badly (section
``hrtem-wholeframe``). The Fresnel-fringe check (:mod:`atomcount.hrtem.analysis.focus`) reads no
overfocus frame as underfocus, but reads some valid underfocus frames as overfocus, too many to
refuse on the fringe alone. The second signal measured here is the model's own doubt: the mean
calibrated confidence of the columns it finds in the frame. The rule: refuse when the fringe reads
overfocus (z < −``z``) and the mean confidence is below ``c``.

``z`` and ``c`` are chosen on the calibration frames (the training family, seed 904, never part of
the trust set), under- and overfocus: the pair that refuses most overfocus frames while refusing at
most :data:`MAX_FALSE_REFUSAL` of the underfocus ones there. The chosen rule is then measured once on
the trust set, per dose decade. Classification head (what ``count`` reads by default). Writes the
``hrtem-focus-check`` section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse

import numpy as np

#: Largest share of valid (underfocus) calibration frames the chosen rule may refuse.
MAX_FALSE_REFUSAL = 0.01
#: Candidate fringe thresholds (the fringe must read below −z); ``inf`` drops the fringe condition.
Z_GRID = (3.0, 5.0, 10.0, 20.0, float("inf"))
#: Candidate mean-confidence thresholds.
C_GRID = tuple(np.round(np.arange(0.05, 0.96, 0.025), 3))
#: Overfocus C10 range of the refusal study (Å), as the overfocus pass of ``hrtem-wholeframe``.
OVERFOCUS = (150.0, 250.0)


def frame_signals(records) -> dict:
    """Per frame of the classification head: ``{"z", "confidence", "decade"}`` arrays."""
    _, frames = records.arrays()
    keep = frames["head"] == "classification"
    return {"z": frames["focus_z"][keep], "confidence": frames["mean_confidence"][keep],
            "decade": frames["decade"][keep]}


def refused(signals: dict, z: float, c: float) -> np.ndarray:
    """Frames the rule (fringe z < −``z`` and mean confidence < ``c``) refuses; a NaN signal never refuses."""
    fringe = np.ones(len(signals["z"]), bool) if np.isinf(z) else np.nan_to_num(signals["z"], nan=0.0) < -z
    return fringe & (np.nan_to_num(signals["confidence"], nan=1.0) < c)


def choose_rule(under: dict, over: dict, max_false: float = MAX_FALSE_REFUSAL) -> tuple[float, float, float, float]:
    """The (z, c) that refuses most overfocus frames with at most ``max_false`` underfocus frames refused.

    Returns ``(z, c, overfocus refused, underfocus refused)`` on the frames given; ties go to the
    larger z and the smaller c (the more conservative rule).
    """
    best = None
    for z in sorted(Z_GRID, reverse=True):
        for c in C_GRID:
            false = refused(under, z, c).mean()
            hit = refused(over, z, c).mean()
            if false <= max_false and (best is None or hit > best[2]):
                best = (z, float(c), float(hit), float(false))
    if best is None:
        raise ValueError("no rule refuses few enough underfocus frames")
    return best


def _table(under: dict, over: dict, rules: dict) -> str:
    decades = sorted(set(under["decade"]))
    head = "| rule | " + " | ".join(f"{d}: overfocus refused / underfocus refused" for d in decades) + " | all |"
    lines = [head, "|---|" + "---|" * (len(decades) + 1)]
    for name, (z, c) in rules.items():
        cells = []
        for d in [*decades, None]:
            u = under if d is None else {k: v[under["decade"] == d] for k, v in under.items()}
            o = over if d is None else {k: v[over["decade"] == d] for k, v in over.items()}
            cells.append(f"{refused(o, z, c).mean():.2f} / {refused(u, z, c).mean():.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line: choose the rule on the calibration frames, measure it on the trust set."""
    from atomcount.bench.hrtem_wholeframe import run
    from atomcount.core.provenance import write_section
    from atomcount.hrtem.analysis.focus import Z_DECIDE
    from atomcount.hrtem.evaluation.wholeframe import CALIBRATION_SET

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model file (the shipped one by default)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    a = ap.parse_args(argv)
    signals = {}
    for name, sets in (("calibration", (CALIBRATION_SET,)), ("trust", None)):
        signals[name] = {
            "under": frame_signals(run(a.model, threads=a.threads, sets=sets, heads=("classification",))),
            "over": frame_signals(run(a.model, threads=a.threads, sets=sets, defocus=OVERFOCUS,
                                      detectors=("counts",), heads=("classification",))),
        }
    z, c, hit, false = choose_rule(signals["calibration"]["under"], signals["calibration"]["over"])
    rules = {f"fringe only (z < −{Z_DECIDE:g}, what `count` warns on)": (Z_DECIDE, 1.01),
             f"chosen: fringe z < −{z:g} and mean confidence < {c:g}": (z, c)}
    cal = signals["calibration"]
    trust = signals["trust"]
    conf = {k: {s: np.nanmedian(v["confidence"]) for s, v in d.items()} for k, d in signals.items()}
    body = f"""Model: {a.model or 'the shipped model'}; classification head. Frames: whole frames of the calibration set
(training family, seed 904: the rule is chosen there) and of the trust set (never-trained families:
the rule is measured there), each particle in every dose decade, underfocus as in Table 1 (both
detector models) and overfocus C10 +{OVERFOCUS[0]:g}…+{OVERFOCUS[1]:g} Å (MTF on the counts).
Rule chosen on the calibration frames: the most overfocus frames refused with at most
{MAX_FALSE_REFUSAL:.0%} of the underfocus frames refused there ({hit:.2f} / {false:.3f}).
Median of the frames' mean column confidence: calibration {conf['calibration']['under']:.2f} underfocus,
{conf['calibration']['over']:.2f} overfocus; trust {conf['trust']['under']:.2f} / {conf['trust']['over']:.2f}.

Calibration frames (where the rule was chosen):

{_table(cal['under'], cal['over'], rules)}

Trust set (measured once, with the rule fixed):

{_table(trust['under'], trust['over'], rules)}

Each cell: share of the overfocus frames the rule refuses / share of the valid underfocus frames it refuses.
"""
    write_section("hrtem-focus-check", "HRTEM: refusing overfocus frames (fringe and model confidence)", body,
                  "python -m atomcount.bench.hrtem_focus_check")
    print(body)


if __name__ == "__main__":
    main()
