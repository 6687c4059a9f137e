"""Deletion and Insertion curves (Petsiuk et al. 2018, RISE), as in the RISE reference code.

The definitions follow ``CausalMetric``, ``gkern`` and ``auc`` in ``evaluation.py`` of the
authors' code (github.com/eclique/RISE), with its settings from the RISE evaluation notebook.
There the model takes the *normalised* image :math:`z = (x - \\mu) / \\sigma` and the score is
the softmax probability of class :math:`c`, the model's top-1 class on the unmodified image.
Our functions take images :math:`x \\in [0, 1]` and a model that normalises them itself
(:class:`fovex_lib.models.zoo.ImageClassifier`); :math:`\\mu, \\sigma` are that model's ``mean``
and ``std``. ``targets`` may name other classes; ``None`` (default) is RISE's top-1 class.

**Ranking.** Pixels are changed in order of decreasing saliency. RISE takes
``np.flip(np.argsort(saliency.reshape(-1)))``; numpy's default sort does not promise an
order for tied values, so we fix one: the flip of a *stable* ascending sort. Ties therefore go
*later raster index first* (bottom-right before top-left), and a constant map is changed in
reverse raster order. This equals RISE whenever numpy leaves ties in place.

**Steps.** With :math:`N = HW` pixels and ``step`` pixels per step there are
:math:`K = \\lceil N / \\text{step} \\rceil` steps. The curve has :math:`K + 1` points: at
point :math:`k = 0, \\dots, K` the first :math:`\\min(k \\cdot \\text{step}, N)` ranked pixels
are changed (the last step may be shorter than ``step``).

* **Deletion**: start from the image and replace the ranked pixels by the substrate (``substrate``,
  the library's one name for what hidden pixels become).
  Default ``"model_mean"``: RISE sets them to zero in the model's normalised space
  (``torch.zeros_like``), which in [0, 1] space is the model's mean colour :math:`\\mu`.
  A faithful map removes the evidence first, so the score falls fast: **lower AUC is better**.
* **Insertion**: start from the substrate and put the ranked pixels of the original back.
  Default ``"blur"``: RISE's ``conv2d(z, gkern(11, 5), padding=5)``, i.e. each channel of the
  *normalised* image convolved with an 11 x 11 Gaussian kernel (sigma 5) with zero padding;
  mapped back to [0, 1] space (:math:`\\sigma z' + \\mu`). Since the kernel sums to 1, this is
  the [0, 1] image blurred with the model's mean colour as padding (not black, not
  reflected), so it differs from a blur in [0, 1] space near the borders. **Higher AUC is
  better**.

``gkern(klen, nsig)`` is ``scipy.ndimage.gaussian_filter`` (sigma ``nsig``, mode
``"reflect"``, truncate 4) applied to a ``klen x klen`` delta at the centre, in float32;
:func:`rise_gaussian_kernel` computes the same kernel without scipy.

**AUC.** RISE's ``auc(arr) = (arr.sum() - arr[0] / 2 - arr[-1] / 2) / (len(arr) - 1)``: the
trapezoid rule with *uniform* spacing :math:`1 / K`, also when the last step is partial.
:func:`curve_auc` is exactly that, and ``Curves.fractions`` are the matching abscissae
:math:`t_k = k / K` (so plots and AUC agree); with a partial last step :math:`t_k` is then
slightly more than the share of pixels changed, :math:`\\min(k \\cdot \\text{step}, N) / N`.

Defaults: ``step = W`` (one image row's worth of pixels; RISE uses 224 at 224 x 224, so
225 points), ``substrate="model_mean"`` for deletion and ``"blur"`` for insertion. Other
substrates: ``"black"`` (zeros in [0, 1] space), ``"mean"`` (each image's own mean colour per
channel), or a tensor of the images' shape in [0, 1] space (see :func:`make_substrate`).

Where we differ from the RISE code: only in the tie order (fixed here, unspecified there),
in accepting any ``targets`` and any image size, and in the batching: all :math:`B (K + 1)`
modified images are built on the fly and scored ``batch_size`` at a time on the model's
device (images and steps mixed in one queue), never one forward pass per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .._checks import check_logits
from ..method.explainer import eval_mode
from ._common import _wide, check_maps, is_constant, prepare, renamed_arguments
from .result import MetricResult

__all__ = [
    "SUBSTRATES",
    "Curves",
    "pixel_ranks",
    "make_substrate",
    "substrate_name",
    "model_normalisation",
    "rise_gaussian_kernel",
    "deletion",
    "insertion",
    "perturbation_curves",
    "curve_auc",
    "trapezoid_auc",
]

#: Named substrates accepted by :func:`make_substrate` (``"model_mean"`` and ``"blur"`` need the model).
SUBSTRATES = ("model_mean", "blur", "black", "mean")

#: Attributes under which wrappers keep the wrapped model (ReducedPrecision: ``model``;
#: ImageClassifier: ``net``; DataParallel / DistributedDataParallel: ``module``).
_INNER = ("model", "net", "module")


@dataclass(kw_only=True, eq=False)
class Curves(MetricResult):
    """What :func:`deletion` and :func:`insertion` return: a
    :class:`~fovex_lib.metrics.result.MetricResult` with curves (all CPU tensors).

    Attributes:
        metric: ``"deletion"`` or ``"insertion"``.
        values: (B,) float64 area under each curve (:func:`curve_auc`), in [0, 1]; also ``auc``.
        curves: (B, K + 1) float64 softmax probability of the target at each point.
        fractions: (K + 1,) abscissae ``k / K`` of the points (RISE's uniform spacing), from 0 to 1.
        targets: (B,) explained classes; substrate: the substrate's name (or ``"tensor"``).
        constant_map: (B,) True where a map was constant (its ranking is reverse raster order).
        step: pixels per step.
    """

    constant_map: torch.Tensor
    step: int

    @property
    def auc(self) -> torch.Tensor:
        """(B,) area under each curve (= ``values``)."""
        return self.values


def curve_auc(scores: torch.Tensor) -> torch.Tensor:
    """RISE's ``auc``: ``(sum(p) - p[0] / 2 - p[-1] / 2) / (K)`` along the last dimension (K + 1 points).

    The trapezoid rule with uniform spacing ``1 / K`` between the points.
    """
    if scores.shape[-1] < 2:
        raise ValueError(f"a curve needs at least 2 points for an area, got {scores.shape[-1]}.")
    return (scores.sum(-1) - scores[..., 0] / 2 - scores[..., -1] / 2) / (scores.shape[-1] - 1)


def trapezoid_auc(fractions: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Trapezoid rule ``sum (t[k+1] - t[k]) (p[k] + p[k+1]) / 2`` along the last dimension (any spacing)."""
    widths = fractions[1:] - fractions[:-1]
    return ((scores[..., 1:] + scores[..., :-1]) * widths.to(scores)).sum(-1) / 2


def pixel_ranks(maps: torch.Tensor) -> torch.Tensor:
    """(B, H*W) long: rank of each pixel, 0 = changed first (most salient).

    The order is the flip of a stable ascending sort (RISE's ``np.flip(np.argsort(...))``
    with ties fixed): ties go later raster index first.
    """
    flat = maps.flatten(1)
    order = torch.sort(flat, dim=1, stable=True).indices.flip(1)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1], device=flat.device).expand_as(order))
    return ranks


