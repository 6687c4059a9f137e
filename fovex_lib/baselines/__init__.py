"""Baseline explainers behind FovEx's interface, and a registry to make them by name.

Every explainer subclasses :class:`fovex_lib.method.explainer.Explainer`: call it on a
batch (B, 3, H, W) in [0, 1] (optionally with ``target=``) and get an
:class:`~fovex_lib.method.explainer.Explanation` whose ``saliency`` is (B, 1, H, W) in
[0, 1] on the model's device.

=====================  ============================================  ==========
name                   method                                        applies to
=====================  ============================================  ==========
``fovex``              FovEx (Panda et al. 2024)                     any model
``gradcam``            Grad-CAM (Selvaraju et al. 2017)              CNN, ViT
``gradcam++``          Grad-CAM++ (Chattopadhay et al. 2018)         CNN, ViT
``random_cam``         Random CAM (sanity baseline)                  CNN, ViT
``rise``               RISE (Petsiuk et al. 2018)                    any model
``meaningful_perturbation``  Meaningful Perturbation (Fong & Vedaldi 2017)  any model
``gae``                GAE (Chefer et al. 2021)                      ViT
``cls_embedding``      class-embedding projection (Vilas et al. 2023)  ViT
=====================  ============================================  ==========

"CNN" means a network with a 2-D convolution whose CAM target layer is found
automatically (:mod:`~fovex_lib.baselines.target_layers`); "ViT" a timm
``VisionTransformer`` with a class token. ``make_explainer`` raises a ``ValueError``
naming the applicable methods when a method does not apply.

Each class's defaults are the published settings (sources in its docstring).
:data:`FAST_SETTINGS` holds reduced settings for CPU chapters::

    ex = make_explainer("rise", model, **FAST_SETTINGS.get("rise", {}), seed=0)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from ..method.explainer import Explainer
from .cls_embedding import ClassEmbeddingProjection
from .gae import GAE
from .gradcam import CAMExplainer, GradCAM, GradCAMPlusPlus
from .meaningful_perturbation import MeaningfulPerturbation
from .random_cam import RandomCAM
from .rise import RISE
from .target_layers import architecture, default_target_layers
from .vit_utils import find_vit

__all__ = ["METHODS", "MethodInfo", "FAST_SETTINGS", "make_explainer", "applicable_methods", "method_names",
           "GradCAM", "GradCAMPlusPlus", "RandomCAM", "RISE", "MeaningfulPerturbation", "GAE",
           "ClassEmbeddingProjection", "CAMExplainer", "architecture", "default_target_layers"]


def _fovex(model, **kwargs):
    from ..method.fovex import FovEx

    return FovEx(model, **kwargs)


@dataclass(frozen=True)
class MethodInfo:
    """One registry entry.

    Attributes:
        name: registry key (``make_explainer(name, ...)``).
        display_name: name for tables and figure titles.
        paper: the reference.
        applies_to: architectures it runs on: ``"any"``, or a tuple of ``"cnn"`` / ``"vit"``.
        paper_models: where the FovEx paper's comparison uses it (``"cnn"`` = ResNet-50,
            ``"vit"`` = ViT-B/16), as listed in the baselines issue.
        factory: ``factory(model, **kwargs) -> Explainer``.
    """

    name: str
    display_name: str
    paper: str
    applies_to: tuple[str, ...]
    paper_models: tuple[str, ...]
    factory: Callable[..., Explainer]


METHODS: dict[str, MethodInfo] = {m.name: m for m in [
    MethodInfo("fovex", "FovEx", "Panda et al., FovEx, arXiv:2408.02123 (2024)", ("any",), ("cnn", "vit"),
               _fovex),
    MethodInfo("gradcam", "Grad-CAM", "Selvaraju et al., Grad-CAM, ICCV 2017", ("cnn", "vit"), ("cnn",),
               GradCAM),
    MethodInfo("gradcam++", "Grad-CAM++", "Chattopadhay et al., Grad-CAM++, WACV 2018", ("cnn", "vit"),
               ("cnn",), GradCAMPlusPlus),
    MethodInfo("random_cam", "Random CAM", "random channel weights (pytorch-grad-cam RandomCAM); "
               "sanity-check baseline", ("cnn", "vit"), ("cnn", "vit"), RandomCAM),
    MethodInfo("rise", "RISE", "Petsiuk, Das & Saenko, RISE, BMVC 2018", ("any",), ("cnn", "vit"), RISE),
    MethodInfo("meaningful_perturbation", "Meaningful Perturbation",
               "Fong & Vedaldi, Interpretable explanations of black boxes by meaningful perturbation, ICCV 2017",
               ("any",), ("cnn", "vit"), MeaningfulPerturbation),
    MethodInfo("gae", "GAE", "Chefer, Gur & Wolf, Generic attention-model explainability, ICCV 2021",
               ("vit",), ("vit",), GAE),
    MethodInfo("cls_embedding", "Class-embedding projection",
               "Vilas, Schaumlöffel & Roig, Analyzing vision transformers for image classification in "
               "class embedding space, NeurIPS 2023", ("vit",), ("vit",), ClassEmbeddingProjection),
]}

#: Reduced settings for CPU chapters (roughly 10x fewer model evaluations than the published
#: settings); pass them as keyword arguments. Methods not listed have no costly setting.
#: Published values: FovEx scanpath_length 10, steps 20; RISE n_masks 4000;
#: Meaningful Perturbation iterations 500 (the class defaults).
FAST_SETTINGS: dict[str, dict] = {
    "fovex": {"scanpath_length": 5, "steps": 10},
    "rise": {"n_masks": 300},
    "meaningful_perturbation": {"iterations": 50},
}


_KINDS = {"cnn": "CNNs", "vit": "Vision Transformers (timm ViT with a class token)",
          "other": "neither a CNN nor a timm ViT", "any": "any model"}


def method_names() -> list[str]:
    """All registry names, in the order of :data:`METHODS`."""
    return list(METHODS)


def _applies(info: MethodInfo, arch: str, model: nn.Module) -> bool:
    if "any" in info.applies_to:
        return True
    if arch not in info.applies_to:
        return False
    if arch == "vit" and info.name in ("gae", "cls_embedding"):
        vit = find_vit(model)
        return getattr(vit, "cls_token", None) is not None and getattr(vit, "global_pool", "token") == "token"
    return True


def applicable_methods(model: nn.Module, paper_only: bool = False) -> list[str]:
    """Names of the methods that run on ``model`` (in :data:`METHODS` order).

    Args:
        model: the classifier.
        paper_only: keep only the methods the FovEx paper compares on this kind of
            model (CNN: FovEx, Grad-CAM, Grad-CAM++, Random CAM, RISE, MP; ViT: FovEx,
            Random CAM, RISE, MP, GAE, class-embedding projection).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    arch = architecture(model)
    names = [n for n, info in METHODS.items() if _applies(info, arch, model)]
    if paper_only:
        names = [n for n in names if arch in METHODS[n].paper_models]
    return names


