"""Input checks shared by every stage.

Each check raises a ``TypeError`` or ``ValueError`` whose message says what was
wrong, why it matters and how to fix it. Nothing is clipped, resized or
converted silently; the one conversion, float64 images for a float32 model (or the
reverse), is announced with a warning (see :func:`images_for_model`).
"""

from __future__ import annotations

import math
import warnings

import torch

#: Seeds are whole numbers in ``[0, SEED_LIMIT)``: see :func:`check_seed`.
SEED_LIMIT = 2**63


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
        raise ValueError(f"{name} must have shape (B, 3, H, W) (a batch of RGB images), got {tuple(x.shape)}.{hint}")
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


def model_dtype(model: torch.nn.Module) -> torch.dtype | None:
    """The dtype the model computes in: that of its first floating-point parameter or buffer.

    ``None`` for a model without any (it then takes whatever it is given).
    """
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return None


def images_for_model(images: torch.Tensor, dtype: torch.dtype | None, name: str = "images") -> torch.Tensor:
    """``images`` in the model's dtype ``dtype`` (from :func:`model_dtype`).

    float64 images for a float32 model (a numpy array divided by 255 is float64) and
    float32 images for a float64 model are converted, with a ``UserWarning`` saying so:
    for values in [0, 1] the conversion changes them by at most 3e-8 (float32 rounding).
    Any other mismatch (float16 or bfloat16 on either side) raises a ``TypeError``:
    that conversion would change the values noticeably, so it is left to the caller.
    """
    if dtype is None or images.dtype == dtype:
        return images
    if {images.dtype, dtype} <= {torch.float32, torch.float64}:
        warnings.warn(
            f"{name} are {images.dtype} but the model computes in {dtype}; converting the {name} to "
            f"{dtype} (values in [0, 1] change by at most 3e-8). Pass {name} of the model's dtype "
            f"(e.g. {name}.float() for a float32 model) to avoid this note.",
            UserWarning,
            stacklevel=3,
        )
        return images.to(dtype)
    raise TypeError(
        f"{name} are {images.dtype} but the model's parameters are {dtype}, so the model cannot run "
        f"on them. Convert one to match the other, e.g. {name}.to({dtype}) or model.float(). "
        "For reduced-precision speed keep a float32 model and float32 images and use "
        "FovEx(..., autocast_dtype=torch.bfloat16) instead."
    )


def check_seed(seed, name: str = "seed") -> int:
    """A seed for a ``torch.Generator`` (or numpy's): an int in ``[0, 2**63)``.

    The one seed check of the library (explainers, data sets, statistics): a value that
    is not an int raises ``TypeError``, an int out of range ``ValueError``.

    torch accepts seeds from -2**63 to 2**64 - 1 but wraps negative ones around
    (-1 gives the same random numbers as 2**64 - 1), and numpy's generators refuse
    negative seeds; ``[0, 2**63)`` is the range where every seed means one stream
    and fits a signed 64-bit integer (torch.int64, numpy.int64) when it is recorded.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"{name} must be an int in [0, 2**63), got {seed!r} ({type(seed).__name__}).")
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(
            f"{name} must lie in [0, 2**63), got {seed}. Negative seeds and seeds >= 2**63 are refused "
            "rather than wrapped around (torch's generator would treat -1 as 2**64 - 1, so two seeds "
            f"would silently give the same random numbers). Pick a seed in range, e.g. {name} % 2**63."
        )
    return seed


_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def check_weights(weights, length: int | None = None, name: str = "weights") -> torch.Tensor | None:
    """FovEx map weights alpha_i: None, or finite numbers >= 0 of shape (L,) or (B, L).

    Each row needs at least one positive weight. Returns the weights as a tensor
    (on their own device; the caller converts the dtype), or None.
    """
    if weights is None:
        return None
    hint = (
        f"{name} are the alpha_i of the map, one finite number >= 0 per fixation: shape (L,) "
        "or (B, L), e.g. [1.0] * L (the default, None, weighs every fixation 1)."
    )
    if isinstance(weights, (str, bytes)):
        raise TypeError(f"{name} must be numbers, got the string {weights!r}. {hint}")
    try:
        w = torch.as_tensor(weights)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{name} must be numbers, got {weights!r} ({err}). {hint}") from None
    if w.dtype == torch.bool or w.is_complex() or not (w.is_floating_point() or w.dtype in _INT_DTYPES):
        raise TypeError(f"{name} must be real numbers, got dtype {w.dtype}. {hint}")
    if w.dim() not in (1, 2) or w.shape[-1] == 0:
        raise ValueError(f"{name} must have shape (L,) or (B, L), got {tuple(w.shape)}. {hint}")
    if length is not None and w.shape[-1] != length:
        raise ValueError(f"{name} has {w.shape[-1]} entries per image but the scanpath has {length} fixations. {hint}")
    if not torch.isfinite(w).all():
        bad = int((~torch.isfinite(w)).sum())
        raise ValueError(
            f"{name} contain {bad} NaN or infinite value(s); a map weighted by them is meaningless. {hint}"
        )
    if (w < 0).any():
        raise ValueError(
            f"{name} must be >= 0, got {float(w.min()):.3g}: a negative alpha_i would subtract the "
            "Gaussian at its fixation, so after the min-max normalisation a fixated place would rank "
            f"below never-fixated ones. {hint}"
        )
    if (w.reshape(-1, w.shape[-1]).sum(dim=1) == 0).any():
        raise ValueError(
            f"{name} are all zero (for at least one image), which gives an empty map. "
            f"Give at least one fixation a positive weight. {hint}"
        )
    return w


def check_positive(value: float, name: str) -> float:
    """A strictly positive, finite number (a sigma, a learning rate, ...)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}.")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value}.")
    return float(value)


