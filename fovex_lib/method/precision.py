"""Reduced precision (bf16 / fp16 autocast) and channels-last memory layout, opt-in.

Two uses:

* :class:`~fovex_lib.method.fovex.FovEx` takes ``autocast_dtype=`` and ``channels_last=``
  itself (the positions, memory, loss and map stay in float32; see
  :mod:`fovex_lib.method.fixations`).
* Every other consumer of a model (the metrics of :mod:`fovex_lib.metrics`, the
  baselines) takes any ``nn.Module``, so it is given a wrapped model::

      fast = with_precision(model, "bf16", channels_last=True)
      curves = deletion(fast, images, maps)          # forward passes in bf16, channels-last

  :class:`ReducedPrecision` runs the wrapped model under ``torch.autocast`` on the
  input's device, hands it channels-last input when asked, and returns the logits in
  float32, so softmax scores and AUCs are computed in full precision. Its ``name``
  records the precision (``"efficientnet_lite0[bf16,channels_last]"``), so result-cache
  keys built from the model's name (:func:`fovex_lib.metrics.evaluate_method`) never
  mix float32 and bf16 results.

Tolerance (tested on CPU in ``tests/test_precision.py`` on the small synthetic models;
documented in appendix B): under bf16 the target's softmax score moves by at most 0.01
(absolute) on any image and at any point of a deletion / insertion curve, the AUCs by at
most 0.005, and the average % drop by at most 0.5 points (measured on CPU with RISE's deletion
fill and insertion blur, 16 test images per small model: 0.0065, 0.0012 and 0.02).
channels-last alone changes nothing but the memory layout (equal results up to float rounding).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

__all__ = ["AUTOCAST_DTYPES", "check_autocast_dtype", "model_precision", "ReducedPrecision", "with_precision"]

#: The reduced dtypes ``torch.autocast`` is used with here.
AUTOCAST_DTYPES = (torch.bfloat16, torch.float16)
_NAMES = {
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "float32": None,
    "fp32": None,
}


def check_autocast_dtype(dtype) -> torch.dtype | None:
    """``None`` (full precision, the default) or a reduced dtype for ``torch.autocast``.

    Accepts ``torch.bfloat16`` / ``torch.float16`` or their names ``"bfloat16"``,
    ``"bf16"``, ``"float16"``, ``"fp16"``; ``"float32"`` / ``"fp32"`` / ``torch.float32``
    mean None.
    """
    if dtype is None:
        return None
    if isinstance(dtype, str):
        if dtype.lower() not in _NAMES:
            raise ValueError(f"autocast_dtype {dtype!r} is not one of {sorted(_NAMES)}.")
        return _NAMES[dtype.lower()]
    if dtype == torch.float32:
        return None
    if dtype not in AUTOCAST_DTYPES:
        raise ValueError(f"autocast_dtype must be None (float32), torch.bfloat16 or torch.float16, got {dtype!r}.")
    return dtype


def model_precision(device: torch.device, autocast_dtype: torch.dtype | None):
    """Context manager running the model under ``torch.autocast`` (or nothing when None)."""
    if autocast_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=autocast_dtype)


def _dtype_name(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


class ReducedPrecision(nn.Module):
    """A classifier run under ``torch.autocast`` and/or in channels-last layout.

    Args:
        model: maps (B, 3, H, W) images in [0, 1] to (B, C) logits.
        autocast_dtype: ``"bf16"`` (default), ``"fp16"``, a torch dtype, or None / ``"fp32"``
            (no autocast).
        channels_last: convert the model's parameters to channels-last (in place, once)
            and feed it channels-last input.

    The output is float32 logits (float64 stays float64). ``class_names`` and ``input_size`` of the
    wrapped model are carried over when it has them.
    """

    def __init__(self, model: nn.Module, autocast_dtype="bf16", channels_last: bool = False):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        if not isinstance(channels_last, bool):
            raise TypeError(f"channels_last must be True or False, got {channels_last!r}.")
        self.model = model
        self.autocast_dtype = check_autocast_dtype(autocast_dtype)
        self.channels_last = channels_last
        if channels_last:
            model.to(memory_format=torch.channels_last)
        base = getattr(model, "name", "") or type(model).__name__
        self.name = f"{base}[{_dtype_name(self.autocast_dtype)}{',channels_last' if channels_last else ''}]"
        for attribute in ("class_names", "input_size"):
            if hasattr(model, attribute):
                setattr(self, attribute, getattr(model, attribute))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.channels_last and images.dim() == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        with model_precision(images.device, self.autocast_dtype):
            logits = self.model(images)
        return logits.float() if logits.dtype in AUTOCAST_DTYPES else logits

    def extra_repr(self) -> str:
        return f"autocast_dtype={_dtype_name(self.autocast_dtype)}, channels_last={self.channels_last}"


def with_precision(model: nn.Module, autocast_dtype="bf16", channels_last: bool = False) -> nn.Module:
    """``model`` itself when nothing is asked for (fp32, no channels-last), else a :class:`ReducedPrecision`."""
    if check_autocast_dtype(autocast_dtype) is None and not channels_last:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        return model
    return ReducedPrecision(model, autocast_dtype, channels_last)
