import numpy as np
import pytest
import torch
from PIL import Image

from fovex_lib import SAMPLE_IMAGES, load_image, sample_image_names


@pytest.mark.parametrize("name", sample_image_names())
def test_bundled_photos(name):
    x = load_image(name)
    assert x.shape == (1, 3, 224, 224) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1
    info = SAMPLE_IMAGES[name]
    assert info.licence and info.source and 0 <= info.label < 1000


def test_grayscale_photo_has_equal_channels():
    x = load_image("camera")
    torch.testing.assert_close(x[:, 0], x[:, 1])


def test_modes_are_converted_as_documented(tmp_path):
    gray = np.full((10, 10), 51, np.uint8)
    Image.fromarray(gray, "L").save(tmp_path / "gray.png")
    torch.testing.assert_close(load_image(tmp_path / "gray.png", size=None), torch.full((1, 3, 10, 10), 0.2))

    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:5, :, 3] = 255  # top half opaque red, bottom half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    x = load_image(tmp_path / "rgba.png", size=None)
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(x[0, :, 9, 0], torch.tensor([1.0, 1.0, 1.0]))  # over white

    pal = Image.fromarray(np.arange(100, dtype=np.uint8).reshape(10, 10), "L").convert("P")
    pal.save(tmp_path / "palette.png")
    assert load_image(tmp_path / "palette.png", size=None).shape == (1, 3, 10, 10)

    deep = np.full((8, 8), 32768, np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    x = load_image(tmp_path / "deep.png", size=None)
    torch.testing.assert_close(x, torch.full((1, 3, 8, 8), 32768 / 65535))


def test_resize_keeps_aspect_and_crops_the_centre(tmp_path):
    arr = np.zeros((100, 300, 3), np.uint8)
    arr[:, 100:200] = 255  # a white centre third
    Image.fromarray(arr).save(tmp_path / "wide.png")
    x = load_image(tmp_path / "wide.png", size=50)
    assert x.shape == (1, 3, 50, 50)
    assert x[..., 5:45, 5:45].min() > 0.99  # the crop is the white centre
    squashed = load_image(tmp_path / "wide.png", size=60, crop=False)
    assert squashed.shape == (1, 3, 60, 60) and squashed[..., :, :15].max() < 0.01


def test_folder_loads_sorted_batch(tmp_path):
    for i, v in enumerate([10, 200, 100]):
        Image.fromarray(np.full((30, 40, 3), v, np.uint8)).save(tmp_path / f"img{i}.jpg", quality=100)
    (tmp_path / "notes.txt").write_text("not an image")
    x = load_image(tmp_path, size=32)
    assert x.shape == (3, 3, 32, 32)
    np.testing.assert_allclose(x.mean((1, 2, 3)).numpy(), np.array([10, 200, 100]) / 255, atol=0.02)


def test_bad_sources_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="neither a bundled image"):
        load_image(tmp_path / "missing.png")
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not a png")
    with pytest.raises(ValueError, match="broken.png"):
        load_image(bad)
    truncated = tmp_path / "truncated.jpg"
    Image.fromarray(np.zeros((50, 50, 3), np.uint8)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(ValueError, match="truncated.jpg"):
        load_image(truncated)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no image files"):
        load_image(empty)
    with pytest.raises(ValueError, match="size"):
        load_image("coffee", size=0)
    with pytest.raises(TypeError):
        load_image(42)
