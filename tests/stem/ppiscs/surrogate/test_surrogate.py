"""Surrogate: additivity, positivity, monotonicity, NumPy = torch, domain guard rails."""
from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from atomcount.core.errors import AtomcountError
from atomcount.stem.ppiscs.surrogate import SurrogateDomainWarning, load, predict, predict_batch
from atomcount.stem.ppiscs.surrogate.features import (
    EDGE_NODES, ELEMENT_Z, NODES, alpha_harmonics, detector_basis, encode, encode_full, hat_cumulative,
    network_inputs,
)


def test_hat_basis_is_a_partition_of_unity():
    # the hats sum to one on [18, 250]: their integrals over any interval add up to its width
    h = hat_cumulative(np.array([18.0, 37.3, 250.0]))
    assert np.isclose(h[-1].sum(), 232.0)
    assert np.isclose(h[1].sum(), 37.3 - 18.0)
    steps = np.diff(hat_cumulative(np.linspace(0, 300, 3001)), axis=0)
    assert (steps >= -1e-12).all()


def test_edge_hats_follow_the_convergence_angle():
    # the θ − α hats of a detector placed relative to α do not change when α moves;
    # the θ hats of the same detector do
    a = np.array([20.0, 22.3, 31.0])
    b = detector_basis(a - 1.0, a + 2.5, a, edge_nodes=EDGE_NODES)
    m = len(NODES)
    np.testing.assert_allclose(b[1:, m:], b[:1, m:].repeat(2, 0), atol=1e-12)
    assert not np.allclose(b[1:, :m], b[:1, :m])
    # each hat family is a partition of unity over its span: weights add up to the detector width
    np.testing.assert_allclose(b[:, m:].sum(-1), 3.5)
    np.testing.assert_allclose(b[:, :m].sum(-1), 3.5)


def test_alpha_harmonics_are_sines_and_cosines_of_the_scaled_alpha():
    alpha = np.array([0.0, 17.75, 35.5, 12.3])
    x = encode(np.full(4, 79), np.full(4, "100"), np.full(4, 300.0), alpha, np.full(4, 0.085))
    assert alpha_harmonics(x, 0) is x
    h = alpha_harmonics(x, 3)
    assert h.shape == (4, 12)
    np.testing.assert_array_equal(h[:, :6], x)
    scaled = 2.0 * alpha / 35.5 - 1.0  # α' is −1 at 0 mrad, +1 at 35.5 mrad
    np.testing.assert_allclose(h[:, 6:9], np.sin(np.pi * scaled[:, None] * [1, 2, 4]), atol=1e-12)
    np.testing.assert_allclose(h[:, 9:], np.cos(np.pi * scaled[:, None] * [1, 2, 4]), atol=1e-12)
    np.testing.assert_allclose(h[:, 6:9] ** 2 + h[:, 9:] ** 2, 1.0)


def test_element_indicators_mark_the_papers_elements_and_nothing_else():
    z = np.array([13, 79, 82, 30, 79])
    x = encode(z, np.full(5, "100"), np.full(5, 300.0), np.full(5, 20.0), np.full(5, 0.085))
    h = network_inputs(x, 2, elements=True)
    assert h.shape == (5, 6 + 4 + 8)
    np.testing.assert_array_equal(h[:, :10], network_inputs(x, 2))
    onehot = h[:, 10:]
    assert [int(np.flatnonzero(r)[0]) for r in onehot[[0, 1, 2, 4]]] == [0, ELEMENT_Z.index(79), 7, ELEMENT_Z.index(79)]
    assert onehot.sum(axis=1).tolist() == [1, 1, 1, 0, 1]  # zinc is none of them


def _random_settings(rng, n):
    inner = rng.uniform(18, 230, n)
    mid = rng.uniform(inner + 5, 245)
    outer = rng.uniform(mid + 5, 250)
    return rng.uniform(10, 35.5, n), inner, mid, outer


def test_additive_network_is_exactly_additive_and_positive(random_additive):
    path, _ = random_additive
    m = load(path)
    rng = np.random.default_rng(0)
    alpha, t0, tm, te = _random_settings(rng, 200)
    zone = np.where(rng.random(200) < 0.5, "100", "110")
    whole = m.curves(79, zone, 300.0, alpha, 0.085, t0, te)
    parts = m.curves(79, zone, 300.0, alpha, 0.085, t0, tm) + m.curves(79, zone, 300.0, alpha, 0.085, tm, te)
    assert (whole > 0).all()
    assert np.abs(parts - whole).max() <= 1e-6 * np.abs(whole).max()  # float32 rounding only


