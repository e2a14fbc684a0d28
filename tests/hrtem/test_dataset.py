import json

import h5py
import numpy as np
import pytest

from atomcount.core.errors import AtomcountError
from atomcount.core.particles import ParticleConfig
from atomcount.hrtem.dataset import DatasetSpec, entry_path, generate, read_entry, summarize

SPEC = DatasetSpec(n_particles=3, seed=11, particle=ParticleConfig(n_atoms=(80, 200), field_of_view=40.0),
                   sampling=0.1, images_per_particle=1)


def _arrays(root):
    out = {}
    for i in range(SPEC.n_particles):
        with h5py.File(entry_path(root, i)) as f:
            f.visititems(lambda name, obj: out.__setitem__(f"{i}/{name}", obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("ref")
    assert generate(root, SPEC, workers=1, progress=False) == [0, 1, 2]
    return root


def test_same_seed_same_data(reference, tmp_path):
    generate(tmp_path, SPEC, workers=1, progress=False)
    a, b = _arrays(reference), _arrays(tmp_path)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_interrupted_generation_resumes_to_identical_result(reference, tmp_path):
    generate(tmp_path, SPEC, workers=1, progress=False)
    entry_path(tmp_path, 1).unlink()  # lost work
    entry_path(tmp_path, 2).rename(entry_path(tmp_path, 2).with_suffix(".h5.tmp"))  # half-written file
    done = generate(tmp_path, SPEC, workers=1, progress=False)
    assert done == [1, 2]
    assert not list((tmp_path / "entries").glob("*.tmp"))
    a, b = _arrays(reference), _arrays(tmp_path)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert generate(tmp_path, SPEC, workers=1, progress=False) == []


def test_entries_hold_consistent_ground_truth(reference):
    wave, cols, info = read_entry(entry_path(reference, 0))
    assert cols.total_atoms == info["n_atoms"]
    assert wave.fourier.dtype == np.complex64 and wave.extent == 40.0
    with h5py.File(entry_path(reference, 0)) as f:
        lab = f["images/0/height_map"][()]
        p = json.loads(f["images/0"].attrs["params"])
    assert lab.max() <= cols.height.max() + 1e-3
    assert 0.25 <= p["sampling"] <= 0.265


def test_summary(reference):
    s = summarize(reference)
    assert s["entries_done"] == 3 and sum(s["zones"].values()) == 3
    assert sum(h * c for h, c in s["height_histogram"].items()) >= s["atoms_per_particle"][0]


def test_resuming_with_other_settings_is_refused(reference):
    other = DatasetSpec(n_particles=3, seed=12, particle=SPEC.particle, sampling=0.1, images_per_particle=1)
    with pytest.raises(AtomcountError, match="different settings"):
        generate(reference, other, workers=1, progress=False)


@pytest.mark.parametrize("kwargs", [{"n_particles": 0}, {"n_particles": 2, "sampling": 0.5},
                                    {"n_particles": 2, "images_per_particle": -1}])
def test_bad_specs(kwargs):
    with pytest.raises(AtomcountError):
        DatasetSpec(**kwargs)


def test_not_a_dataset(tmp_path):
    with pytest.raises(AtomcountError, match="not an atomcount data set"):
        summarize(tmp_path)


def test_second_writer_is_refused_while_first_runs(tmp_path):
    import os

    generate(tmp_path, SPEC, workers=1, progress=False)
    (tmp_path / ".lock").write_text(str(os.getpid()))  # a live process holds the folder
    with pytest.raises(AtomcountError, match="being written"):
        generate(tmp_path, SPEC, workers=1, progress=False)
    (tmp_path / ".lock").write_text("999999999")  # stale lock of a killed run
    assert generate(tmp_path, SPEC, workers=1, progress=False) == []
    assert not (tmp_path / ".lock").exists()


def test_dask_local_cluster_gives_the_serial_result(reference, tmp_path):
    assert generate(tmp_path, SPEC, workers=2, progress=False) == [0, 1, 2]
    a, b = _arrays(reference), _arrays(tmp_path)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
