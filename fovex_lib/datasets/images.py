"""Images: the photos shipped inside installed packages, and user files or folders.

``load_image(source, size=224)`` returns a float32 tensor (B, 3, size, size) in
[0, 1]. ``source`` is

* the name of a bundled photo (``SAMPLE_IMAGES``; each with its source, licence
  and an ImageNet label), or
* a path to an image file (B = 1), or
* a path to a folder: every image file in it, sorted by name (B = number of files).

Resizing (documented, never silent): the shorter side is scaled to ``size`` with
antialiased bilinear interpolation and the centre ``size x size`` square is cut
out (``crop=True``, the default, keeps the aspect ratio); ``crop=False`` scales
straight to ``size x size``; ``size=None`` keeps the original size (one image only).

Modes: grayscale is repeated over the three channels; 16-bit grayscale images are
divided by 65535 (8-bit images by 255). 16-bit *colour* files (e.g. RGB PNGs) come in
as Pillow gives them: reduced to 8 bits per channel, so their low byte is lost. Images
with transparency (RGBA, LA, palette with a transparent colour) are composited over a
white background; other modes are converted to RGB by Pillow.

Orientation: the EXIF orientation tag of phone and camera photos is applied
(``PIL.ImageOps.exif_transpose``), so the picture is upright as a viewer shows it.

Limits: a file whose header announces more than ``max_pixels`` pixels (default
:data:`MAX_PIXELS`, 100 million) or a long side more than ``max_aspect`` times the short
side (default :data:`MAX_ASPECT`, 20) is refused *before it is decoded*, with a
``ValueError`` that says how to allow it (pass a larger number, or ``None``). Without
them a 94-byte 3000 x 1 PNG would be scaled to 224 x 672 000 pixels.

Memory: Pillow decodes the whole file into its own 8-bit buffer (about 4 bytes per
pixel for colour). Everything after that works in bands of rows (at most about 8 MiB
of floats each): each band is converted to floats, scaled horizontally and cut to the
output's columns; the cut columns are then scaled vertically, a few columns at a time,
and cut to the output's rows. So the float work never holds the whole image, and a
12000 x 12000 file (with ``max_pixels=None``) needs Pillow's buffer plus about
``12000 x size`` floats, not gigabytes. The result is bit for bit the same as scaling
the whole image at once (antialiased bilinear scaling is separable, and each output
pixel depends only on its own row or column); ``tests/test_images_memory.py`` checks this.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from .._checks import check_count

#: Default ``max_pixels`` of :func:`load_image`: files announcing more pixels are refused unread.
MAX_PIXELS = 100_000_000
#: Default ``max_aspect`` of :func:`load_image`: long side / short side above this is refused unread.
MAX_ASPECT = 20.0
_EXIF_ORIENTATION = 0x0112

__all__ = [
    "MAX_PIXELS",
    "MAX_ASPECT",
    "SampleImage",
    "SAMPLE_IMAGES",
    "load_image",
    "sample_image_names",
    "image_to_tensor",
    "resize_image",
]

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


@dataclass(frozen=True)
class SampleImage:
    """A photo shipped inside an installed package."""

    name: str
    package: str
    source: str
    licence: str
    label: int  # ImageNet-1k class index a person would give it
    _loader: str  # "module:function" or "module:relative/file"

    def array(self) -> np.ndarray:
        """The photo as a uint8 array (H, W, 3) or (H, W) for grayscale."""
        module, what = self._loader.split(":")
        mod = __import__(module, fromlist=["_"])
        if what.endswith((".jpg", ".png")):
            path = Path(cast(str, mod.__file__)).parent / what
            with Image.open(path) as img:
                return np.asarray(img.convert("RGB"))
        return np.asarray(getattr(mod, what)())


SAMPLE_IMAGES: dict[str, SampleImage] = {
    s.name: s
    for s in [
        SampleImage(
            "coffee", "scikit-image", "skimage.data.coffee, photo by Rachel Michetti", "CC0", 967, "skimage.data:coffee"
        ),
        SampleImage(
            "chelsea",
            "scikit-image",
            "skimage.data.chelsea, photo by Stefan van der Walt",
            "CC0",
            281,
            "skimage.data:chelsea",
        ),
        SampleImage(
            "rocket", "scikit-image", "skimage.data.rocket, SpaceX photo", "public domain", 657, "skimage.data:rocket"
        ),
        SampleImage(
            "camera",
            "scikit-image",
            "skimage.data.camera (grayscale), photo by Lav Varshney",
            "CC0",
            872,
            "skimage.data:camera",
        ),
        SampleImage(
            "china",
            "scikit-learn",
            "sklearn.datasets.load_sample_image('china.jpg'), Flickr user danielbuechele",
            "CC BY 2.0",
            698,
            "sklearn.datasets:images/china.jpg",
        ),
        SampleImage(
            "flower",
            "scikit-learn",
            "sklearn.datasets.load_sample_image('flower.jpg'), Flickr user vultilion",
            "CC BY 2.0",
            985,
            "sklearn.datasets:images/flower.jpg",
        ),
        SampleImage(
            "grace_hopper",
            "matplotlib",
            "matplotlib sample data grace_hopper.jpg, US Navy photo",
            "public domain",
            652,
            "matplotlib:mpl-data/sample_data/grace_hopper.jpg",
        ),
    ]
}


def sample_image_names() -> list[str]:
    """Names of the bundled photos."""
    return list(SAMPLE_IMAGES)


def _to_float_array(img: Image.Image, path: str) -> np.ndarray:
    """Pillow image of any mode -> float32 (H, W, 3) in [0, 1]."""
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(img, dtype=np.float64)
        if arr.min() < 0 or arr.max() > 65535:
            raise ValueError(
                f"{path}: 32-bit integer image with values outside 0..65535 is not supported; "
                "convert it to 8- or 16-bit first."
            )
        arr = arr / 65535.0
    elif mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise ValueError(
                f"{path}: floating-point image must have values in [0, 1], got "
                f"{np.nanmin(arr):.3g}..{np.nanmax(arr):.3g}; rescale it first."
            )
    elif mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        arr = np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.float64) / 255.0
    else:
        arr = np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return arr.astype(np.float32)


def image_to_tensor(array: np.ndarray) -> torch.Tensor:
    """uint8 or float (H, W[, 3]) array -> (1, 3, H, W) float32 in [0, 1]."""
    arr = np.asarray(array)
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535.0
    else:
        arr = arr.astype(np.float32)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an (H, W) or (H, W, 3) image array, got shape {arr.shape}.")
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None].clamp_(0, 1)


def resize_image(image: torch.Tensor, size: int | None, crop: bool = True) -> torch.Tensor:
    """Resize (1, 3, H, W) as the module docstring says (shorter side + centre crop, or squash)."""
    if size is None:
        return image
    height, width = image.shape[-2:]
    new = _scaled_shape(height, width, size, crop)
    if new != (height, width):
        image = F.interpolate(image, size=new, mode="bilinear", antialias=True, align_corners=False)
    top, left = (image.shape[-2] - size) // 2, (image.shape[-1] - size) // 2
    return image[..., top : top + size, left : left + size].clamp(0, 1).contiguous()


def _check_header(path: Path, width: int, height: int, max_pixels, max_aspect) -> None:
    """Refuse absurd sizes from the header alone (see the module docstring)."""
    if max_pixels is not None and width * height > max_pixels:
        raise ValueError(
            f"{path}: the file announces {width}x{height} = {width * height:,} pixels, more than "
            f"max_pixels = {max_pixels:,}; decoding it would take gigabytes. Pass a larger "
            "max_pixels (or None) to load_image if you really mean it."
        )
    if max_aspect is not None and max(width, height) > max_aspect * min(width, height):
        raise ValueError(
            f"{path}: the image is {width}x{height}, an aspect ratio above max_aspect = {max_aspect:g}; "
            "scaling its short side to the model's input would blow up the long side. Pass a larger "
            "max_aspect (or None) to load_image if you really mean it."
        )


#: Bytes of floats one band of rows (or chunk of columns) may hold while an image is scaled.
BAND_BYTES = 8 * 2**20


def _scaled_shape(height: int, width: int, size: int | None, crop: bool) -> tuple[int, int]:
    """The (height, width) :func:`resize_image` scales an image to before cutting the centre."""
    if size is None:
        return height, width
    check_count(size, "size", allow_none=True)
    if not crop:
        return size, size
    scale = size / min(height, width)
    return max(size, round(height * scale)), max(size, round(width * scale))


def _scale(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """One antialiased bilinear scaling step (the same call :func:`resize_image` makes)."""
    if tuple(x.shape[-2:]) == tuple(shape):
        return x
    return F.interpolate(x.contiguous(), size=shape, mode="bilinear", antialias=True, align_corners=False)


def _banded_resize(
    img: Image.Image, path: str, size: int | None, crop: bool, band_bytes: int = BAND_BYTES
) -> torch.Tensor:
    """Decoded Pillow image -> (1, 3, size, size) float32, in bands (module docstring, "Memory").

    Equal bit for bit to ``resize_image(<whole image as floats>, size, crop)``.
    """
    width, height = img.size
    new_h, new_w = _scaled_shape(height, width, size, crop)
    out_h, out_w = (height, width) if size is None else (size, size)
    top, left = (new_h - out_h) // 2, (new_w - out_w) // 2
    # 1. Rows: float conversion (float64 inside _to_float_array) and horizontal scaling, band by band,
    #    written into one preallocated tensor (many small kept pieces would fragment the heap).
    rows_per_band = max(1, band_bytes // (3 * 8 * max(width, new_w)))
    columns = torch.empty(1, 3, height, out_w)
    for y0 in range(0, height, rows_per_band):
        y1 = min(height, y0 + rows_per_band)
        x = torch.from_numpy(_to_float_array(img.crop((0, y0, width, y1)), path)).permute(2, 0, 1)[None]
        columns[..., y0:y1, :] = _scale(x, (y1 - y0, new_w))[..., left : left + out_w]
    if new_h == height:  # nothing to scale vertically; cut the rows (a view) and clamp in place
        return columns[..., top : top + out_h, :].clamp_(0, 1).contiguous()
    # 2. Columns: vertical scaling, a few columns at a time. A chunk is never one column
    #    wide unless the output is: torch treats (1, 3, H, 1) as channels-last and rounds differently.
    per_chunk = max(2, band_bytes // (3 * 4 * new_h))
    result = torch.empty(1, 3, out_h, out_w)
    c0 = 0
    while c0 < out_w:
        c1 = min(out_w, c0 + per_chunk)
        if out_w - c1 == 1:
            c1 = out_w
        result[..., c0:c1] = _scale(columns[..., c0:c1], (new_h, c1 - c0))[..., top : top + out_h, :]
        c0 = c1
    return result.clamp_(0, 1)


def _read_file(
    path: Path, size: int | None = None, crop: bool = True, max_pixels=MAX_PIXELS, max_aspect=MAX_ASPECT
) -> torch.Tensor:
    """One file -> (1, 3, size, size) float32: header limits, decoding, orientation, banded scaling."""
    try:
        with warnings.catch_warnings():  # max_pixels replaces Pillow's decompression-bomb warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(path)
        with img:
            _check_header(path, *img.size, max_pixels, max_aspect)
            img.load()
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)  # first frame of an animation or multi-page file
            if img.getexif().get(_EXIF_ORIENTATION, 1) != 1:
                img = ImageOps.exif_transpose(img)
            return _banded_resize(img, str(path), size, crop)
    except Image.DecompressionBombError as err:
        raise ValueError(
            f"{path}: Pillow refuses to decode this many pixels ({err}); raise "
            "PIL.Image.MAX_IMAGE_PIXELS and max_pixels if you really mean it."
        ) from err
    except UnidentifiedImageError as err:
        raise ValueError(f"{path}: not an image file Pillow can read (is it corrupt or another format?)") from err
    except OSError as err:
        raise ValueError(f"{path}: could not read the image ({err}); the file may be truncated or corrupt.") from err


def load_image(
    source: str | os.PathLike,
    size: int | None = 224,
    crop: bool = True,
    *,
    max_pixels: int | None = MAX_PIXELS,
    max_aspect: float | None = MAX_ASPECT,
) -> torch.Tensor:
    """Load a bundled photo, an image file, or every image of a folder.

    ``max_pixels`` / ``max_aspect``: files beyond these are refused before decoding
    (module docstring); None lifts a limit.

    Returns:
        float32 tensor (B, 3, size, size) in [0, 1].
    """
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a sample name or a path, got {type(source).__name__}.")
    if isinstance(source, str) and source in SAMPLE_IMAGES:
        return resize_image(image_to_tensor(SAMPLE_IMAGES[source].array()), size, crop)
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise ValueError(f"folder {path} holds no image files (looked for {sorted(IMAGE_EXTENSIONS)}).")
        if size is None and len(files) > 1:
            raise ValueError(
                "size=None keeps each image's own size, so a folder cannot be stacked "
                "into one batch; pass size=224 (or another int)."
            )
        return torch.cat([_read_file(p, size, crop, max_pixels, max_aspect) for p in files])
    if path.is_file():
        return _read_file(path, size, crop, max_pixels, max_aspect)
    raise ValueError(
        f"{str(source)!r} is neither a bundled image ({', '.join(SAMPLE_IMAGES)}) nor an existing file or folder."
    )
