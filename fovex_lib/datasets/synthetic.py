"""A synthetic "evidence" data set with exact ground truth for explanations.

Every image shows one **deciding object** (the *target*) among distractor objects
and textured clutter. The class is the target's shape (:data:`CLASS_NAMES`);
nothing else in the image depends on the label. The target is marked by its
colour: it is always a flat, saturated **red** (hue within 0.02 of red,
saturation and value >= 0.85), while distractors (shapes drawn from the same six
classes, independently of the label) and clutter never use a hue within 0.15 of
red, and the background is desaturated. So a model must find the red object and
read its shape: it cannot succeed without looking at the right place, and the
right place is known exactly.

For every image the generator returns the pixel mask of the target (exactly the
pixels painted in the target colour: the target is drawn last, fully inside the
image, without anti-aliasing) and its tight bounding box.

Layout of one image (all sizes for the default ``size=64``; they scale with it):

* background: a desaturated base colour, a smooth colour field (6x6 noise,
  bicubic upsampled) and two random sine gratings (the texture);
* clutter: 6 short thin bars in random non-red colours, anywhere;
* 2-4 distractors: random shapes, 10-20 px, in random non-red colours, placed so
  that they do not touch the target's box (a distractor that finds no free place
  in 16 tries is left out);
* the target: one of the six shapes, 16-22 px across (squares 13-18), red, fully
  inside the image.

Everything is vectorised in torch and drawn from one ``torch.Generator`` seeded
with ``seed``; no global RNG is touched. All random numbers of an image come from
one row of a single ``torch.rand(n, K)`` draw, so the first ``m`` images of
``make_dataset(n, seed)`` are the images of ``make_dataset(m, seed)``.

Splits: :data:`SPLIT_SEEDS` gives the seed of each split; :func:`load_split`
generates one. Training scripts draw fresh training images from
:func:`train_seed` (never equal to the validation or test seed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .._checks import check_count, check_seed

__all__ = ["CLASS_NAMES", "SPLIT_SEEDS", "SyntheticDataset", "make_dataset", "load_split", "train_seed", "shape_masks"]

#: The six classes: the shape of the deciding (red) object.
CLASS_NAMES = ["disc", "square", "triangle", "cross", "ring", "bar"]

#: Seed of each split for :func:`load_split`.
SPLIT_SEEDS = {"train": 1, "val": 2, "test": 3}

_MAX_DISTRACTORS = 4
_CLUTTER = 6
_TRIES = 16
_NOISE_GRID = 6


@dataclass
class SyntheticDataset:
    """A batch of synthetic evidence images.

    Attributes:
        images: (N, 3, H, W) float32 in [0, 1].
        labels: (N,) int64 class indices into :data:`CLASS_NAMES`.
        masks: (N, 1, H, W) bool, True exactly on the deciding object's pixels.
        boxes: (N, 4) int64 ``(top, left, bottom, right)`` pixel indices of the mask's
            tight bounding box, bottom/right exclusive.
        colors: (N, 3) float32 RGB colour of the deciding object.
        centers: (N, 2) float32 (row, col) centre of the deciding object in pixel units
            (pixel ``i`` spans ``[i, i + 1)``).
        half_sizes: (N,) float32 its half-size in pixels.
        vertical: (N,) bool, the orientation of a "bar" (ignored for other shapes).
        seed: the seed it was generated from.

    ``shape_masks(labels, centers, half_sizes, vertical, (H, W))`` re-draws ``masks``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor
    boxes: torch.Tensor
    colors: torch.Tensor
    centers: torch.Tensor
    half_sizes: torch.Tensor
    vertical: torch.Tensor
    seed: int

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def class_names(self) -> list[str]:
        return list(CLASS_NAMES)

    def box_masks(self) -> torch.Tensor:
        """(N, 1, H, W) bool, True inside each bounding box."""
        height, width = self.images.shape[-2:]
        rows = torch.arange(height)[None, :, None]
        cols = torch.arange(width)[None, None, :]
        top, left, bottom, right = (self.boxes[:, i, None, None] for i in range(4))
        return ((rows >= top) & (rows < bottom) & (cols >= left) & (cols < right))[:, None]


