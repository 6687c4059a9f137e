"""Every explanation method by name, and named settings presets: the library's front door.

::

    from fovex_lib import applicable_methods, list_methods, make_explainer
    list_methods()                                   # ['fovex', 'gradcam', ..., 'cls_embedding']
    applicable_methods(model)                        # the names that run on this model
    ex = make_explainer("rise", model, seed=0)       # the published settings (4000 masks)
    ex = make_explainer("rise", model, preset="fast", seed=0)              # 300 masks
    ex = make_explainer("rise", model, preset="fast", n_masks=500, seed=0)  # keywords win
    out = ex(images)                                 # out.saliency: (B, 1, H, W) in [0, 1]

=============================  =================================================  ===============
name                           method                                             applies to
=============================  =================================================  ===============
``fovex``                      FovEx (Panda et al. 2024)                          any model
``gradcam``                    Grad-CAM (Selvaraju et al. 2017)                   CNN, ViT
``gradcam++``                  Grad-CAM++ (Chattopadhay et al. 2018)              CNN, ViT
``random_cam``                 Random CAM (sanity baseline)                       CNN, ViT
``rise``                       RISE (Petsiuk et al. 2018)                         any model
``meaningful_perturbation``    Meaningful Perturbation (Fong & Vedaldi 2017)      any model
``gae``                        GAE (Chefer et al. 2021)                           ViT
``cls_embedding``              class-embedding projection (Vilas et al. 2023)     ViT
=============================  =================================================  ===============

"CNN" means a network with a 2-D convolution whose CAM target layer is found
automatically (:mod:`fovex_lib.baselines.target_layers`); "ViT" a timm
``VisionTransformer`` with a class token. :func:`make_explainer` raises a ``ValueError``
naming the applicable methods when a method does not apply.

Every explainer takes ``seed`` (an int in ``[0, 2**63)``), so one call fits all methods;
methods without randomness (Grad-CAM, Grad-CAM++, Meaningful Perturbation, GAE, the
class-embedding projection) check it and ignore it (:attr:`MethodInfo.seeded`).

Settings: each class's defaults are the published settings (sources in its docstring).
:data:`PRESETS` is the one table of reduced settings (``preset=`` of
:func:`make_explainer`); keyword arguments given to :func:`make_explainer` win over the
preset's values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from .baselines import (
    GAE,
    RISE,
    ClassEmbeddingProjection,
    GradCAM,
    GradCAMPlusPlus,
    MeaningfulPerturbation,
    RandomCAM,
    architecture,
)
from .baselines.vit_utils import find_vit
from .method.explainer import Explainer
from .method.fovex import FovEx

__all__ = [
    "METHODS",
    "MethodInfo",
    "PRESETS",
    "make_explainer",
    "method_settings",
    "list_methods",
    "method_names",
    "list_presets",
    "applicable_methods",
]


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
        factory: ``factory(model, **kwargs) -> Explainer`` (the class).
        seeded: whether ``seed`` changes the maps (the method draws random numbers);
            the others accept ``seed`` and ignore it.
    """

    name: str
    display_name: str
    paper: str
    applies_to: tuple[str, ...]
    paper_models: tuple[str, ...]
    factory: Callable[..., Explainer]
    seeded: bool


