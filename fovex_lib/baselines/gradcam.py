"""Grad-CAM and Grad-CAM++ through the ``grad-cam`` package (pytorch-grad-cam).

* Grad-CAM (Selvaraju et al., ICCV 2017): channel weights
  ``alpha_k = mean_{ij} dy_c / dA_k(i, j)``; map ``ReLU(sum_k alpha_k A_k)``.
* Grad-CAM++ (Chattopadhay et al., WACV 2018): pixel-weighted positive gradients,
  ``alpha_k = sum_ij a_ij^k ReLU(dy_c/dA_k(i,j))`` with the closed-form ``a_ij^k``
  of their eq. 19.

Both use ``y_c``, the target's **logit** (``ClassifierOutputTarget``, as in both
papers), at the target layer of :func:`~fovex_lib.baselines.target_layers.default_target_layers`
unless ``target_layers`` is given. The package computes the map per image on the
CPU in numpy (min-max normalised at the layer's resolution, resized with OpenCV's
bilinear ``cv2.resize`` to the image size, min-max normalised again); the result is
moved back to the model's device. Gradients are taken with respect to the images
and activations only (the weights are frozen for the call).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .._checks import check_seed
from ..method.explainer import Explainer, Explanation
from ._common import frozen_parameters
from .target_layers import default_target_layers

__all__ = ["CAMExplainer", "GradCAM", "GradCAMPlusPlus"]


class CAMExplainer(Explainer):
    """Base class: runs a pytorch-grad-cam ``BaseCAM`` subclass behind the Explainer interface.

    Args:
        model: maps (B, 3, H, W) in [0, 1] to (B, C) logits.
        target_layers: modules whose outputs are the feature maps; default: automatic
            (:func:`~fovex_lib.baselines.target_layers.default_target_layers`).
        reshape_transform: turns a target layer's output into (B, K, h, w) maps (needed
            for token outputs); default: automatic with the target layers.
        seed: accepted so that every explainer takes the same arguments; Grad-CAM and
            Grad-CAM++ draw no random numbers and ignore it (it is checked like every seed,
            an int in [0, 2**63)). :class:`~fovex_lib.baselines.random_cam.RandomCAM` uses it.
    """

    name = "CAM"

    def __init__(
        self,
        model: nn.Module,
        target_layers: Sequence[nn.Module] | None = None,
        reshape_transform: Callable | None = None,
        seed: int = 0,
    ):
        super().__init__(model)
        check_seed(seed)  # checked, then ignored here (not kept: it would enter cache keys); RandomCAM keeps it
        if target_layers is None:
            layers, auto_reshape = default_target_layers(model)
            self.target_layers = layers
            self.reshape_transform = reshape_transform if reshape_transform is not None else auto_reshape
        else:
            if isinstance(target_layers, nn.Module):
                target_layers = [target_layers]
            target_layers = list(target_layers)
            if not target_layers or not all(isinstance(m, nn.Module) for m in target_layers):
                raise TypeError("target_layers must be a non-empty list of nn.Module inside the model.")
            owned = {id(m) for m in model.modules()}
            if not all(id(m) in owned for m in target_layers):
                raise ValueError("every target layer must be a module of the model being explained.")
            self.target_layers = target_layers
            self.reshape_transform = reshape_transform

    @property
    def cam_class(self) -> type | None:
        """The pytorch_grad_cam class to run; None here, a property of each subclass."""
        return None

    def _make_cam(self):
        cam_class = self.cam_class
        if cam_class is None:
            raise TypeError(f"{type(self).__name__} names no pytorch_grad_cam class (cam_class is None).")
        return cam_class(model=self.model, target_layers=self.target_layers, reshape_transform=self.reshape_transform)

    def explain(self, images: torch.Tensor, targets: torch.Tensor) -> Explanation:
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        cam = self._make_cam()
        cam.compute_input_gradient = True  # the graph exists even with frozen weights
        try:
            with torch.enable_grad(), frozen_parameters(self.model):
                maps = cam(
                    input_tensor=images.detach(), targets=[ClassifierOutputTarget(int(t)) for t in targets.tolist()]
                )
        finally:
            cam.activations_and_grads.release()  # remove the hooks (also on errors)
        saliency = torch.from_numpy(maps).to(device=images.device, dtype=images.dtype).unsqueeze(1)
        return Explanation(saliency=saliency, targets=targets)


class GradCAM(CAMExplainer):
    """Grad-CAM (Selvaraju et al. 2017) via ``pytorch_grad_cam.GradCAM``; see the module docstring."""

    name = "Grad-CAM"

    @property
    def cam_class(self):
        from pytorch_grad_cam import GradCAM as _GradCAM

        return _GradCAM


class GradCAMPlusPlus(CAMExplainer):
    """Grad-CAM++ (Chattopadhay et al. 2018) via ``pytorch_grad_cam.GradCAMPlusPlus``."""

    name = "Grad-CAM++"

    @property
    def cam_class(self):
        from pytorch_grad_cam import GradCAMPlusPlus as _GradCAMPlusPlus

        return _GradCAMPlusPlus
