"""Ship a trained model: evaluate it on held-out particles and write its model card.

``python -m atomcount.training.ship RUN_DIR --test-data data/test`` copies
``RUN_DIR/model.pt`` into the package (``atomcount/models``) with the metadata the
counting code needs, and writes ``<name>.json`` and ``<name>.md`` (the model card).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from atomcount.analysis.count import MODELS_DIR, TRAINED_SAMPLING
from atomcount.bench.report import machine_description
from atomcount.microscope import ImagingRanges


def calibrate(model, val_data: Path, images: int, seed: int = 77):
    """Fit the regression head's height calibration on ``images`` validation images."""
    import numpy as np

    from atomcount.analysis.calibration import fit_height_calibration
    from atomcount.analysis.predict import predict_columns
    from atomcount.evaluation.metrics import match_columns
    from atomcount.evaluation.testset import build_test_images
    from atomcount.training.stream import load_entries

    model.height_calibration = None
    read, true = [], []
    for t in build_test_images(load_entries([val_data]), images, seed=seed):
        est = predict_columns(model, t.image, t.params.sampling, heads=("regression",))["regression"]
        ip, it = match_columns(est.xy_px * t.params.sampling, t.columns.xy, 1.0)
        read.append(est.height_float[ip])
        true.append(t.columns.height[it])
    return fit_height_calibration(np.concatenate(read), np.concatenate(true))


def ship(run_dir: Path, test_data: Path, name: str, images: int, command: str,
         train_data: list[Path] | None = None, val_data: Path | None = None, val_images: int = 120,
         extra: dict | None = None) -> Path:
    """Evaluate ``run_dir/model.pt`` (or the model file ``run_dir``) and install it as ``MODELS_DIR/name.pt``.

    ``extra`` entries are added to the card (e.g. ``cpu_hours`` and the whole-frame
    evaluation of a continuing run); ``extra["wholeframe_markdown"]`` becomes a section of
    the Markdown card.

    ``train_data`` names local copies of the training sets when the run was trained
    elsewhere (its config then holds the other machine's paths); only their specs are read.
    With ``val_data``, the regression head's height calibration is fitted on
    ``val_images`` images of those particles (not the test particles) and shipped.
    """
    import torch

    from atomcount.dataset import open_spec
    from atomcount.evaluation.report import accuracy_report
    from atomcount.nn.checkpoint import load_model, save_model
    from atomcount.training.stream import load_entries

    model_file = run_dir / "model.pt" if Path(run_dir).is_dir() else Path(run_dir)
    model, meta = load_model(model_file)
    train_cfg = meta["train_config"]
    calibration = None
    if val_data is not None:
        model.height_calibration = calibration = calibrate(model, val_data, val_images)
    ranges = ImagingRanges()
    t0 = time.time()
    scores = accuracy_report(model, load_entries([test_data]), images)
    eval_seconds = time.time() - t0
    train_specs = [open_spec(Path(d)).to_json() for d in (train_data or train_cfg["data"])]
    test_spec = open_spec(test_data).to_json()
    card = {
        "name": name,
        "architecture": f"ColumnFCN (3 pools, residual blocks), width {model.width}, "
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
        "calibration": None if calibration is None else {
            "data": open_spec(val_data).to_json(), "images": val_images,
            "knots_read": calibration.x.round(3).tolist(), "knots_true": calibration.y.round(3).tolist()},
        "command": command,
        "date": dt.date.today().isoformat(),
        **(extra or {}),
    }
    MODELS_DIR.mkdir(exist_ok=True)
    target = MODELS_DIR / f"{name}.pt"
    model = model.to(torch.float32)
    extra = {} if calibration is None else {"calibration": {"regression": calibration.to_meta()}}
    save_model(target, model, {"sampling_range": list(TRAINED_SAMPLING), "card": f"{name}.json", **extra})
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
  {tr['seconds'] / 60:.0f} min on {tr['machine']}; seed {tr['config']['seed']}.
- **Height calibration** (regression head): {_calibration_line(c.get('calibration'))}
- **Command**: `{c['command']}`
- **Date**: {c['date']}

## Held-out test ({t['images']} images of {t['data']['n_particles']} particles never used in training, seed {t['data']['seed']}, full Table 1 ranges)

| head | exact height | within ±1 | column precision | column recall |
|---|---|---|---|---|
{rows}

Paper 000 reports 93 % (regression) and 85 % (classification) exact; read BENCHMARKS.md for how
these figures compare and why.
{_wholeframe_section(c)}"""


def _wholeframe_section(c: dict) -> str:
    if "wholeframe_markdown" not in c:
        return ""
    hours = f" after {c['cpu_hours']:.1f} CPU-hours of continued training" if "cpu_hours" in c else ""
    return (f"\n## Whole frames of never-trained particle families{hours} (the trust evaluation)\n\n"
            f"{c['wholeframe_markdown']}")


def _calibration_line(cal: dict | None) -> str:
    if cal is None:
        return "none."
    return (f"monotone map from read-out to true height fitted on {cal['images']} images of the "
            f"{cal['data']['n_particles']} validation particles (seed {cal['data']['seed']}), never the test set; "
            f"e.g. {cal['knots_read'][len(cal['knots_read']) // 2]:.2f} → {cal['knots_true'][len(cal['knots_true']) // 2]:.2f}.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--test-data", type=Path, required=True)
    ap.add_argument("--name", default="fcn_au_300kv")
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--command", default="make weights")
    ap.add_argument("--train-data", type=Path, nargs="*", default=None,
                    help="local copies of the training sets (when trained on another machine)")
    ap.add_argument("--val-data", type=Path, default=None,
                    help="validation particles for the regression head's height calibration")
    ap.add_argument("--val-images", type=int, default=120)
    a = ap.parse_args()
    print(ship(a.run_dir, a.test_data, a.name, a.images, a.command, a.train_data, a.val_data, a.val_images))


if __name__ == "__main__":
    main()