METHODS: dict[str, MethodInfo] = {
    m.name: m
    for m in [
        MethodInfo(
            "fovex", "FovEx", "Panda et al., FovEx, arXiv:2408.02123 (2024)", ("any",), ("cnn", "vit"), FovEx, True
        ),
        MethodInfo(
            "gradcam", "Grad-CAM", "Selvaraju et al., Grad-CAM, ICCV 2017", ("cnn", "vit"), ("cnn",), GradCAM, False
        ),
        MethodInfo(
            "gradcam++",
            "Grad-CAM++",
            "Chattopadhay et al., Grad-CAM++, WACV 2018",
            ("cnn", "vit"),
            ("cnn",),
            GradCAMPlusPlus,
            False,
        ),
        MethodInfo(
            "random_cam",
            "Random CAM",
            "random channel weights (pytorch-grad-cam RandomCAM); sanity-check baseline",
            ("cnn", "vit"),
            ("cnn", "vit"),
            RandomCAM,
            True,
        ),
        MethodInfo("rise", "RISE", "Petsiuk, Das & Saenko, RISE, BMVC 2018", ("any",), ("cnn", "vit"), RISE, True),
        MethodInfo(
            "meaningful_perturbation",
            "Meaningful Perturbation",
            "Fong & Vedaldi, Interpretable explanations of black boxes by meaningful perturbation, ICCV 2017",
            ("any",),
            ("cnn", "vit"),
            MeaningfulPerturbation,
            False,
        ),
        MethodInfo(
            "gae",
            "GAE",
            "Chefer, Gur & Wolf, Generic attention-model explainability, ICCV 2021",
            ("vit",),
            ("vit",),
            GAE,
            False,
        ),
        MethodInfo(
            "cls_embedding",
            "Class-embedding projection",
            "Vilas, Schaumlöffel & Roig, Analyzing vision transformers for image classification in "
            "class embedding space, NeurIPS 2023",
            ("vit",),
            ("vit",),
            ClassEmbeddingProjection,
            False,
        ),
    ]
}

_FOVEX_SHORT = {"scanpath_length": 5, "steps": 10}  # half the fixations, half the steps: 50 passes, not 200

#: Named settings: preset name -> {method name: keyword arguments of its class}. A method a
#: preset does not list keeps its class defaults (the cheap methods have no costly setting).
#: The published values are the class defaults: FovEx scanpath_length 10, steps 20; RISE
#: n_masks 4000; Meaningful Perturbation iterations 500.
#:
#: Stored results depend on these values: change one and the chapter that uses it no longer
#: reproduces its stored table or notebook outputs (the chapters assert that they do).
#: Add a new preset instead.
PRESETS: dict[str, dict[str, dict]] = {
    # The published settings (the classes' defaults); the same as preset=None.
    "paper": {},
    # CPU runs: roughly 10x fewer model evaluations than "paper". Chapter 6's table (b), the
    # small models on synthetic images (synthetic_preset; the "synthetic" rows of
    # book/data/ch6_metrics.csv), uses it; appendix A's FovEx (book/data/A_energy_in_box.csv)
    # uses the same scanpath length and steps, set in its own parameters.
    "fast": {"fovex": dict(_FOVEX_SHORT), "rise": {"n_masks": 300}, "meaningful_perturbation": {"iterations": 50}},
    # Chapter 5's side-by-side tour of every method on a few images (its stored outputs).
    "tour": {"fovex": dict(_FOVEX_SHORT), "rise": {"n_masks": 200}, "meaningful_perturbation": {"iterations": 30}},
    # Chapter 6's table (a), FovEx and the baselines on 224-pixel photos: "fast" with fewer
    # RISE masks and Meaningful Perturbation iterations (the "photos" rows of
    # book/data/ch6_metrics.csv; stored before presets existed as fast=True plus
    # natural_fast={"rise": {"n_masks": 100}, "meaningful_perturbation": {"iterations": 20}}).
    "metrics_photos": {
        "fovex": dict(_FOVEX_SHORT),
        "rise": {"n_masks": 100},
        "meaningful_perturbation": {"iterations": 20},
    },
    # Chapter 7, gaze alignment on OSIE (its stored outputs): RISE with 100 masks in passes of
    # 50 masked images, Meaningful Perturbation with 25 iterations.
    "gaze": {
        "fovex": dict(_FOVEX_SHORT),
        "rise": {"n_masks": 100, "batch_size": 50},
        "meaningful_perturbation": {"iterations": 25},
    },
    # Chapter 8, scanpaths on OSIE (its stored outputs): FovEx with the published 10 fixations
    # (a human looks at about 9 places in OSIE's 3 seconds) of 10 steps; RISE as in "gaze".
    "scanpaths": {
        "fovex": {"scanpath_length": 10, "steps": 10},
        "rise": {"n_masks": 100, "batch_size": 50},
    },
    # CI-sized smoke runs (maps not meaningful): the benchmark's --quick FovEx (2 fixations x
    # 2 steps, fovex_lib.bench.QUICK_SETTINGS) and tests that only need every method to run.
    "quick": {
        "fovex": {"scanpath_length": 2, "steps": 2},
        "rise": {"n_masks": 50},
        "meaningful_perturbation": {"iterations": 10},
    },
}

