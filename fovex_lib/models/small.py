"""Two small classifiers trained on the synthetic evidence data set (:mod:`fovex_lib.datasets.synthetic`).

* ``synthetic_cnn`` - :func:`small_cnn`, a 4-block conv net (about 0.1 M parameters)
  with global max pooling; its last conv block is ``net.features[-1]`` (8x8 maps)
  for Grad-CAM-style baselines.
* ``synthetic_vit`` - :func:`small_vit`, timm's ``VisionTransformer`` with 8x8
  patches on 64x64 images (64 patch tokens + a class token), so the attention-based
  baselines (GAE, the class-embedding projection) apply.

Both take 64x64 RGB images in [0, 1] (the :class:`~fovex_lib.models.zoo.ImageClassifier`
wrapper normalises with mean = std = 0.5) and return logits over the six
:data:`~fovex_lib.datasets.synthetic.CLASS_NAMES`. Their weights were trained in this project
by ``python -m fovex_lib.models.train_synthetic`` and ship with the package as
``fovex_lib/data/synthetic_{cnn,vit}.safetensors``, so ``load_model("synthetic_cnn")``
works offline.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ..datasets.synthetic import CLASS_NAMES
from .zoo import ImageClassifier, load_state_dict_file, register_model

__all__ = ["small_cnn", "small_vit", "SMALL_MODELS", "weights_path", "wrap", "MEAN", "STD", "INPUT_SIZE"]

MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
INPUT_SIZE = (64, 64)
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def _block(c_in: int, c_out: int, pool: bool) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """conv(3->24) -> pool -> conv(24->48) -> pool -> conv(48->64) -> pool -> conv(64->96),
    each conv 3x3 + batch norm + ReLU, then global max pooling and a linear head."""

    def __init__(self, num_classes: int = len(CLASS_NAMES)):
        super().__init__()
        self.features = nn.Sequential(
            _block(3, 24, True), _block(24, 48, True), _block(48, 64, True), _block(64, 96, False)
        )
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(96, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1))


def small_cnn(num_classes: int = len(CLASS_NAMES)) -> SmallCNN:
    """The synthetic-data CNN (random weights)."""
    return SmallCNN(num_classes)


def small_vit(
    num_classes: int = len(CLASS_NAMES), embed_dim: int = 96, depth: int = 4, num_heads: int = 4
) -> nn.Module:
    """The synthetic-data ViT (random weights): timm ``VisionTransformer``, 64x64 input,
    8x8 patches, width 96, depth 4, 4 heads, MLP ratio 2, class-token pooling."""
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        img_size=64,
        patch_size=8,
        in_chans=3,
        num_classes=num_classes,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        mlp_ratio=2.0,
        qkv_bias=True,
        class_token=True,
        global_pool="token",
    )


#: name -> (builder, weights file name)
SMALL_MODELS: dict[str, tuple[Callable[[], nn.Module], str]] = {
    "synthetic_cnn": (small_cnn, "synthetic_cnn.safetensors"),
    "synthetic_vit": (small_vit, "synthetic_vit.safetensors"),
}


def weights_path(name: str) -> Path:
    """Where the committed weights of ``name`` ("synthetic_cnn" or "synthetic_vit") live."""
    return DATA_DIR / SMALL_MODELS[name][1]


def wrap(net: nn.Module, name: str) -> ImageClassifier:
    """Wrap a small network so that it takes [0, 1] images (mean = std = 0.5)."""
    return ImageClassifier(net, MEAN, STD, CLASS_NAMES, INPUT_SIZE, name)


def _load(name: str, pretrained: bool, weights) -> ImageClassifier:
    builder, _ = SMALL_MODELS[name]
    net = builder()
    if pretrained:
        if weights is not None:
            state = load_state_dict_file(weights)
        else:
            try:
                state = load_state_dict_file(weights_path(name))
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f"{err}. The weights ship with fovex_lib; re-create them with "
                    f"`python -m fovex_lib.models.train_synthetic --model {name.split('_')[1]}`."
                ) from err
        net.load_state_dict(state)
    return wrap(net, name)


@register_model("synthetic_cnn")
def _synthetic_cnn(pretrained: bool = True, weights=None) -> ImageClassifier:
    return _load("synthetic_cnn", pretrained, weights)


@register_model("synthetic_vit")
def _synthetic_vit(pretrained: bool = True, weights=None) -> ImageClassifier:
    return _load("synthetic_vit", pretrained, weights)
