"""The interface every explanation method shares.

An explainer wraps a model that maps (B, 3, H, W) images in [0, 1] to (B, C)
logits. Calling it on a batch returns an :class:`Explanation` whose ``saliency``
is a (B, 1, H, W) map in [0, 1], for the given target classes or, with
``target=None``, for the classes the model predicts.

Images are moved to the model's device and, when their float type differs from the
model's (float64 images for a float32 model, or the reverse), converted to the
model's with a warning (:func:`fovex_lib._checks.images_for_model`). A model that
returns NaN or infinite logits on the input images raises a ``ValueError``: a map built
from them would be meaningless (FovEx also checks every step of its fixation search).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from .._checks import check_finite_logits, check_images, check_logits, images_for_model, model_dtype, resolve_targets

__all__ = ["Explanation", "Explainer", "eval_mode"]


@dataclass
class Explanation:
    """Saliency maps (B, 1, H, W) in [0, 1] and the (B,) target classes they explain."""

    saliency: torch.Tensor
    targets: torch.Tensor


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module):
    """Run ``model`` in eval mode (batch-norm statistics frozen, no dropout), then restore."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a model without any)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


class Explainer:
    """Base class: validates input, resolves targets, runs :meth:`explain` in eval mode.

    Subclasses implement ``explain(images, targets) -> Explanation``. Images are
    moved to the model's device and dtype (see the module docstring); the model is
    run in eval mode and its previous mode is restored afterwards.
    """

    name = "explainer"

    def __init__(self, model: torch.nn.Module):
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        self.model = model

    @property
    def device(self) -> torch.device:
        return model_device(self.model)

    def __call__(self, images: torch.Tensor, target=None) -> Explanation:
        check_images(images)
        images = images_for_model(images, model_dtype(self.model)).to(self.device)
        with eval_mode(self.model):
            with torch.no_grad():
                logits = check_logits(self.model(images), images.shape[0])
                check_finite_logits(torch.isfinite(logits).all(dim=1), "on the input images")
            targets = resolve_targets(target, logits)
            return self.explain(images, targets)

    def explain(self, images: torch.Tensor, targets: torch.Tensor) -> Explanation:  # pragma: no cover
        raise NotImplementedError
