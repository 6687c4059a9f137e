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

**Masking** (``substrate``: what the hidden pixels become), the choice that moves the
numbers most. The masked image is :math:`S \\odot x + (1 - S) \\odot b` for a substrate
:math:`b`:

* ``"black"`` (default): :math:`b = 0`, so the map multiplies the image in pixel space
  (:math:`S \\odot x`) and unimportant pixels fade to black. This is Grad-CAM++'s definition
  (:math:`E = L^c \\circ I`) and what most implementations do.
* ``"mean"``: :math:`b = \\bar x`, unimportant pixels fade to the image's own mean colour
  (per image and channel), which is closer to "removing information" for a model
  normalised around the data mean.
* any other substrate of :func:`~fovex_lib.metrics.deletion_insertion.make_substrate`
  (``"model_mean"``, ``"blur"`` with its default kernel, or a tensor of the images' shape).

All act on [0, 1] RGB images; the model wrapper normalises afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..method.explainer import eval_mode
from ._common import check_maps, prepare, renamed_arguments, target_probabilities
from .deletion_insertion import make_substrate, substrate_name
from .result import MetricResult

__all__ = ["DROP_SUBSTRATES", "DropIncrease", "mask_images", "drop_increase"]

#: The substrates the evaluation loop reports % drop / increase for (``drop_<substrate>``);
#: the first is :func:`drop_increase`'s default.
DROP_SUBSTRATES = ("black", "mean")


@dataclass(kw_only=True, eq=False)
class DropIncrease(MetricResult):
    """What :func:`drop_increase` returns: a :class:`~fovex_lib.metrics.result.MetricResult` whose
    ``values`` are the per-image % drops, plus the details (all (N,) CPU tensors).

    Attributes:
        values: :math:`100 \\max(0, Y_i - O_i) / Y_i` in % (0 where :math:`Y_i` underflows to 0),
            float64; also available as ``drop``.
        scores: :math:`Y_i`, target probability on the image.
        masked_scores: :math:`O_i`, target probability on the masked image.
        increase: :math:`[Y_i < O_i]` (bool).
        targets, substrate: the explained classes and the substrate used.
    """

    scores: torch.Tensor
    masked_scores: torch.Tensor
    increase: torch.Tensor

    @property
    def drop(self) -> torch.Tensor:
        """(N,) % drop per image (= ``values``)."""
        return self.values

    @property
    def average_drop(self) -> float:
        """Average % Drop over the batch (lower is better)."""
        return float(self.drop.mean())

    @property
    def average_increase(self) -> float:
        """Average % Increase over the batch, in % of images (higher is better)."""
        return 100.0 * float(self.increase.float().mean())


@renamed_arguments(mode="substrate")
def mask_images(
    images: torch.Tensor, maps: torch.Tensor, substrate="black", model: torch.nn.Module | None = None
) -> torch.Tensor:
    """Mask images by maps in [0, 1]: ``S * x + (1 - S) * b`` for the substrate ``b``.

    ``"black"`` -> ``S * x``; ``"mean"`` -> ``S * x + (1 - S) * mean(x)`` (mean per image and
    channel over all pixels); other substrates as in
    :func:`~fovex_lib.metrics.deletion_insertion.make_substrate` (``model`` is needed for
    ``"model_mean"`` and ``"blur"``).
    """
    maps = maps.to(device=images.device, dtype=images.dtype)
    if isinstance(substrate, str) and substrate == "black":
        return images * maps
    return maps * images + (1 - maps) * make_substrate(images, substrate, model)


@renamed_arguments(mode="substrate", target="targets")
def drop_increase(
    model: torch.nn.Module,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets=None,
    substrate="black",
    batch_size: int = 32,
) -> DropIncrease:
    """Per-image % drop and increase of the target's softmax score when the image is masked by its map.

    Args:
        model: maps (B, 3, H, W) images in [0, 1] to (B, C) logits.
        images: (B, 3, H, W) in [0, 1].
        maps: (B, 1, H, W) explanation maps in [0, 1] (same size as the images; not resized).
            A constant map is allowed: it dims the whole image uniformly (a map of ones
            gives drop 0, no increase).
        targets: None (the predicted class on the image), an int, or B ints.
        substrate: what hidden pixels become: ``"black"`` (default, Grad-CAM++), ``"mean"``,
            or another substrate (see the module docstring).
        batch_size: images per forward pass.

    Returns:
        :class:`DropIncrease`; ``.average_drop`` and ``.average_increase`` give the table values.
    """
    name = substrate_name(substrate)
    images, targets, scores = prepare(model, images, targets, batch_size)
    check_maps(maps, images, unit_range=True)
    with eval_mode(model), torch.no_grad():
        masked = target_probabilities(model, mask_images(images, maps, substrate, model), targets, batch_size)
    scores, masked = scores.cpu(), masked.cpu()
    # A score that underflowed to 0 has nothing to lose: its drop is 0 (documented, not NaN).
    safe = scores.clamp_min(torch.finfo(scores.dtype).tiny)
    drop = torch.where(scores > 0, 100.0 * (scores - masked).clamp_min(0) / safe, torch.zeros_like(scores))
    return DropIncrease(
        metric="drop_increase",
        values=drop.double(),
        higher_is_better=False,
        targets=targets.cpu(),
        substrate=name,
        scores=scores,
        masked_scores=masked,
        increase=scores < masked,
    )
