"""``atomcount stem count``: outputs as ``count`` writes them, one-line errors, nothing written on bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest

from _synthetic_stem import lattice_image
from atomcount.cli import main


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    return exc.value.code, capsys.readouterr()


@pytest.fixture(scope="module")
def raw_file(tmp_path_factory):
    image, truth, counts = lattice_image(side=6, seed=21)
    path = tmp_path_factory.mktemp("img") / "particle.npy"
    np.save(path, (image * 1000 + 100).astype(np.float32))  # raw: black 100, vacuum 1100
    return path, counts


def test_count_writes_table_summary_and_figures(raw_file, tmp_path, capsys):
    path, counts = raw_file
    out = tmp_path / "out"
    code, io = _run(["stem", "count", str(path), "--pixel-size", "0.2", "--black-level", "100",
                     "--vacuum-level", "1100", "--method", "hybrid", "--element", "Au", "--zone", "100",
                     "--voltage", "300", "--convergence", "21", "--inner", "46", "--outer", "190",
                     "--rmsd", "0.085", "--out", str(out)], capsys)
    assert code == 0, io.err
    d = out / "particle"
    assert {p.name for p in d.iterdir()} == {"columns.csv", "summary.json", "overlay.png", "columns_3d.png",
                                            "cross_sections.png", "icl.png"}
    table = np.genfromtxt(d / "columns.csv", delimiter=",", names=True)
    assert table.dtype.names == ("x_A", "y_A", "x_px", "y_px", "cross_section", "count", "probability")
    summary = json.loads((d / "summary.json").read_text())
    assert summary["columns"] == len(table) == len(counts)
    assert summary["total_atoms"] == int(table["count"].sum())
    assert summary["method"] == "hybrid" and summary["cross_section_unit"] == "Å²"
    # positions from the table of this run give the same counts
    out2 = tmp_path / "again"
    code, io = _run(["stem", "count", str(path), "--pixel-size", "0.2", "--positions", str(d / "columns.csv"),
                     "--out", str(out2), "--no-figures"], capsys)
    assert code == 0, io.err
    again = np.genfromtxt(out2 / "particle" / "columns.csv", delimiter=",", names=True)
    assert len(again) == len(table)
    assert json.loads((out2 / "particle" / "summary.json").read_text())["cross_section_unit"].startswith("relative")


@pytest.mark.parametrize("extra, message", [
    (["--method", "library", "--element", "Au"], "not normalised"),
    (["--normalised", "--method", "library", "--element", "Au", "--zone", "100", "--voltage", "300",
      "--convergence", "21", "--inner", "46", "--outer", "300", "--rmsd", "0.085"], "outer angle"),
    (["--black-level", "100"], "vacuum level is missing"),
    (["--positions", "missing.csv"], "cannot read positions"),
    (["--library", "missing.txt", "--method", "library", "--normalised"], "not found"),
    (["--cross-section", "voronoi", "--background", "0"], "applies to the Gaussian model"),
])
def test_bad_input_one_line_and_nothing_written(raw_file, tmp_path, capsys, extra, message):
    path, _ = raw_file
    out = tmp_path / "out"
    code, io = _run(["stem", "count", str(path), "--pixel-size", "0.2", "--out", str(out), *extra], capsys)
    assert code == 2
    assert message in io.err and len(io.err.strip().splitlines()) == 1
    assert not out.exists()


def test_unreadable_and_non_image_files(tmp_path, capsys):
    bad = tmp_path / "noise.npy"
    np.save(bad, np.zeros((4, 4)))
    for path, message in ((bad, "at least"), (tmp_path / "none.npy", "not found")):
        code, io = _run(["stem", "count", str(path), "--pixel-size", "0.2", "--out", str(tmp_path / "o")], capsys)
        assert code == 2 and message in io.err
    assert not (tmp_path / "o").exists()


def test_no_lattice_one_line_and_nothing_written(tmp_path, capsys):
    noise = tmp_path / "noise.npy"
    np.save(noise, np.random.default_rng(5).normal(100.0, 10.0, (256, 256)))
    out = tmp_path / "o"
    code, io = _run(["stem", "count", str(noise), "--pixel-size", "0.2", "--out", str(out)], capsys)
    assert code == 2 and "no atomic columns found" in io.err and len(io.err.strip().splitlines()) == 1
    assert not out.exists()


def test_forced_mixture_order(raw_file, tmp_path, capsys):
    path, _ = raw_file
    code, io = _run(["stem", "count", str(path), "--pixel-size", "0.2", "--n-components", "3", "--no-figures",
                     "--out", str(tmp_path / "o")], capsys)
    assert code == 0, io.err
    summary = json.loads((tmp_path / "o" / "particle" / "summary.json").read_text())
    assert summary["n_components"] == 3 and summary["order_rule"] == "given"


def test_fixed_background_is_used_and_reported(raw_file, tmp_path, capsys):
    """The image's background is 0 after normalisation: fixing it there reads what fitting it reads."""
    path, _ = raw_file
    tables = {}
    for label, extra in (("fitted", []), ("fixed", ["--background", "0"])):
        code, io = _run(["stem", "count", str(path), "--pixel-size", "0.2", "--black-level", "100", "--vacuum-level",
                         "1100", "--no-figures", "--out", str(tmp_path / label), *extra], capsys)
        assert code == 0, io.err
        tables[label] = np.genfromtxt(tmp_path / label / "particle" / "columns.csv", delimiter=",", names=True)
        summary = json.loads((tmp_path / label / "particle" / "summary.json").read_text())
        if label == "fixed":
            assert summary["background"] == 0.0
        else:
            assert abs(summary["background"]) < 1e-3  # Poisson noise of 1e5 e/Å² on an empty vacuum
    np.testing.assert_allclose(tables["fixed"]["cross_section"], tables["fitted"]["cross_section"], rtol=0.02)
    np.testing.assert_array_equal(tables["fixed"]["count"], tables["fitted"]["count"])
