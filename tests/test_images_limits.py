"""load_image on hostile or unusual files: size limits read from the header, EXIF orientation,
and what happens to 16-bit colour PNGs (the documented behaviour). Every file is made here, small."""

import struct
import time
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from fovex_lib import load_image


def write_png(path, pixels: np.ndarray, header_size: tuple[int, int] | None = None) -> None:
    """A PNG written by hand: 8- or 16-bit RGB(A), rows filtered None/Sub/Up in turn.

    ``header_size=(width, height)`` writes that size into the header instead (a crafted file).
    """
    height, width, channels = pixels.shape
    depth = pixels.dtype.itemsize * 8
    raw = pixels.astype(">u2" if depth == 16 else np.uint8).view(np.uint8).reshape(height, -1)
    bpp = channels * depth // 8
    rows = []
    for y, row in enumerate(raw.astype(np.int16)):
        kind = y % 3
        if kind == 1:  # Sub: difference to the byte one pixel to the left
            row = row - np.concatenate([np.zeros(bpp, np.int16), row[:-bpp]])
        elif kind == 2:  # Up: difference to the byte above
            row = row - raw[y - 1].astype(np.int16)
        rows.append(bytes([kind]) + (row % 256).astype(np.uint8).tobytes())
    width, height = header_size or (width, height)
    colour = {3: 2, 4: 6}[channels]

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as f:
        f.write(
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows)))
            + chunk(b"IEND", b"")
        )


def gradient(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], -1).astype(np.uint8)


# --- item 8: same output for normal images, refusals, bounded memory ------------------


def test_absurd_aspect_ratio_is_refused_before_decoding_unless_allowed(tmp_path):
    """The issue's 94-byte 3000 x 1 PNG took 14 s and 1.8 GB: scaled to 224 x 672 000 before the crop."""
    Image.new("RGB", (3000, 1), (120, 60, 30)).save(tmp_path / "line.png")
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"line.png: the image is 3000x1, an aspect ratio above max_aspect = 20"):
        load_image(tmp_path / "line.png")
    assert time.perf_counter() - start < 1.0
    Image.new("RGB", (300, 20), (120, 60, 30)).save(tmp_path / "strip.png")  # 15:1 is allowed
    assert load_image(tmp_path / "strip.png", 16).shape == (1, 3, 16, 16)
    Image.new("RGB", (40, 1), (120, 60, 30)).save(tmp_path / "short_line.png")
    x = load_image(tmp_path / "short_line.png", 8, max_aspect=None)  # lifted: loads
    torch.testing.assert_close(x, torch.tensor([120, 60, 30]).view(1, 3, 1, 1).expand(1, 3, 8, 8) / 255.0)


def test_too_many_pixels_are_refused_from_the_header(tmp_path):
    """A 12000 x 12000 header (as in the issue, 6.6 GB) with one row of data is refused unread."""
    write_png(tmp_path / "bomb.png", np.zeros((1, 4, 3), np.uint8), header_size=(12000, 12000))
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"12000x12000 = 144,000,000 pixels, more than max_pixels = 100,000,000"):
        load_image(tmp_path / "bomb.png")
    assert time.perf_counter() - start < 1.0
    Image.new("RGB", (200, 100)).save(tmp_path / "small.png")
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(tmp_path / "small.png", max_pixels=10_000)
    assert load_image(tmp_path / "small.png", max_pixels=20_000).shape == (1, 3, 224, 224)
    # above Pillow's own bomb limit: a clear ValueError too, not Pillow's raw error
    write_png(tmp_path / "bigger.png", np.zeros((1, 4, 3), np.uint8), header_size=(20000, 20000))
    with pytest.raises(ValueError, match="bigger.png"):
        load_image(tmp_path / "bigger.png", max_pixels=None)


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((20, 40, 3), np.uint8)  # stored 40 wide, 20 tall, a bright left edge
    stored[:, :4] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(stored).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    got = load_image(tmp_path / "phone.jpg", size=None)
    assert got.shape == (1, 3, 40, 20)  # upright: 20 wide, 40 tall
    with Image.open(tmp_path / "phone.jpg") as img:
        upright = np.asarray(ImageOps.exif_transpose(img).convert("RGB"), dtype=np.float64) / 255.0
        rotated = np.rot90(np.asarray(img), k=-1) / 255.0  # the decoded pixels turned clockwise
    np.testing.assert_allclose(got[0].permute(1, 2, 0).numpy(), upright, atol=1e-6)
    np.testing.assert_allclose(upright, rotated, atol=1e-6)
    assert got[0, 0, :4].mean() > 0.9  # the left edge is now the top


def test_16_bit_rgb_png_is_read_at_8_bits_as_documented(tmp_path):
    """The module docstring: 16-bit colour PNGs come in as Pillow gives them, 8 bits per channel."""
    values = np.random.default_rng(0).integers(0, 65536, (9, 11, 3)).astype(np.uint16)
    write_png(tmp_path / "deep.png", values)
    x = load_image(tmp_path / "deep.png", size=None)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(x, (values >> 8) / 255.0, atol=1e-6)
    gray = np.arange(12 * 7, dtype=np.uint16).reshape(12, 7) * 700  # 16-bit grayscale: full depth
    Image.fromarray(gray).save(tmp_path / "gray16.png")
    g = load_image(tmp_path / "gray16.png", size=None)[0, 0].numpy()
    np.testing.assert_allclose(g, gray / 65535.0, atol=1e-6)