def train_seed(run_seed: int, chunk: int) -> int:
    """Seed of training chunk ``chunk`` of a training run with seed ``run_seed``.

    Distinct for every (run_seed, chunk) with ``0 <= run_seed, chunk < 2**16`` and never
    equal to the validation or test seed.
    """
    if not (0 <= run_seed < 2**16 and 0 <= chunk < 2**16):
        raise ValueError(f"run_seed and chunk must be in [0, 65536), got {run_seed}, {chunk}.")
    return (SPLIT_SEEDS["train"] << 32) + (run_seed << 16) + chunk


def load_split(name: str, n: int, size: int = 64) -> SyntheticDataset:
    """The first ``n`` images of split ``name`` ("train", "val" or "test")."""
    if name not in SPLIT_SEEDS:
        raise ValueError(f"unknown split {name!r}; choose one of {sorted(SPLIT_SEEDS)}.")
    return make_dataset(n, SPLIT_SEEDS[name], size=size)


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Vectorised HSV -> RGB; h, s, v of shape (...), h in [0, 1) (wraps). Returns (..., 3)."""
    h6 = (h % 1.0) * 6.0
    out = []
    for n in (5.0, 3.0, 1.0):
        k = (n + h6) % 6.0
        out.append(v - v * s * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0))
    return torch.stack(out, -1)


def shape_masks(
    labels: torch.Tensor,
    centers: torch.Tensor,
    half: torch.Tensor,
    vertical: torch.Tensor,
    size: tuple[int, int],
    origin: torch.Tensor | None = None,
) -> torch.Tensor:
    """Rasterise one shape per image: (N, H, W) bool, True where the pixel centre is inside.

    Args:
        labels: (N,) shape class indices (see :data:`CLASS_NAMES`).
        centers: (N, 2) (row, col) centres in pixel units (pixel ``i`` spans ``[i, i+1)``).
        half: (N,) half-size in pixels.
        vertical: (N,) bool, orientation of a "bar".
        size: (H, W) of the raster.
        origin: (N, 2) integer pixel (row, col) of the raster's top-left pixel; default 0
            (the raster is the whole image). Used to draw in a window around each object.
    """
    height, width = size
    rows = torch.arange(height, dtype=torch.float32) + 0.5
    cols = torch.arange(width, dtype=torch.float32) + 0.5
    rows, cols = rows[None, :, None], cols[None, None, :]
    if origin is not None:
        rows = rows + origin[:, 0, None, None]
        cols = cols + origin[:, 1, None, None]
    u = (rows - centers[:, 0, None, None]) / half[:, None, None]  # (N, H, 1)
    v = (cols - centers[:, 1, None, None]) / half[:, None, None]  # (N, 1, W)
    r2 = u**2 + v**2
    au, av = u.abs(), v.abs()
    disc = r2 <= 1.0
    square = torch.maximum(au, av) <= 0.82
    triangle = (u >= -0.85) & (u <= 0.85) & (av <= (u + 0.85) / 1.7)
    cross = ((au <= 0.3) & (av <= 1.0)) | ((av <= 0.3) & (au <= 1.0))
    ring = (r2 <= 1.0) & (r2 >= 0.25)
    long_u, long_v = vertical[:, None, None], ~vertical[:, None, None]
    bar = ((au <= 0.28) & (av <= 1.0) & long_v) | ((av <= 0.28) & (au <= 1.0) & long_u)
    stack = torch.stack(torch.broadcast_tensors(disc, square, triangle, cross, ring, bar), 1)
    return stack.gather(1, labels.view(-1, 1, 1, 1).expand(-1, 1, height, width))[:, 0]


def _draw(images: torch.Tensor, labels, centers, half, vertical, color, max_half: float, enabled=None):
    """Paint one flat-coloured shape per image, in place, evaluating it only in a square
    window around the object. Returns the window's (N, K) flat pixel indices and (N, K) mask."""
    n, _, size, _ = images.shape
    window = min(size, 2 * math.ceil(max_half) + 4)
    origin = (centers - window / 2).floor().clamp(0, size - window).long()
    mask = shape_masks(labels, centers, half, vertical, (window, window), origin).reshape(n, -1)
    if enabled is not None:
        mask &= enabled[:, None]
    steps = torch.arange(window)
    index = (
        ((origin[:, 0, None, None] + steps[None, :, None]) * size + origin[:, 1, None, None] + steps[None, None, :])
        .reshape(n, 1, -1)
        .expand(-1, 3, -1)
    )
    flat = images.view(n, 3, -1)
    old = flat.gather(2, index)
    flat.scatter_(2, index, torch.where(mask[:, None], color[:, :, None], old))
    return index[:, 0], mask


