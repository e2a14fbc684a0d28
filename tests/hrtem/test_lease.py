"""The GPU-lease recipe: variants, timing, step count, and the report's bad-input paths."""
from pathlib import Path

import pytest

from atomcount.core.errors import AtomcountError
from atomcount.hrtem.nn.checkpoint import load_model
from atomcount.hrtem.training import chunks, lease

ROOT = Path(__file__).resolve().parents[2]


def test_variants_are_the_continuing_recipe_at_gpu_batch_and_start_from_committed_weights():
    for name, spec in lease.VARIANTS.items():
        cfg = lease.lease_config(name, "runs/x", 1000, workers=3)
        assert (cfg.width, cfg.input_stride, cfg.seed) == (spec["width"], spec["input_stride"], spec["seed"])
        assert (cfg.batch, cfg.lr, cfg.device, cfg.workers, cfg.steps) == (lease.BATCH, lease.LR, "cuda", 3, 1000)
        # what is not a lease setting is the CPU recipe's
        assert (cfg.particle_bias, cfg.detector_mix, cfg.ema_decay, cfg.crop) == (
            chunks.RECIPE.particle_bias, chunks.RECIPE.detector_mix, chunks.RECIPE.ema_decay, chunks.RECIPE.crop)
        start, _ = load_model(ROOT / spec["init"])
        assert start.width in (cfg.width, cfg.width // 2)  # continued, or widened on loading (loop.train)
        assert start.input_stride == cfg.input_stride


def test_unknown_variant_is_refused():
    with pytest.raises(AtomcountError, match="unknown variant"):
        lease.lease_config("s4w64", "runs/x", 1000, workers=1)


def test_rate_is_measured_after_the_start_up_steps(tmp_path):
    log = tmp_path / "log.csv"
    rows = ["step,loss,mse,ce,lr,seconds,val_accuracy,val_accuracy_cls"]
    # 10 s of start-up, then 4 steps per second
    rows += [f"{s},1,1,1,1e-3,{10 + (s - 1) / 4 if s > 1 else 10},," for s in range(1, 61)]
    log.write_text("\n".join(rows) + "\n")
    assert lease.measured_rate(log, skip=20) == pytest.approx(4.0)
    log.write_text(rows[0] + "\n" + rows[1] + "\n")
    with pytest.raises(AtomcountError, match="too few steps"):
        lease.measured_rate(log, skip=20)


def test_step_count_fits_the_time_left_with_a_margin():
    assert lease.steps_for(10.0, 1000.0) == 9300
    assert lease.steps_for(10.0, 1000.0) / 10.0 < 1000.0
    with pytest.raises(AtomcountError, match="only"):
        lease.steps_for(0.5, 600.0)


def test_report_refuses_missing_files_and_a_ship_outside_the_report(tmp_path):
    from atomcount.bench.hrtem_gpu_lease import main

    with pytest.raises(SystemExit, match="no model file"):
        main([str(tmp_path / "none.pt")])
    a = tmp_path / "a.pt"
    a.write_bytes(b"")
    with pytest.raises(SystemExit, match="not among"):
        main([str(a), "--ship", str(tmp_path / "b.pt")])
    with pytest.raises(SystemExit, match="--ship-fast .* not among"):
        main([str(a), "--ship-fast", str(tmp_path / "b.pt")])
    with pytest.raises(SystemExit, match="same model"):
        main([str(a), "--ship", str(a), "--ship-fast", str(a)])
