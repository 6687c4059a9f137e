"""Baseline explainers behind FovEx's interface (chapter 5).

Every explainer subclasses :class:`fovex_lib.method.explainer.Explainer`: call it on a
batch (B, 3, H, W) in [0, 1] (optionally with ``target=``) and get an
:class:`~fovex_lib.method.explainer.Explanation` whose ``saliency`` is (B, 1, H, W) in
[0, 1] on the model's device. Every class takes ``seed``; the methods without randomness
check it and ignore it.

=====================================  ==============================================
class                                  method
=====================================  ==============================================
:class:`GradCAM`                       Grad-CAM (Selvaraju et al. 2017)
:class:`GradCAMPlusPlus`               Grad-CAM++ (Chattopadhay et al. 2018)
:class:`RandomCAM`                     Random CAM (sanity baseline)
:class:`RISE`                          RISE (Petsiuk et al. 2018)
:class:`MeaningfulPerturbation`        Meaningful Perturbation (Fong & Vedaldi 2017)
:class:`GAE`                           GAE (Chefer et al. 2021), ViTs only
:class:`ClassEmbeddingProjection`      class-embedding projection (Vilas et al. 2023), ViTs only
=====================================  ==============================================

Each class's defaults are the published settings (sources in its docstring). To make
any method, FovEx included, by name with named settings presets, use the registry
(:mod:`fovex_lib.registry`)::

    from fovex_lib import make_explainer
    ex = make_explainer("rise", model, preset="fast", seed=0)
"""

from __future__ import annotations

from .cls_embedding import ClassEmbeddingProjection
from .gae import GAE
from .gradcam import CAMExplainer, GradCAM, GradCAMPlusPlus
from .meaningful_perturbation import MeaningfulPerturbation
from .random_cam import RandomCAM
from .rise import RISE
from .target_layers import architecture, default_target_layers

__all__ = [
    "GradCAM",
    "GradCAMPlusPlus",
    "RandomCAM",
    "RISE",
    "MeaningfulPerturbation",
    "GAE",
    "ClassEmbeddingProjection",
    "CAMExplainer",
    "architecture",
    "default_target_layers",
]
