"""Which kind of network a model is, and where CAM methods should look.

CAM methods (Grad-CAM, Grad-CAM++, Random CAM) weight the feature maps of one
*target layer*. :func:`default_target_layers` picks it automatically:

==============================  ===============================================
network                         target layer (as usual in the literature)
==============================  ===============================================
torchvision / timm ResNet        ``layer4[-1]`` (last bottleneck block; Grad-CAM paper)
timm EfficientNet (incl. our     ``bn2`` (batch norm + activation after ``conv_head``:
``efficientnet_lite0``)          the last feature maps before pooling)
project ``synthetic_cnn``        ``features[-1]`` (last conv block, 8x8 maps)
timm ViT (incl. ``synthetic_vit``  ``blocks[-1].norm1`` with the token reshape of
and ``vit_b_16``)                :func:`vit_reshape_transform` (pytorch-grad-cam's ViT tutorial)
any other conv net               the last ``nn.Conv2d`` in module order (a fallback)
==============================  ===============================================

The model may be wrapped in :class:`~fovex_lib.models.zoo.ImageClassifier` (the wrapped
network is ``model.net``). Pass ``target_layers=[...]`` (and, for token outputs,
``reshape_transform=...``) to any CAM explainer to override the choice.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .vit_utils import find_vit, vit_reshape_transform

__all__ = ["architecture", "default_target_layers", "unwrap"]


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside an :class:`~fovex_lib.models.zoo.ImageClassifier` (or the model itself)."""
    net = getattr(model, "net", None)
    return net if isinstance(net, nn.Module) else model


def architecture(model: nn.Module) -> str:
    """``"vit"`` for a timm Vision Transformer, ``"cnn"`` for a network with a 2-D
    convolution, ``"other"`` otherwise (e.g. an MLP or a hand-written function)."""
    if find_vit(model) is not None:
        return "vit"
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        return "cnn"
    return "other"


def default_target_layers(model: nn.Module) -> tuple[list[nn.Module], Callable | None]:
    """``(target_layers, reshape_transform)`` for CAM methods (see the module docstring).

    Raises:
        ValueError: when no target layer can be chosen (no convolution, no ViT).
    """
    vit = find_vit(model)
    if vit is not None:
        return [vit.blocks[-1].norm1], vit_reshape_transform(vit)
    net = unwrap(model)
    layer4 = getattr(net, "layer4", None)
    if isinstance(layer4, nn.Sequential) and len(layer4) > 0:  # torchvision / timm ResNet
        return [layer4[-1]], None
    try:
        from timm.models.efficientnet import EfficientNet
    except ImportError:  # pragma: no cover - timm is a dependency
        pass
    else:
        if isinstance(net, EfficientNet):
            return [net.bn2], None
    features = getattr(net, "features", None)
    if (
        isinstance(features, nn.Sequential)
        and len(features) > 0
        and any(isinstance(m, nn.Conv2d) for m in features[-1].modules())
    ):  # synthetic_cnn, VGG-like
        return [features[-1]], None
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    if convs:
        return [convs[-1]], None
    raise ValueError(
        f"cannot choose a CAM target layer for {type(net).__name__}: it has no nn.Conv2d and is "
        "not a timm VisionTransformer. CAM methods (gradcam, gradcam++, random_cam) need feature "
        "maps: pass target_layers=[some_module] (and reshape_transform=... for token outputs), "
        "or use a model-agnostic method such as 'rise' or 'meaningful_perturbation'."
    )
