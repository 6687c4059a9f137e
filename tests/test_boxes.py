"""Box annotations and their mapping onto load_image's resize + centre crop."""

import numpy as np
import pytest
import torch

from fovex_lib.datasets.boxes import (
    BOX_SETS,
    boxes_to_mask,
    clip_boxes,
    load_annotations,
    load_box_images,
    map_boxes,
    osie_directory,
)
from fovex_lib.datasets.images import SAMPLE_IMAGES, image_to_tensor, resize_image

from conftest import shared_data


def test_boxes_to_mask_integer_box_covers_exact_pixels():
    mask = boxes_to_mask([(2, 1, 5, 3)], (4, 6))  # columns 2..4, rows 1..2
    expected = np.zeros((4, 6), dtype=bool)
    expected[1:3, 2:5] = True
    assert (mask.numpy() == expected).all()
    # fractional box: a pixel counts when its centre is inside
    mask = boxes_to_mask([(0.6, 0.4, 2.5, 1.5)], (4, 6))
    expected = np.zeros((4, 6), dtype=bool)
    expected[0:1, 1:2] = True  # centres x in {1.5} (0.5 < 0.6, 2.5 not < 2.5), y in {0.5}
    assert (mask.numpy() == expected).all()


@pytest.mark.parametrize(
    "boxes, match",
    [
        ([], "non-empty"),
        ([(3, 1, 3, 2)], "empty"),
        ([(0, 0, 7, 2)], "outside"),
        ([(0, -1, 2, 2)], "outside"),
        ([(0, 0, float("nan"), 2)], "finite"),
        ([(0, 0, 2)], "4 finite"),
        ([(0.1, 0.1, 0.4, 0.4)], "no pixel"),
    ],
)
def test_boxes_to_mask_rejects_bad_boxes(boxes, match):
    with pytest.raises(ValueError, match=match):
        boxes_to_mask(boxes, (4, 6))


def test_clip_boxes_drops_boxes_outside():
    assert clip_boxes([(-5, -5, 3, 3), (10, 10, 20, 20), (2, 1, 9, 9)], (4, 6)) == [(0, 0, 3, 3), (2, 1, 6, 4)]


@pytest.mark.parametrize("height, width", [(300, 451), (600, 800), (512, 512), (600, 512), (427, 640)])
def test_map_boxes_matches_resized_rectangle(height, width):
    """Paint a box white on black, resize + crop the picture like load_image, and compare."""
    x0, y0, x1, y1 = int(width * 0.3), int(height * 0.25), int(width * 0.7), int(height * 0.6)
    picture = np.zeros((height, width, 3), dtype=np.uint8)
    picture[y0:y1, x0:x1] = 255
    resized = resize_image(image_to_tensor(picture), 224)[0, 0] > 0.5
    mapped = map_boxes([(x0, y0, x1, y1)], (height, width), 224)
    mask = boxes_to_mask(mapped, (224, 224))
    rows = torch.nonzero(resized.any(1))[:, 0]
    cols = torch.nonzero(resized.any(0))[:, 0]
    m_rows = torch.nonzero(mask.any(1))[:, 0]
    m_cols = torch.nonzero(mask.any(0))[:, 0]
    for a, b in ((rows, m_rows), (cols, m_cols)):
        assert abs(int(a[0]) - int(b[0])) <= 1 and abs(int(a[-1]) - int(b[-1])) <= 1
    iou = (resized & mask).sum() / (resized | mask).sum()
    assert iou > 0.95


def test_map_boxes_crop_offsets_by_hand():
    # 600x800 (H x W) -> 224 x round(800 * 224 / 600) = 224 x 299, left = (299 - 224) // 2 = 37
    box = map_boxes([(400, 300, 500, 450)], (600, 800), 224)[0]
    sx = 299 / 800
    assert box == pytest.approx((400 * sx - 37, 300 * 224 / 600, 500 * sx - 37, 450 * 224 / 600))
    # a box in the cropped-away left strip disappears; a straddling one is clipped
    assert map_boxes([(0, 0, 50, 100)], (600, 800), 224) == []
    assert map_boxes([(0, 0, 200, 100)], (600, 800), 224)[0][0] == 0.0
    # crop=False squashes both axes to the size
    assert map_boxes([(400, 300, 800, 600)], (600, 800), 224, crop=False)[0] == pytest.approx((112, 112, 224, 224))


@pytest.mark.parametrize("name", BOX_SETS)
def test_annotation_files_are_consistent(name):
    annotations, meta = load_annotations(name)
    assert "by hand" in meta["note"] and meta["model"] == "efficientnet_lite0"
    assert len({a.image for a in annotations}) == len(annotations)
    if name == "osie":
        assert len(annotations) >= 30
        assert all(a.image.endswith(".jpg") and (a.width, a.height) == (800, 600) for a in annotations)
    else:
        assert {a.image for a in annotations} == set(SAMPLE_IMAGES)
        for a in annotations:
            arr = SAMPLE_IMAGES[a.image].array()
            assert (a.height, a.width) == arr.shape[:2]
    for a in annotations:
        assert 0 <= a.label < 1000 and a.boxes
        assert map_boxes(a.boxes, (a.height, a.width), 224)  # something of the object is in the crop


@pytest.mark.slow
def test_annotated_class_is_what_efficientnet_predicts():
    from fovex_lib import load_model

    model = load_model("efficientnet_lite0")
    sets = [load_box_images("bundled"), load_box_images("osie", data_dir=shared_data())]  # no OSIE: fails
    for s in sets:
        with torch.no_grad():
            predicted = model(s.images).argmax(1)
        assert predicted.tolist() == s.labels.tolist()
        assert s.masks.shape == (len(s.ids), 1, 224, 224) and s.masks.flatten(1).any(1).all()


def test_osie_directory_errors(monkeypatch, tmp_path):
    monkeypatch.delenv("FOVEX_DATA", raising=False)
    monkeypatch.setattr("fovex_lib.gaze.download.DEFAULT_ROOT", tmp_path / "cache")
    with pytest.raises(FileNotFoundError, match="FOVEX_DATA.*not set"):
        osie_directory()
    with pytest.raises(FileNotFoundError, match="osie/stimuli"):
        osie_directory(tmp_path)
    (tmp_path / "osie" / "stimuli").mkdir(parents=True)
    monkeypatch.setenv("FOVEX_DATA", str(tmp_path))
    assert osie_directory() == tmp_path / "osie" / "stimuli"


def test_load_box_images_selection_errors():
    with pytest.raises(ValueError, match="unknown box set"):
        load_annotations("imagenet")
    with pytest.raises(ValueError, match="no bundled annotations"):
        load_box_images("bundled", images=["not_there"])
    with pytest.raises(ValueError, match="limit"):
        load_box_images("bundled", limit=0)
    with pytest.raises(TypeError, match="limit must be an int >= 1 or None"):
        load_box_images("bundled", limit=2.0)
    two = load_box_images("bundled", limit=2)
    assert two.images.shape == (2, 3, 224, 224) and two.ids == ["bundled/coffee", "bundled/chelsea"]
