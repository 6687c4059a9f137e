"""Small pieces the baseline modules share."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from ..method.explainer import Explanation

__all__ = ["TokenExplanation", "frozen_parameters"]


@dataclass
class TokenExplanation(Explanation):
    """An explanation computed on the ViT's patch grid: ``saliency`` (B, 1, H, W) in [0, 1]
    (upsampled and normalised) plus the raw per-patch scores ``token_map`` (B, 1, h, w)."""

    token_map: torch.Tensor


@contextlib.contextmanager
def frozen_parameters(model: nn.Module):
    """Set ``requires_grad=False`` on every parameter for the duration, then restore.

    Explainers take gradients with respect to inputs or activations only; freezing
    the weights spares computing (and leaving behind) weight gradients in the
    user's model. The input must then require grad for the graph to exist.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
