"""Reading every supported format: pixel-size round trips and every error path."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import tifffile
from PIL import Image

from atomcount.core.errors import AtomcountError
from atomcount.io import ImageData, check_image, read_image, supported_extensions

from _writers import write_dm, write_emd_ncem, write_emd_velox, write_mrc, write_ser

PS = 0.2575  # Å/px used throughout


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """Non-square, non-symmetric float32 image (40×48 px) to catch transposes and flips."""
    return np.random.default_rng(3).normal(100.0, 10.0, size=(40, 48)).astype(np.float32)


@pytest.fixture(scope="module")
def stack(image) -> np.ndarray:
    return np.stack([image, image + 1.0, image + 2.0])


# --------------------------------------------------------------- round trips
def _tiff(kind):
    def write(path, data, ps):
        if kind == "imagej_nm":
            tifffile.imwrite(path, data, imagej=True, resolution=(10 / ps, 10 / ps), metadata={"unit": "nm"})
        elif kind == "imagej_angstrom":
            tifffile.imwrite(path, data, imagej=True, resolution=(1 / ps, 1 / ps), metadata={"unit": "\\u00C5"})
        elif kind == "imagej_micron":
            tifffile.imwrite(path, data, imagej=True, resolution=(1e4 / ps, 1e4 / ps), metadata={"unit": "micron"})
        elif kind == "tags_cm":
            tifffile.imwrite(path, data, resolution=(1e8 / ps, 1e8 / ps), resolutionunit="CENTIMETER")
        elif kind == "tags_um":
            tifffile.imwrite(path, data, resolution=(1e4 / ps, 1e4 / ps), resolutionunit=5)
        elif kind == "fei":
            text = f"[Beam]\nHV=300000\n[Scan]\nPixelWidth={ps * 1e-10!r}\nPixelHeight={ps * 1e-10!r}\n"
            tifffile.imwrite(path, data, extratags=[(34682, "s", 0, text, True)])
    return write


WRITERS = {
    "dm3_nm": (".dm3", lambda p, d, ps: write_dm(p, d, ps / 10, "nm", version=3, voltage_V=300e3)),
    "dm4_nm": (".dm4", lambda p, d, ps: write_dm(p, d, ps / 10, "nm", version=4, voltage_V=300e3)),
    "dm3_micron": (".dm3", lambda p, d, ps: write_dm(p, d, ps / 1e4, "µm", version=3)),
    "dm4_angstrom": (".dm4", lambda p, d, ps: write_dm(p, d, ps, "Å", version=4)),
    "emd_ncem_nm": (".emd", lambda p, d, ps: write_emd_ncem(p, d, ps / 10, "[n_m]")),
    "emd_ncem_angstrom": (".emd", lambda p, d, ps: write_emd_ncem(p, d, ps, "[Å]")),
    "emd_velox": (".emd", lambda p, d, ps: write_emd_velox(p, d, ps * 1e-10)),
    "ser": (".ser", lambda p, d, ps: write_ser(p, d, ps * 1e-10)),
    "mrc": (".mrc", lambda p, d, ps: write_mrc(p, d, ps)),
    "mrc_fei": (".mrc", lambda p, d, ps: write_mrc(p, d, None, fei_pixel_size_m=ps * 1e-10)),
    **{f"tiff_{k}": (".tif", _tiff(k)) for k in
       ("imagej_nm", "imagej_angstrom", "imagej_micron", "tags_cm", "tags_um", "fei")},
    "npz": (".npz", lambda p, d, ps: np.savez(p, image=d, pixel_size=ps)),
}


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_round_trip_data_and_pixel_size(tmp_path, image, kind):
    ext, write = WRITERS[kind]
    path = tmp_path / f"img{ext}"
    write(path, image, PS)
    out = read_image(path)
    assert isinstance(out, ImageData)
    assert out.data.dtype == np.float32 and out.data.shape == image.shape
    np.testing.assert_array_equal(out.data, image)
    assert out.pixel_size == pytest.approx(PS, rel=1e-6)
    assert out.source == str(path)
    assert out.metadata["pixel_size_from"] == "file"


@pytest.mark.parametrize("kind", ["dm3_nm", "dm4_nm", "emd_velox", "tiff_fei"])
def test_voltage_metadata(tmp_path, image, kind):
    ext, write = WRITERS[kind]
    write(tmp_path / f"img{ext}", image, PS)
    assert read_image(tmp_path / f"img{ext}").metadata["voltage_kV"] == pytest.approx(300.0)


def test_velox_defocus_and_microscope(tmp_path, image):
    write_emd_velox(tmp_path / "v.emd", image, PS * 1e-10, defocus_m=-7e-9)
    meta = read_image(tmp_path / "v.emd").metadata
    assert meta["defocus_nm"] == pytest.approx(-7.0)
    assert meta["microscope"] == "Test TEM"


STACK_WRITERS = {
    "dm3": (".dm3", lambda p, d: write_dm(p, d, PS / 10, "nm")),
    "emd_velox": (".emd", lambda p, d: write_emd_velox(p, d, PS * 1e-10)),
    "ser": (".ser", lambda p, d: write_ser(p, d, PS * 1e-10)),
    "mrc": (".mrc", lambda p, d: write_mrc(p, d, PS)),
    "tiff": (".tif", lambda p, d: tifffile.imwrite(p, d, imagej=True, resolution=(1 / PS,) * 2,
                                                 metadata={"unit": "\\u00C5"})),
    "npz": (".npz", lambda p, d: np.savez(p, image=d, pixel_size=PS)),
}


@pytest.mark.parametrize("kind", sorted(STACK_WRITERS))
def test_stack_read_only_when_allowed(tmp_path, stack, kind):
    ext, write = STACK_WRITERS[kind]
    path = tmp_path / f"stack{ext}"
    write(path, stack)
    out = read_image(path, allow_stack=True)
    np.testing.assert_array_equal(out.data, stack)
    assert out.pixel_size == pytest.approx(PS, rel=1e-6)
    with pytest.raises(AtomcountError, match="3-D"):
        read_image(path)


def test_single_frame_stack_becomes_2d(tmp_path, image):
    np.savez(tmp_path / "one.npz", image=image[None], pixel_size=PS)
    assert read_image(tmp_path / "one.npz").data.shape == image.shape


def test_npz_pixel_size_y_x(tmp_path, image):
    np.savez(tmp_path / "a.npz", image=image, pixel_size=[PS, PS * 1.005])
    assert read_image(tmp_path / "a.npz").pixel_size == pytest.approx(PS * 1.005)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_grey_needs_pixel_size(tmp_path, dtype):
    data = (np.arange(40 * 48).reshape(40, 48) % 251).astype(dtype)
    Image.fromarray(data).save(tmp_path / "a.png")
    with pytest.raises(AtomcountError, match="has no pixel size.*pass --pixel-size in Å"):
        read_image(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png", pixel_size=PS)
    np.testing.assert_array_equal(out.data, data)
    assert out.pixel_size == PS and out.metadata["pixel_size_from"] == "argument"


def test_png_grey_saved_as_rgb_is_read_silently(tmp_path):
    grey = (np.arange(40 * 48).reshape(40, 48) % 200).astype(np.uint8)
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(tmp_path / "a.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = read_image(tmp_path / "a.png", pixel_size=PS)
    np.testing.assert_array_equal(out.data, grey)


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_colour_image_converted_with_warning(tmp_path, ext):
    rgb = np.zeros((40, 48, 3), np.uint8)
    rgb[..., 0] = 100
    rgb[..., 2] = 200
    path = tmp_path / f"c{ext}"
    Image.fromarray(rgb).save(path) if ext == ".png" else tifffile.imwrite(path, rgb, photometric="rgb")
    with pytest.warns(UserWarning, match="colour"):
        out = read_image(path, pixel_size=PS)
    assert out.data.shape == (40, 48)
    np.testing.assert_allclose(out.data, 0.299 * 100 + 0.114 * 200, rtol=1e-6)


def test_npy_needs_pixel_size_and_override_works(tmp_path, image):
    np.save(tmp_path / "a.npy", image)
    with pytest.raises(AtomcountError, match="has no pixel size; pass --pixel-size in Å"):
        read_image(tmp_path / "a.npy")
    np.testing.assert_array_equal(read_image(tmp_path / "a.npy", pixel_size=PS).data, image)


def test_override_replaces_file_pixel_size_with_warning(tmp_path, image):
    write_dm(tmp_path / "a.dm3", image, 0.05, "nm")
    with pytest.warns(UserWarning, match="file says 0.5 Å/px"):
        out = read_image(tmp_path / "a.dm3", pixel_size=PS)
    assert out.pixel_size == PS and out.metadata["pixel_size_from"] == "argument"


def test_pixels_within_one_percent_accepted(tmp_path, image):
    write_dm(tmp_path / "a.dm3", image, PS / 10, "nm", scale_y=PS / 10 * 1.005)
    assert read_image(tmp_path / "a.dm3").pixel_size == pytest.approx(PS, rel=1e-6)


def test_supported_extensions_cover_the_documented_formats():
    assert set(supported_extensions()) >= {".dm3", ".dm4", ".emd", ".ser", ".mrc", ".tif", ".tiff",
                                           ".png", ".npy", ".npz"}


# ---------------------------------------------------------------- error paths
def test_missing_file(tmp_path):
    with pytest.raises(AtomcountError, match="file not found"):
        read_image(tmp_path / "nope.dm4")


def test_directory_is_not_a_file(tmp_path):
    (tmp_path / "d.dm3").mkdir()
    with pytest.raises(AtomcountError, match="is not a file"):
        read_image(tmp_path / "d.dm3")


@pytest.mark.parametrize("ext", [".xyz", ".h5", ""])
def test_unsupported_extension(tmp_path, ext):
    (tmp_path / f"a{ext}").write_bytes(b"\0" * 64)
    with pytest.raises(AtomcountError, match=r"unsupported file type.*\.dm3"):
        read_image(tmp_path / f"a{ext}")


@pytest.mark.parametrize("ext", [".dm3", ".dm4", ".emd", ".ser", ".mrc", ".tif", ".png", ".npy", ".npz"])
def test_garbage_file_is_unreadable(tmp_path, ext):
    (tmp_path / f"bad{ext}").write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(AtomcountError, match="cannot read") as info:
        read_image(tmp_path / f"bad{ext}")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("kind", ["dm3_nm", "dm4_nm", "ser", "tiff_imagej_nm"])
def test_truncated_file_is_unreadable(tmp_path, image, kind):
    ext, write = WRITERS[kind]
    path = tmp_path / f"t{ext}"
    write(path, image, PS)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(AtomcountError, match="cannot read"):
        read_image(path)


@pytest.mark.parametrize("shape, allow_stack, fragment", [
    ((3, 40, 48), False, "3-D"),
    ((64,), False, "1-D"),
    ((64,), True, "1-D"),
    ((2, 2, 40, 48), True, "4-D"),
])
def test_wrong_dimensions(tmp_path, shape, allow_stack, fragment):
    np.savez(tmp_path / "a.npz", image=np.ones(shape, np.float32), pixel_size=PS)
    with pytest.raises(AtomcountError, match=fragment):
        read_image(tmp_path / "a.npz", allow_stack=allow_stack)


def test_complex_data(tmp_path, image):
    np.savez(tmp_path / "a.npz", image=image * (1 + 1j), pixel_size=PS)
    with pytest.raises(AtomcountError, match="complex.*modulus.*phase"):
        read_image(tmp_path / "a.npz")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_pixels(tmp_path, image, bad):
    data = image.copy()
    data[5, 7] = bad
    np.savez(tmp_path / "a.npz", image=data, pixel_size=PS)
    with pytest.raises(AtomcountError, match="1 NaN or infinite"):
        read_image(tmp_path / "a.npz")


def test_non_square_pixels_refused(tmp_path, image):
    write_dm(tmp_path / "a.dm3", image, PS / 10, "nm", scale_y=PS / 10 * 1.02)
    with pytest.raises(AtomcountError, match="non-square pixels"):
        read_image(tmp_path / "a.dm3")


@pytest.mark.parametrize("units, note", [("", "''"), ("1/nm", "1/nm")])
def test_uncalibrated_or_reciprocal_dm(tmp_path, image, units, note):
    write_dm(tmp_path / "a.dm4", image, 1.0, units, version=4)
    with pytest.raises(AtomcountError, match="has no pixel size") as info:
        read_image(tmp_path / "a.dm4")
    assert note in str(info.value) and "pass --pixel-size in Å" in str(info.value)


def test_uncalibrated_mrc_is_not_taken_as_1_nm(tmp_path, image):
    write_mrc(tmp_path / "a.mrc", image, None)
    with pytest.raises(AtomcountError, match="has no pixel size; pass --pixel-size in Å"):
        read_image(tmp_path / "a.mrc")


def test_uncalibrated_tiff_inch_resolution(tmp_path, image):
    tifffile.imwrite(tmp_path / "a.tif", image, resolution=(72, 72), resolutionunit="INCH")
    with pytest.raises(AtomcountError, match="has no pixel size"):
        read_image(tmp_path / "a.tif")


@pytest.mark.parametrize("value, fragment", [
    (0.0, "positive"), (-0.25, "positive"), (float("nan"), "positive"),
    (100.0, "outside the plausible range"), (0.001, "outside the plausible range"),
    ("abc", "must be a number"),
])
def test_bad_pixel_size_argument(tmp_path, image, value, fragment):
    np.save(tmp_path / "a.npy", image)
    with pytest.raises(AtomcountError, match=fragment):
        read_image(tmp_path / "a.npy", pixel_size=value)


def test_absurd_pixel_size_in_file(tmp_path, image):
    write_dm(tmp_path / "a.dm3", image, 1.0, "µm")  # 1 µm/px = 10 000 Å/px
    with pytest.raises(AtomcountError, match="outside the plausible range"):
        read_image(tmp_path / "a.dm3")


def test_image_too_small(tmp_path):
    np.savez(tmp_path / "a.npz", image=np.ones((16, 64), np.float32), pixel_size=PS)
    with pytest.raises(AtomcountError, match="16×64 px.*32×32"):
        read_image(tmp_path / "a.npz")


# ------------------------------------------------------------ check_image
def test_check_image_returns_float32_copy_of_values():
    a = np.arange(64 * 64, dtype=np.int32).reshape(64, 64)
    out = check_image(a, PS)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, a)


@pytest.mark.parametrize("array, pixel_size, fragment", [
    (np.ones((64, 64), complex), PS, "complex"),
    (np.ones((2, 64, 64)), PS, "3-D"),
    (np.ones(64), PS, "1-D"),
    (np.ones((8, 64)), PS, "32×32"),
    (np.full((64, 64), np.nan), PS, "NaN"),
    (np.full((64, 64), 1e39), PS, "infinite"),
    (np.array([["a"] * 64] * 64), PS, "non-numeric"),
    (np.ones((64, 64)), None, "has no pixel size; pass --pixel-size in Å"),
    (np.ones((64, 64)), -1.0, "positive"),
    (np.ones((64, 64)), 20.0, "outside the plausible range"),
    (np.ones((64, 64)), True, "must be a number"),
])
def test_check_image_errors(array, pixel_size, fragment):
    with pytest.raises(AtomcountError, match=fragment):
        check_image(array, pixel_size)


def test_check_image_allows_stack_when_asked():
    assert check_image(np.ones((2, 64, 64)), PS, allow_stack=True).shape == (2, 64, 64)