def check_count(value, name: str, low: int = 1, allow_none: bool = False):
    """A whole number >= ``low`` (steps, scanpath length, batch size, number of masks, ...).

    The one positive-int check of the library: a value that is not an int (a float, a
    string, a bool) raises ``TypeError``, an int below ``low`` raises ``ValueError``; both
    messages name the argument and the range. With ``allow_none`` None is accepted and
    returned (for "no limit" style arguments).
    """
    wanted = f"an int >= {low}" + (" or None" if allow_none else "")
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be {wanted}, got {value!r} ({type(value).__name__}).")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}.")
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
        raise TypeError(
            f"{name} must be a float tensor of shape (B, 2), got {type(f).__name__}"
            + (f" of dtype {f.dtype}" if isinstance(f, torch.Tensor) else "")
            + "."
        )
    if f.dim() != 2 or f.shape[1] != 2:
        raise ValueError(f"{name} must have shape (B, 2) holding (row, col) in [-1, 1], got {tuple(f.shape)}.")
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


def check_finite_logits(finite: torch.Tensor, when: str, items: str = "image(s) of the batch") -> None:
    """Raise if any image's logits (or gradients) were NaN or infinite.

    Args:
        finite: (B,) bool, False for an image whose model output was not finite.
        when: where it happened, for the message (e.g. "on the input images").
        items: what the indices of ``finite`` count, for the message.
    """
    if bool(finite.all()):
        return
    bad = torch.nonzero(~finite).flatten().tolist()
    shown = ", ".join(map(str, bad[:10])) + (", ..." if len(bad) > 10 else "")
    raise ValueError(
        f"the model returned NaN or infinite logits {when} for {items}: {shown}. "
        "A saliency map built from NaN scores or gradients is meaningless, so none is returned. "
        "Check the model on these inputs (torch.isfinite(model(images)).all()): common causes are "
        "NaN weights, a division by zero or log(0) inside the model, or float16 overflow "
        "(use float32 or autocast_dtype=torch.bfloat16)."
    )


def resolve_targets(target, logits: torch.Tensor) -> torch.Tensor:
    """Turn ``target`` (None, an int or a sequence/tensor of B ints) into a (B,) long tensor.

    ``None`` means the class the model predicts for each image. Class names (strings)
    and empty sequences are refused with a message saying what to pass instead.
    """
    batch, classes = logits.shape
    usage = (
        f"Pass a class index (int) for every image, a sequence of B = {batch} ints (one per image), "
        "or None to explain the predicted classes."
    )
    if target is None:
        return logits.argmax(dim=1)
    if isinstance(target, bool):
        raise TypeError(f"target must be a class index (int), a sequence of B ints or None, got a bool. {usage}")
    if isinstance(target, (str, bytes)) or (
        isinstance(target, (list, tuple)) and any(isinstance(v, (str, bytes)) for v in target)
    ):
        raise TypeError(
            f"target must hold class indices, not class names: got {target!r}. {usage} To look a name "
            "up, use model.class_names.index(name) (models from fovex_lib.load_model carry class_names)."
        )
    if isinstance(target, int):
        t = torch.full((batch,), target, dtype=torch.long, device=logits.device)
    else:
        try:
            t = torch.as_tensor(target, device=logits.device)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(
                f"target must be an int, a sequence of ints or None, got {target!r} ({err}). {usage}"
            ) from None
        if t.numel() == 0:
            raise ValueError(f"target is empty ({target!r}). {usage}")
        if t.is_floating_point() or t.dtype == torch.bool or t.is_complex():
            raise TypeError(f"target must hold integer class indices, got dtype {t.dtype}. {usage}")
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
