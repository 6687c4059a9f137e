"""Input checks shared by every stage.

Each check raises a ``TypeError`` or ``ValueError`` whose message says what was
wrong, why it matters and how to fix it. Nothing is clipped, resized or
converted silently.
"""
from __future__ import annotations

import math

import torch


def check_images(x: torch.Tensor, name: str = "images") -> None:
    """Images must be a float tensor of shape (B, 3, H, W) with values in [0, 1]."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (B, 3, H, W), got {type(x).__name__}. "
            "Use fovex_lib.load_image(...) or torchvision.transforms.functional.to_tensor "
            "to turn a picture into a tensor."
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor with values in [0, 1], got dtype {x.dtype}. "
            "Convert uint8 images with x.float() / 255."
        )
    if x.dim() != 4 or x.shape[1] != 3:
        hint = " Add a batch dimension with x.unsqueeze(0)." if x.dim() == 3 else ""
        raise ValueError(
            f"{name} must have shape (B, 3, H, W) (a batch of RGB images), got {tuple(x.shape)}.{hint}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (B = 0); pass at least one image.")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values; clean the input first.")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{name} must have values in [0, 1], got min {lo:.3g} and max {hi:.3g}. "
            "FovEx works on un-normalised RGB images: the model wrapper from "
            "fovex_lib.load_model applies the ImageNet mean/std itself. "
            "If your tensor is already normalised, undo it (x * std + mean)."
        )


def check_positive(value: float, name: str) -> float:
    """A strictly positive, finite number (a sigma, a learning rate, ...)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}.")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value}.")
    return float(value)


def check_count(value: int, name: str) -> int:
    """A whole number >= 1 (steps, scanpath length, ...)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= 1, got {value!r} ({type(value).__name__}).")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}.")
    return value


def check_fraction(value: float, name: str) -> float:
    """A number in [0, 1] (the forgetting factor)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number in [0, 1], got {type(value).__name__}.")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}.")
    return float(value)


def check_fixations(f: torch.Tensor, batch: int | None = None, name: str = "fixations") -> None:
    """Fixations are a float tensor (B, 2) in normalised (row, col) coordinates."""
    if not isinstance(f, torch.Tensor) or not f.is_floating_point():
        raise TypeError(f"{name} must be a float tensor of shape (B, 2), got {type(f).__name__}"
                        + (f" of dtype {f.dtype}" if isinstance(f, torch.Tensor) else "") + ".")
    if f.dim() != 2 or f.shape[1] != 2:
        raise ValueError(
            f"{name} must have shape (B, 2) holding (row, col) in [-1, 1], got {tuple(f.shape)}."
        )
    if batch is not None and f.shape[0] != batch:
        raise ValueError(f"{name} has {f.shape[0]} rows but the batch has {batch} images.")


def check_logits(out, batch: int) -> torch.Tensor:
    """The model must return a (B, C) tensor of class scores."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            f"the model must return a tensor of logits of shape (B, C), got {type(out).__name__}. "
            "Wrap models that return tuples or dicts so that forward() returns the logits only."
        )
    if out.dim() != 2 or out.shape[0] != batch:
        raise ValueError(
            f"the model must return logits of shape (B, C) = ({batch}, C), got {tuple(out.shape)}. "
            "Segmentation or detection models need a wrapper that reduces their output to class scores."
        )
    return out


def resolve_targets(target, logits: torch.Tensor) -> torch.Tensor:
    """Turn ``target`` (None, an int or a sequence/tensor of B ints) into a (B,) long tensor.

    ``None`` means the class the model predicts for each image.
    """
    batch, classes = logits.shape
    if target is None:
        return logits.argmax(dim=1)
    if isinstance(target, bool):
        raise TypeError("target must be a class index (int), a sequence of B ints or None, got a bool.")
    if isinstance(target, int):
        t = torch.full((batch,), target, dtype=torch.long, device=logits.device)
    else:
        t = torch.as_tensor(target, device=logits.device)
        if t.is_floating_point() or t.dtype == torch.bool:
            raise TypeError(f"target must hold integer class indices, got dtype {t.dtype}.")
        t = t.long().reshape(-1)
        if t.numel() == 1:
            t = t.expand(batch).clone()
        if t.numel() != batch:
            raise ValueError(f"target has {t.numel()} entries but the batch has {batch} images.")
    bad = (t < 0) | (t >= classes)
    if bad.any():
        raise ValueError(
            f"target class {int(t[bad][0])} is out of range: the model has {classes} classes "
            f"(valid indices 0..{classes - 1})."
        )
    return t
