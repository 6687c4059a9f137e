"""Meaningful Perturbation (Fong & Vedaldi, ICCV 2017), the deletion game.

Learn the smallest, smoothest region whose blurring destroys the target's score.
A coarse mask ``m`` (1 = keep, 0 = replace by the blurred image) is upsampled
bilinearly to the image size and blends the image with its blurred copy,
``Phi(x; m) = m * x + (1 - m) * blur(x)``; Adam minimises

    lambda1 * mean|1 - m| + lambda2 * TV_beta(m) + softmax(f(Phi(x; m)))_c,
    TV_beta(m) = mean_ij |m(i+1,j) - m(i,j)|^beta + mean_ij |m(i,j+1) - m(i,j)|^beta,

keeping ``m`` in [0, 1] by clamping after every step. The saliency is the
deleted region, ``1 - m`` upsampled (already in [0, 1]; it is not renormalised,
so 1 means "fully blurred").

Defaults and sources: a 28 x 28 mask for 224 x 224 images, ``beta = 3``, Adam
with learning rate 0.1 and the Gaussian blur with sigma 10 are the paper's
choices; the paper states lambda1 = 1e-4 and lambda2 = 1e-2 for *summed* terms and
adds noise/jitter against adversarial artefacts. We use the mean-normalised terms
with ``l1_coeff = 0.01``, ``tv_coeff = 0.2``, ``iterations = 500`` and a mask
initialised to 1 (keep everything), the settings of the widely used PyTorch
re-implementation (github.com/jacobgil/pytorch-explain-black-box). Deliberate
differences: no noise or jitter (the optimisation is deterministic); the blur is
:func:`fovex_lib.gaussian_blur` (kernel ``blur_kernel_size``, sigma ``blur_sigma``);
the mask side defaults to ``H // 8`` (28 for 224 pixels, 8 for the 64-pixel
synthetic images).

All images' masks are one (B, 1, s, s) parameter optimised together: the loss is a
sum over images and Adam's updates are element-wise, so each image's mask follows
exactly the trajectory it would follow alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .._checks import check_count, check_positive, check_seed
from ..method.explainer import Explainer, Explanation
from ..method.foveation import gaussian_blur
from ._common import frozen_parameters

__all__ = ["MeaningfulPerturbation", "tv_norm"]


def tv_norm(masks: torch.Tensor, beta: float = 3.0) -> torch.Tensor:
    """Per-mask total variation ``mean |d_row m|^beta + mean |d_col m|^beta`` of (B, 1, h, w) -> (B,)."""
    rows = (masks[:, :, 1:, :] - masks[:, :, :-1, :]).abs().pow(beta).mean(dim=(1, 2, 3))
    cols = (masks[:, :, :, 1:] - masks[:, :, :, :-1]).abs().pow(beta).mean(dim=(1, 2, 3))
    return rows + cols


class MeaningfulPerturbation(Explainer):
    """Meaningful Perturbation explainer (model-agnostic: needs gradients w.r.t. the input).

    Args:
        model: maps (B, 3, H, W) in [0, 1] to (B, C) logits.
        iterations: Adam steps (PyTorch re-implementation: 500).
        lr: Adam learning rate (paper: 0.1).
        l1_coeff: weight of the mean deleted area (re-implementation: 0.01).
        tv_coeff: weight of the total variation (re-implementation: 0.2).
        tv_beta: exponent beta of the total variation (paper: 3).
        mask_size: side of the coarse mask; default ``H // 8`` (paper: 28 for 224).
        blur_kernel_size, blur_sigma: the blurred image (paper: sigma 10); the kernel
            is reduced to the largest odd size the image allows when left at None
            (41 for images >= 42 pixels).
        progress: show a progress bar over iterations.
        seed: accepted so that every explainer takes the same arguments, and ignored: the
            optimisation starts from a mask of ones and draws no random numbers (it is
            checked like every seed, an int in [0, 2**63)).
    """

    name = "Meaningful Perturbation"

    def __init__(
        self,
        model: nn.Module,
        iterations: int = 500,
        lr: float = 0.1,
        l1_coeff: float = 0.01,
        tv_coeff: float = 0.2,
        tv_beta: float = 3.0,
        mask_size: int | None = None,
        blur_kernel_size: int | None = None,
        blur_sigma: float = 10.0,
        progress: bool = False,
        seed: int = 0,
    ):
        super().__init__(model)
        self.iterations = check_count(iterations, "iterations")
        self.lr = check_positive(lr, "lr")
        self.l1_coeff = float(l1_coeff) if l1_coeff == 0 else check_positive(l1_coeff, "l1_coeff")
        self.tv_coeff = float(tv_coeff) if tv_coeff == 0 else check_positive(tv_coeff, "tv_coeff")
        self.tv_beta = check_positive(tv_beta, "tv_beta")
        self.mask_size = None if mask_size is None else check_count(mask_size, "mask_size", 2)
        self.blur_kernel_size = blur_kernel_size
        self.blur_sigma = check_positive(blur_sigma, "blur_sigma")
        self.progress = progress
        check_seed(seed)  # checked, then ignored (not kept: it would enter cache keys)

    def explain(self, images: torch.Tensor, targets: torch.Tensor) -> Explanation:
        batch, _, height, width = images.shape
        side = self.mask_size if self.mask_size is not None else max(2, height // 8)
        kernel = self.blur_kernel_size
        if kernel is None:
            kernel = max(1, min(41, 2 * ((min(height, width) - 1) // 2) - 1))
        blurred = gaussian_blur(images, kernel, self.blur_sigma).detach()
        images = images.detach()
        mask = torch.ones(batch, 1, side, side, device=images.device, dtype=images.dtype, requires_grad=True)
        optimiser = torch.optim.Adam([mask], lr=self.lr)
        with torch.enable_grad(), frozen_parameters(self.model):
            for _ in tqdm(range(self.iterations), desc="Meaningful Perturbation", disable=not self.progress):
                up = F.interpolate(mask, size=(height, width), mode="bilinear", align_corners=False)
                perturbed = up * images + (1 - up) * blurred
                probs = self.model(perturbed).softmax(dim=1).gather(1, targets[:, None])[:, 0]
                loss = (
                    self.l1_coeff * (1 - mask).abs().mean(dim=(1, 2, 3))
                    + self.tv_coeff * tv_norm(mask, self.tv_beta)
                    + probs
                )
                optimiser.zero_grad(set_to_none=True)
                loss.sum().backward()
                optimiser.step()
                with torch.no_grad():
                    mask.clamp_(0.0, 1.0)
        with torch.no_grad():
            up = F.interpolate(mask.detach(), size=(height, width), mode="bilinear", align_corners=False)
        return Explanation(saliency=(1 - up).clamp(0.0, 1.0), targets=targets)
