"""Minimal writers of microscope file formats, for round-trip tests only.

Each writer produces the smallest file that the format's reader in
RosettaSciIO accepts, following the published layouts:

* DM3/DM4: Gatan tag files (header; root tag group; ``ImageList`` → image →
  ``ImageData`` with ``Data``, ``DataType``, ``Dimensions`` and
  ``Calibrations/Dimension[]`` with ``Origin``/``Scale``/``Units``).
* EMD: NCEM/Berkeley (``/data/<name>/data`` with ``dim1``/``dim2`` axis
  vectors) and Thermo Fisher Velox (``/Data/Image/<id>/Data`` and a JSON
  ``Metadata`` byte array).
* SER: FEI TIA series file, version 0x0210, 2-D image elements, time tags.
* MRC: MRC2014 1024-byte header, optionally followed by an FEI extended header.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import h5py
import numpy as np

# ----------------------------------------------------------------- DM3 / DM4
_DM_SIMPLE = {np.dtype("<i2"): 2, np.dtype("<i4"): 3, np.dtype("<u2"): 4, np.dtype("<u4"): 5,
              np.dtype("<f4"): 6, np.dtype("<f8"): 7, np.dtype("u1"): 8, np.dtype("i1"): 10}
_DM_IMAGE_TYPE = {np.dtype("<f4"): 2, np.dtype("<i2"): 1, np.dtype("u1"): 6, np.dtype("<i4"): 7,
                  np.dtype("<u2"): 10, np.dtype("<c8"): 3}


def write_dm(path: Path, image: np.ndarray, scale: float, units: str = "nm", version: int = 3,
             scale_y: float | None = None, voltage_V: float | None = None) -> None:
    """Write ``image`` (``(ny, nx)`` or ``(nz, ny, nx)``) as a DM3 or DM4 file.

    Parameters
    ----------
    scale, scale_y : float
        Pixel size along x and y in ``units`` (``scale_y`` defaults to ``scale``).
    units : str
        Calibration unit, e.g. "nm", "µm", "Å", "1/nm" or "" (uncalibrated).
    version : {3, 4}
    voltage_V : float, optional
        Written to ``ImageTags/Microscope Info/Voltage`` (V).
    """
    data = np.ascontiguousarray(image)
    data = data.astype(data.dtype.newbyteorder("<"))
    scales = [scale, scale if scale_y is None else scale_y] + [1.0] * (data.ndim - 2)
    dims = [{"Origin": 0.0, "Scale": float(s), "Units": units if i < 2 else ""} for i, s in enumerate(scales)]
    image_tags = {"Microscope Info": {"Voltage": float(voltage_V)}} if voltage_V else {}
    root = {"ImageList": [{
        "ImageData": {
            "Calibrations": {"Brightness": {"Origin": 0.0, "Scale": 1.0, "Units": ""}, "Dimension": dims},
            "Data": data.ravel(),
            "DataType": _DM_IMAGE_TYPE[data.dtype],
            "Dimensions": [int(n) for n in data.shape[::-1]],
            "PixelDepth": data.dtype.itemsize,
        },
        "ImageTags": image_tags,
        "Name": "test image",
    }]}
    body = _dm_group_body(root, version)
    word = ">l" if version == 3 else ">q"
    header = struct.pack(">l", version) + struct.pack(word, len(body) + 8) + struct.pack(">l", 1)
    Path(path).write_bytes(header + body + b"\0" * 8)


def _dm_group_body(items, version: int) -> bytes:
    """Sorted/open flags, tag count and tags of a tag group (dict or list)."""
    word = ">l" if version == 3 else ">q"
    entries = items.items() if isinstance(items, dict) else (("", v) for v in items)
    tags = b"".join(_dm_tag(name, value, version) for name, value in entries)
    return b"\x00\x01" + struct.pack(word, len(items)) + tags


def _dm_tag(name: str, value, version: int) -> bytes:
    """One named (or unnamed, "") tag: a group for dict/list, else a data tag."""
    word = ">l" if version == 3 else ">q"
    encoded = name.encode("latin-1")
    if isinstance(value, (dict, list)):
        kind, content = 20, _dm_group_body(value, version)
    else:
        info, payload = _dm_data(value)
        kind = 21
        content = b"%%%%" + struct.pack(word, len(info)) + b"".join(struct.pack(word, i) for i in info) + payload
    size = struct.pack(">q", len(content)) if version == 4 else b""
    return bytes([kind]) + struct.pack(">H", len(encoded)) + encoded + size + content


def _dm_data(value) -> tuple[list[int], bytes]:
    """Info array and little-endian payload of a data tag."""
    if isinstance(value, str):
        chars = np.frombuffer(value.encode("utf-16-le"), "<u2")
        return [20, 4, len(chars)], chars.tobytes()
    if isinstance(value, np.ndarray):
        return [20, _DM_SIMPLE[value.dtype], value.size], value.tobytes()
    if isinstance(value, int):
        return [3], struct.pack("<l", value)
    return [7], struct.pack("<d", float(value))


# ----------------------------------------------------------------------- EMD
def write_emd_ncem(path: Path, image: np.ndarray, scale: float, units: str = "[n_m]") -> None:
    """Write a 2-D ``image`` as an NCEM/Berkeley EMD file (``/data/image``).

    ``scale`` is the pixel size in ``units``, written in NCEM's bracket notation
    (``"[n_m]"`` for nm, ``"[Å]"``, …). As in the NCEM layout, the stored array is
    ``(nx, ny)`` with ``dim1`` along x and ``dim2`` along y.
    """
    ny, nx = image.shape
    with h5py.File(path, "w") as f:
        f.attrs["version_major"] = 0
        f.attrs["version_minor"] = 2
        group = f.create_group("data/image")
        group.attrs["emd_group_type"] = 1
        group.create_dataset("data", data=np.ascontiguousarray(image.T))
        for key, name, n in (("dim1", "x", nx), ("dim2", "y", ny)):
            dim = group.create_dataset(key, data=np.arange(n) * scale)
            dim.attrs["name"] = name
            dim.attrs["units"] = units


def write_emd_velox(path: Path, image: np.ndarray, pixel_size_m: float,
                    voltage_V: float = 300e3, defocus_m: float = -5e-9) -> None:
    """Write ``image`` (``(ny, nx)`` or ``(frames, ny, nx)``) as a Velox EMD file.

    ``pixel_size_m`` (m) goes to ``BinaryResult/PixelSize``; the voltage (V) and
    defocus (m) to ``Optics``.
    """
    stack = image[None] if image.ndim == 2 else image
    meta = {
        "BinaryResult": {"PixelSize": {"width": str(pixel_size_m), "height": str(pixel_size_m)},
                         "PixelUnitX": "m", "PixelUnitY": "m", "Offset": {"x": "0", "y": "0"}},
        "Optics": {"AccelerationVoltage": str(voltage_V), "Defocus": str(defocus_m)},
        "Acquisition": {"AcquisitionStartDatetime": {"DateTime": "1700000000"}},
        "Instrument": {"InstrumentModel": "Test TEM"},
        "Detectors": {}, "Scan": {"FrameTime": "1.0"},
    }
    text = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with h5py.File(path, "w") as f:
        f.create_dataset("Version", data=np.array([json.dumps({"format": "Velox", "version": "11"}).encode()]))
        group = f.create_group("Data/Image/0123456789abcdef")
        group.create_dataset("Data", data=np.moveaxis(stack, 0, -1))
        group.create_dataset("Metadata", data=np.repeat(text[:, None], stack.shape[0], axis=1))


# ----------------------------------------------------------------------- SER
def write_ser(path: Path, image: np.ndarray, pixel_size_m: float) -> None:
    """Write ``image`` (``(ny, nx)`` or ``(frames, ny, nx)``) as a TIA ``.ser`` file.

    Each frame is one 2-D data element calibrated in metres (``pixel_size_m``);
    rows are stored bottom-up as TIA does.
    """
    frames = (image[None] if image.ndim == 2 else image).astype("<f4")
    n, ny, nx = frames.shape
    units = b""
    dimension = struct.pack("<IddII", n, 0.0, 1.0, 0, 0) + struct.pack("<I", len(units)) + units
    header_size = 30
    offsets_at = header_size + len(dimension)
    element_size = 50 + frames[0].nbytes
    first_element = offsets_at + 8 * n
    data_offsets = [first_element + i * element_size for i in range(n)]
    tag_offsets = [first_element + n * element_size + i * 8 for i in range(n)]
    out = [struct.pack("<HHHIIIIII", 0x4949, 0x0197, 0x0210, 0x4122, 0x4152, n, n, offsets_at, 1),
           dimension, struct.pack(f"<{n}I", *data_offsets), struct.pack(f"<{n}I", *tag_offsets)]
    for frame in frames:
        out.append(struct.pack("<ddiddihii", 0.0, pixel_size_m, 0, 0.0, pixel_size_m, 0, 7, nx, ny))
        out.append(frame[::-1].tobytes())
    out.extend(struct.pack("<HHI", 0x4152, 0, 0) for _ in range(n))
    Path(path).write_bytes(b"".join(out))


# ----------------------------------------------------------------------- MRC
def write_mrc(path: Path, image: np.ndarray, pixel_size_A: float | None,
              fei_pixel_size_m: float | None = None) -> None:
    """Write ``image`` (``(ny, nx)`` or ``(nz, ny, nx)``) as an MRC2014 float32 file.

    ``pixel_size_A`` (Å) sets the cell size ``Xlen = MX * pixel_size_A`` (0 when
    None: uncalibrated). ``fei_pixel_size_m`` (m) adds an FEI extended header of
    1024 records of 128 bytes whose ``pixel_size`` field is at byte 44.
    """
    vol = (image[None] if image.ndim == 2 else image).astype("<f4")
    nz, ny, nx = vol.shape
    ext = b""
    if fei_pixel_size_m is not None:
        record = bytearray(128)
        struct.pack_into("<f", record, 44, fei_pixel_size_m)
        ext = bytes(record) * 1024
    header = bytearray(1024)
    struct.pack_into("<10i", header, 0, nx, ny, nz, 2, 0, 0, 0, nx, ny, nz)
    ps = pixel_size_A or 0.0
    struct.pack_into("<6f3i3f", header, 40, nx * ps, ny * ps, nz * ps,
                     90.0, 90.0, 90.0, 1, 2, 3, float(vol.min()), float(vol.max()), float(vol.mean()))
    struct.pack_into("<ii", header, 88, 0, len(ext))
    struct.pack_into("<i", header, 108, 20140)
    header[208:212] = b"MAP "
    header[212:214] = b"\x44\x44"
    Path(path).write_bytes(bytes(header) + ext + vol.tobytes())
