"""The whole-frame evaluation: scoring, calibration error, detector models and particle families."""
import numpy as np
import pytest

from atomcount.core.errors import AtomcountError
from atomcount.hrtem.evaluation.wholeframe import WholeFrameRecords, decade_name, expected_calibration_error, scores


def _records():
    rec = WholeFrameRecords()
    true_xy = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0], [3.0, 3.0]])
    true_h = np.array([1, 4, 10, 12])
    # three columns found (one 0.5 Å off), one missed; one phantom 20 Å away
    pred_xy = np.array([[0.1, 0.0], [3.5, 0.0], [0.0, 3.1], [20.0, 20.0]])
    pred_h = np.array([1, 5, 10, 3])
    conf = np.array([0.9, 0.5, 0.8, 0.3])
    rec.add({"head": "classification", "decade": "1e2-1e3", "detector": "counts", "zone": "110",
             "family": "octahedron"}, true_xy, true_h, pred_xy, pred_h, conf)
    return rec


def test_scores_count_missed_columns_as_wrong_and_phantoms_against_precision():
    s = scores(_records(), head="classification")
    assert s["columns"] == 4
    assert s["precision"] == pytest.approx(3 / 4)
    assert s["recall"] == pytest.approx(3 / 4)
    assert s["exact"] == pytest.approx(2 / 4)
    assert s["within_1"] == pytest.approx(3 / 4)
    tall = scores(_records(), head="classification", min_height=10)
    assert tall["columns"] == 2 and tall["exact"] == pytest.approx(0.5)
    assert np.isnan(scores(_records(), head="regression")["exact"])


def test_calibration_error_closed_form():
    # found columns: confidences 0.9 (right), 0.5 (wrong), 0.8 (right), bins of width 0.1
    ece, rows = expected_calibration_error(_records(), "classification")
    assert ece == pytest.approx((abs(1 - 0.9) + abs(0 - 0.5) + abs(1 - 0.8)) / 3)
    assert sum(r[3] for r in rows) == 3


def test_decade_name():
    assert decade_name((1e2, 1e3)) == "1e2-1e3"
    assert decade_name((1e5, 1e6)) == "1e5-1e6"


def test_detector_models_keep_the_mean_and_differ_in_noise_colour():
    from atomcount.hrtem.imaging import detect
    from atomcount.hrtem.microscope import ImagingParameters

    p = ImagingParameters(dose=1e3, sampling=0.25, mtf_c1=0.0, mtf_c2=0.3, mtf_c3=2.3)
    flat = np.ones((128, 128), np.float32)
    a = detect(flat, p, np.random.default_rng(0), mtf_on="counts")
    b = detect(flat, p, np.random.default_rng(0), mtf_on="intensity")
    mean = p.dose * p.sampling**2
    assert a.mean() == pytest.approx(mean, rel=0.01) and b.mean() == pytest.approx(mean, rel=0.01)
    # the MTF on the counts damps the shot noise; on the flat intensity it changes nothing,
    # so the white noise keeps the Poisson variance
    assert b.var() == pytest.approx(mean, rel=0.05)
    assert a.var() < 0.8 * b.var()
    with pytest.raises(AtomcountError):
        detect(flat, p, np.random.default_rng(0), mtf_on="sensor")


@pytest.mark.parametrize("family", ["wulff-random", "octahedron"])
def test_held_out_families_give_valid_particles(family):
    from atomcount.core.particles import ParticleConfig, random_particle

    cfg = ParticleConfig(family=family, n_atoms=(80, 400), field_of_view=64.0)
    for k in range(3):
        p = random_particle(np.random.default_rng([3, k]), cfg)
        assert p.columns.total_atoms == len(p.atoms)
        assert p.columns.height.max() <= cfg.max_height
        assert p.info["family"] == family


def test_octahedron_family_is_not_the_training_family():
    from atomcount.core.particles import ParticleConfig, random_particle

    rng = np.random.default_rng(1)
    p = random_particle(rng, ParticleConfig(family="octahedron", n_atoms=(80, 400), adatom_fraction=(0, 0),
                                            vacancy_fraction=(0, 0), truncation_probability=0))
    assert "octahedron_length" in p.info and "surface_energies" not in p.info


