"""Object boxes for natural images: our hand annotations, and mapping them to the model input.

Box convention: ``(x0, y0, x1, y1)`` in pixel-edge coordinates of an image, x to the
right (columns), y down (rows); pixel ``(row r, col c)`` covers ``[c, c + 1) x [r, r + 1)``.
So the integer box ``(x0, y0, x1, y1)`` holds the columns ``x0 .. x1 - 1`` and the rows
``y0 .. y1 - 1`` (end exclusive). A pixel belongs to a (possibly fractional) box when its
centre ``(c + 0.5, r + 0.5)`` lies inside it.

Annotations (``fovex_lib/data/boxes/*.json``) were drawn by hand in this project, in
each image's **original** pixel coordinates, for the class EfficientNet-Lite0
(``load_model("efficientnet_lite0")``) predicts on the 224x224 centre crop; every file
carries a note on how they were made. Sets:

* ``"bundled"``: the photos of :data:`fovex_lib.datasets.images.SAMPLE_IMAGES`.
* ``"osie"``: images of the OSIE data set (Xu et al. 2014), read where they lie:
  ``<data_dir>/osie/stimuli/NNNN.jpg`` with ``data_dir`` an argument or the environment
  variable ``FOVEX_DATA`` (found by :func:`fovex_lib.gaze.download.data_root`).

:func:`map_boxes` sends boxes through :func:`fovex_lib.datasets.images.load_image`'s documented
resize (shorter side to ``size``, antialiased bilinear) and centre crop, so they fit the
model input grid.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import torch

from .._checks import check_count

__all__ = [
    "BoxAnnotation",
    "BOX_SETS",
    "load_annotations",
    "map_boxes",
    "boxes_to_mask",
    "clip_boxes",
    "osie_directory",
    "load_box_images",
    "BoxImages",
]

BOX_DIR = Path(__file__).resolve().parent.parent / "data" / "boxes"
#: Annotation sets shipped with the package.
BOX_SETS = ("bundled", "osie")


@dataclass(frozen=True)
class BoxAnnotation:
    """Hand-drawn boxes of one image.

    Attributes:
        image: a bundled photo's name or an OSIE file name (``"1001.jpg"``).
        width, height: the original image size in pixels.
        label: ImageNet-1k class the boxes are drawn for (EfficientNet-Lite0's prediction).
        class_name: its name.
        boxes: ``(x0, y0, x1, y1)`` boxes in original pixel coordinates (end exclusive).
        comment: what was boxed, where it was ambiguous.
    """

    image: str
    width: int
    height: int
    label: int
    class_name: str
    boxes: tuple[tuple[float, float, float, float], ...]
    comment: str = ""


def load_annotations(name: str) -> tuple[list[BoxAnnotation], dict]:
    """Load one annotation set (``"bundled"`` or ``"osie"``).

    Returns:
        (annotations in file order, the file's metadata: ``note``, ``model``, ``convention``).
    """
    if name not in BOX_SETS:
        raise ValueError(f"unknown box set {name!r}; choose one of {BOX_SETS}.")
    with open(BOX_DIR / f"{name}.json", encoding="utf-8") as fh:
        data = json.load(fh)
    annotations = []
    for entry in data["images"]:
        # 4 numbers each: checked by _check_boxes below
        boxes = cast(
            tuple[tuple[float, float, float, float], ...], tuple(tuple(float(v) for v in b) for b in entry["boxes"])
        )
        ann = BoxAnnotation(
            entry["image"],
            int(entry["width"]),
            int(entry["height"]),
            int(entry["label"]),
            entry["class_name"],
            boxes,
            entry.get("comment", ""),
        )
        _check_boxes(ann.boxes, (ann.height, ann.width), f"{name}/{ann.image}")
        annotations.append(ann)
    meta = {k: v for k, v in data.items() if k != "images"}
    return annotations, meta


def _check_boxes(boxes, size: tuple[int, int], where: str = "boxes") -> None:
    """Boxes must be a non-empty sequence of finite (x0, y0, x1, y1) with x0 < x1, y0 < y1 inside the image."""
    height, width = size
    if not isinstance(boxes, (list, tuple)) or len(boxes) == 0:
        raise ValueError(
            f"{where}: expected a non-empty list of (x0, y0, x1, y1) boxes, got {boxes!r}. "
            "An object needs at least one box."
        )
    for box in boxes:
        if len(box) != 4 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in box):
            raise ValueError(f"{where}: a box must be 4 finite numbers (x0, y0, x1, y1), got {box!r}.")
        x0, y0, x1, y1 = box
        if not (x0 < x1 and y0 < y1):
            raise ValueError(f"{where}: box {box!r} is empty (needs x0 < x1 and y0 < y1).")
        if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
            raise ValueError(
                f"{where}: box {box!r} reaches outside the {width}x{height} image "
                f"(x in [0, {width}], y in [0, {height}]); clip it with "
                "fovex_lib.datasets.boxes.clip_boxes or fix the coordinates."
            )


def clip_boxes(boxes, size: tuple[int, int]) -> list[tuple[float, float, float, float]]:
    """Clip boxes to an (H, W) image; boxes left empty are dropped (the result may be empty)."""
    height, width = size
    out = []
    for x0, y0, x1, y1 in boxes:
        c = (min(max(x0, 0.0), width), min(max(y0, 0.0), height), min(max(x1, 0.0), width), min(max(y1, 0.0), height))
        if c[0] < c[2] and c[1] < c[3]:
            out.append((float(c[0]), float(c[1]), float(c[2]), float(c[3])))
    return out


def map_boxes(
    boxes, original_size: tuple[int, int], size: int = 224, crop: bool = True
) -> list[tuple[float, float, float, float]]:
    """Map boxes from an original (H, W) image onto ``load_image(..., size, crop)``'s grid.

    With ``crop=True`` (load_image's default) the image is scaled so that its shorter side
    is ``size`` (output ``(max(size, round(H s)), max(size, round(W s)))`` with
    ``s = size / min(H, W)``; interpolation with ``align_corners=False`` maps pixel edges
    by the exact ratios ``new / old`` per axis) and the centre ``size x size`` square is
    cut out at ``top = (new_H - size) // 2``, ``left = (new_W - size) // 2``. With
    ``crop=False`` both axes are scaled to ``size``.

    Boxes are then clipped to the crop; a box entirely outside it is dropped, so the list
    may be shorter (or empty: check before scoring).
    """
    height, width = original_size
    _check_boxes(list(boxes), (height, width), "map_boxes")
    if crop:
        scale = size / min(height, width)
        new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
        top, left = (new_h - size) // 2, (new_w - size) // 2
    else:
        new_h = new_w = size
        top = left = 0
    sy, sx = new_h / height, new_w / width
    moved = [(x0 * sx - left, y0 * sy - top, x1 * sx - left, y1 * sy - top) for x0, y0, x1, y1 in boxes]
    return clip_boxes(moved, (size, size))


def boxes_to_mask(boxes, size: tuple[int, int]) -> torch.Tensor:
    """(H, W) bool mask of the union of boxes: pixels whose centre lies inside a box.

    Errors: an empty list, an empty box (x0 >= x1 or y0 >= y1), a box reaching outside
    the image, or boxes that cover no pixel centre.
    """
    height, width = size
    _check_boxes(list(boxes) if isinstance(boxes, (list, tuple)) else boxes, size, "boxes_to_mask")
    cols = torch.arange(width, dtype=torch.float64) + 0.5
    rows = torch.arange(height, dtype=torch.float64) + 0.5
    mask = torch.zeros(height, width, dtype=torch.bool)
    for x0, y0, x1, y1 in boxes:
        mask |= ((rows >= y0) & (rows < y1))[:, None] & ((cols >= x0) & (cols < x1))[None, :]
    if not mask.any():
        raise ValueError(f"boxes {list(boxes)!r} cover no pixel centre of the {width}x{height} grid.")
    return mask


def osie_directory(data_dir: str | os.PathLike | None = None) -> Path:
    """The OSIE stimuli folder ``<data_dir>/osie/stimuli``.

    ``data_dir`` is found by :func:`fovex_lib.gaze.download.data_root` (default
    ``$FOVEX_DATA``, else ``~/.cache/fovex_lib/data``); a ``FileNotFoundError`` says
    where it looked and how to point at the data.
    """
    from ..gaze.download import data_root

    return data_root(data_dir, contains="osie/stimuli", argument="data_dir") / "osie" / "stimuli"


@dataclass
class BoxImages:
    """Annotated images ready for a model.

    Attributes:
        images: (N, 3, size, size) in [0, 1], loaded with ``load_image(..., size)``.
        ids: ``"<set>/<image>"`` per image.
        annotations: the :class:`BoxAnnotation` of each image.
        boxes: the boxes mapped to the ``size x size`` grid (clipped to the crop).
        masks: (N, 1, size, size) bool, the union of each image's mapped boxes.
    """

    images: torch.Tensor
    ids: list[str]
    annotations: list[BoxAnnotation]
    boxes: list[list[tuple[float, float, float, float]]]
    masks: torch.Tensor = field(repr=False)

    @property
    def labels(self) -> torch.Tensor:
        """(N,) the annotated classes."""
        return torch.tensor([a.label for a in self.annotations], dtype=torch.long)


def load_box_images(
    name: str,
    size: int = 224,
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    images: list[str] | None = None,
) -> BoxImages:
    """Load the images of an annotation set with their boxes mapped to ``size x size``.

    Args:
        name: ``"bundled"`` or ``"osie"``.
        size: input side (load_image's resize + centre crop).
        data_dir: folder containing ``osie/`` (OSIE only); default ``$FOVEX_DATA``.
        limit: keep the first ``limit`` annotated images (file order); None = all.
        images: keep only these image names (e.g. ``["coffee"]`` or ``["1001.jpg"]``).
    """
    from .images import load_image

    annotations, _ = load_annotations(name)
    if images is not None:
        known = {a.image for a in annotations}
        missing = [i for i in images if i not in known]
        if missing:
            raise ValueError(f"no {name} annotations for {missing}; annotated: {sorted(known)}.")
        annotations = [a for a in annotations if a.image in set(images)]
    if check_count(limit, "limit", allow_none=True) is not None:
        annotations = annotations[:limit]
    folder = osie_directory(data_dir) if name == "osie" else None
    tensors, mapped = [], []
    for ann in annotations:
        source = ann.image if folder is None else folder / ann.image
        tensors.append(load_image(source, size=size))
        boxes = map_boxes(ann.boxes, (ann.height, ann.width), size)
        if not boxes:
            raise ValueError(f"{name}/{ann.image}: every box falls outside the {size}x{size} centre crop.")
        mapped.append(boxes)
    masks = torch.stack([boxes_to_mask(b, (size, size)) for b in mapped])[:, None]
    return BoxImages(torch.cat(tensors), [f"{name}/{a.image}" for a in annotations], annotations, mapped, masks)
