"""Class-embedding projection (Vilas, Schaumlöffel & Roig, NeurIPS 2023).

Vilas et al. read a ViT's intermediate representations in *class-embedding space*:
a hidden vector is passed through the network's own final layer norm and
classification head, ``proj(z) = head(norm(z))``, giving class scores at any depth.
Their explanation of image tokens (the "sum of gradients" maps of their
explainability section) asks, for every block b, how the class token's attention
to each image token moves the block's class-embedding projection towards the
target:

    l_b = CE( softmax(proj(o_b[cls])), c ),
    S(j) = - sum_b sum_h  d l_b / d A_b[h, cls, j],

where ``o_b`` is block b's attention-branch output (what it adds to the residual
stream, ``ls1(attn(norm1(x)))``), ``A_b[h]`` head h's attention matrix and j an image
token. Negative gradients (more attention to j lowers the loss) mark relevant
tokens. Each ``d l_b / d A_b`` is the gradient of block b's own loss with respect to
its own attention, one backward pass per block, as in the authors' code
(github.com/martinagvilas/vit-cls_emb, ``src/gradients.py`` with the summation of
``src/plots/explainability.py``).

The authors' code applies a softmax to the projected scores and then
``nn.CrossEntropyLoss`` (which applies log-softmax again); ``double_softmax=True``
(default) reproduces that; ``False`` uses the plain cross-entropy of the scores.
The token scores are upsampled bilinearly and min-max normalised like GAE's.
Applies to timm ViTs with a class token only; no other hyper-parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_seed
from ..method.explainer import Explainer
from ._common import TokenExplanation, frozen_parameters
from .vit_utils import record_attention, require_cls_vit, token_grid, tokens_to_saliency

__all__ = ["ClassEmbeddingProjection", "project_to_classes"]


def project_to_classes(vit, hidden: torch.Tensor) -> torch.Tensor:
    """Class scores of hidden vectors (..., D): the ViT's final ``norm``, ``fc_norm`` and ``head``."""
    return vit.head(vit.fc_norm(vit.norm(hidden)))


class ClassEmbeddingProjection(Explainer):
    """Vilas et al. (2023) class-embedding-space gradients for ViTs; see the module docstring.

    Args:
        model: a timm ``VisionTransformer`` with a class token, or a model wrapping one.
        double_softmax: reproduce the authors' softmax + cross-entropy (default True).
        seed: accepted so that every explainer takes the same arguments, and ignored: the
            method draws no random numbers (it is checked like every seed, an int in [0, 2**63)).
    """

    name = "Class-embedding projection"

    def __init__(self, model: nn.Module, double_softmax: bool = True, seed: int = 0):
        super().__init__(model)
        check_seed(seed)  # checked, then ignored (not kept: it would enter cache keys)
        self.vit = require_cls_vit(model, "class-embedding projection (cls_embedding)")
        self.double_softmax = bool(double_softmax)

    def explain(self, images: torch.Tensor, targets: torch.Tensor) -> TokenExplanation:
        grid = token_grid(self.vit, images.shape[-2:])
        prefix = int(self.vit.num_prefix_tokens)
        batch = images.shape[0]
        with torch.enable_grad(), frozen_parameters(self.model):
            inputs = images.detach().requires_grad_(True)
            with record_attention(self.vit) as record:
                self.model(inputs)
            scores = torch.zeros(
                batch, record.attentions[0].shape[-1] - prefix, device=images.device, dtype=record.attentions[0].dtype
            )
            last = len(record.attentions) - 1
            for b, (attn, branch) in enumerate(zip(record.attentions, record.branch_outputs)):
                projected = project_to_classes(self.vit, branch[:, 0])  # (B, C)
                if self.double_softmax:
                    projected = projected.softmax(dim=1)
                loss = F.cross_entropy(projected, targets, reduction="sum")
                (grad,) = torch.autograd.grad(loss, attn, retain_graph=b < last)
                scores -= grad[:, :, 0, prefix:].sum(dim=1).detach()
        return TokenExplanation(
            saliency=tokens_to_saliency(scores, grid, images.shape[-2:]),
            targets=targets,
            token_map=scores.reshape(batch, 1, *grid),
        )
