"""Average % Drop and Average % Increase (Chattopadhyay et al. 2018, Grad-CAM++).

For image :math:`i` with target class :math:`c`, let :math:`Y_i` be the model's
softmax probability of :math:`c` on the image and :math:`O_i` the probability of
:math:`c` on the image *masked by its explanation map* :math:`S_i \\in [0, 1]`.
Over :math:`N` images

.. math::

    \\text{Average Drop \\%} = \\frac{100}{N} \\sum_i \\frac{\\max(0, Y_i - O_i)}{Y_i}
    \\quad (\\text{lower is better}),

    \\text{Average Increase \\%} = \\frac{100}{N} \\sum_i [Y_i < O_i]
    \\quad (\\text{higher is better}).

A good map keeps the evidence visible, so masking by it loses little confidence.

**Masking** (``mode``), the choice that moves the numbers most:

* ``"black"`` (default): :math:`S \\odot x`, the map multiplies the image in pixel space,
  so unimportant pixels fade to black. This is Grad-CAM++'s definition
  (:math:`E = L^c \\circ I`) and what most implementations do.
* ``"mean"``: :math:`S \\odot x + (1 - S) \\odot \\bar x`, unimportant pixels fade to the
  image's own mean colour (per image and channel), which is closer to "removing
  information" for a model normalised around the data mean.

Both act on [0, 1] RGB images; the model wrapper normalises afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..method.explainer import eval_mode
from ._common import check_maps, prepare, target_probabilities

__all__ = ["MASK_MODES", "DropIncrease", "mask_images", "drop_increase"]

#: Masking modes accepted by :func:`mask_images`; the first is the default.
MASK_MODES = ("black", "mean")


@dataclass
class DropIncrease:
    """Per-image results of :func:`drop_increase` (all (B,) CPU tensors).

    Attributes:
        targets: explained classes.
        scores: :math:`Y_i`, target probability on the image.
        masked_scores: :math:`O_i`, target probability on the masked image.
        drop: :math:`100 \\max(0, Y_i - O_i) / Y_i` in % (0 where :math:`Y_i` underflows to 0).
        increase: :math:`[Y_i < O_i]` (bool).
        mode: the masking mode used.
    """

    targets: torch.Tensor
    scores: torch.Tensor
    masked_scores: torch.Tensor
    drop: torch.Tensor
    increase: torch.Tensor
    mode: str

    @property
    def average_drop(self) -> float:
        """Average % Drop over the batch (lower is better)."""
        return float(self.drop.mean())

    @property
    def average_increase(self) -> float:
        """Average % Increase over the batch, in % of images (higher is better)."""
        return 100.0 * float(self.increase.float().mean())


def mask_images(images: torch.Tensor, maps: torch.Tensor, mode: str = "black") -> torch.Tensor:
    """Mask images by maps in [0, 1]: ``"black"`` -> ``S * x``; ``"mean"`` -> ``S * x + (1 - S) * mean(x)``.

    The mean is taken per image and channel over all pixels.
    """
    if mode not in MASK_MODES:
        raise ValueError(f"mode must be one of {MASK_MODES}, got {mode!r}.")
    maps = maps.to(device=images.device, dtype=images.dtype)
    if mode == "black":
        return images * maps
    mean = images.mean(dim=(2, 3), keepdim=True)
    return maps * images + (1 - maps) * mean


def drop_increase(model: torch.nn.Module, images: torch.Tensor, maps: torch.Tensor, target=None,
                  mode: str = "black", batch_size: int = 32) -> DropIncrease:
    """Per-image % drop and increase of the target's softmax score when the image is masked by its map.

    Args:
        model: maps (B, 3, H, W) images in [0, 1] to (B, C) logits.
        images: (B, 3, H, W) in [0, 1].
        maps: (B, 1, H, W) explanation maps in [0, 1] (same size as the images; not resized).
            A constant map is allowed: it dims the whole image uniformly (a map of ones
            gives drop 0, no increase).
        target: None (the predicted class on the image), an int, or B ints.
        mode: ``"black"`` (default, Grad-CAM++) or ``"mean"``; see the module docstring.
        batch_size: images per forward pass.

    Returns:
        :class:`DropIncrease`; ``.average_drop`` and ``.average_increase`` give the table values.
    """
    if mode not in MASK_MODES:
        raise ValueError(f"mode must be one of {MASK_MODES}, got {mode!r}.")
    images, targets, scores = prepare(model, images, target, batch_size)
    check_maps(maps, images, unit_range=True)
    with eval_mode(model), torch.no_grad():
        masked = target_probabilities(model, mask_images(images, maps, mode), targets, batch_size)
    scores, masked = scores.cpu(), masked.cpu()
    # A score that underflowed to 0 has nothing to lose: its drop is 0 (documented, not NaN).
    safe = scores.clamp_min(torch.finfo(scores.dtype).tiny)
    drop = torch.where(scores > 0, 100.0 * (scores - masked).clamp_min(0) / safe, torch.zeros_like(scores))
    return DropIncrease(targets.cpu(), scores, masked, drop, scores < masked, mode)