def test_numpy_path_matches_torch(random_additive):
    import torch

    path, model = random_additive
    rng = np.random.default_rng(1)
    alpha, t0, _, te = _random_settings(rng, 16)
    x = encode(np.full(16, 79), np.full(16, "110"), np.full(16, 300.0), alpha, np.full(16, 0.085))
    x = network_inputs(x, model.alpha_harmonics, model.element_onehot)
    b = detector_basis(t0, te, alpha, edge_nodes=EDGE_NODES if model.edge else None)[:, None, :]
    with torch.no_grad():
        ref = model(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32))[:, 0].numpy()
    got = load(path).curves(79, "110", 300.0, alpha, 0.085, t0, te)
    np.testing.assert_allclose(got, ref, rtol=2e-5)


def test_dense_numpy_path_matches_torch(tmp_path):
    import torch

    from atomcount.stem.ppiscs.surrogate.nets import DenseNet1D
    from atomcount.stem.ppiscs.surrogate.numpy_infer import Surrogate
    from atomcount.stem.ppiscs.surrogate.train import export

    torch.manual_seed(0)
    for dense in (True, False):
        net = DenseNet1D(growth=16, layers=3, dense=dense)
        export(net, "dense", tmp_path / "d.npz", {})
        rng = np.random.default_rng(2)
        alpha, t0, _, te = _random_settings(rng, 8)
        args = (np.full(8, 79), np.full(8, "100"), np.full(8, 300.0), alpha, np.full(8, 0.085), t0, te,
                np.zeros(8), np.zeros(8))
        with torch.no_grad():
            ref = net(torch.as_tensor(encode_full(*args), dtype=torch.float32)).numpy()
        np.testing.assert_allclose(Surrogate(tmp_path / "d.npz").curves(*args), ref, rtol=2e-5)


def test_refuses_outside_trained_domain(random_additive):
    path, _ = random_additive
    ok = dict(element="Au", zone="100", voltage_kv=300.0, convergence_mrad=21.0, inner_mrad=60.0,
              outer_mrad=200.0, rmsd=0.085, weights=path)
    assert predict(**ok).shape == (61,)
    for bad in ({"element": "Cu"}, {"voltage_kv": 120.0}, {"rmsd": 0.12}, {"convergence_mrad": 5.0},
                {"inner_mrad": 195.0}, {"outer_mrad": 260.0}):
        with pytest.raises(AtomcountError, match="trained"):
            predict(**{**ok, **bad})
    with pytest.warns(SurrogateDomainWarning):
        predict(**{**ok, "convergence_mrad": 5.0}, extrapolate=True)
    with pytest.raises(AtomcountError):
        predict_batch("Au", "100", 300.0, [21.0, 40.0], 60.0, 200.0, 0.085, weights=path)


def test_domain_is_continuous_in_kv_and_rmsd_between_simulated_settings():
    from types import SimpleNamespace

    from atomcount.stem.ppiscs.surrogate import domain_problems
    from atomcount.stem.ppiscs.surrogate.numpy_infer import settings_index

    settings = [[79, "100", kv, r] for kv in (200.0, 300.0) for r in (0.075, 0.15)] + [[79, "100", 120.0, 0.085]]
    model = SimpleNamespace(meta={"domain": {"settings": settings, "alpha_mrad": [10.0, 35.5],
                                             "theta_mrad": [18.0, 250.0], "min_width_mrad": 10.0}},
                            settings_by_zone=settings_index(settings))
    ok = lambda kv, r, z=79: not domain_problems(model, z, "100", kv, 21.0, r, 60.0, 200.0)  # noqa: E731
    assert ok(250.0, 0.1) and ok(200.0, 0.075) and ok(300.0, 0.15)  # inside the grid, on its nodes
    assert not ok(250.0, 0.16)  # rmsd beyond both neighbours
    assert not ok(320.0, 0.1) and not ok(100.0, 0.085)  # voltage outside 120…300
    assert ok(150.0, 0.085) and not ok(150.0, 0.1)  # the 120 kV side holds only 0.085 Å
    assert not ok(250.0, 0.1, z=78)  # element never simulated
    assert any("300 kV" in p for p in domain_problems(model, 79, "100", 330.0, 21.0, 0.1, 60.0, 200.0))
    # 60 kV trained too: 60…120 kV is a gap of the library's voltage grid (80, 100 kV untrained), not a neighbourhood
    settings.append([79, "100", 60.0, 0.085])
    model.settings_by_zone = settings_index(settings)
    assert ok(60.0, 0.085) and ok(150.0, 0.085)
    problems = domain_problems(model, 79, "100", 90.0, 21.0, 0.085, 60.0, 200.0)
    assert len(problems) == 1 and "80, 100 kV between them were not trained" in problems[0]


