import urllib.error

import pytest
import torch
from safetensors.torch import save_file

from fovex_lib import load_image, load_model
from fovex_lib.models import zoo as models
from fovex_lib.models.zoo import ImageClassifier, imagenet_classes, load_state_dict_file


@pytest.fixture(scope="module")
def lite0():
    return load_model("efficientnet_lite0")


@pytest.mark.slow
def test_efficientnet_lite0_offline_predicts_sensibly(lite0):
    assert isinstance(lite0, ImageClassifier) and not lite0.training
    x = torch.cat([load_image("coffee"), load_image("grace_hopper")])
    with torch.no_grad():
        probs = lite0(x).softmax(1)
    assert probs.shape == (2, 1000)
    names = [lite0.class_names[i] for i in probs.argmax(1)]
    assert names == ["espresso", "military uniform"]
    assert probs[0].max() > 0.5


def test_class_names_are_imagenet():
    names = imagenet_classes()
    assert len(names) == 1000 and names[0] == "tench" and names[967] == "espresso"


def test_wrapper_normalises_inside():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Identity())
    model = ImageClassifier(net, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), ["a"] * 3, (1, 1))
    out = model(torch.full((1, 3, 1, 1), 0.75))
    torch.testing.assert_close(out, torch.ones(1, 3))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.zeros(3, 1, 1))


def test_resnet50_without_weights_says_how_to_provide_them(monkeypatch):
    from torchvision.models import ResNet50_Weights

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(type(ResNet50_Weights.IMAGENET1K_V2), "get_state_dict", offline)
    with pytest.raises(RuntimeError, match="weights="):
        load_model("resnet50")


def test_resnet50_from_a_local_safetensors_file(tmp_path):
    random = load_model("resnet50", pretrained=False)
    path = tmp_path / "resnet50.safetensors"
    save_file(random.net.state_dict(), str(path))
    loaded = load_model("resnet50", weights=path)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), random(x))


@pytest.mark.slow
def test_vit_b_16_without_weights_says_how_to_provide_them(monkeypatch):
    import timm

    real = timm.create_model

    def offline(name, pretrained=False, **kwargs):
        if pretrained:
            raise OSError("cannot reach the Hugging Face hub")
        return real(name, pretrained=False, **kwargs)

    monkeypatch.setattr(timm, "create_model", offline)
    monkeypatch.setattr(models, "_hub_reachable", lambda timeout=None: True)  # no real probe in tests
    with pytest.raises(RuntimeError, match="vit_b_16.*offline"):
        load_model("vit_b_16")
    model = load_model("vit_b_16", pretrained=False)
    assert model.input_size == (224, 224) and model.num_classes == 1000


def test_any_timm_name_and_unknown_names():
    model = load_model("resnet10t", pretrained=False)
    with torch.no_grad():
        assert model(torch.rand(2, 3, 64, 64)).shape == (2, 1000)
    with pytest.raises(ValueError, match="unknown model"):
        load_model("no_such_model_xyz", pretrained=False)
    with pytest.raises(ValueError, match="pretrained=False"):
        load_model("resnet50", pretrained=False, weights="x.pth")


def test_unsafe_or_missing_weight_files_are_refused(tmp_path):
    import argparse

    path = tmp_path / "evil.pth"
    torch.save({"obj": argparse.Namespace(a=1)}, path)  # an arbitrary pickled object
    with pytest.raises(ValueError, match="weights_only=True"):
        load_state_dict_file(path)
    with pytest.raises(FileNotFoundError):
        load_state_dict_file(tmp_path / "missing.pth")
    nested = tmp_path / "ckpt.pth"
    torch.save({"state_dict": {"w": torch.ones(2)}}, nested)
    assert list(load_state_dict_file(nested)) == ["w"]