def test_unknown_family_is_refused():
    from atomcount.core.particles import ParticleConfig

    with pytest.raises(AtomcountError, match="family"):
        ParticleConfig(family="icosahedron")


def test_wholeframe_confidence_fit_reads_raw_confidences_and_restores_the_model(monkeypatch):
    from types import SimpleNamespace

    import atomcount.hrtem.evaluation.wholeframe as wf

    rng = np.random.default_rng(0)
    seen = {}

    def fake_evaluate(model, entries, **kw):
        seen["calibration during"] = dict(model.confidence_calibration)
        rec = WholeFrameRecords()
        raw = rng.uniform(0, 1, 4000)
        right = rng.uniform(0, 1, 4000) < raw**2  # over-confident raw scores
        xy = np.stack([np.arange(4000) * 3.0, np.zeros(4000)], 1)
        true_h = np.full(4000, 5)
        for head in kw["heads"]:
            rec.add({"head": head, "decade": "1e3-1e4", "detector": "counts", "zone": "110", "family": "wulff"},
                    xy, true_h, xy, np.where(right, 5, 6), raw)
        return rec

    monkeypatch.setattr(wf, "evaluate_wholeframes", fake_evaluate)
    model = SimpleNamespace(confidence_calibration={"classification": "old map"})
    fitted = wf.fit_wholeframe_confidence(model, [], progress=False)
    assert seen["calibration during"] == {}
    assert model.confidence_calibration == {"classification": "old map"}
    for head in ("regression", "classification"):
        assert fitted[head](np.array([0.5]))[0] == pytest.approx(0.25, abs=0.05)


def test_frames_keep_the_mean_confidence_of_every_predicted_column():
    _, frames = _records().arrays()
    assert frames["mean_confidence"][0] == pytest.approx((0.9 + 0.5 + 0.8 + 0.3) / 4)  # the phantom counts too
    rec = WholeFrameRecords()
    rec.add({"head": "classification", "decade": "1e2-1e3", "detector": "counts", "zone": "110", "family": "wulff"},
            np.array([[0.0, 0.0]]), np.array([3]), np.zeros((0, 2)), np.zeros(0, int), np.zeros(0))
    assert np.isnan(rec.arrays()[1]["mean_confidence"][0])  # nothing found


def test_focus_refusal_rule_is_chosen_within_its_false_refusal_budget():
    from atomcount.bench.hrtem_focus_check import choose_rule, refused

    rng = np.random.default_rng(0)
    n = 400
    # underfocus: fringe mostly positive, 10 % read strongly negative; confident model
    under = {"z": np.where(rng.random(n) < 0.1, -15.0, 8.0), "confidence": rng.uniform(0.6, 0.9, n),
             "decade": np.full(n, "1e3-1e4")}
    # overfocus: fringe negative, the model unsure
    over = {"z": rng.uniform(-40, -4, n), "confidence": rng.uniform(0.2, 0.55, n), "decade": np.full(n, "1e3-1e4")}
    z, c, hit, false = choose_rule(under, over, max_false=0.01)
    assert hit == pytest.approx(1.0) and false <= 0.01 and 0.55 <= c <= 0.6
    assert hit == refused(over, z, c).mean() and false == refused(under, z, c).mean()
    # the fringe alone would refuse the tenth of the valid frames that read negative
    assert refused(under, 3.0, 1.01).mean() == pytest.approx(np.mean(under["z"] < -3))
    nan = {"z": np.array([np.nan]), "confidence": np.array([np.nan]), "decade": np.array(["1e3-1e4"])}
    assert not refused(nan, 3.0, 0.9).any()  # no signal, no refusal
    with pytest.raises(ValueError, match="few enough"):
        choose_rule({**under, "z": np.full(n, -50.0), "confidence": np.full(n, 0.01)}, over, max_false=0.0)
