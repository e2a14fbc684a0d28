"""Lazy frame sources and their error paths."""
import numpy as np
import pytest
import tifffile

from atomcount.core.errors import AtomcountError
from atomcount.movie.frames import open_movie

from _movies import synthetic_movie


def test_npy_is_memory_mapped_and_frames_match(movie_npy):
    data = np.load(movie_npy)
    src = open_movie(movie_npy, pixel_size=0.25)
    assert (len(src), src.shape, src.pixel_size) == (6, (96, 96), 0.25)
    assert np.array_equal(src.frame(4), data[4])
    assert src.identity["frames"] == 6


def test_tiff_stack_reads_pages_and_pixel_size(tmp_path):
    data = synthetic_movie(3)
    path = tmp_path / "m.tif"
    tifffile.imwrite(path, data, imagej=True, resolution=(40.0, 40.0),
                     metadata={"unit": "nm", "axes": "TYX", "finterval": 0.5})
    src = open_movie(path)
    assert len(src) == 3 and src.pixel_size == pytest.approx(0.25) and src.frame_time == 0.5
    assert np.array_equal(src.frame(2), data[2])


def test_folder_series_in_name_order(tmp_path):
    data = synthetic_movie(3)
    for k, f in enumerate(data):
        np.save(tmp_path / f"f{k:02d}.npy", f)
    src = open_movie(tmp_path, pixel_size=0.25, frame_time=0.1)
    assert len(src) == 3 and src.frame_time == 0.1
    assert np.array_equal(src.frame(1), data[1])


def test_frame_of_another_shape_in_a_series(tmp_path):
    np.save(tmp_path / "a.npy", synthetic_movie(1)[0])
    np.save(tmp_path / "b.npy", synthetic_movie(1, size=80)[0])
    src = open_movie(tmp_path, pixel_size=0.25)
    with pytest.raises(AtomcountError, match="80×80 px but the movie's frames are 96×96"):
        src.frame(1)


def test_truncated_files(tmp_path, movie_npy):
    cut = tmp_path / "cut.npy"
    cut.write_bytes(movie_npy.read_bytes()[:-5000])
    with pytest.raises(AtomcountError, match="truncated"):
        open_movie(cut, pixel_size=0.25)
    tif = tmp_path / "m.tif"
    tifffile.imwrite(tif, synthetic_movie(3), photometric="minisblack")
    cut = tmp_path / "cut.tif"
    cut.write_bytes(tif.read_bytes()[:-5000])
    with pytest.raises(AtomcountError, match="truncated"):
        src = open_movie(cut, pixel_size=0.25)
        [src.frame(k) for k in range(len(src))]


def test_bad_inputs(tmp_path, movie_npy):
    with pytest.raises(AtomcountError, match="no pixel size"):
        open_movie(movie_npy)
    with pytest.raises(AtomcountError, match="not found"):
        open_movie(tmp_path / "nope.npy", pixel_size=0.25)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AtomcountError, match="no frame files"):
        open_movie(tmp_path / "empty", pixel_size=0.25)
    np.save(tmp_path / "4d.npy", np.zeros((2, 2, 64, 64)))
    with pytest.raises(AtomcountError, match="3-D stack"):
        open_movie(tmp_path / "4d.npy", pixel_size=0.25)
    bad = synthetic_movie(2)
    bad[1, 5, 5] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(AtomcountError, match="NaN"):
        open_movie(tmp_path / "nan.npy", pixel_size=0.25).frame(1)
    with pytest.raises(AtomcountError, match="frame time"):
        open_movie(movie_npy, pixel_size=0.25, frame_time=-1)
