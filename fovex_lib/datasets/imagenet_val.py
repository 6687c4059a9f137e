"""ImageNet-1k validation images with their ground-truth boxes (ILSVRC 2012), for chapter 6's full runs.

The FovEx paper's Table 1 scores explanations of ResNet-50 and ViT-B/16 on ImageNet
validation images, with EBPG computed on the data set's own object boxes. ImageNet
cannot be downloaded by code (its terms require registering at image-net.org), so this
module only *reads* a copy you have, in the layout of the two official archives:

* images: ``ILSVRC2012_img_val.tar`` unpacked flat, ``<images>/ILSVRC2012_val_00000001.JPEG`` ...
  (a copy sorted into one folder per synset, ``<images>/n01751748/ILSVRC2012_val_....JPEG``,
  works too);
* boxes: ``ILSVRC2012_bbox_val_v3.tgz`` unpacked, ``<boxes>/ILSVRC2012_val_00000001.xml`` ...
  (Pascal-VOC XML: image ``<size>``, one ``<object>`` per box with the synset in
  ``<name>`` and ``<bndbox>`` ``xmin ymin xmax ymax`` in pixels).

The class of an image is the synset of its boxes (every box of a validation image
carries the image's ground-truth synset), mapped to the usual 0..999 index by the
sorted synset order (timm's ``ImageNetInfo``, the order torchvision and timm models
are trained with). Boxes are used as pixel edges ``(x0, y0, x1, y1) = (xmin, ymin,
xmax, ymax)``, clipped to the image: the format's one-pixel ambiguity (inclusive or
exclusive ``xmax``) is a fraction of a pixel after resizing to 224.

The result is a :class:`fovex_lib.datasets.boxes.BoxImages`, like the hand-annotated sets, so
chapter 6 scores it the same way.
"""

from __future__ import annotations

import os
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import torch
from PIL import Image

from .._checks import check_count
from .boxes import BoxAnnotation, BoxImages, boxes_to_mask, clip_boxes, map_boxes

__all__ = ["imagenet_synsets", "read_box_xml", "load_imagenet_val"]

_IMAGE_SUFFIXES = (".JPEG", ".jpeg", ".jpg", ".JPG", ".png")


def imagenet_synsets() -> list[str]:
    """The 1000 ImageNet-1k synsets (``"n01440764"``, ...) in class-index order."""
    from timm.data import ImageNetInfo

    return list(ImageNetInfo().label_names())


