"""Fixtures: a small random additive network exported to .npz (no training needed)."""
from __future__ import annotations

import pytest

from atomcount.stem.ppiscs.surrogate import DEFAULT_WEIGHTS

DOMAIN = {"entries": ["Au_100_300kV_rmsd0.0850"], "settings": [[79, "100", 300.0, 0.085], [79, "110", 300.0, 0.085]],
          "alpha_mrad": [10.0, 35.5], "theta_mrad": [18.0, 250.0], "min_width_mrad": 10.0}


@pytest.fixture(scope="session", params=[{}, {"edge": True}, {"alpha_harmonics": 3},
                                         {"alpha_harmonics": 3, "element_onehot": True}],
                ids=["theta-hats", "with-edge-hats", "with-alpha-harmonics", "with-element-indicators"])
def random_additive(tmp_path_factory, request):
    """(path, torch model) of an untrained AdditiveNet: plain, with the α-relative edge hats, with the α
    harmonics, with harmonics and element indicators; its guarantees hold for any weights."""
    import torch

    from atomcount.stem.ppiscs.surrogate.nets import AdditiveNet
    from atomcount.stem.ppiscs.surrogate.train import export

    torch.manual_seed(3)
    model = AdditiveNet(width=32, depth=2, rank=4, **request.param)
    path = tmp_path_factory.mktemp("w") / "additive.npz"
    export(model, "additive", path, {"model_kw": request.param, "domain": DOMAIN, "holdout_entries": []})
    return path, model


@pytest.fixture(scope="session")
def shipped():
    if not DEFAULT_WEIGHTS.exists():
        pytest.skip("no shipped surrogate weights")
    return DEFAULT_WEIGHTS
