"""Shared fixtures: small particles and exit waves computed once per session."""
from __future__ import annotations

import numpy as np
import pytest

from atomcount.core.particles import ParticleConfig, random_particle


@pytest.fixture(scope="session")
def small_config() -> ParticleConfig:
    return ParticleConfig(n_atoms=(80, 300), field_of_view=40.0)


@pytest.fixture(scope="session")
def small_particle(small_config):
    return random_particle(np.random.default_rng(5), small_config)


@pytest.fixture(scope="session")
def small_wave(small_particle):
    from atomcount.hrtem.imaging import exit_wave

    return exit_wave(small_particle, sampling=0.1)