def model_normalisation(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(mean, std)`` a model normalises its [0, 1] input with, each (1, C, 1, 1).

    Looks at ``model.mean`` / ``model.std`` and then through wrappers (the wrapped model under
    ``.model``, ``.net`` or ``.module``, e.g. :class:`fovex_lib.method.precision.ReducedPrecision`
    around an :class:`fovex_lib.models.zoo.ImageClassifier`).
    """
    current, path = model, "model"
    for _ in range(16):  # wrappers do not nest deeper than this in practice
        mean, std = getattr(current, "mean", None), getattr(current, "std", None)
        if mean is not None and std is not None and not callable(mean) and not callable(std):
            mean = torch.as_tensor(mean)
            std = torch.as_tensor(std)
            if mean.numel() not in (1, 3) or std.numel() not in (1, 3):
                raise ValueError(
                    f"{path}.mean / {path}.std must hold 1 or 3 values (per colour channel), "
                    f"got {mean.numel()} and {std.numel()}."
                )
            if not (std > 0).all():
                raise ValueError(f"{path}.std must be positive, got {std.flatten().tolist()}.")
            return mean.reshape(1, -1, 1, 1), std.reshape(1, -1, 1, 1)
        inner = next(
            (
                (name, getattr(current, name))
                for name in _INNER
                if isinstance(getattr(current, name, None), torch.nn.Module)
            ),
            None,
        )
        if inner is None:
            break
        path, current = f"{path}.{inner[0]}", inner[1]
    raise ValueError(
        f"{type(model).__name__} has no 'mean' / 'std' attributes (nor a wrapped model under "
        f"{' / '.join('.' + n for n in _INNER)} that has them), so the substrates 'model_mean' and 'blur' "
        "(RISE's, defined in the model's normalised space) cannot be built. Use a model from "
        "fovex_lib.load_model or fovex_lib.models.zoo.ImageClassifier(net, mean, std, ...), give your model "
        "'mean' and 'std' attributes (the per-channel values it normalises [0, 1] images with), or pass "
        "substrate='black', substrate='mean' or a substrate tensor instead."
    )


def _reflect(index: int, size: int) -> int:
    """scipy.ndimage's ``mode="reflect"`` (d c b a | a b c d | d c b a) for any integer index."""
    index %= 2 * size
    return index if index < size else 2 * size - 1 - index


def rise_gaussian_kernel(size: int = 11, sigma: float = 5.0) -> torch.Tensor:
    """RISE's ``gkern(size, sigma)`` for one channel: (size, size) float32, summing to 1 (up to rounding).

    A ``size x size`` delta at the centre smoothed by ``scipy.ndimage.gaussian_filter(delta, sigma)``
    (mode ``"reflect"``, truncate 4), computed here without scipy: the filter is separable and the
    delta is the outer product of two 1-D deltas, so the kernel is the outer product of the 1-D
    Gaussian (radius ``int(4 sigma + 0.5)``) folded back into the window by reflection.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise ValueError(f"blur_kernel_size must be an odd int >= 1 (RISE: 11), got {size!r}.")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"blur_sigma must be a positive number (RISE: 5), got {sigma!r}.")
    radius = int(4.0 * float(sigma) + 0.5)
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 / float(sigma) ** 2 * offsets.astype(np.float64) ** 2)
    weights /= weights.sum()
    centre = size // 2
    line = np.zeros(size)
    for i in range(size):  # output[i] = sum_j w[j] * delta[reflect(i + j)]
        for offset, weight in zip(offsets, weights):
            if _reflect(i + int(offset), size) == centre:
                line[i] += weight
    return torch.from_numpy(np.outer(line, line).astype(np.float32))


def _rise_blur(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """RISE's insertion substrate in [0, 1] space: normalise, per-channel blur with zero padding, unnormalise."""
    channels = images.shape[1]
    kernel = rise_gaussian_kernel(size, sigma).to(images).expand(channels, 1, size, size)
    normalised = (images - mean) / std
    blurred = F.conv2d(normalised, kernel, padding=size // 2, groups=channels)
    return blurred * std + mean


def substrate_name(substrate) -> str:
    """The name results record for ``substrate``: itself for a named one, ``"tensor"`` for a tensor.

    Raises ValueError for anything else (checked before any work is done).
    """
    if isinstance(substrate, torch.Tensor):
        return "tensor"
    if not isinstance(substrate, str) or substrate not in SUBSTRATES:
        raise ValueError(f"substrate must be one of {SUBSTRATES} or a tensor of the images' shape, got {substrate!r}.")
    return substrate


def make_substrate(
    images: torch.Tensor,
    substrate="model_mean",
    model: torch.nn.Module | None = None,
    blur_kernel_size: int = 11,
    blur_sigma: float = 5.0,
) -> torch.Tensor:
    """The image each pixel is replaced by (deletion) or started from (insertion), in [0, 1] space.

    Args:
        images: (B, 3, H, W) in [0, 1].
        substrate: one of

            * ``"model_mean"``: the model's mean colour everywhere (zero in the model's
              normalised space; RISE's deletion substrate);
            * ``"blur"``: RISE's insertion substrate, the normalised image convolved per channel
              with :func:`rise_gaussian_kernel` (``blur_kernel_size``, ``blur_sigma``; default
              11, 5) with zero padding, mapped back to [0, 1] (= a blur padded with the model's
              mean colour);
            * ``"black"``: zeros in [0, 1] space;
            * ``"mean"``: each image's own mean colour per channel;
            * a tensor of the images' shape in [0, 1] space.
        model: the classifier; needed for ``"model_mean"`` and ``"blur"`` (its ``mean`` / ``std``,
            found through wrappers by :func:`model_normalisation`).
        blur_kernel_size, blur_sigma: the ``"blur"`` kernel.
    """
    if isinstance(substrate, torch.Tensor):
        if substrate.shape != images.shape:
            raise ValueError(
                f"a substrate tensor must have the images' shape {tuple(images.shape)}, got {tuple(substrate.shape)}."
            )
        if not torch.isfinite(substrate).all():
            raise ValueError("the substrate tensor contains NaN or infinite values.")
        return substrate.to(images)
    substrate_name(substrate)
    if substrate == "black":
        return torch.zeros_like(images)
    if substrate == "mean":
        return images.mean(dim=(2, 3), keepdim=True).expand_as(images).clone()
    if model is None:
        raise ValueError(
            f"substrate {substrate!r} is defined in the model's normalised space: pass the model "
            f"(make_substrate(images, {substrate!r}, model)), or use 'black', 'mean' or a tensor."
        )
    mean, std = (t.to(images) for t in model_normalisation(model))
    if substrate == "model_mean":
        return mean.expand_as(images).clone()
    return _rise_blur(images, mean, std, blur_kernel_size, blur_sigma)


def _check_step(step, pixels: int, width: int) -> int:
    if step is None:
        return width
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise ValueError(f"step (pixels per step) must be an int >= 1 or None (one row, {width}), got {step!r}.")
    if step > pixels:
        raise ValueError(
            f"step {step} is larger than the image ({pixels} pixels); the curve would have no intermediate point."
        )
    return step


@renamed_arguments(target="targets")
def perturbation_curves(
    model: torch.nn.Module,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets=None,
    *,
    kind: str,
    step: int | None = None,
    substrate=None,
    blur_kernel_size: int = 11,
    blur_sigma: float = 5.0,
    batch_size: int = 64,
    progress: bool = False,
) -> Curves:
    """Deletion (``kind="deletion"``) or insertion (``kind="insertion"``) curves; see the module docstring.

    :func:`deletion` and :func:`insertion` call this with their ``kind``.

    Args:
        model: maps (B, 3, H, W) images in [0, 1] to (B, C) logits; for the default substrates it
            needs the ``mean`` / ``std`` it normalises with (see :func:`model_normalisation`).
        images: (B, 3, H, W) in [0, 1].
        maps: (B, 1, H, W) finite maps of the images' size (any real values: only the
            ranking matters). A constant map has no ranking; its pixels go in reverse raster
            order and ``Curves.constant_map`` flags it.
        targets: None (predicted class on the image, as RISE), an int or B ints.
        kind: ``"deletion"`` or ``"insertion"`` (keyword only).
        step: pixels changed per step; None (default) = one row, W.
        substrate: what hidden pixels become (deletion's fill, insertion's start); None =
            ``"model_mean"`` for deletion and ``"blur"`` for insertion (RISE). See :func:`make_substrate`.
        blur_kernel_size, blur_sigma: the ``"blur"`` substrate (default 11, 5 as in RISE).
        batch_size: modified images per forward pass.
        progress: show a progress bar over the forward passes.
    """
    if kind not in ("deletion", "insertion"):
        raise ValueError(f"kind must be 'deletion' or 'insertion', got {kind!r}.")
    if substrate is None:
        substrate = "model_mean" if kind == "deletion" else "blur"
    name = substrate_name(substrate)
    images, targets, _ = prepare(model, images, targets, batch_size)
    check_maps(maps, images)
    batch, _, height, width = images.shape
    pixels = height * width
    step = _check_step(step, pixels, width)
    other = make_substrate(images, substrate, model, blur_kernel_size, blur_sigma)
    start, end = (images, other) if kind == "deletion" else (other, images)

    ranks = pixel_ranks(maps.to(images.device)).view(batch, 1, height, width)
    n_steps = math.ceil(pixels / step)
    counts = torch.clamp(torch.arange(n_steps + 1, device=images.device) * step, max=pixels)  # pixels changed
    fractions = torch.arange(n_steps + 1, dtype=torch.float64) / n_steps  # RISE's uniform spacing

    # One queue of (image, step) pairs, scored batch_size at a time.
    pairs = torch.cartesian_prod(
        torch.arange(batch, device=images.device), torch.arange(n_steps + 1, device=images.device)
    )
    scores = torch.empty(batch, n_steps + 1, dtype=torch.float64, device=images.device)
    chunks = range(0, pairs.shape[0], batch_size)
    with eval_mode(model), torch.no_grad():
        for lo in tqdm(chunks, desc=kind, disable=not progress, leave=False):
            b, k = pairs[lo : lo + batch_size].unbind(1)
            changed = ranks[b] < counts[k].view(-1, 1, 1, 1)  # the first counts[k] ranked pixels
            probe = torch.where(changed, end[b], start[b])
            logits = check_logits(model(probe), probe.shape[0])
            scores[b, k] = F.softmax(_wide(logits), dim=1).gather(1, targets[b, None])[:, 0].double()
    scores = scores.cpu()
    return Curves(
        metric=kind,
        values=curve_auc(scores),
        higher_is_better=kind == "insertion",
        targets=targets.cpu(),
        substrate=name,
        curves=scores,
        fractions=fractions,
        constant_map=is_constant(maps).cpu(),
        step=step,
    )


@renamed_arguments(target="targets")
def deletion(
    model: torch.nn.Module,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets=None,
    step: int | None = None,
    substrate="model_mean",
    batch_size: int = 64,
    progress: bool = False,
    blur_kernel_size: int = 11,
    blur_sigma: float = 5.0,
) -> Curves:
    """Deletion curves: most salient pixels replaced by ``substrate`` first (default the model's mean colour).

    Lower AUC is better. See :func:`perturbation_curves` for the arguments.
    """
    return perturbation_curves(
        model,
        images,
        maps,
        targets,
        kind="deletion",
        step=step,
        substrate=substrate,
        blur_kernel_size=blur_kernel_size,
        blur_sigma=blur_sigma,
        batch_size=batch_size,
        progress=progress,
    )


@renamed_arguments(target="targets")
def insertion(
    model: torch.nn.Module,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets=None,
    step: int | None = None,
    substrate="blur",
    batch_size: int = 64,
    progress: bool = False,
    blur_kernel_size: int = 11,
    blur_sigma: float = 5.0,
) -> Curves:
    """Insertion curves: start from ``substrate`` (default RISE's blur), most salient pixels restored first.

    Higher AUC is better. See :func:`perturbation_curves` for the arguments.
    """
    return perturbation_curves(
        model,
        images,
        maps,
        targets,
        kind="insertion",
        step=step,
        substrate=substrate,
        blur_kernel_size=blur_kernel_size,
        blur_sigma=blur_sigma,
        batch_size=batch_size,
        progress=progress,
    )
