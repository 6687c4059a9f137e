"""Helpers for attention-based explanations of timm Vision Transformers.

* :func:`find_vit` - the timm ``VisionTransformer`` inside a model (or None).
* :func:`require_cls_vit` - that ViT, or a clear error for methods that need one
  with a class token (GAE, class-embedding projection).
* :func:`record_attention` - a context manager that records every block's attention
  matrix ``softmax(q k^T / sqrt(d))`` (B, heads, N, N) and the attention branch's
  output (B, N, D) during a forward pass. timm's fused attention
  (``F.scaled_dot_product_attention``) never forms the matrix, so the context sets
  ``blk.attn.fused_attn = False`` for the duration and restores it afterwards.
* :func:`vit_reshape_transform` - tokens (B, N, D) -> feature maps (B, D, h, w)
  for CAM methods (the prefix tokens - class / distillation / register tokens -
  are dropped).
* :func:`tokens_to_saliency` - per-token scores (B, h*w) -> (B, 1, H, W) maps:
  bilinear upsampling (``align_corners=False``, as in ``F.interpolate`` used by
  Chefer et al.'s code) and per-image min-max normalisation.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..method.attribution import normalise_maps

__all__ = [
    "find_vit",
    "require_cls_vit",
    "record_attention",
    "AttentionRecord",
    "vit_reshape_transform",
    "token_grid",
    "tokens_to_saliency",
]


def _vit_class():
    try:
        from timm.models.vision_transformer import VisionTransformer
    except ImportError:  # pragma: no cover - timm is a dependency
        return None
    return VisionTransformer


def find_vit(model: nn.Module):
    """The timm ``VisionTransformer`` that ``model`` is or wraps (first one found), else None."""
    cls = _vit_class()
    if cls is None:
        return None
    for module in model.modules():
        if isinstance(module, cls):
            return module
    return None


def require_cls_vit(model: nn.Module, method: str):
    """The timm ViT inside ``model``; raises ``ValueError`` if there is none or it has no
    class token / does not classify from the class token."""
    vit = find_vit(model)
    if vit is None:
        raise ValueError(
            f"{method} explains Vision Transformers through their attention and applies only to "
            f"timm VisionTransformer models (e.g. 'synthetic_vit', 'vit_b_16'); got "
            f"{type(model).__name__} without one. Use 'gradcam', 'rise' or 'meaningful_perturbation' "
            "for CNNs (fovex_lib.applicable_methods(model) lists what applies)."
        )
    if getattr(vit, "cls_token", None) is None or getattr(vit, "global_pool", "token") != "token":
        raise ValueError(
            f"{method} reads the relevance of the class token: it needs a ViT with a class token "
            f"and global_pool='token', got cls_token={'present' if vit.cls_token is not None else None} "
            f"and global_pool={vit.global_pool!r}."
        )
    return vit


def token_grid(vit, image_size: tuple[int, int] | torch.Size) -> tuple[int, int]:
    """(h, w) of the patch-token grid for images of ``image_size`` (H, W)."""
    ph, pw = vit.patch_embed.patch_size
    height, width = image_size
    if height % ph or width % pw:
        raise ValueError(
            f"image size {height}x{width} is not a multiple of the ViT patch size {ph}x{pw}; "
            f"resize the images (e.g. to {tuple(vit.patch_embed.img_size)})."
        )
    return height // ph, width // pw


def vit_reshape_transform(vit):
    """A pytorch-grad-cam ``reshape_transform``: (B, N, D) tokens -> (B, D, h, w) maps."""
    prefix = int(getattr(vit, "num_prefix_tokens", 1))

    def reshape(tokens: torch.Tensor) -> torch.Tensor:
        patches = tokens[:, prefix:, :]
        count = patches.shape[1]
        side = int(round(count**0.5))
        grid = tuple(vit.patch_embed.grid_size)
        if grid[0] * grid[1] != count:  # dynamic image size: assume a square grid
            if side * side != count:
                raise ValueError(f"cannot reshape {count} patch tokens into a grid; pass reshape_transform=...")
            grid = (side, side)
        return patches.reshape(patches.shape[0], grid[0], grid[1], patches.shape[2]).permute(0, 3, 1, 2)

    return reshape


@dataclass
class AttentionRecord:
    """Filled by :func:`record_attention`: one entry per block, in order."""

    attentions: list[torch.Tensor] = field(default_factory=list)  # (B, heads, N, N), softmax rows
    branch_outputs: list[torch.Tensor] = field(default_factory=list)  # (B, N, D), ls1(attn(norm1(x)))


@contextlib.contextmanager
def record_attention(vit):
    """Record attention matrices and attention-branch outputs of every block of ``vit``.

    The attention matrix is the output of ``blk.attn.attn_drop`` (dropout is the
    identity in eval mode) in timm's non-fused attention path; the branch output is
    the output of ``blk.ls1`` (layer scale, or identity), i.e. what the block adds to
    the residual stream. Hooks are removed and ``fused_attn`` restored on exit.
    """
    record = AttentionRecord()
    handles, fused = [], []
    try:
        for blk in vit.blocks:
            attn = blk.attn
            if not hasattr(attn, "attn_drop") or not hasattr(attn, "fused_attn"):
                raise ValueError(
                    f"block attention {type(attn).__name__} is not timm's standard Attention; "
                    "its attention matrix cannot be recorded."
                )
            fused.append((attn, attn.fused_attn))
            attn.fused_attn = False
            handles.append(
                attn.attn_drop.register_forward_hook(lambda module, inputs, output: record.attentions.append(output))
            )
            handles.append(
                blk.ls1.register_forward_hook(lambda module, inputs, output: record.branch_outputs.append(output))
            )
        yield record
    finally:
        for handle in handles:
            handle.remove()
        for attn, value in fused:
            attn.fused_attn = value


def tokens_to_saliency(scores: torch.Tensor, grid: tuple[int, int], size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """(B, h*w) patch scores -> (B, 1, H, W) maps in [0, 1] (bilinear upsampling, per-image min-max)."""
    maps = scores.reshape(scores.shape[0], 1, *grid)
    maps = F.interpolate(maps, size=size, mode="bilinear", align_corners=False)
    return normalise_maps(maps)
