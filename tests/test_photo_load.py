"""load_photo: every kind of bad or unusual file gives RGB 8-bit or one clear FileProblem line."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from engine.errors import FileProblem
from engine.photo import BACKGROUND, MAX_PIXELS, MIN_SIDE, load_photo, load_photos

ROOT = Path(__file__).resolve().parent.parent


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def write_png(path: Path, array: np.ndarray | None, colour_type: int, bit_depth: int,
              size: tuple[int, int] | None = None) -> Path:
    """A PNG written byte by byte (Pillow cannot write 16-bit RGB); ``array=None`` writes a header only."""
    h, w = array.shape[:2] if array is not None else size[::-1]
    body = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, colour_type, 0, 0, 0))
    if array is not None:
        dtype = ">u2" if bit_depth == 16 else "u1"
        rows = array.astype(dtype).reshape(h, -1)
        raw = b"".join(b"\x00" + row.tobytes() for row in rows)
        body += _chunk(b"IDAT", zlib.compress(raw))
    path.write_bytes(body + _chunk(b"IEND", b""))
    return path


def photo_array(w: int = 96, h: int = 80) -> np.ndarray:
    y, x = np.mgrid[:h, :w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) % 256], axis=-1).astype(np.uint8)


def test_plain_rgb_roundtrip(tmp_path):
    a = photo_array()
    Image.fromarray(a).save(tmp_path / "p.png")
    im = load_photo(tmp_path / "p.png")
    assert im.mode == "RGB" and np.array_equal(np.asarray(im), a)


def test_missing_folder_and_non_image(tmp_path):
    with pytest.raises(FileProblem, match="file not found"):
        load_photo(tmp_path / "nope.jpg")
    with pytest.raises(FileProblem, match="folder"):
        load_photo(tmp_path)
    (tmp_path / "notes.jpg").write_text("these are not pixels\n" * 20)
    with pytest.raises(FileProblem, match="not an image") as err:
        load_photo(tmp_path / "notes.jpg")
    assert str(err.value).startswith(str(tmp_path / "notes.jpg")) and "\n" not in str(err.value)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_refused(tmp_path, fmt):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    rng = np.random.default_rng(0)
    path = tmp_path / f"cut.{fmt.lower()}"
    Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(path, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileProblem, match="truncated|damaged|cannot decode") as err:
        load_photo(path)
    assert "\n" not in str(err.value)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_cmyk_jpeg_converted(tmp_path):
    cmyk = Image.new("CMYK", (100, 90), (0, 255, 255, 0))  # no cyan, full magenta + yellow: red
    cmyk.save(tmp_path / "cmyk.jpg", quality=95)
    im = load_photo(tmp_path / "cmyk.jpg")
    r, g, b = np.asarray(im).reshape(-1, 3).mean(axis=0)
    assert im.mode == "RGB" and im.size == (100, 90)
    assert r > 200 and g < 60 and b < 60


def test_icc_profiles_srgb_kept_unusable_ignored(tmp_path):
    from PIL import ImageCms

    a = photo_array()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(a).save(tmp_path / "srgb.png", icc_profile=srgb)
    Image.fromarray(a).save(tmp_path / "junk.png", icc_profile=b"not a profile" * 20)
    assert np.array_equal(np.asarray(load_photo(tmp_path / "srgb.png")), a)
    assert np.array_equal(np.asarray(load_photo(tmp_path / "junk.png")), a)


def test_16bit_grey_is_scaled_not_clipped(tmp_path):
    values = np.linspace(0, 65535, 128).round().astype(np.uint16)
    a = np.tile(values, (70, 1))
    path = write_png(tmp_path / "g16.png", a, colour_type=0, bit_depth=16)
    assert Image.open(path).mode.startswith("I")
    out = np.asarray(load_photo(path))
    assert out.shape == (70, 128, 3)
    expected = np.rint(values.astype(np.float64) * 255 / 65535)
    assert np.abs(out[0, :, 0].astype(int) - expected).max() <= 1
    assert out[0, 64, 0] in (128, 129) and (out[..., 0] == 255).mean() < 0.02


def test_16bit_rgb_is_scaled(tmp_path):
    a = (photo_array().astype(np.uint32) * 257).astype(np.uint16)
    a[0, 0] = (65535, 32896, 0)
    path = write_png(tmp_path / "rgb16.png", a, colour_type=2, bit_depth=16)
    out = np.asarray(load_photo(path)).astype(int)
    assert np.abs(out - photo_array()[..., :3])[1:].max() <= 1
    assert list(out[0, 0]) == [255, 128, 0]


def test_greyscale_and_bilevel(tmp_path):
    grey = photo_array()[..., 0]
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    out = np.asarray(load_photo(tmp_path / "g.png"))
    assert out.shape == grey.shape + (3,) and np.array_equal(out[..., 1], grey)
    Image.fromarray(grey > 127).save(tmp_path / "b.png")
    out = np.asarray(load_photo(tmp_path / "b.png"))
    assert set(np.unique(out)) == {0, 255}


def test_palette_with_and_without_transparency(tmp_path):
    rgb = Image.fromarray(photo_array())
    pal = rgb.quantize(16)
    pal.save(tmp_path / "p.png")
    out = np.asarray(load_photo(tmp_path / "p.png")).astype(int)
    assert np.abs(out - np.asarray(pal.convert("RGB")).astype(int)).max() == 0
    pal.info["transparency"] = int(np.asarray(pal)[0, 0])
    pal.save(tmp_path / "pt.png", transparency=pal.info["transparency"])
    out = np.asarray(load_photo(tmp_path / "pt.png"))
    assert tuple(out[0, 0]) == BACKGROUND


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_composited_over_white(tmp_path, mode):
    a = np.zeros((80, 80, 4), np.uint8)
    a[..., :3] = (200, 40, 40) if mode == "RGBA" else (90, 90, 90)
    a[:, :40, 3] = 0
    a[:, 40:60, 3] = 255
    a[:, 60:, 3] = 128
    Image.fromarray(a, "RGBA").convert(mode).save(tmp_path / "a.png")
    out = np.asarray(load_photo(tmp_path / "a.png")).astype(int)
    colour = np.array(a[0, 0, :3] if mode == "RGBA" else [90, 90, 90], dtype=np.int64)
    assert (out[:, :40] == 255).all()
    assert np.abs(out[:, 40:60] - colour).max() <= 1
    assert np.abs(out[:, 60:] - (colour * 128 + 255 * 127) / 255).max() <= 2


def test_exif_orientation_applied(tmp_path):
    a = np.full((80, 120, 3), 30, np.uint8)
    a[:20, :20] = (255, 0, 0)  # marker in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    Image.fromarray(a).save(tmp_path / "r.jpg", exif=exif, quality=95)
    im = load_photo(tmp_path / "r.jpg")
    assert im.size == (80, 120)
    out = np.asarray(im)
    assert out[5, -5, 0] > 200 and out[5, 5, 0] < 80  # marker now top-right


def test_tiny_image_refused(tmp_path):
    Image.new("RGB", (10, 10)).save(tmp_path / "t.png")
    with pytest.raises(FileProblem, match=f"10x10.*{MIN_SIDE}"):
        load_photo(tmp_path / "t.png")
    Image.new("RGB", (MIN_SIDE, 300)).save(tmp_path / "ok.png")
    assert load_photo(tmp_path / "ok.png").size == (MIN_SIDE, 300)


@pytest.mark.parametrize("size", [(100_000, 100_000), (11_000, 11_000)])
def test_decompression_bomb_refused(tmp_path, size):
    # 10 gigapixels trips Pillow's own bomb error; 121 MP only its warning, so our limit must catch it.
    path = write_png(tmp_path / "bomb.png", None, colour_type=2, bit_depth=8, size=size)
    assert size[0] * size[1] > MAX_PIXELS
    with pytest.raises(FileProblem, match="megapixel limit.*decompression bomb"):
        load_photo(path)


# Peak resident memory of a fresh process: VmHWM belongs to the process image (ru_maxrss would
# carry over pytest's own peak through fork + exec).
_MEASURE = """
import sys
from engine.photo import load_photo
kw = {} if sys.argv[2] == "full" else {"max_pixels": int(sys.argv[2])}
im = load_photo(sys.argv[1], **kw)
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0].split()[1]
print(im.width, im.height, im.info.get("original_size"), int(hwm) // 1024)
"""


def _measure(path: Path, how: str) -> tuple[int, int, str, int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(path), how], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120, check=True).stdout.split(maxsplit=3)
    return int(out[0]), int(out[1]), out[2], int(out[3].split()[-1])


def test_50_megapixel_jpeg_within_memory(tmp_path):
    w, h = 8660, 5774  # 50 MP: 200 MB as a Pillow RGB bitmap (4 bytes per pixel)
    big = Image.new("RGB", (w, h), (120, 90, 70))
    big.paste((20, 160, 220), (1000, 1000, 4000, 3000))
    big.save(tmp_path / "big.jpg", quality=60)
    del big
    rw, rh, original, peak_mb = _measure(tmp_path / "big.jpg", "2000000")
    assert rw * rh <= 2_000_000 and abs(rw / rh - w / h) < 0.01 and original == f"({w},"
    assert peak_mb < 120, f"reduced load peaked at {peak_mb} MB"  # a full decode alone is 200 MB
    fw, fh, _, full_peak_mb = _measure(tmp_path / "big.jpg", "full")
    assert (fw, fh) == (w, h)
    assert full_peak_mb < 300, f"full-resolution load peaked at {full_peak_mb} MB"


def test_max_pixels_reduces_other_formats(tmp_path):
    Image.fromarray(photo_array(400, 300)).save(tmp_path / "p.png")
    im = load_photo(tmp_path / "p.png", max_pixels=30_000)
    assert im.width * im.height <= 30_000 and im.info["original_size"] == (400, 300)
    assert "original_size" not in load_photo(tmp_path / "p.png").info


def test_batch_gives_structured_errors(tmp_path):
    Image.fromarray(photo_array()).save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    results = load_photos([tmp_path / "good.png", tmp_path / "bad.png", tmp_path / "missing.png"])
    assert [r.ok for r in results] == [True, False, False]
    assert results[0].image.size == (96, 80) and results[0].error is None
    assert results[1].image is None and results[1].error.startswith(str(tmp_path / "bad.png"))
    assert "file not found" in results[2].error
