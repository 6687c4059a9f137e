"""Checks and small helpers shared by the metric modules.

Every check raises a ``TypeError`` or ``ValueError`` that says what was wrong and
how to fix it; nothing is resized, clipped or converted silently.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from .._checks import check_count, check_images, check_logits, resolve_targets
from ..method.explainer import eval_mode, model_device

__all__ = ["check_maps", "target_probabilities", "prepare", "is_constant", "renamed_arguments"]


def renamed_arguments(**renamed: str):
    """Decorator: a call that uses an old keyword name (``old=new``) raises a TypeError naming the new one.

    The metric API renamed ``target`` to ``targets`` and ``mode`` to ``substrate``; this keeps
    old calls from failing with a bare "unexpected keyword argument".
    """

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            old = [name for name in renamed if name in kwargs]
            if old:
                raise TypeError(
                    f"{function.__name__}(): "
                    + "; ".join(f"the argument {name!r} is now called {renamed[name]!r}" for name in old)
                    + "."
                )
            return function(*args, **kwargs)

        return wrapper

    return decorate


def check_maps(
    maps: torch.Tensor,
    images: torch.Tensor | None = None,
    *,
    unit_range: bool = False,
    non_negative: bool = False,
    name: str = "maps",
) -> torch.Tensor:
    """Explanation maps must be a finite float tensor (B, 1, H, W) matching the images.

    Args:
        maps: the saliency maps.
        images: if given, maps must have the same batch size and the same H, W.
        unit_range: require values in [0, 1] (maps used as multiplicative masks).
        non_negative: require values >= 0 (maps read as an energy).

    Returns:
        ``maps`` unchanged (a (B, H, W) tensor is rejected, not reshaped).
    """
    if not isinstance(maps, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (B, 1, H, W), got {type(maps).__name__}. "
            "Pass explanation.saliency from an explainer."
        )
    if not maps.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {maps.dtype}; use maps.float().")
    if maps.dim() != 4 or maps.shape[1] != 1:
        hint = " Add the channel dimension with maps.unsqueeze(1)." if maps.dim() == 3 else ""
        raise ValueError(f"{name} must have shape (B, 1, H, W) (one map per image), got {tuple(maps.shape)}.{hint}")
    if maps.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (B = 0).")
    if images is not None:
        if maps.shape[0] != images.shape[0]:
            raise ValueError(f"{name} has {maps.shape[0]} maps but there are {images.shape[0]} images.")
        if maps.shape[-2:] != images.shape[-2:]:
            raise ValueError(
                f"{name} are {tuple(maps.shape[-2:])} but the images are {tuple(images.shape[-2:])}; "
                "metrics do not resize maps. Upsample them yourself first, e.g. with "
                "torch.nn.functional.interpolate(maps, size=images.shape[-2:], mode='bilinear')."
            )
    if not torch.isfinite(maps).all():
        raise ValueError(
            f"{name} contain NaN or infinite values; the explainer failed on these images "
            "(fix or drop them before scoring)."
        )
    if unit_range or non_negative:
        lo = float(maps.min())
        hi = float(maps.max())
        if lo < 0.0:
            raise ValueError(
                f"{name} must be non-negative here, got a minimum of {lo:.3g}. "
                "Normalise them first, e.g. with fovex_lib.normalise_maps (per-image min-max)."
            )
        if unit_range and hi > 1.0:
            raise ValueError(
                f"{name} must lie in [0, 1] to be used as a mask, got a maximum of {hi:.3g}. "
                "Normalise them first, e.g. with fovex_lib.normalise_maps (per-image min-max)."
            )
    return maps


def is_constant(maps: torch.Tensor) -> torch.Tensor:
    """(B,) bool: True where a map holds a single value (nothing to rank)."""
    flat = maps.flatten(1)
    return flat.amax(1) == flat.amin(1)


def target_probabilities(
    model: torch.nn.Module, images: torch.Tensor, targets: torch.Tensor, batch_size: int
) -> torch.Tensor:
    """Softmax probability of ``targets[i]`` for ``images[i]``, evaluated ``batch_size`` at a time."""
    out = []
    for start in range(0, images.shape[0], batch_size):
        chunk = images[start : start + batch_size]
        logits = check_logits(model(chunk), chunk.shape[0])
        out.append(F.softmax(_wide(logits), dim=1).gather(1, targets[start : start + batch_size, None])[:, 0])
    return torch.cat(out)


def _wide(logits: torch.Tensor) -> torch.Tensor:
    """Logits in at least float32 (float64 stays float64) for the softmax."""
    return logits.to(torch.promote_types(logits.dtype, torch.float32))


def check_batch_size(batch_size: int) -> int:
    return check_count(batch_size, "batch_size")  # TypeError if not an int, ValueError if < 1


def prepare(model: torch.nn.Module, images: torch.Tensor, targets, batch_size: int):
    """Validate the model and images, move images to the model's device, resolve targets.

    ``targets=None`` means the class the model predicts on each (unmodified) image.

    Returns:
        (images on the model's device, (B,) long targets, (B,) target probabilities on the images).
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    check_images(images)
    check_batch_size(batch_size)
    images = images.to(model_device(model))
    with eval_mode(model), torch.no_grad():
        logits = torch.cat(
            [
                check_logits(model(images[s : s + batch_size]), images[s : s + batch_size].shape[0])
                for s in range(0, images.shape[0], batch_size)
            ]
        )
        targets = resolve_targets(targets, logits)
        probs = F.softmax(_wide(logits), dim=1).gather(1, targets[:, None])[:, 0]
    return images, targets, probs
