"""fovex_lib.models.cached_weights: weights already on this machine, found without the network."""

import os

import pytest
import torch

from fovex_lib.models import cached_weights
from fovex_lib.models.small import weights_path


def test_bundled_small_models_are_found():
    for name in ("synthetic_cnn", "synthetic_vit"):
        assert cached_weights(name) == str(weights_path(name))


def test_vit_b_16_in_an_empty_cache_is_none(tmp_path):
    assert cached_weights("vit_b_16", cache_dir=tmp_path) is None


def _fake_hub_file(cache, repo, filename, revision="0" * 40):
    """Lay out one file the way huggingface_hub caches it (refs/main -> snapshots/<revision>/file)."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(revision)
    path = folder / "snapshots" / revision / filename
    path.parent.mkdir(parents=True)
    path.write_bytes(b"weights")
    return path


def test_vit_b_16_in_the_hub_cache_is_found(tmp_path):
    timm = pytest.importorskip("timm")
    repo = timm.models.get_pretrained_cfg("vit_base_patch16_224").hf_hub_id
    path = _fake_hub_file(tmp_path, repo, "pytorch_model.bin")
    assert cached_weights("vit_b_16", cache_dir=tmp_path) == str(path)
    better = path.with_name("model.safetensors")  # safetensors first when both are there
    better.write_bytes(b"weights")
    assert cached_weights("vit_b_16", cache_dir=tmp_path) == str(better)


def test_resnet50_in_the_torch_hub_cache_is_found(tmp_path):
    from torchvision.models import ResNet50_Weights

    saved = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        assert cached_weights("resnet50") is None
        checkpoints = tmp_path / "checkpoints"
        checkpoints.mkdir()
        path = checkpoints / os.path.basename(ResNet50_Weights.IMAGENET1K_V2.url)
        path.write_bytes(b"weights")
        assert cached_weights("resnet50") == str(path)
    finally:
        torch.hub.set_dir(saved)


def test_unknown_names_are_none_and_non_strings_an_error():
    assert cached_weights("no_such_model_anywhere") is None
    with pytest.raises(TypeError):
        cached_weights(None)
