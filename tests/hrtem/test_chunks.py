"""Training in chunks: two chunks reach the weights of one uninterrupted run; ledger bookkeeping."""
import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from atomcount.core.errors import AtomcountError
from atomcount.hrtem.training import chunks
from atomcount.hrtem.training.loop import TrainConfig


@pytest.fixture()
def entries(small_wave, small_particle):
    return [(small_wave, small_particle.columns, {})]


def _state(tmp_path, name, precision="float32"):
    d = tmp_path / name
    d.mkdir()
    cfg = TrainConfig(out=str(d), steps=1000, batch=2, crop=64, width=4, checkpoint_every=1000, val_every=0,
                      threads=1, detector_mix=0.5, particle_bias=0.5, log_every=2, precision=precision)
    (d / "recipe.json").write_text(json.dumps(asdict(cfg)))
    return d


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_two_chunks_equal_one_run(tmp_path, entries, precision):
    one, two = _state(tmp_path, "one", precision), _state(tmp_path, "two", precision)
    s1 = chunks.run_chunk(steps=6, state_dir=one, entries=entries, progress=False)
    chunks.run_chunk(steps=2, state_dir=two, entries=entries, progress=False)
    s2 = chunks.run_chunk(steps=4, state_dir=two, entries=entries, progress=False)
    assert s1["steps"] == s2["steps"] == 6
    a = torch.load(one / "checkpoint.pt", weights_only=False)
    b = torch.load(two / "checkpoint.pt", weights_only=False)
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=0)
    assert b["cpu_seconds"] > 0
    # the exported model loads and carries its CPU time
    from atomcount.hrtem.nn.checkpoint import load_model

    model, meta = load_model(chunks.export_weights(two))
    assert meta["steps"] == 6 and meta["cpu_hours"] > 0


def test_bfloat16_training_takes_nearby_but_different_steps(tmp_path, entries):
    # the autocast is in effect (other weights than float32) and follows the same descent
    start = {}
    for p in ("float32", "bfloat16"):
        d = _state(tmp_path, p, p)
        chunks.run_chunk(steps=3, state_dir=d, entries=entries, progress=False)
        start[p] = torch.load(d / "checkpoint.pt", weights_only=False)["model"]
    # same seed: both runs start from the same weights and see the same batches
    diffs = [float((start["float32"][k] - start["bfloat16"][k]).abs().max()) for k in start["float32"]
             if "running" not in k and start["float32"][k].is_floating_point()]
    assert max(diffs) > 0
    assert max(diffs) < 0.05  # three AdamW steps of ≤ lr = 2e-3 each move a weight by ≤ 6e-3 in either run


def test_deadline_in_the_past_stops_after_one_step(tmp_path, entries):
    from atomcount.hrtem.training.loop import train

    d = _state(tmp_path, "run")
    cfg = chunks.load_recipe(d)
    cfg.out = str(d)
    assert train(cfg, progress=False, entries=entries, deadline=0.0) is None
    assert torch.load(d / "checkpoint.pt", weights_only=False)["step"] == 1


def test_chunk_budget_must_be_one_of_hours_or_steps(tmp_path):
    with pytest.raises(AtomcountError):
        chunks.run_chunk(state_dir=tmp_path)
    with pytest.raises(AtomcountError):
        chunks.run_chunk(hours=1.0, steps=3, state_dir=tmp_path)
    with pytest.raises(AtomcountError):
        chunks.run_chunk(hours=-1.0, state_dir=tmp_path)


def test_new_state_dir_gets_the_committed_recipe(tmp_path, monkeypatch):
    monkeypatch.setattr(chunks, "RECIPE", replace(chunks.RECIPE, width=16))
    cfg = chunks.load_recipe(tmp_path / "fresh")
    assert cfg == chunks.RECIPE
    assert chunks.load_recipe(tmp_path / "fresh") == replace(chunks.RECIPE)


def test_restart_refuses_a_recipe_whose_checkpoint_is_too_big_to_commit(tmp_path, monkeypatch):
    # the size model against a real checkpoint: the committed one of the width-16 stride-2 run
    committed = Path(__file__).resolve().parents[2] / "training" / "hrtem" / "checkpoint.pt"
    small = replace(chunks.RECIPE, width=16, input_stride=2, ema_decay=0.999)
    if committed.exists():
        assert chunks.checkpoint_megabytes(small) == pytest.approx(committed.stat().st_size / 1e6, rel=0.02)
    assert chunks.checkpoint_megabytes(replace(small, width=32)) == pytest.approx(
        4 * chunks.checkpoint_megabytes(small), rel=0.02)
    monkeypatch.setattr(chunks, "RECIPE", replace(small, width=32))
    d = _state(tmp_path, "run")
    with pytest.raises(AtomcountError, match=r"would be 47 MB \(width 32\)"):
        chunks.restart_run(d)
    assert (d / "recipe.json").exists()  # nothing removed
    with pytest.raises(AtomcountError, match="47 MB"):  # nor begun in a new state folder
        chunks.load_recipe(tmp_path / "fresh")
    assert not (tmp_path / "fresh" / "recipe.json").exists()