def read_box_xml(path: str | os.PathLike) -> tuple[tuple[int, int], str, list[tuple[float, float, float, float]]]:
    """One ILSVRC box file: ``((height, width), synset, boxes)``, boxes clipped to the image.

    Raises ValueError for a file that is not such XML, has no object, mixes synsets or
    has no box left inside the image.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
        # a missing tag gives None: int(None) raises the TypeError caught below
        width = int(root.findtext("size/width"))  # type: ignore[arg-type]
        height = int(root.findtext("size/height"))  # type: ignore[arg-type]
    except (ET.ParseError, TypeError, ValueError) as err:
        raise ValueError(
            f"{path}: not an ILSVRC box file (Pascal-VOC XML with <size><width>/<height>): {err}"
        ) from None
    synsets, boxes = set(), []
    for obj in root.iter("object"):
        synsets.add((obj.findtext("name") or "").strip())
        try:
            boxes.append(
                tuple(
                    float(obj.findtext(f"bndbox/{k}"))  # type: ignore[arg-type]  # None: TypeError
                    for k in ("xmin", "ymin", "xmax", "ymax")
                )
            )
        except (TypeError, ValueError):
            raise ValueError(f"{path}: an <object> without a numeric <bndbox> xmin/ymin/xmax/ymax.") from None
    if not boxes:
        raise ValueError(f"{path}: no <object> box in the file.")
    if len(synsets) != 1:
        raise ValueError(f"{path}: boxes of several synsets {sorted(synsets)}; expected the image's one class.")
    inside = clip_boxes(boxes, (height, width))
    if not inside:
        raise ValueError(f"{path}: every box lies outside the {width}x{height} image.")
    return (height, width), synsets.pop(), inside


def _image_files(images_dir: Path) -> dict[str, Path]:
    found = {}
    for pattern in ("*", "*/*"):  # flat, or one folder per synset
        for path in images_dir.glob(pattern):
            if path.suffix in _IMAGE_SUFFIXES and path.stem.startswith("ILSVRC2012_val_"):
                found[path.stem] = path
    return found


def load_imagenet_val(
    images_dir: str | os.PathLike,
    boxes_dir: str | os.PathLike,
    limit: int | None = None,
    start: int = 0,
    size: int = 224,
) -> BoxImages:
    """ImageNet validation images (sorted by name) with their ground-truth boxes mapped to ``size``.

    Args:
        images_dir: folder of ``ILSVRC2012_val_*.JPEG`` (flat or one folder per synset).
        boxes_dir: folder of the matching ``ILSVRC2012_val_*.xml`` box files.
        limit: number of images (after ``start``); None = all that have both files.
        start: skip the first ``start`` images of the sorted list.
        size: model input side (``load_image``'s resize of the shorter side + centre crop).

    Returns:
        :class:`~fovex_lib.datasets.boxes.BoxImages` with ids ``"imagenet/ILSVRC2012_val_00000001"``
        and the ground-truth class as ``labels``.

    An image whose boxes all fall outside the centre crop (the object is not in what the
    model sees) is skipped with a warning that names it; every other problem is an error.

    Raises:
        FileNotFoundError: a folder is missing; ValueError: no image has both files, a box
        file is malformed, or it gives another size than its image has.
    """
    from ..models.zoo import imagenet_classes
    from .images import load_image

    images_dir, boxes_dir = Path(images_dir), Path(boxes_dir)
    for folder, what in ((images_dir, "images (ILSVRC2012_img_val)"), (boxes_dir, "boxes (ILSVRC2012_bbox_val)")):
        if not folder.is_dir():
            raise FileNotFoundError(
                f"ImageNet validation {what} folder not found: {folder}. ImageNet is not "
                "downloaded automatically (its terms need registration at image-net.org)."
            )
    check_count(start, "start", low=0, allow_none=True)
    check_count(limit, "limit", allow_none=True)
    files = _image_files(images_dir)
    names = sorted(n for n in files if (boxes_dir / f"{n}.xml").is_file())
    if not names:
        raise ValueError(
            f"no image in {images_dir} has a box file in {boxes_dir} "
            "(expected ILSVRC2012_val_XXXXXXXX.JPEG with ILSVRC2012_val_XXXXXXXX.xml)."
        )
    names = names[start:] if limit is None else names[start : start + limit]
    if not names:
        raise ValueError(f"start={start} is past the {len(files)} images found.")
    index = {synset: i for i, synset in enumerate(imagenet_synsets())}
    class_names = imagenet_classes()
    tensors, annotations, mapped, skipped = [], [], [], []
    for name in names:
        xml = boxes_dir / f"{name}.xml"
        (height, width), synset, boxes = read_box_xml(xml)
        if synset not in index:
            raise ValueError(f"{xml}: synset {synset!r} is not one of the 1000 ImageNet-1k classes.")
        with Image.open(files[name]) as img:
            if img.size != (width, height):
                raise ValueError(
                    f"{xml} gives the size {width}x{height} but {files[name].name} is "
                    f"{img.size[0]}x{img.size[1]}; the files do not belong together."
                )
        on_grid = map_boxes(boxes, (height, width), size)
        if not on_grid:
            skipped.append(name)
            continue
        label = index[synset]
        annotations.append(BoxAnnotation(name, width, height, label, class_names[label], tuple(boxes), synset))
        tensors.append(load_image(files[name], size=size))
        mapped.append(on_grid)
    if skipped:
        warnings.warn(
            f"{len(skipped)} ImageNet image(s) skipped, every box outside the {size}x{size} centre crop: "
            f"{skipped[:10]}",
            RuntimeWarning,
            stacklevel=2,
        )
    if not tensors:
        raise ValueError(f"none of the {len(names)} selected images has a box inside the centre crop.")
    masks = torch.stack([boxes_to_mask(b, (size, size)) for b in mapped])[:, None]
    return BoxImages(torch.cat(tensors), [f"imagenet/{a.image}" for a in annotations], annotations, mapped, masks)
