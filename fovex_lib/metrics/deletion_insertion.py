"""Deletion and Insertion curves (Petsiuk et al. 2018, RISE).

The pixels of an image are ranked by its explanation map, highest first (ties keep
raster order: top-left first). With :math:`N = HW` pixels and ``step`` pixels per
step there are :math:`K = \\lceil N / \\text{step} \\rceil` steps; after step
:math:`k` the first :math:`n_k = \\min(k \\cdot \\text{step}, N)` ranked pixels are
changed.

* **Deletion**: start from the image and replace the ranked pixels by a *baseline*
  (``substrate``, default ``"black"``: zeros, as in RISE). A faithful map removes the
  evidence first, so the score falls fast: **lower AUC is better**.
* **Insertion**: start from a *substrate* (default ``"blur"``: the image blurred with a
  Gaussian of window 11 and sigma 5, as in the RISE reference code) and put the
  ranked pixels of the original back. **Higher AUC is better**.

At every step, *including the start* (:math:`k = 0`), the curve records the softmax
probability of the target class, so a curve has :math:`K + 1` points at
:math:`t_k = n_k / N \\in [0, 1]`. The area under the curve is the trapezoid rule on
these points, :math:`\\text{AUC} = \\sum_k (t_{k+1} - t_k)(p_k + p_{k+1}) / 2`, a number in
[0, 1].

Defaults: ``step = W`` (one image row's worth of pixels, 224 at 224x224, so 225 points),
``substrate="black"`` for deletion and ``"blur"`` for insertion. Substrates are
``"black"`` (zeros), ``"mean"`` (the image's mean colour per channel), ``"blur"``
(Gaussian blur, ``blur_kernel_size`` 11, ``blur_sigma`` 5, reflect padding; RISE pads with
zeros, so borders differ slightly), or a tensor of the images' shape.

All :math:`B (K + 1)` modified images are built on the fly and scored ``batch_size`` at a
time (images and steps mixed in one queue), never one forward pass per step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .._checks import check_logits
from ..explainer import eval_mode
from ..foveation import gaussian_blur
from ._common import _wide, check_maps, is_constant, prepare

__all__ = ["SUBSTRATES", "Curves", "pixel_ranks", "make_substrate", "deletion", "insertion",
           "perturbation_curves", "trapezoid_auc"]

#: Named substrates / baselines accepted by :func:`make_substrate`.
SUBSTRATES = ("black", "mean", "blur")


@dataclass
class Curves:
    """Deletion or insertion curves of a batch.

    Attributes:
        kind: ``"deletion"`` or ``"insertion"``.
        fractions: (K + 1,) share of pixels changed at each point, from 0 to 1.
        scores: (B, K + 1) softmax probability of the target at each point (CPU).
        auc: (B,) trapezoid area under each curve, in [0, 1].
        targets: (B,) explained classes.
        constant_map: (B,) True where a map was constant (its ranking is raster order).
        step: pixels per step; substrate: the substrate's name (or ``"tensor"``).
    """

    kind: str
    fractions: torch.Tensor
    scores: torch.Tensor
    auc: torch.Tensor
    targets: torch.Tensor
    constant_map: torch.Tensor
    step: int
    substrate: str


def trapezoid_auc(fractions: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Trapezoid rule ``sum (t[k+1] - t[k]) (p[k] + p[k+1]) / 2`` along the last dimension."""
    widths = fractions[1:] - fractions[:-1]
    return ((scores[..., 1:] + scores[..., :-1]) * widths.to(scores)).sum(-1) / 2


def pixel_ranks(maps: torch.Tensor) -> torch.Tensor:
    """(B, H*W) long: rank of each pixel, 0 = most salient; ties keep raster order."""
    flat = maps.flatten(1)
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1], device=flat.device).expand_as(order))
    return ranks


def make_substrate(images: torch.Tensor, substrate="black", blur_kernel_size: int = 11,
                   blur_sigma: float = 5.0) -> torch.Tensor:
    """The image each pixel is replaced by (deletion) or started from (insertion).

    ``"black"``: zeros; ``"mean"``: each image's mean colour per channel; ``"blur"``:
    :func:`fovex_lib.foveation.gaussian_blur` with ``blur_kernel_size`` (default 11) and
    ``blur_sigma`` (default 5), the RISE settings; or a tensor of the images' shape in [0, 1].
    """
    if isinstance(substrate, torch.Tensor):
        if substrate.shape != images.shape:
            raise ValueError(f"a substrate tensor must have the images' shape {tuple(images.shape)}, "
                             f"got {tuple(substrate.shape)}.")
        if not torch.isfinite(substrate).all():
            raise ValueError("the substrate tensor contains NaN or infinite values.")
        return substrate.to(images)
    if substrate == "black":
        return torch.zeros_like(images)
    if substrate == "mean":
        return images.mean(dim=(2, 3), keepdim=True).expand_as(images).clone()
    if substrate == "blur":
        return gaussian_blur(images, blur_kernel_size, blur_sigma)
    raise ValueError(f"substrate must be one of {SUBSTRATES} or a tensor of the images' shape, got {substrate!r}.")