def test_predict_batch_masks_past_thickness(random_additive):
    path, _ = random_additive
    y = predict_batch("Au", ["100", "110"], 300.0, 21.0, 60.0, 200.0, 0.085, weights=path)
    assert np.isnan(y[0, 61:]).all() and np.isfinite(y[0, :61]).all() and np.isfinite(y[1]).all()


def test_inference_does_not_import_torch(random_additive):
    path, _ = random_additive
    code = ("import sys; from atomcount.stem.ppiscs.curve import ppiscs_curve; "
            f"ppiscs_curve('Au', '100', 300, 21, 60, 200, 0.085, source='surrogate', weights=r'{path}'); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shipped_monotonic_in_detector_and_thickness(shipped):
    # PPISCS grows with the outer angle, shrinks with the inner angle, and (HAADF) with thickness
    outer = predict_batch("Au", "100", 300.0, 21.0, 60.0, np.linspace(100, 250, 16), 0.085, weights=shipped)[:, :61]
    inner = predict_batch("Au", "100", 300.0, 21.0, np.linspace(20, 150, 14), 200.0, 0.085, weights=shipped)[:, :61]
    assert (np.diff(outer, axis=0) > 0).all() and (np.diff(inner, axis=0) < 0).all()
    assert (np.diff(predict("Au", "100", 300.0, 21.0, 60.0, 200.0, 0.085, weights=shipped)) > 0).all()


def test_shipped_matches_library_at_a_test_point(shipped):
    from atomcount.stem.ppiscs.curve import ppiscs_curve

    args = ("Au", "100", 300.0, 21.07, 46.3, 190.4, 0.085)
    # the library as the shipped network was trained on it: slicing-corrected or not (its card says which)
    lib = ppiscs_curve(*args, source="library", slicing_correction=bool(load(shipped).meta.get("slicing_correction")))
    sur = ppiscs_curve(*args, source="surrogate", weights=shipped)
    assert np.abs(lib - sur).mean() / lib.max() < 5e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ppiscs_curve(*args, source="surrogate", weights=shipped, defocus_angstrom=80.0, cs_um=0.5)


def test_training_table_and_test_set_carry_the_slicing_correction(monkeypatch):
    # a constant factor on the rings scales every training curve and every held-out truth by it
    from atomcount.stem.ppiscs import slicing_correction as sc
    from atomcount.stem.ppiscs.surrogate.evaluate import make_test_set
    from atomcount.stem.ppiscs.surrogate.features import build_table

    rows = (("Al", "100", 300.0), ("Au", "110", 300.0))
    table = sc.SlicingCorrection(rows, np.full((2, 3, 4), 0.97))
    names = ["Al_100_300kV_rmsd0.0850", "Au_110_300kV_rmsd0.0850"]
    alphas = np.array([21.3])
    plain, corrected = build_table(alphas, names=names), build_table(alphas, names=names, correction=table)
    assert sorted(set(corrected.entry)) == names
    np.testing.assert_allclose(corrected.cum, 0.97 * plain.cum, rtol=2e-6)
    monkeypatch.setattr(sc, "load_correction", lambda: table)
    t_plain = make_test_set(n_alpha=2, n_detectors=3, names=names)
    t_corr = make_test_set(n_alpha=2, n_detectors=3, names=names, slicing_correction=True)
    np.testing.assert_allclose(t_corr.truth, 0.97 * t_plain.truth, rtol=2e-6)
    with pytest.raises(AtomcountError, match="no slicing correction for Au"):
        build_table(alphas, names=["Au_100_300kV_rmsd0.0850"], correction=table)


def test_training_losses_are_means_over_every_curve_atom():
    # curves (settings, detectors, atoms) with a mask per setting broadcast over the detectors:
    # a prediction off by 1 % of each curve's maximum on every real atom has L1n = 0.01, L2n = 1e-4
    import torch

    from atomcount.stem.ppiscs.surrogate.train import losses

    true = torch.rand(4, 8, 87) + 0.5
    mask = (torch.arange(87) < torch.tensor([61, 87, 61, 87])[:, None]).float()[:, None, :]
    scale = (true * mask).amax(-1, keepdim=True)
    parts = losses(true + 0.01 * scale, true, mask)
    assert abs(float(parts["l1n"]) - 0.01) < 1e-6 and abs(float(parts["l2n"]) - 1e-4) < 1e-8


@pytest.fixture(scope="module")
def tiny_table():
    from atomcount.stem.ppiscs.surrogate.features import build_table

    return build_table(np.array([15.0, 25.0]), names=["Al_100_300kV_rmsd0.0850"], dtype=np.float32)


TINY = dict(steps=12, seed=4, lr=2e-3, warmup=3, batch=4, detectors=2, log_every=1, width=16, depth=2, rank=2)


def test_training_in_chunks_gives_the_weights_of_one_run(tiny_table, tmp_path):
    from atomcount.stem.ppiscs.surrogate.train import train

    whole, log, status = train("additive", tiny_table, **TINY)
    assert status["finished"] and status["step"] == 12 and len(log) == 12
    ckpt = tmp_path / "state.pt"
    _, _, first = train("additive", tiny_table, checkpoint=ckpt, until_step=5, **TINY)
    assert not first["finished"] and first["step"] == 5 and ckpt.exists()
    _, _, none = train("additive", tiny_table, checkpoint=ckpt, deadline=0.0, **TINY)  # past deadline: no step
    assert none["step"] == 5
    chunked, log2, last = train("additive", tiny_table, checkpoint=ckpt, **TINY)
    assert last["finished"] and [r["step"] for r in log2] == list(range(12))
    import torch

    for a, b in zip(whole.state_dict().values(), chunked.state_dict().values()):
        assert torch.equal(a, b)


def test_a_checkpoint_of_other_settings_is_refused(tiny_table, tmp_path):
    from atomcount.stem.ppiscs.surrogate.train import train

    ckpt = tmp_path / "state.pt"
    train("additive", tiny_table, checkpoint=ckpt, until_step=2, **TINY)
    with pytest.raises(AtomcountError, match="other settings.*lr"):
        train("additive", tiny_table, checkpoint=ckpt, **{**TINY, "lr": 1e-3})
    from dataclasses import replace

    with pytest.raises(AtomcountError, match="other settings.*curve_sum"):  # same entries, other curves
        train("additive", replace(tiny_table, cum=0.97 * tiny_table.cum), checkpoint=ckpt, **TINY)


def test_cli_hours_without_a_checkpoint_is_refused(tmp_path):
    from click.testing import CliRunner

    from atomcount.stem.ppiscs.surrogate.train import main

    out = CliRunner().invoke(main, ["--model", "additive", "--hours", "1", "--out", str(tmp_path / "w.npz")])
    assert out.exit_code == 2 and "--hours needs --checkpoint" in out.output


def test_capacity_floor_recovers_a_curve_set_of_the_networks_form():
    # curves that are exactly hat integrals of a rank-2 density: the full and rank-2 fits reproduce them
    # (up to the table's linear interpolation between its 0.25 mrad grid points); rank 1 cannot
    from atomcount.stem.ppiscs.surrogate.capacity import representation_errors
    from atomcount.stem.ppiscs.surrogate.features import CurveTable, NODES, hat_cumulative

    rng = np.random.default_rng(1)
    atoms = np.arange(1, 88)
    density = (np.outer((NODES / 50.0) ** -3, atoms ** 0.9) + np.outer(np.exp(-((NODES - 60) / 20) ** 2), np.sqrt(atoms)))
    grid = np.arange(0.0, 250.01, 0.25)
    cum = (hat_cumulative(grid) @ density).T[None]  # (1, 87, G)
    table = CurveTable(cum, np.array([79]), np.array(["110"]), np.array([300.0]), np.array([0.085]),
                       np.array([21.0]), np.array(["synthetic"]))
    err, (inner, outer, truth) = representation_errors(table, 0, NODES, (1, 2, None), rng=rng, n_fit=3000, n_test=1000)
    assert err[None] < 2e-4 and err[2] < 2e-4 and err[1] > 5 * err[2]
    assert truth.shape == (1000, 87) and np.all(outer > inner)
