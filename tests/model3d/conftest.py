"""Shared particles for the model3d tests."""
from __future__ import annotations

import numpy as np
import pytest

from atomcount.core.particles import ParticleConfig, random_particle


def _table(zone: str, seed: int) -> tuple[dict, np.ndarray]:
    cfg = ParticleConfig(zones=(zone,), n_atoms=(250, 350), max_tilt_deg=0.0, truncation_probability=0.0,
                         adatom_fraction=(0.0, 0.0), vacancy_fraction=(0.0, 0.0))
    p = random_particle(np.random.default_rng(seed), cfg)
    table = {"x_A": p.columns.xy[:, 0], "y_A": p.columns.xy[:, 1], "height": p.columns.height}
    return table, p.atoms.positions


@pytest.fixture(scope="session")
def au110():
    """Column table and true positions of a small defect-free Au particle along [110]."""
    return _table("110", 3)


@pytest.fixture(scope="session")
def au100():
    """Column table and true positions of a small defect-free Au particle along [100]."""
    return _table("100", 4)
