import csv
import numpy as np
import pytest
import torch

from atomcount.core.columns import ColumnTable
from atomcount.hrtem.evaluation.forward_cv import folds_by_mean_height
from atomcount.hrtem.training.loop import TrainConfig, train
from atomcount.hrtem.training.stream import HRTEMStream, iter_batches


@pytest.fixture()
def entries(small_wave, small_particle):
    return [(small_wave, small_particle.columns, {})]


def _cfg(tmp_path, steps):
    return TrainConfig(out=str(tmp_path), steps=steps, batch=2, crop=64, width=4, checkpoint_every=3,
                       val_every=0, threads=1)


def test_resumed_training_equals_uninterrupted(tmp_path, entries):
    a = train(_cfg(tmp_path / "a", 6), progress=False, entries=entries)
    b_cfg = _cfg(tmp_path / "b", 6)
    assert train(b_cfg, progress=False, entries=entries, stop_at=4) is None  # interrupted after step 4
    b = train(b_cfg, progress=False, entries=entries)
    sa = torch.load(a, weights_only=False)["state_dict"]
    sb = torch.load(b, weights_only=False)["state_dict"]
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k])
    rows = list(csv.DictReader(open(tmp_path / "b" / "log.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]


def test_batches_do_not_depend_on_worker_count(entries):
    """Worker processes render exactly the batches the training process would."""
    s = HRTEMStream(entries, crop=64)
    serial = list(iter_batches(s, 3, range(2, 7), 2, lambda step: 1e3 * step))
    parallel = list(iter_batches(s, 3, range(2, 7), 2, lambda step: 1e3 * step, workers=2))
    assert len(parallel) == 5
    for a, b in zip(serial, parallel):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(serial[0][0], serial[1][0])



def test_a_consumer_may_stop_early_with_batches_in_flight(entries):
    """Stopping at a deadline leaves up to 2 × workers batches rendering; closing the stream waits for them."""
    s = HRTEMStream(entries, crop=64)
    stream = iter_batches(s, 3, range(0, 50), 2, lambda step: None, workers=2)
    first = [next(stream) for _ in range(2)]
    stream.close()  # the shared-memory slots are released; the batches taken are intact
    again = list(iter_batches(s, 3, range(0, 2), 2, lambda step: None))
    for a, b in zip(first, again):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)

def test_stream_labels_match_images(entries):
    """Crops keep labels aligned: the label's columns sit where the image has contrast."""
    s = HRTEMStream(entries, crop=64, augment=True)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = s.sample(rng)
        assert x["image"].shape == x["height"].shape == (64, 64)
        np.testing.assert_allclose(x["classes"].sum(0), 1.0, atol=1e-5)
        fg = x["classes"][0] < 0.5
        assert np.all(x["height"][fg] > 0.4)


def test_stream_rejects_bad_crop(entries):
    from atomcount.core.errors import AtomcountError

    with pytest.raises(AtomcountError):
        HRTEMStream(entries, crop=60)
    with pytest.raises(AtomcountError):
        HRTEMStream([], crop=64)


def test_forward_cv_folds_sorted_and_complete():
    rng = np.random.default_rng(0)
    entries = [(None, ColumnTable(np.zeros((n, 2)), rng.integers(1, 15, n)), {}) for n in rng.integers(5, 50, 23)]
    folds = folds_by_mean_height(entries)
    assert sorted(i for f in folds for i in f) == list(range(23))
    means = [[entries[i][1].height.mean() for i in f] for f in folds]
    for lo, hi in zip(means, means[1:]):
        assert max(lo) <= min(hi)


def test_stride_two_run_starts_from_a_stride_one_model_with_its_trunk(tmp_path, entries):
    """Carry-over: every trunk tensor but the first convolution comes from the stride-1 model;
    the first convolution and the heads are new (other shapes); the run trains and saves a
    stride-2 model."""
    from atomcount.hrtem.nn.checkpoint import load_model, save_model
    from atomcount.hrtem.nn.fcn import ColumnFCN
    from atomcount.hrtem.training.loop import carry_over

    torch.manual_seed(1)
    source = ColumnFCN(width=4)
    target = ColumnFCN(width=4, input_stride=2)
    fresh = carry_over(source, target)
    assert set(fresh) == {"down.0.0.weight", "regression.weight", "regression.bias", "classification.weight",
                          "classification.bias"}
    theirs = source.state_dict()
    for k, v in target.state_dict().items():
        if k not in fresh:
            torch.testing.assert_close(v, theirs[k])
    assert carry_over(source, ColumnFCN(width=4)) == []
    save_model(tmp_path / "s1.pt", source, {})
    cfg = _cfg(tmp_path / "run", 2)
    cfg.init, cfg.input_stride = str(tmp_path / "s1.pt"), 2
    model, _ = load_model(train(cfg, progress=False, entries=entries))
    assert model.input_stride == 2


def test_a_run_of_twice_the_width_starts_from_the_widened_model(tmp_path, entries):
    """Before any step, the run's model computes what its half-width init computes."""
    from atomcount.hrtem.nn.checkpoint import load_model, save_model
    from atomcount.hrtem.nn.fcn import ColumnFCN

    torch.manual_seed(2)
    source = ColumnFCN(width=4, input_stride=2).eval()
    save_model(tmp_path / "w4.pt", source, {})
    cfg = _cfg(tmp_path / "run", 0)
    cfg.init, cfg.width, cfg.input_stride, cfg.ema_decay = str(tmp_path / "w4.pt"), 8, 2, 0.0
    model, _ = load_model(train(cfg, progress=False, entries=entries))
    assert (model.width, model.input_stride) == (8, 2)
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x)["classification"], source(x)["classification"], rtol=1e-4, atol=1e-5)


def test_init_from_a_model_of_another_width_is_refused(tmp_path, entries):
    from atomcount.core.errors import AtomcountError
    from atomcount.hrtem.nn.checkpoint import save_model
    from atomcount.hrtem.nn.fcn import ColumnFCN

    save_model(tmp_path / "w8.pt", ColumnFCN(width=8), {})
    cfg = _cfg(tmp_path / "run", 2)
    cfg.init = str(tmp_path / "w8.pt")
    with pytest.raises(AtomcountError, match="width 8"):
        train(cfg, progress=False, entries=entries)
