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
``ValueError`` that says how to allow it (pass a larger number, or ``None``). Decoding
holds the whole image as floats (8 bytes per pixel and channel) and resizing its scaled
copy, so a 94-byte 3000 x 1 PNG (scaled to 224 x 672 000) or a 12000 x 12000 PNG would
otherwise take gigabytes.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

#: Default ``max_pixels`` of :func:`load_image`: files announcing more pixels are refused unread.
MAX_PIXELS = 100_000_000
#: Default ``max_aspect`` of :func:`load_image`: long side / short side above this is refused unread.
MAX_ASPECT = 20.0
_EXIF_ORIENTATION = 0x0112

__all__ = ["MAX_PIXELS", "MAX_ASPECT", "SampleImage", "SAMPLE_IMAGES", "load_image", "sample_image_names",
           "image_to_tensor", "resize_image"]

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
            path = Path(mod.__file__).parent / what
            with Image.open(path) as img:
                return np.asarray(img.convert("RGB"))
        return np.asarray(getattr(mod, what)())


SAMPLE_IMAGES: dict[str, SampleImage] = {s.name: s for s in [
    SampleImage("coffee", "scikit-image", "skimage.data.coffee, photo by Rachel Michetti",
                "CC0", 967, "skimage.data:coffee"),
    SampleImage("chelsea", "scikit-image", "skimage.data.chelsea, photo by Stefan van der Walt",
                "CC0", 281, "skimage.data:chelsea"),
    SampleImage("rocket", "scikit-image", "skimage.data.rocket, SpaceX photo",
                "public domain", 657, "skimage.data:rocket"),
    SampleImage("camera", "scikit-image", "skimage.data.camera (grayscale), photo by Lav Varshney",
                "CC0", 872, "skimage.data:camera"),
    SampleImage("china", "scikit-learn", "sklearn.datasets.load_sample_image('china.jpg'), "
                "Flickr user danielbuechele", "CC BY 2.0", 698, "sklearn.datasets:images/china.jpg"),
    SampleImage("flower", "scikit-learn", "sklearn.datasets.load_sample_image('flower.jpg'), "
                "Flickr user vultilion", "CC BY 2.0", 985, "sklearn.datasets:images/flower.jpg"),
    SampleImage("grace_hopper", "matplotlib", "matplotlib sample data grace_hopper.jpg, US Navy photo",
                "public domain", 652, "matplotlib:mpl-data/sample_data/grace_hopper.jpg"),
]}


def sample_image_names() -> list[str]:
    """Names of the bundled photos."""
    return list(SAMPLE_IMAGES)


def _to_float_array(img: Image.Image, path: str) -> np.ndarray:
    """Pillow image of any mode -> float32 (H, W, 3) in [0, 1]."""
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(img, dtype=np.float64)
        if arr.min() < 0 or arr.max() > 65535:
            raise ValueError(f"{path}: 32-bit integer image with values outside 0..65535 is not supported; "
                             "convert it to 8- or 16-bit first.")
        arr = arr / 65535.0
    elif mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"{path}: floating-point image must have values in [0, 1], got "
                             f"{np.nanmin(arr):.3g}..{np.nanmax(arr):.3g}; rescale it first.")
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
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int or None, got {size!r}.")
    height, width = image.shape[-2:]
    if crop:
        scale = size / min(height, width)
        new = (max(size, round(height * scale)), max(size, round(width * scale)))
    else:
        new = (size, size)
    if new != (height, width):
        image = F.interpolate(image, size=new, mode="bilinear", antialias=True, align_corners=False)
    top, left = (image.shape[-2] - size) // 2, (image.shape[-1] - size) // 2
    return image[..., top:top + size, left:left + size].clamp(0, 1).contiguous()


def _check_header(path: Path, width: int, height: int, max_pixels, max_aspect) -> None:
    """Refuse absurd sizes from the header alone (see the module docstring)."""
    if max_pixels is not None and width * height > max_pixels:
        raise ValueError(f"{path}: the file announces {width}x{height} = {width * height:,} pixels, more than "
                         f"max_pixels = {max_pixels:,}; decoding it would take gigabytes. Pass a larger "
                         "max_pixels (or None) to load_image if you really mean it.")
    if max_aspect is not None and max(width, height) > max_aspect * min(width, height):
        raise ValueError(f"{path}: the image is {width}x{height}, an aspect ratio above max_aspect = {max_aspect:g}; "
                         "scaling its short side to the model's input would blow up the long side. Pass a larger "
                         "max_aspect (or None) to load_image if you really mean it.")


def _read_file(path: Path, max_pixels=MAX_PIXELS, max_aspect=MAX_ASPECT) -> torch.Tensor:
    try:
        with warnings.catch_warnings():  # max_pixels replaces Pillow's decompression-bomb warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            _check_header(path, *img.size, max_pixels, max_aspect)
            img.load()
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)  # first frame of an animation or multi-page file
            if img.getexif().get(_EXIF_ORIENTATION, 1) != 1:
                img = ImageOps.exif_transpose(img)
            arr = _to_float_array(img, str(path))
    except Image.DecompressionBombError as err:
        raise ValueError(f"{path}: Pillow refuses to decode this many pixels ({err}); raise "
                         "PIL.Image.MAX_IMAGE_PIXELS and max_pixels if you really mean it.") from err
    except UnidentifiedImageError as err:
        raise ValueError(f"{path}: not an image file Pillow can read (is it corrupt or another format?)") from err
    except OSError as err:
        raise ValueError(f"{path}: could not read the image ({err}); the file may be truncated or corrupt.") from err
    return torch.from_numpy(arr).permute(2, 0, 1)[None]


def load_image(source: str | os.PathLike, size: int | None = 224, crop: bool = True, *,
               max_pixels: int | None = MAX_PIXELS, max_aspect: float | None = MAX_ASPECT) -> torch.Tensor:
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
            raise ValueError("size=None keeps each image's own size, so a folder cannot be stacked "
                             "into one batch; pass size=224 (or another int).")
        return torch.cat([resize_image(_read_file(p, max_pixels, max_aspect), size, crop) for p in files])
    if path.is_file():
        return resize_image(_read_file(path, max_pixels, max_aspect), size, crop)
    raise ValueError(f"{str(source)!r} is neither a bundled image ({', '.join(SAMPLE_IMAGES)}) "
                     "nor an existing file or folder.")
