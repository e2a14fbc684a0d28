"""Velox ``.emd``: STEM acquisition metadata (convergence, detector angles, dwell time)."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from atomcount.io import read_image

from _writers import write_emd_velox


def _add_stem_metadata(path, extra: dict) -> None:
    """Merge ``extra`` into the JSON metadata of every frame of a Velox file."""
    with h5py.File(path, "r+") as f:
        group = next(iter(f["Data/Image"].values()))
        raw = group["Metadata"][:, 0]
        meta = json.loads(bytes(raw[raw > 0]).decode()) | extra
        text = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        del group["Metadata"]
        group["Metadata"] = np.repeat(text[:, None], group["Data"].shape[-1], axis=1)


def test_velox_stem_acquisition(tmp_path):
    path = tmp_path / "haadf.emd"
    write_emd_velox(path, np.ones((40, 48), np.float32), 0.075e-10)
    _add_stem_metadata(path, {
        "Optics": {"AccelerationVoltage": "300000", "BeamConvergence": "0.0179"},
        "Scan": {"DwellTime": "2.5e-06", "FrameTime": "1.0"},
        "BinaryResult": {"PixelSize": {"width": "7.5e-12", "height": "7.5e-12"}, "PixelUnitX": "m",
                         "PixelUnitY": "m", "Offset": {"x": "0", "y": "0"}, "Detector": "HAADF"},
        "Detectors": {"Detector-0": {"DetectorName": "BF", "CollectionAngleRange": {"begin": "0", "end": "0.01"}},
                      "Detector-4": {"DetectorName": "HAADF",
                                     "CollectionAngleRange": {"begin": "0.0412", "end": "0.2475"}}},
    })
    meta = read_image(path).metadata
    assert meta["convergence_mrad"] == pytest.approx(17.9)
    assert (meta["inner_mrad"], meta["outer_mrad"]) == pytest.approx((41.2, 247.5))
    assert meta["detector"] == "HAADF" and meta["dwell_s"] == pytest.approx(2.5e-6)
    assert meta["voltage_kV"] == pytest.approx(300.0)


def test_velox_without_stem_metadata_has_none(tmp_path):
    write_emd_velox(tmp_path / "a.emd", np.ones((40, 48), np.float32), 0.25e-10)
    meta = read_image(tmp_path / "a.emd").metadata
    assert not {"convergence_mrad", "inner_mrad", "outer_mrad", "detector"} & set(meta)
