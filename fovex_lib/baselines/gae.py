"""GAE: generic attention-model explainability (Chefer, Gur & Wolf, ICCV 2021).

For a ViT with L blocks, the relevance matrix starts as the identity,
``R = I`` (N x N tokens), and every block's self-attention updates it (their
rule for self-attention, eqs. 5-6):

    A_bar = E_h[ (grad A_h  *  A_h)^+ ],    R <- R + A_bar @ R,

where ``A_h`` is head h's attention matrix (softmax rows), ``grad A_h`` the gradient
of the target's **logit** ``y_c`` with respect to it, ``*`` the element-wise product,
``^+`` keeps positive values and ``E_h`` averages over heads. The explanation is the
class token's row, ``R[0, image tokens]``, reshaped to the patch grid, upsampled
bilinearly to the image size and min-max normalised (as in the authors' code,
github.com/hila-chefer/Transformer-MM-Explainability, ViT example).

There are no hyper-parameters. It applies to timm Vision Transformers with a class
token only (a clear ``ValueError`` otherwise). Batched: the target logits of all
images are summed before one backward pass; an image's gradients do not depend on
the others, so batched and one-at-a-time maps agree.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_seed
from ..method.explainer import Explainer
from ._common import TokenExplanation, frozen_parameters
from .vit_utils import record_attention, require_cls_vit, token_grid, tokens_to_saliency

__all__ = ["GAE"]


class GAE(Explainer):
    """Chefer et al. (2021) gradient-weighted attention relevance for ViTs; see the module docstring.

    Args:
        model: a timm ``VisionTransformer`` with a class token, or a model wrapping one
            (e.g. ``load_model("synthetic_vit")``, ``load_model("vit_b_16")``).
        seed: accepted so that every explainer takes the same arguments, and ignored: GAE
            draws no random numbers (it is checked like every seed, an int in [0, 2**63)).
    """

    name = "GAE"

    def __init__(self, model: nn.Module, seed: int = 0):
        super().__init__(model)
        check_seed(seed)  # checked, then ignored (not kept: it would enter cache keys)
        self.vit = require_cls_vit(model, "GAE")

    def explain(self, images: torch.Tensor, targets: torch.Tensor) -> TokenExplanation:
        grid = token_grid(self.vit, images.shape[-2:])
        prefix = int(self.vit.num_prefix_tokens)
        with torch.enable_grad(), frozen_parameters(self.model):
            inputs = images.detach().requires_grad_(True)
            with record_attention(self.vit) as record:
                logits = self.model(inputs)
            score = logits.gather(1, targets[:, None]).sum()
            grads = torch.autograd.grad(score, record.attentions)
        with torch.no_grad():
            attentions = record.attentions
            batch, _, tokens, _ = attentions[0].shape
            relevance = (
                torch.eye(tokens, device=images.device, dtype=attentions[0].dtype).expand(batch, tokens, tokens).clone()
            )
            for attn, grad in zip(attentions, grads):
                weighted = (grad * attn).clamp(min=0).mean(dim=1)  # (B, N, N)
                relevance = relevance + weighted @ relevance
            scores = relevance[:, 0, prefix:]  # class-token row, image tokens
        return TokenExplanation(
            saliency=tokens_to_saliency(scores, grid, images.shape[-2:]),
            targets=targets,
            token_map=scores.reshape(batch, 1, *grid),
        )
