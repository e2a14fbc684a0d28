"""Ship a trained model: evaluate it on held-out particles and write its model card.

``python -m atomcount.hrtem.training.ship RUN_DIR --test-data data/test`` copies
``RUN_DIR/model.pt`` into the package (``atomcount/models``) with the metadata the
counting code needs, and writes ``<name>.json`` and ``<name>.md`` (the model card).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from atomcount.core.errors import AtomcountError
from atomcount.core.provenance import machine_description
from atomcount.hrtem.analysis.count import MODELS_DIR, TRAINED_SAMPLING
from atomcount.hrtem.microscope import ImagingRanges


def calibrate(model, val_data: Path, images: int, seed: int = 77, fit_height: bool = True):
    """Fit the read-out calibrations on ``images`` validation images (never the test set).

    Returns the regression head's :class:`~atomcount.hrtem.analysis.calibration.HeightCalibration`
    (refitted, or the model's own with ``fit_height=False``) and a dict head →
    :class:`~atomcount.hrtem.analysis.calibration.ConfidenceCalibration` (fitted with the height
    calibration applied). ``model`` is left carrying all of them.
    """
    import numpy as np

    from atomcount.hrtem.analysis.calibration import fit_confidence_calibration, fit_height_calibration
    from atomcount.hrtem.analysis.predict import predict_columns
    from atomcount.hrtem.evaluation.metrics import match_columns
    from atomcount.hrtem.evaluation.testset import build_test_images
    from atomcount.hrtem.training.stream import load_entries

    model.confidence_calibration = {}
    tests = build_test_images(load_entries([val_data]), images, seed=seed)
    if fit_height:
        model.height_calibration = None
        read, true = [], []
        for t in tests:
            est = predict_columns(model, t.image, t.params.sampling, heads=("regression",))["regression"]
            ip, it = match_columns(est.xy_px * t.params.sampling, t.columns.xy, 1.0)
            read.append(est.height_float[ip])
            true.append(t.columns.height[it])
        model.height_calibration = fit_height_calibration(np.concatenate(read), np.concatenate(true))
    conf: dict = {"regression": ([], []), "classification": ([], [])}
    for t in tests:
        for head, est in predict_columns(model, t.image, t.params.sampling).items():
            ip, it = match_columns(est.xy_px * t.params.sampling, t.columns.xy, 1.0)
            conf[head][0].append(est.confidence[ip])
            conf[head][1].append(est.height[ip] == t.columns.height[it])
    model.confidence_calibration = {h: fit_confidence_calibration(np.concatenate(c), np.concatenate(r))
                                    for h, (c, r) in conf.items()}
    return model.height_calibration, model.confidence_calibration


def recalibrate(name: str, val_data: Path | None = None, images: int = 120, frames: Path | None = None) -> Path:
    """Fit the confidence calibrations of the shipped model ``name`` again.

    On ``images`` images of the validation particles ``val_data``, or, with ``frames``, on
    whole frames of those particles (every dose decade and detector model, see
    :func:`atomcount.hrtem.evaluation.wholeframe.fit_wholeframe_confidence`). Weights and height
    calibration are unchanged, so the card's test figures still hold. Rewrites
    ``MODELS_DIR/name.pt`` (new calibration metadata) and the calibration entries of its card.
    """
    import torch

    from atomcount.hrtem.dataset import open_spec
    from atomcount.hrtem.nn.checkpoint import load_model, save_model

    if (val_data is None) == (frames is None):
        raise ValueError("give exactly one of val_data and frames")
    target = MODELS_DIR / f"{name}.pt"
    model, meta = load_model(target)
    if frames is None:
        height, confidence = calibrate(model, val_data, images, fit_height=False)
        source = val_data
    else:
        from atomcount.hrtem.evaluation.wholeframe import fit_wholeframe_confidence
        from atomcount.hrtem.training.stream import load_entries

        height = model.height_calibration
        confidence = fit_wholeframe_confidence(model, load_entries([frames]))
        model.confidence_calibration = confidence
        source, images = frames, 0
    meta = dict(meta, calibration=_calibration_meta(height, confidence))
    save_model(target, model.to(torch.float32), meta, half=meta.get("weights") == "float16")
    calibration = json.loads((MODELS_DIR / f"{name}.json").read_text())["calibration"]
    calibration["confidence"] = _calibration_card(height, confidence, source, images,
                                                  open_spec(source).to_json())["confidence"]
    calibration["confidence_source"] = ("whole frames (every dose decade, both detector models)"
                                        if frames is not None else "validation images")
    update_card(name, calibration=calibration)
    return target


def _calibration_meta(height, confidence: dict) -> dict:
    return {"regression": height.to_meta(), "confidence": {h: c.to_meta() for h, c in confidence.items()}}


def update_card(name: str, **fields) -> Path:
    """Replace entries of the shipped model ``name``'s card and rewrite its Markdown; returns the JSON path."""
    card_path = MODELS_DIR / f"{name}.json"
    if not card_path.exists():
        raise AtomcountError(f"no model card {card_path}")
    card = json.loads(card_path.read_text())
    card.update(fields)
    card_path.write_text(json.dumps(card, indent=1))
    (MODELS_DIR / f"{name}.md").write_text(_card_markdown(card))
    return card_path


def _calibration_card(height, confidence: dict, val_data: Path, images: int, spec: dict) -> dict:
    return {"data": spec, "images": images, "knots_read": height.x.round(3).tolist(),
            "knots_true": height.y.round(3).tolist(),
            "confidence": {h: [c.x.round(3).tolist(), c.y.round(3).tolist()] for h, c in confidence.items()}}


def ship(run_dir: Path, test_data: Path, name: str, images: int, command: str,
         train_data: list[Path] | None = None, val_data: Path | None = None, val_images: int = 120,
         extra: dict | None = None, half: bool = False) -> Path:
    """Evaluate ``run_dir/model.pt`` (or the model file ``run_dir``) and install it as ``MODELS_DIR/name.pt``.

    ``extra`` entries are added to the card (e.g. ``cpu_hours`` and the whole-frame
    evaluation of a continuing run); ``extra["wholeframe_markdown"]`` becomes a section of
    the Markdown card.

    ``train_data`` names local copies of the training sets when the run was trained
    elsewhere (its config then holds the other machine's paths); only their specs are read.
    With ``val_data``, the regression head's height calibration is fitted on
    ``val_images`` images of those particles (not the test particles) and shipped.
    With ``half``, the weights are rounded to float16 before anything is measured and stored so
    (:func:`atomcount.hrtem.nn.checkpoint.save_model`): the card describes the file shipped.
    """
    import torch

    from atomcount.hrtem.dataset import open_spec
    from atomcount.hrtem.evaluation.report import accuracy_report
    from atomcount.hrtem.nn.checkpoint import load_model, round_to_half, save_model
    from atomcount.hrtem.training.stream import load_entries

    model_file = run_dir / "model.pt" if Path(run_dir).is_dir() else Path(run_dir)
    model, meta = load_model(model_file)
    if half:
        round_to_half(model)
    train_cfg = meta["train_config"]
    calibration = confidence = None
    if val_data is not None:
        calibration, confidence = calibrate(model, val_data, val_images)
    ranges = ImagingRanges()
    t0 = time.time()
    scores = accuracy_report(model, load_entries([test_data]), images)
    eval_seconds = time.time() - t0
    train_specs = [open_spec(Path(d)).to_json() for d in (train_data or train_cfg["data"])]
    test_spec = open_spec(test_data).to_json()
    card = {
        "name": name,
        "architecture": f"ColumnFCN (3 pools, residual blocks), width {model.width}, "
                        f"{'input stride ' + str(model.input_stride) + ' (pixel unshuffle), ' if model.input_stride > 1 else ''}"
                        f"{sum(p.numel() for p in model.parameters())} parameters, regression + 16-class heads",
        "sampling_range": list(TRAINED_SAMPLING),
        "imaging_ranges": {k: list(v) for k, v in ranges.__dict__.items()},
        "conventions": "C10 < 0 is underfocus (weights cover C10 -250..-150 A only); Cs in um; "
                       "dose in e-/A^2; MTF frequency in units of Nyquist",
        "element": "Au", "energy_kv": 300.0,
        "training": {"config": train_cfg, "steps": meta["steps"], "seconds": round(meta["train_seconds"], 1),
                     "data": train_specs, "machine": meta.get("machine", "not recorded")},
        "test": {"data": test_spec, "images": images, "seconds": round(eval_seconds, 1),
                 "machine": machine_description(),
                 **{h: s.summary() for h, s in scores.items()}},
        "calibration": None if calibration is None else _calibration_card(
            calibration, confidence, val_data, val_images, open_spec(val_data).to_json()),
        "command": command,
        "date": dt.date.today().isoformat(),
        **(extra or {}),
    }
    MODELS_DIR.mkdir(exist_ok=True)
    target = MODELS_DIR / f"{name}.pt"
    model = model.to(torch.float32)
    extra = {} if calibration is None else {"calibration": _calibration_meta(calibration, confidence)}
    save_model(target, model, {"sampling_range": list(TRAINED_SAMPLING), "card": f"{name}.json", **extra}, half=half)
    (MODELS_DIR / f"{name}.json").write_text(json.dumps(card, indent=1))
    (MODELS_DIR / f"{name}.md").write_text(_card_markdown(card))
    return target


def _card_markdown(c: dict) -> str:
    t = c["test"]
    rows = "\n".join(
        f"| {h} | {t[h]['accuracy_exact']:.3f} | {t[h]['accuracy_within_1']:.3f} | {t[h]['precision']:.3f} | "
        f"{t[h]['recall']:.3f} |" for h in ("regression", "classification"))
    tr = c["training"]
    return f"""# Model card: {c['name']}

- **Task**: atoms per column in HRTEM images of Au nanoparticles, 300 kV ({c['architecture']}).
- **Inputs**: one HRTEM image, any size; pixel size {c['sampling_range'][0]}–{c['sampling_range'][1]} Å/px
  (others are resampled). {c['conventions']}.
- **Training data**: {sum(d['n_particles'] for d in tr['data'])} simulated Wulff particles (seeds
  {[d['seed'] for d in tr['data']]}), images rendered on the fly with paper 000 Table 1 ranges.
- **Training**: {tr['steps']} steps of batch {tr['config']['batch']} × {tr['config']['crop']}² crops,
  {tr['seconds'] / 60:.0f} min on {tr['machine']}; seed {tr['config']['seed']}.{_lineage_line(c)}
- **Height calibration** (regression head): {_calibration_line(c.get('calibration'))}
- **Command**: `{c['command']}`
- **Date**: {c['date']}{_speed_line(c)}

## Held-out test ({t['images']} images of {t['data']['n_particles']} particles never used in training, seed {t['data']['seed']}, full Table 1 ranges)

| head | exact height | within ±1 | column precision | column recall |
|---|---|---|---|---|
{rows}

Paper 000 reports 93 % (regression) and 85 % (classification) exact; read BENCHMARKS.md for how
these figures compare and why.
{_wholeframe_section(c)}"""


def _speed_line(c: dict) -> str:
    if "forward_ms_512" not in c:
        return ""
    return (f"\n- **Speed**: network forward on a 512×512 frame {c['forward_ms_512']:.0f} ms (float32, median, "
            f"measured when shipped, on {c['test']['machine']})")


def _wholeframe_section(c: dict) -> str:
    if "wholeframe_markdown" not in c:
        return ""
    hours = f" after {c['cpu_hours']:.1f} CPU-hours of continued training" if "cpu_hours" in c else ""
    return (f"\n## Whole frames of never-trained particle families{hours} (the trust evaluation)\n\n"
            f"{c['wholeframe_markdown']}")


def _lineage_line(c: dict) -> str:
    init = c["training"]["config"].get("init")
    if not init:
        return ""
    hours = f" ({c['cpu_hours']:.2f} CPU-hours of continued training)" if "cpu_hours" in c else ""
    if "gpu_lease" in c:
        hours = f" (widened where narrower, then trained in a GPU lease: {c['gpu_lease']})"
    if Path(init).parent.name == "models":
        return (f"\n- **Started from**: the weights of `{init}` as shipped before{hours}; that model's card "
                "(in the git history) says how it was made.")
    return (f"\n- **Started from**: the weights of `{init}`{hours}, a state of the continuing CPU run "
            "(training/hrtem: recipe, log and ledger say how it was made).")


def _calibration_line(cal: dict | None) -> str:
    if cal is None:
        return "none."
    line = (f"monotone map from read-out to true height fitted on {cal['images']} images of the "
            f"{cal['data']['n_particles']} validation particles (seed {cal['data']['seed']}), never the test set; "
            f"e.g. {cal['knots_read'][len(cal['knots_read']) // 2]:.2f} → {cal['knots_true'][len(cal['knots_true']) // 2]:.2f}.")
    if cal.get("confidence"):
        line += (" Per-column confidences of both heads are mapped (isotonic, on "
                 f"{cal.get('confidence_source', 'validation images')}) to the "
                 "probability that the height is exact; `count` flags columns below 0.5.")
    return line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run_dir", type=Path, nargs="?", default=None)
    ap.add_argument("--test-data", type=Path, default=None)
    ap.add_argument("--recalibrate-only", action="store_true",
                    help="refit the shipped model's calibrations on --val-data; weights and test figures unchanged")
    ap.add_argument("--name", default="fcn_au_300kv")
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--command", default="make weights")
    ap.add_argument("--train-data", type=Path, nargs="*", default=None,
                    help="local copies of the training sets (when trained on another machine)")
    ap.add_argument("--val-data", type=Path, default=None,
                    help="validation particles for the regression head's height calibration")
    ap.add_argument("--val-images", type=int, default=120)
    ap.add_argument("--calibration-frames", type=Path, default=None,
                    help="with --recalibrate-only: fit the confidence maps on whole frames of these particles "
                         "(e.g. data/calib-wholeframe) instead of --val-data images")
    a = ap.parse_args()
    if a.recalibrate_only:
        if (a.val_data is None) == (a.calibration_frames is None):
            ap.error("--recalibrate-only needs exactly one of --val-data and --calibration-frames")
        print(recalibrate(a.name, a.val_data, a.val_images, frames=a.calibration_frames))
        return
    if a.run_dir is None or a.test_data is None:
        ap.error("RUN_DIR and --test-data are required")
    print(ship(a.run_dir, a.test_data, a.name, a.images, a.command, a.train_data, a.val_data, a.val_images))


if __name__ == "__main__":
    main()
