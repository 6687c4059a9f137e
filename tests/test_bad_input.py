"""Bad input gets a clear error that says what was wrong and how to fix it."""

import pytest
import torch
from torch import nn

from fovex_lib import FovEx, foveate, gaussian_blob

from conftest import tiny_cnn


@pytest.fixture
def explainer():
    return FovEx(tiny_cnn(dtype=torch.float32), scanpath_length=1, steps=1, blur_kernel_size=21)


def test_images_outside_unit_range(explainer):
    with pytest.raises(ValueError, match=r"\[0, 1\].*normalis"):
        explainer(torch.rand(1, 3, 32, 32) * 2 - 0.5)


def test_images_wrong_shape_or_dtype(explainer):
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        explainer(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        explainer(torch.rand(1, 1, 32, 32))
    with pytest.raises(TypeError, match="float"):
        explainer(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        explainer([[0.5]])
    with pytest.raises(ValueError, match="NaN"):
        explainer(torch.full((1, 3, 32, 32), float("nan")))


def test_targets_out_of_range(explainer):
    x = torch.rand(2, 3, 32, 32)
    with pytest.raises(ValueError, match="out of range.*5 classes"):
        explainer(x, target=5)
    with pytest.raises(ValueError, match="out of range"):
        explainer(x, target=[0, -1])
    with pytest.raises(ValueError, match="3 entries"):
        explainer(x, target=[0, 1, 2])
    with pytest.raises(TypeError, match="integer"):
        explainer(x, target=torch.tensor([0.5, 1.0]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sigma=0), "sigma must be a positive"),
        (dict(sigma=-0.1), "sigma"),
        (dict(blur_sigma=0.0), "blur_sigma"),
        (dict(heatmap_sigma=-1), "heatmap_sigma"),
        (dict(lr=0), "lr"),
        (dict(steps=0), "steps must be at least 1"),
        (dict(scanpath_length=0), "scanpath_length must be at least 1"),
        (dict(forgetting=1.5), "forgetting"),
    ],
)
def test_bad_hyper_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FovEx(tiny_cnn(), **kwargs)


def test_non_integer_counts():
    with pytest.raises(TypeError, match="steps"):
        FovEx(tiny_cnn(), steps=2.5)
    with pytest.raises(TypeError, match="seed"):
        FovEx(tiny_cnn(), seed="0")


def test_model_must_return_logits():
    class Dense(nn.Module):
        def forward(self, x):
            return x  # (B, 3, H, W), not (B, C)

    class Pair(nn.Module):
        def forward(self, x):
            return x.mean((2, 3)), x

    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match=r"logits of shape \(B, C\)"):
        FovEx(Dense(), steps=1, scanpath_length=1, blur_kernel_size=21)(x)
    with pytest.raises(TypeError, match="tensor of logits"):
        FovEx(Pair(), steps=1, scanpath_length=1, blur_kernel_size=21)(x)
    with pytest.raises(TypeError, match="nn.Module"):
        FovEx(lambda x: x)


def test_fixation_shapes():
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        gaussian_blob(torch.zeros(2, 3), (8, 8), 0.1)
    with pytest.raises(ValueError, match="rows but the batch has"):
        foveate(torch.rand(2, 3, 32, 32), torch.zeros(3, 2), blur_sigma=2.0, kernel_size=5)
