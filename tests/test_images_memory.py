"""load_image scales big images in bands (issue "Nothing lost, nothing hung", item 8).

The banded path must give *exactly* the tensor of the simple rule (whole image as floats,
then ``resize_image``), for every mode, shape and size, and its peak memory must stay near
Pillow's own 8-bit buffer instead of several float copies of the whole image.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from fovex_lib import load_image
from fovex_lib.datasets.images import _banded_resize, _to_float_array, resize_image


def simple_rule(img: Image.Image, size, crop) -> torch.Tensor:
    """The rule the module docstring states, done the memory-hungry way."""
    whole = torch.from_numpy(_to_float_array(img, "test")).permute(2, 0, 1)[None]
    return resize_image(whole, size, crop)


def picture(mode: str, height: int, width: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    if mode == "P":
        img = Image.fromarray(rng.integers(0, 256, (height, width), dtype=np.uint8), "P")
        img.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tobytes())
        img.info["transparency"] = 7
        return img
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
    arr = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    return Image.fromarray(arr[..., 0] if channels == 1 else arr, mode)


SHAPES = [(1, 1), (1, 300), (300, 1), (2, 300), (37, 53), (120, 80), (97, 350)]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "LA", "P", "I;16"])
def test_banded_scaling_equals_the_simple_rule_bit_for_bit(mode):
    for i, (height, width) in enumerate(SHAPES):
        img = picture(mode, height, width, seed=i)
        for size, crop in [(None, True), (1, True), (2, True), (16, True), (16, False), (224, True), (64, False)]:
            expected = simple_rule(img, size, crop)
            for band_bytes in (1, 5000, 32 * 2**20):  # one row per band ... everything in one band
                got = _banded_resize(img, "test", size, crop, band_bytes=band_bytes)
                assert got.dtype == torch.float32 and got.shape == expected.shape
                assert torch.equal(got, expected), (mode, height, width, size, crop, band_bytes)


def test_load_image_equals_the_simple_rule_on_a_photo_file(tmp_path):
    img = picture("RGB", 600, 800, seed=3)
    img.save(tmp_path / "photo.png")
    assert torch.equal(load_image(tmp_path / "photo.png"), simple_rule(img, 224, True))
    assert torch.equal(load_image(tmp_path / "photo.png", 100, crop=False), simple_rule(img, 100, False))


def test_a_one_pixel_line_comes_out_as_its_colour(tmp_path):
    Image.new("RGB", (3000, 1), (120, 60, 30)).save(tmp_path / "line.png")
    x = load_image(tmp_path / "line.png", max_aspect=None)
    expected = (torch.tensor([120, 60, 30]) / 255.0).view(1, 3, 1, 1).expand(1, 3, 224, 224)
    torch.testing.assert_close(x, expected, rtol=0, atol=1e-6)


PEAK_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    from fovex_lib import load_image
    load_image(sys.argv[2])                      # warm up: imports, kernels, allocator
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    x = load_image(sys.argv[1], **json.loads(sys.argv[3]))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"shape": list(x.shape), "extra_mib": (after - before) / 1024}))
""")


@pytest.mark.slow
@pytest.mark.parametrize("height, width, limits", [(3000, 4000, {}), (20, 4000, {"max_aspect": None})])
def test_peak_memory_stays_near_pillows_own_buffer(tmp_path, height, width, limits):
    """Before: the whole image as float64 and float32 (3000 x 4000: about 430 MiB more than
    Pillow's 46 MiB), or a 224 x 44800 float image for the 20 x 4000 strip."""
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(
        tmp_path / "big.png", compress_level=1
    )
    Image.new("RGB", (300, 200)).save(tmp_path / "small.png")
    run = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(tmp_path / "big.png"), str(tmp_path / "small.png"), json.dumps(limits)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["shape"] == [1, 3, 224, 224]
    pillow_mib = height * width * 4 / 2**20
    assert result["extra_mib"] < pillow_mib + 64, result