def _non_red_hue(u: torch.Tensor) -> torch.Tensor:
    """Map U[0,1) to hues at least 0.15 away from red (0 == 1)."""
    return 0.15 + 0.7 * u


def _tight_boxes(masks: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool -> (N, 4) (top, left, bottom, right), bottom/right exclusive."""
    height, width = masks.shape[-2:]
    rows = masks.any(2).to(torch.uint8)
    cols = masks.any(1).to(torch.uint8)
    top = rows.argmax(1)
    bottom = height - rows.flip(1).argmax(1)
    left = cols.argmax(1)
    right = width - cols.flip(1).argmax(1)
    return torch.stack([top, left, bottom, right], 1).long()


# Column layout of the per-image uniform draws (one row per image).
_FIELDS = {
    "label": 1,
    "t_pos": 2,
    "t_size": 1,
    "t_orient": 1,
    "t_color": 3,
    "bg_color": 3,
    "noise": 3 * _NOISE_GRID**2,
    "grating": 2 * 5,
    "n_distr": 1,
    "d_shape": _MAX_DISTRACTORS,
    "d_size": _MAX_DISTRACTORS,
    "d_orient": _MAX_DISTRACTORS,
    "d_color": 3 * _MAX_DISTRACTORS,
    "d_pos": 2 * _TRIES * _MAX_DISTRACTORS,
    "c_pos": 2 * _CLUTTER,
    "c_len": _CLUTTER,
    "c_orient": _CLUTTER,
    "c_color": 3 * _CLUTTER,
}


def _split_fields(draws: torch.Tensor) -> dict[str, torch.Tensor]:
    out, start = {}, 0
    for name, count in _FIELDS.items():
        out[name] = draws[:, start : start + count]
        start += count
    return out


def _render(draws: torch.Tensor, size: int):
    """Render the images whose random numbers are the rows of ``draws`` (N, K)."""
    n = draws.shape[0]
    f = _split_fields(draws)
    scale = size / 64.0
    hw = (size, size)

    # --- background: desaturated base + smooth colour field + two gratings ---------------
    base = _hsv_to_rgb(f["bg_color"][:, 0], 0.3 * f["bg_color"][:, 1], 0.3 + 0.45 * f["bg_color"][:, 2])
    noise = (f["noise"].view(n, 3, _NOISE_GRID, _NOISE_GRID) - 0.5) * 0.25
    images = base[:, :, None, None] + F.interpolate(noise, size=hw, mode="bicubic", align_corners=False)
    rows = torch.arange(size, dtype=torch.float32)[None, :, None]
    cols = torch.arange(size, dtype=torch.float32)[None, None, :]
    g = f["grating"].view(n, 2, 5)
    for k in range(2):
        angle = g[:, k, 0] * math.pi
        period = (3.0 + 9.0 * g[:, k, 1]) * scale
        phase = g[:, k, 2] * 2 * math.pi
        amp = 0.04 + 0.08 * g[:, k, 3]
        wave = torch.sin(
            2
            * math.pi
            * (rows * torch.sin(angle)[:, None, None] + cols * torch.cos(angle)[:, None, None])
            / period[:, None, None]
            + phase[:, None, None]
        )
        images = images + (amp * (0.5 + g[:, k, 4]))[:, None, None, None] * wave[:, None]
    images = images.clamp(0.0, 1.0).contiguous()  # _draw paints through a flat view

    # --- clutter: thin short bars in non-red colours ----------------------------------------
    c_pos = f["c_pos"].view(n, _CLUTTER, 2) * size
    c_len = (3.0 + 5.0 * f["c_len"]) * scale
    c_col = f["c_color"].view(n, _CLUTTER, 3)
    bars = torch.full((n,), CLASS_NAMES.index("bar"))
    for k in range(_CLUTTER):
        color = _hsv_to_rgb(_non_red_hue(c_col[:, k, 0]), 0.3 + 0.7 * c_col[:, k, 1], 0.3 + 0.7 * c_col[:, k, 2])
        _draw(images, bars, c_pos[:, k], c_len[:, k], f["c_orient"][:, k] < 0.5, color, 8.0 * scale)

    # --- target parameters (drawn last, but placed first) ----------------------------------
    labels = (f["label"][:, 0] * len(CLASS_NAMES)).long().clamp_max(len(CLASS_NAMES) - 1)
    t_half = (8.0 + 3.0 * f["t_size"][:, 0]) * scale
    low = t_half + 1.0
    t_center = low[:, None] + f["t_pos"] * (size - 2 * low)[:, None]
    t_top_left = t_center - t_half[:, None] - 2.0 * scale  # keep-out box with a margin
    t_bot_right = t_center + t_half[:, None] + 2.0 * scale

    # --- distractors: random shapes, non-red, outside the target's keep-out box -------------
    n_distr = 2 + (f["n_distr"][:, 0] * (_MAX_DISTRACTORS - 1)).long().clamp_max(_MAX_DISTRACTORS - 2)
    d_pos = f["d_pos"].view(n, _MAX_DISTRACTORS, _TRIES, 2)
    d_col = f["d_color"].view(n, _MAX_DISTRACTORS, 3)
    for k in range(_MAX_DISTRACTORS):
        d_half = (5.0 + 5.0 * f["d_size"][:, k]) * scale
        lo = d_half + 1.0
        cand = lo[:, None, None] + d_pos[:, k] * (size - 2 * lo)[:, None, None]  # (N, T, 2)
        apart = (
            (cand - d_half[:, None, None] >= t_bot_right[:, None])
            | (cand + d_half[:, None, None] <= t_top_left[:, None])
        ).any(-1)  # (N, T)
        found = apart.any(1)
        choice = apart.to(torch.uint8).argmax(1)
        center = cand[torch.arange(n), choice]
        shape = (f["d_shape"][:, k] * len(CLASS_NAMES)).long().clamp_max(len(CLASS_NAMES) - 1)
        color = _hsv_to_rgb(_non_red_hue(d_col[:, k, 0]), 0.5 + 0.5 * d_col[:, k, 1], 0.5 + 0.5 * d_col[:, k, 2])
        _draw(
            images, shape, center, d_half, f["d_orient"][:, k] < 0.5, color, 10.0 * scale, enabled=found & (k < n_distr)
        )

    # --- the deciding object -----------------------------------------------------------------
    t_col = f["t_color"]
    colors = _hsv_to_rgb((t_col[:, 0] - 0.5) * 0.04, 0.85 + 0.15 * t_col[:, 1], 0.85 + 0.15 * t_col[:, 2])
    vertical = f["t_orient"][:, 0] < 0.5
    index, local = _draw(images, labels, t_center, t_half, vertical, colors, 11.0 * scale)
    masks = torch.zeros(n, size * size, dtype=torch.bool).scatter_(1, index, local).view(n, size, size)
    return images, labels, masks[:, None], _tight_boxes(masks), colors, t_center, t_half, vertical


def make_dataset(n: int, seed: int, size: int = 64, chunk: int = 1024) -> SyntheticDataset:
    """Generate ``n`` images deterministically from ``seed``.

    Args:
        n: number of images.
        seed: seeds a private ``torch.Generator`` (no global RNG is used).
        size: image side in pixels (square); object sizes scale with it. 64 (default) suits
            a CNN and a ViT with 8x8 patches; 96 and 128 work as well.
        chunk: images rendered at a time (memory only; the result does not depend on it).

    Returns:
        A :class:`SyntheticDataset` (images, labels, masks, boxes, colors).
    """
    check_count(n, "n")
    check_seed(seed)
    check_count(size, "size", low=48)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    width = sum(_FIELDS.values())
    draws = torch.rand(n, width, generator=generator)
    parts = [_render(draws[i : i + chunk], size) for i in range(0, n, chunk)]
    images, labels, masks, boxes, colors, centers, half_sizes, vertical = (torch.cat(p) for p in zip(*parts))
    return SyntheticDataset(images, labels, masks, boxes, colors, centers, half_sizes, vertical, seed=seed)