_KINDS = {
    "cnn": "CNNs",
    "vit": "Vision Transformers (timm ViT with a class token)",
    "other": "neither a CNN nor a timm ViT",
    "any": "any model",
}
_CAM_METHODS = ("gradcam", "gradcam++", "random_cam")


def list_methods() -> list[str]:
    """All method names, in the order of :data:`METHODS` (FovEx first)."""
    return list(METHODS)


#: The same as :func:`list_methods` (the name of earlier versions).
method_names = list_methods


def list_presets() -> list[str]:
    """All preset names of :data:`PRESETS`."""
    return list(PRESETS)


def _method_key(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"method name must be a string, got {type(name).__name__}. Choose one of {list_methods()}.")
    key = name.lower()
    if key not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {list_methods()} (fovex_lib.list_methods()).")
    return key


def _preset_table(preset) -> dict[str, dict]:
    if preset is None:
        return {}
    if not isinstance(preset, str):
        raise TypeError(
            f"preset must be a preset name (str) or None, got {preset!r} ({type(preset).__name__}). "
            f"Choose one of {list_presets()}; pass single settings as keyword arguments instead."
        )
    if preset not in PRESETS:
        raise ValueError(
            f"unknown preset {preset!r}; choose one of {list_presets()} (fovex_lib.registry.PRESETS), "
            "or None for the published settings (the class defaults)."
        )
    return PRESETS[preset]


def method_settings(name: str, preset: str | None = None, **overrides) -> dict:
    """The settings :func:`make_explainer` gives method ``name``: the preset's values updated with ``overrides``.

    ``seed`` is left out for methods it does not affect (:attr:`MethodInfo.seeded` false),
    so the result says exactly what decides the maps: record it with results or use it as
    part of a cache key. Class defaults are not listed (an empty dict means "the defaults").

    Args:
        name: a method name (:func:`list_methods`, case-insensitive).
        preset: a name from :func:`list_presets`, or None (the class defaults).
        **overrides: keyword arguments of the method's class; they win over the preset.

    Raises:
        ValueError: unknown method or preset name.
        TypeError: a name or preset that is not a string.
    """
    key = _method_key(name)
    settings = {**_preset_table(preset).get(key, {}), **overrides}
    if not METHODS[key].seeded:
        settings.pop("seed", None)
    return settings


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


def make_explainer(name: str, model: nn.Module, preset: str | None = None, **overrides) -> Explainer:
    """Make the explainer registered as ``name`` for ``model``.

    Args:
        name: one of :func:`list_methods` (case-insensitive).
        model: maps (B, 3, H, W) in [0, 1] to (B, C) logits.
        preset: a name from :data:`PRESETS` (``"paper"``, ``"fast"``, ...), or None for the
            class defaults (the published settings).
        **overrides: the method's own settings (see its class), e.g. ``seed``, ``n_masks``,
            ``iterations``, ``target_layers``; they win over the preset's values. Every
            method takes ``seed``; those without randomness ignore it.

    Raises:
        ValueError: unknown name or preset, or the method does not apply to this architecture.
        TypeError: a keyword the method does not take.

    Example::

        make_explainer("fovex", model, preset="fast", seed=0)   # L = 5, 10 steps
    """
    key = _method_key(name)
    settings = {**_preset_table(preset).get(key, {}), **overrides}
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    info = METHODS[key]
    user_layers = key in _CAM_METHODS and settings.get("target_layers") is not None
    if not user_layers and key not in applicable_methods(model):
        raise ValueError(
            f"{info.display_name} ({key!r}) applies to {' and '.join(_KINDS[a] for a in info.applies_to)} "
            f"only, but this {type(model).__name__} is {_KINDS[architecture(model)]}"
            + (" (CAM methods need target_layers=... here)" if key in _CAM_METHODS else "")
            + f". Methods that apply: {applicable_methods(model)}."
        )
    try:
        return info.factory(model, **settings)
    except TypeError as err:
        if "unexpected keyword" in str(err):
            raise TypeError(
                f"{info.display_name}: {err}. See the docstring of {info.factory.__name__} for its settings."
            ) from err
        raise