def make_explainer(name: str, model: nn.Module, **kwargs) -> Explainer:
    """Make the explainer registered as ``name`` for ``model``.

    Args:
        name: one of :func:`method_names` (case-insensitive).
        model: maps (B, 3, H, W) in [0, 1] to (B, C) logits.
        **kwargs: the method's own settings (see its class), e.g. ``seed``,
            ``n_masks``, ``iterations``, ``target_layers``; :data:`FAST_SETTINGS` holds CPU-friendly ones.

    Raises:
        ValueError: unknown name, or the method does not apply to this architecture.
        TypeError: a keyword the method does not take.
    """
    if not isinstance(name, str):
        raise TypeError(f"method name must be a string, got {type(name).__name__}.")
    key = name.lower()
    if key not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {method_names()}.")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    info = METHODS[key]
    user_layers = key in ("gradcam", "gradcam++", "random_cam") and kwargs.get("target_layers") is not None
    if not user_layers and key not in applicable_methods(model):
        raise ValueError(
            f"{info.display_name} ({key!r}) applies to {' and '.join(_KINDS[a] for a in info.applies_to)} "
            f"only, but this {type(model).__name__} is {_KINDS[architecture(model)]}"
            + (" (CAM methods need target_layers=... here)" if key in ("gradcam", "gradcam++", "random_cam")
               else "")
            + f". Methods that apply: {applicable_methods(model)}.")
    try:
        return info.factory(model, **kwargs)
    except TypeError as err:
        if "unexpected keyword" in str(err):
            raise TypeError(f"{info.display_name}: {err}. See the docstring of its class for its "
                            "settings.") from err
        raise
