"""count_columns and `atomcount count`: behaviour, geometry and error paths."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from atomcount.core.errors import AtomcountError
from atomcount.hrtem.analysis.count import _resample, count_columns
from atomcount.hrtem.nn.checkpoint import save_model
from atomcount.hrtem.nn.fcn import ColumnFCN


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch.manual_seed(0)
    net = ColumnFCN(width=4)
    with torch.no_grad():  # make the regression output positive so peaks exist
        net.regression.bias.fill_(0.6)
    path = tmp_path_factory.mktemp("m") / "tiny.pt"
    save_model(path, net.eval(), {"sampling_range": [0.25, 0.265]})
    return str(path)


def test_positions_in_angstrom_follow_pixel_size(tiny_model):
    img = np.random.default_rng(0).normal(size=(96, 96)).astype(np.float32)
    r = count_columns(img, 0.25, model=tiny_model, head="regression", min_cluster=0)
    assert len(r) > 0
    np.testing.assert_allclose(r.x_A, r.x_px * 0.25)
    np.testing.assert_allclose(r.y_A, r.y_px * 0.25)
    assert r.total_atoms == r.height.sum() and r.height.min() >= 1
    s = r.summary()
    assert s["columns"] == len(r) and sum(s["height_histogram"].values()) == len(r)


def test_resample_moves_a_spot_to_the_expected_pixel():
    yy, xx = np.mgrid[:200, :200]
    img = np.exp(-((yy - 120.0) ** 2 + (xx - 60.0) ** 2) / (2 * 4.0**2))
    half = _resample(img, 0.5)  # 0.125 Å/px -> 0.25 Å/px
    peak = np.unravel_index(np.argmax(half), half.shape)
    assert abs(peak[0] - 60) <= 1 and abs(peak[1] - 30) <= 1


@pytest.mark.parametrize("image,ps,fragment", [
    (np.zeros((4, 64, 64)), 0.25, "2-D"),
    (np.full((64, 64), np.nan), 0.25, "NaN"),
    (np.zeros((64, 64)), None, "pixel size"),
    (np.zeros((64, 64)), -1.0, "pixel size"),
    (np.zeros((20, 20)), 0.25, "32"),
])
def test_bad_input_is_refused(tiny_model, image, ps, fragment):
    with pytest.raises(AtomcountError, match=fragment):
        count_columns(image, ps, model=tiny_model)


def test_bad_head_and_missing_model(tmp_path):
    with pytest.raises(AtomcountError, match="head"):
        count_columns(np.zeros((64, 64)), 0.25, head="magic")
    with pytest.raises(AtomcountError, match="not found.*shipped models: fcn_au_300kv, fcn_au_300kv_fast"):
        count_columns(np.zeros((64, 64)), 0.25, model=str(tmp_path / "none.pt"))


def test_a_shipped_model_is_found_by_its_name():
    from atomcount.hrtem.analysis.count import FAST_MODEL, load_counting_model

    by_name = load_counting_model(FAST_MODEL.stem)
    assert by_name[0] is load_counting_model(str(FAST_MODEL))[0]  # the same file, loaded once
    assert by_name[0] is not load_counting_model()[0]
    with pytest.raises(AtomcountError, match="not found"):
        load_counting_model("fcn_au_300kv_nonexistent")


def test_bfloat16_maps_agree_with_float32_and_stay_float32(tiny_model):
    from atomcount.hrtem.analysis.count import load_counting_model
    from atomcount.hrtem.analysis.predict import predict_maps

    net, _ = load_counting_model(tiny_model)
    img = np.random.default_rng(3).normal(size=(70, 90)).astype(np.float32)
    h32, p32 = predict_maps(net, img, precision="float32")
    h16, p16 = predict_maps(net, img, precision="bfloat16")
    assert h16.dtype == np.float32 and p16.dtype == np.float32
    assert h16.shape == h32.shape == img.shape and p16.shape == p32.shape == (16, *img.shape)
    np.testing.assert_allclose(p16.sum(0), 1.0, atol=1e-5)  # softmax taken in float32
    # bfloat16 keeps 8 significant bits: relative error per layer ≲ 2^-8, a few layers deep
    scale = np.abs(h32).max()
    assert 0 < np.abs(h16 - h32).max() < 0.05 * scale
    assert np.abs(p16 - p32).max() < 0.05


def test_precision_is_resolved_and_recorded(tiny_model, monkeypatch):
    from atomcount.hrtem.analysis import predict

    monkeypatch.setattr(predict, "native_bfloat16", lambda: True)
    assert predict.resolve_precision("auto", "cpu") == "bfloat16"
    assert predict.resolve_precision("auto", "cuda") == "float32"
    monkeypatch.setattr(predict, "native_bfloat16", lambda: False)
    assert predict.resolve_precision("auto", "cpu") == "float32"
    assert predict.resolve_precision("bfloat16", "cpu") == "bfloat16"
    img = np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)
    r = count_columns(img, 0.25, model=tiny_model, head="regression", min_cluster=0)
    assert r.precision == "float32" and r.summary()["precision"] == "float32"
    with pytest.raises(AtomcountError, match="precision must be one of"):
        count_columns(img, 0.25, model=tiny_model, precision="float16")


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "atomcount.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_count_writes_outputs(tiny_model, tmp_path):
    np.save(tmp_path / "frame.npy", np.random.default_rng(1).normal(size=(64, 80)).astype(np.float32))
    r = _cli("count", "frame.npy", "--pixel-size", "0.255", "--model", tiny_model, "--out", "res", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "res" / "frame"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pixel_size_A"] == pytest.approx(0.255)
    lines = (out / "columns.csv").read_text().splitlines()
    assert lines[0].split(",")[:2] == ["x_A", "y_A"] and len(lines) == summary["columns"] + 1
    assert (out / "overlay.png").stat().st_size > 0 and (out / "columns_3d.png").stat().st_size > 0
    assert summary["tta"] is False
    r = _cli("count", "frame.npy", "--pixel-size", "0.255", "--model", tiny_model, "--out", "tta", "--tta",
             "--no-figures", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "tta" / "frame" / "summary.json").read_text())["tta"] is True


def test_cli_count_stack_counts_every_frame(tiny_model, tmp_path):
    np.save(tmp_path / "movie.npy", np.random.default_rng(2).normal(size=(3, 64, 64)).astype(np.float32))
    r = _cli("count", "movie.npy", "--pixel-size", "0.25", "--model", tiny_model, "--out", "res", "--no-figures",
             "--precision", "bfloat16", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == [f"movie_frame000{k}" for k in range(3)]
    assert json.loads((tmp_path / "res" / "movie_frame0000" / "summary.json").read_text())["precision"] == "bfloat16"
    r = _cli("count", "movie.npy", "--pixel-size", "0.25", "--model", tiny_model, "--precision", "half", cwd=tmp_path)
    assert r.returncode == 2 and "half" in r.stderr


@pytest.mark.parametrize("make,args,fragment", [
    (lambda d: np.save(d / "a.npy", np.zeros((64, 64))), ["a.npy"], "pixel size"),
    (lambda d: (d / "b.dm4").write_bytes(b"not a dm4 file"), ["b.dm4", "--pixel-size", "0.25"], "b.dm4"),
    (lambda d: None, ["missing.tif", "--pixel-size", "0.25"], "missing.tif"),
    (lambda d: np.save(d / "c.npy", np.zeros((2, 2, 64, 64))), ["c.npy", "--pixel-size", "0.25"], "D"),
])
def test_cli_count_bad_files_exit_2_with_one_line(tiny_model, tmp_path, make, args, fragment):
    make(tmp_path)
    r = _cli("count", *args, "--model", tiny_model, cwd=tmp_path)
    assert r.returncode == 2
    assert fragment in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_model_file_rewritten_in_the_same_process_is_loaded_again(tmp_path):
    import os

    import torch

    from atomcount.hrtem.analysis.count import load_counting_model
    from atomcount.hrtem.nn.checkpoint import save_model
    from atomcount.hrtem.nn.fcn import ColumnFCN

    path = tmp_path / "m.pt"
    torch.manual_seed(0)
    save_model(path, ColumnFCN(width=4), {"version": 1})
    first, meta = load_counting_model(str(path))
    assert load_counting_model(str(path))[0] is first and meta["version"] == 1  # loaded once
    save_model(path, ColumnFCN(width=4), {"version": 2})  # shipped anew
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    second, meta = load_counting_model(str(path))
    assert second is not first and meta["version"] == 2
