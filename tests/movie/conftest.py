"""Fixtures: a small synthetic movie on disk."""
import numpy as np
import pytest
from _movies import synthetic_movie


@pytest.fixture
def movie_npy(tmp_path):
    path = tmp_path / "movie.npy"
    np.save(path, synthetic_movie(6))
    return path