def _check_step(step, pixels: int, width: int) -> int:
    if step is None:
        return width
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise ValueError(f"step (pixels per step) must be an int >= 1 or None (one row, {width}), got {step!r}.")
    if step > pixels:
        raise ValueError(f"step {step} is larger than the image ({pixels} pixels); the curve would have "
                         "no intermediate point.")
    return step


def perturbation_curves(model: torch.nn.Module, images: torch.Tensor, maps: torch.Tensor, kind: str,
                        target=None, step: int | None = None, substrate=None, blur_kernel_size: int = 11,
                        blur_sigma: float = 5.0, batch_size: int = 64, progress: bool = False) -> Curves:
    """Deletion (``kind="deletion"``) or insertion (``kind="insertion"``) curves; see the module docstring.

    Args:
        model: maps (B, 3, H, W) images in [0, 1] to (B, C) logits.
        images: (B, 3, H, W) in [0, 1].
        maps: (B, 1, H, W) finite maps of the images' size (any real values: only the
            ranking matters). A constant map has no ranking; its pixels go in raster order
            and ``Curves.constant_map`` flags it.
        target: None (predicted class on the image), an int or B ints.
        step: pixels changed per step; None (default) = one row, W.
        substrate: deletion baseline / insertion start; None = ``"black"`` for deletion and
            ``"blur"`` for insertion (RISE). See :func:`make_substrate`.
        blur_kernel_size, blur_sigma: the ``"blur"`` substrate (default 11, 5 as in RISE).
        batch_size: modified images per forward pass.
        progress: show a progress bar over the forward passes.
    """
    if kind not in ("deletion", "insertion"):
        raise ValueError(f"kind must be 'deletion' or 'insertion', got {kind!r}.")
    images, targets, _ = prepare(model, images, target, batch_size)
    check_maps(maps, images)
    batch, _, height, width = images.shape
    pixels = height * width
    step = _check_step(step, pixels, width)
    if substrate is None:
        substrate = "black" if kind == "deletion" else "blur"
    name = substrate if isinstance(substrate, str) else "tensor"
    other = make_substrate(images, substrate, blur_kernel_size, blur_sigma)
    start, end = (images, other) if kind == "deletion" else (other, images)

    ranks = pixel_ranks(maps.to(images.device)).view(batch, 1, height, width)
    n_steps = math.ceil(pixels / step)
    counts = torch.clamp(torch.arange(n_steps + 1, device=images.device) * step, max=pixels)  # n_k
    fractions = counts.double().cpu() / pixels

    # One queue of (image, step) pairs, scored batch_size at a time.
    pairs = torch.cartesian_prod(torch.arange(batch, device=images.device),
                                 torch.arange(n_steps + 1, device=images.device))
    scores = torch.empty(batch, n_steps + 1, dtype=torch.float64, device=images.device)
    chunks = range(0, pairs.shape[0], batch_size)
    with eval_mode(model), torch.no_grad():
        for lo in tqdm(chunks, desc=kind, disable=not progress, leave=False):
            b, k = pairs[lo:lo + batch_size].unbind(1)
            changed = ranks[b] < counts[k].view(-1, 1, 1, 1)  # first n_k ranked pixels
            probe = torch.where(changed, end[b], start[b])
            logits = check_logits(model(probe), probe.shape[0])
            scores[b, k] = F.softmax(_wide(logits), dim=1).gather(1, targets[b, None])[:, 0].double()
    scores = scores.cpu()
    return Curves(kind, fractions, scores, trapezoid_auc(fractions, scores), targets.cpu(),
                  is_constant(maps).cpu(), step, name)


def deletion(model: torch.nn.Module, images: torch.Tensor, maps: torch.Tensor, target=None,
             step: int | None = None, substrate="black", batch_size: int = 64, progress: bool = False,
             **blur) -> Curves:
    """Deletion curves: most salient pixels replaced by ``substrate`` first (default black).

    Lower AUC is better. See :func:`perturbation_curves` for the arguments.
    """
    return perturbation_curves(model, images, maps, "deletion", target, step, substrate,
                               batch_size=batch_size, progress=progress, **blur)


def insertion(model: torch.nn.Module, images: torch.Tensor, maps: torch.Tensor, target=None,
              step: int | None = None, substrate="blur", batch_size: int = 64, progress: bool = False,
              **blur) -> Curves:
    """Insertion curves: start from ``substrate`` (default blurred image), most salient pixels restored first.

    Higher AUC is better. See :func:`perturbation_curves` for the arguments.
    """
    return perturbation_curves(model, images, maps, "insertion", target, step, substrate,
                               batch_size=batch_size, progress=progress, **blur)