def test_restart_needs_a_finished_run_and_keeps_the_cpu_hours(tmp_path, entries, monkeypatch):
    monkeypatch.setattr(chunks, "RECIPE", replace(chunks.RECIPE, width=16))
    d = _state(tmp_path, "run")
    cfg = json.loads((d / "recipe.json").read_text())
    (d / "recipe.json").write_text(json.dumps(cfg | {"steps": 2}))
    with pytest.raises(AtomcountError, match="at step 0 of 2"):
        chunks.restart_run(d)
    first = chunks.run_chunk(steps=2, state_dir=d, entries=entries, progress=False)
    assert first["finished"]
    (d / "ledger.csv").write_text("kept\n")
    info = chunks.restart_run(d)
    assert info["previous_steps"] == 2 and info["cpu_hours_before"] == pytest.approx(first["cpu_hours"])
    assert not (d / "checkpoint.pt").exists() and (d / "ledger.csv").read_text() == "kept\n"
    assert chunks.load_recipe(d) == chunks.RECIPE  # the committed recipe is the new run's
    # the new run's CPU-hours add to the old ones (a tiny stand-in recipe, to keep the test fast)
    (d / "recipe.json").write_text(json.dumps(cfg | {"steps": 1, "seed": 5}))
    second = chunks.run_chunk(steps=1, state_dir=d, entries=entries, progress=False)
    assert second["steps"] == 1 and second["cpu_hours"] > info["cpu_hours_before"]


def test_ledger_append_and_best_shipped(tmp_path):
    from atomcount.hrtem.evaluation.wholeframe import WholeFrameRecords

    rec = WholeFrameRecords()
    for head in ("regression", "classification"):
        for dec in ("1e2-1e3", "1e3-1e4", "1e4-1e5", "1e5-1e6"):
            key = {"head": head, "detector": "counts", "decade": dec, "zone": "110", "family": "octahedron"}
            xy = np.array([[0.0, 0.0], [3.0, 0.0]])
            rec.add(key, xy, np.array([2, 5]), xy + 0.1, np.array([2, 4]), np.array([0.9, 0.6]))
    state = {"steps": 10, "cpu_hours": 0.5, "wall_hours": 0.6}
    rows = chunks.ledger_rows(rec, chunk="baseline", recipe="shipped", state=state, shipped="baseline")
    assert [r["head"] for r in rows] == ["regression", "classification"]
    assert float(rows[0]["exact"]) == 0.5 and float(rows[0]["within_1"]) == 1.0
    state_dir = tmp_path / "not" / "yet"  # the baseline row comes before the run creates its folder
    chunks.append_ledger(rows, state_dir)
    chunks.append_ledger(chunks.ledger_rows(rec, chunk="1", recipe="seed16", state=state, shipped=""), state_dir)
    ledger = chunks.read_ledger(state_dir)
    assert len(ledger) == 4
    assert chunks.best_shipped_exact(ledger) == 0.5


def test_ledger_figure_starts_a_new_line_where_a_restarted_run_begins():
    from atomcount.hrtem.training.ledger import run_segments

    rows = [{"steps": s, "recipe": "seed16"} for s in ("0", "39888", "62000", "8279", "15000")]
    assert run_segments(rows) == [(0, 3), (3, 5)]
    assert run_segments(rows[:3]) == [(0, 3)] and run_segments([]) == [(0, 0)]
    # weights from elsewhere with more steps than the run before them are a run of their own
    lease = rows + [{"steps": "20000", "recipe": "gpu-lease-s1w32"}, {"steps": "20500", "recipe": "seed20-w32"}]
    assert run_segments(lease) == [(0, 3), (3, 5), (5, 6), (6, 7)]
    # the recipe label of one run may change (ema, horizon) without starting a new one
    relabel = [{"steps": "10", "recipe": "seed16"}, {"steps": "20", "recipe": "seed16-ema0.999-h62000"}]
    assert run_segments(relabel) == [(0, 2)]
    # the baseline (the model shipped before) is the first point of the run that starts from it
    base = [{"steps": "0", "recipe": "shipped", "chunk": "baseline"}, {"steps": "3680", "recipe": "seed16", "chunk": "1"}]
    assert run_segments(base) == [(0, 2)]


def test_weight_average_resumes_and_is_what_gets_exported(tmp_path, entries):
    one, two = _state(tmp_path, "one"), _state(tmp_path, "two")
    for d in (one, two):
        recipe = json.loads((d / "recipe.json").read_text()) | {"ema_decay": 0.9}
        (d / "recipe.json").write_text(json.dumps(recipe))
    chunks.run_chunk(steps=5, state_dir=one, entries=entries, progress=False)
    chunks.run_chunk(steps=4, state_dir=two, entries=entries, progress=False)
    before = torch.load(two / "checkpoint.pt", weights_only=False)
    chunks.run_chunk(steps=1, state_dir=two, entries=entries, progress=False)
    a = torch.load(one / "checkpoint.pt", weights_only=False)
    b = torch.load(two / "checkpoint.pt", weights_only=False)
    for k in a["ema"]:  # the average survives the break bit for bit
        torch.testing.assert_close(a["ema"][k], b["ema"][k], rtol=0, atol=0)
    # one update: new average = 0.9 · old average + 0.1 · new weights
    k = "classification.weight"
    torch.testing.assert_close(b["ema"][k], 0.9 * before["ema"][k] + 0.1 * b["model"][k])
    assert not torch.equal(b["ema"][k], b["model"][k])
    from atomcount.hrtem.nn.checkpoint import load_model

    model, _ = load_model(chunks.export_weights(two))
    torch.testing.assert_close(model.state_dict()[k], b["ema"][k])


def test_bad_weight_average_decay_is_refused(tmp_path, entries):
    d = _state(tmp_path, "bad")
    recipe = json.loads((d / "recipe.json").read_text()) | {"ema_decay": 1.5}
    (d / "recipe.json").write_text(json.dumps(recipe))
    with pytest.raises(AtomcountError, match="ema_decay"):
        chunks.run_chunk(steps=1, state_dir=d, entries=entries, progress=False)
