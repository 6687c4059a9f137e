"""ImageNet validation loader on a fabricated folder in the official layout (no ImageNet here)."""

import numpy as np
import pytest
import torch
from PIL import Image

from fovex_lib.datasets.boxes import boxes_to_mask, map_boxes
from fovex_lib.datasets.imagenet_val import imagenet_synsets, load_imagenet_val, read_box_xml

XML = """<annotation><folder>val</folder><filename>{name}</filename>
<size><width>{w}</width><height>{h}</height><depth>3</depth></size>
{objects}</annotation>"""
OBJ = (
    "<object><name>{synset}</name>"
    "<bndbox><xmin>{0}</xmin><ymin>{1}</ymin><xmax>{2}</xmax><ymax>{3}</ymax></bndbox></object>"
)


def _write(images, boxes, n, synset, size, objs, subfolder=None):
    name = f"ILSVRC2012_val_{n:08d}"
    h, w = size
    folder = images / subfolder if subfolder else images
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(n).integers(0, 255, (h, w, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / f"{name}.JPEG")
    xml = XML.format(name=name, w=w, h=h, objects="".join(OBJ.format(*b, synset=synset) for b in objs))
    (boxes / f"{name}.xml").write_text(xml, encoding="utf-8")
    return name


@pytest.fixture
def imagenet(tmp_path):
    images, boxes = tmp_path / "val", tmp_path / "bbox"
    boxes.mkdir()
    synsets = imagenet_synsets()
    _write(images, boxes, 1, synsets[1], (300, 400), [(50, 60, 250, 200)])  # goldfish
    _write(
        images, boxes, 2, synsets[207], (400, 300), [(10, 100, 120, 300), (150, 120, 290, 390)], subfolder=synsets[207]
    )  # sorted layout
    _write(images, boxes, 3, synsets[999], (300, 400), [(0, 0, 40, 300)])  # outside the crop
    return images, boxes


def test_synsets_are_the_standard_order():
    synsets = imagenet_synsets()
    assert len(synsets) == 1000 and synsets[0] == "n01440764" and synsets == sorted(synsets)


def test_loads_images_labels_and_mapped_boxes(imagenet):
    images, boxes = imagenet
    with pytest.warns(RuntimeWarning, match="1 ImageNet image.*ILSVRC2012_val_00000003"):
        data = load_imagenet_val(images, boxes)
    assert data.ids == ["imagenet/ILSVRC2012_val_00000001", "imagenet/ILSVRC2012_val_00000002"]
    assert data.labels.tolist() == [1, 207] and data.images.shape == (2, 3, 224, 224)
    assert data.annotations[0].class_name == "goldfish"
    expected = map_boxes([(50, 60, 250, 200)], (300, 400), 224)
    assert data.boxes[0] == expected
    assert torch.equal(data.masks[0, 0], boxes_to_mask(expected, (224, 224)))
    assert len(data.boxes[1]) == 2
    one = load_imagenet_val(images, boxes, start=1, limit=1)
    assert one.ids == ["imagenet/ILSVRC2012_val_00000002"]


def test_bad_folders_and_files(imagenet, tmp_path):
    images, boxes = imagenet
    with pytest.raises(FileNotFoundError, match="not downloaded automatically"):
        load_imagenet_val(tmp_path / "nowhere", boxes)
    with pytest.raises(ValueError, match="limit"):
        load_imagenet_val(images, boxes, limit=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="has a box file"):
        load_imagenet_val(images, empty)
    with pytest.raises(ValueError, match="none of the 1 selected"), pytest.warns(RuntimeWarning, match="skipped"):
        load_imagenet_val(images, boxes, start=2)
    (boxes / "ILSVRC2012_val_00000001.xml").write_text("<annotation>", encoding="utf-8")
    with pytest.raises(ValueError, match="not an ILSVRC box file"):
        load_imagenet_val(images, boxes, limit=1)


def test_size_mismatch_and_mixed_synsets(tmp_path):
    images, boxes = tmp_path / "val", tmp_path / "bbox"
    boxes.mkdir()
    name = _write(images, boxes, 5, "n01440764", (300, 400), [(10, 10, 100, 100)])
    xml = (boxes / f"{name}.xml").read_text().replace("<width>400</width>", "<width>500</width>")
    (boxes / f"{name}.xml").write_text(xml)
    with pytest.raises(ValueError, match="do not belong together"):
        load_imagenet_val(images, boxes)
    two = XML.format(
        name="x",
        w=50,
        h=50,
        objects=OBJ.format(1, 1, 9, 9, synset="n01440764") + OBJ.format(1, 1, 9, 9, synset="n01443537"),
    )
    (tmp_path / "two.xml").write_text(two)
    with pytest.raises(ValueError, match="several synsets"):
        read_box_xml(tmp_path / "two.xml")
    clipped = XML.format(name="x", w=50, h=40, objects=OBJ.format(30, 20, 80, 90, synset="n01440764"))
    (tmp_path / "clip.xml").write_text(clipped)
    assert read_box_xml(tmp_path / "clip.xml") == ((40, 50), "n01440764", [(30.0, 20.0, 50.0, 40.0)])
