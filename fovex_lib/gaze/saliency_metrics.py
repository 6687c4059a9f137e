"""NSS and AUC-Judd, as the MIT saliency benchmark defines them, batched in PyTorch.

Both compare a saliency map ``S`` with a binary **fixation map** ``F`` of the
stimulus size (True at every pixel some observer fixated; several fixations on one
pixel mark it once, as in the benchmark's ``fixationMap``).

* The map is first brought to the stimulus size (benchmark: ``imresize``). Here:
  ``resize="bilinear"`` (the default; ``torch.nn.functional.interpolate``,
  ``align_corners=False``). MATLAB's ``imresize`` default is bicubic, which can
  overshoot; bilinear keeps the map's range. ``resize=None`` refuses maps of another size.
  A map whose values differ only by rounding after the resize (spread at most
  :data:`CONSTANT_RTOL` times its largest magnitude, e.g. a resized constant) is treated as
  exactly constant.
* **NSS** (normalised scanpath saliency, Peters et al. 2005; the benchmark's ``NSS.m``):
  ``Z = (S - mean(S)) / std(S)`` over all pixels, ``NSS = mean(Z[F])``. 0 is chance,
  higher is better; it is the number of standard deviations by which the map is
  higher at fixated pixels than on average. ``std`` is the sample standard deviation
  (N - 1, MATLAB's ``std``). A constant map has no spread: its NSS is defined as 0
  here (the benchmark would divide by zero).
* **AUC-Judd** (Judd et al. 2009; the benchmark's ``AUC_Judd.m``): the fixated pixels are
  the positives, all other pixels the negatives. The thresholds are the map's values at
  the fixated pixels, from the highest down; at the i-th threshold the true-positive rate is
  ``i / |F|`` and the false-positive rate the share of non-fixated pixels ranked above the
  i-th fixated pixel. The ROC curve through ``(0, 0)``, these points and ``(1, 1)`` is
  integrated with the trapezoid rule. 0.5 is chance, 1 perfect.

  **Ties.** That rule needs every fixated pixel to have its own rank. The benchmark makes
  it so by adding uniform noise of size 1e-7 to the map (``jitter``), which orders tied
  pixels at random. Ties are common in explanation maps (flat regions; maps that are 0
  outside the model's window, where fixated and non-fixated pixels share the value 0), and
  how they are broken changes the score by several hundredths, so the rule matters:

  - ``ties="expected"`` (default): the benchmark's score **averaged over every order of
    the tied pixels**, computed exactly and without noise. A non-fixated pixel with ``g``
    fixated pixels strictly above it and ``m`` fixated pixels tied with it lies below
    ``X`` of the tied ones, ``X`` uniform on ``0..m``; its share of the area is
    ``min((g + X) / |F| + 1 / (2 |F|), 1)`` (the trapezoid through the i-th and
    (i+1)-th points credits it with half a step), and the mean over ``X`` has a closed form.
    Where no non-fixated pixel shares its value with a fixated one this **equals** the
    benchmark's rule; with such ties it is the mean of the benchmark's jittered scores (up
    to the noise re-ordering values closer than 1e-7). A constant map scores
    ``0.5 + 1 / (2 (|F| + 1))``: the Judd curve's trapezoids are optimistic by half a step.
  - ``ties="jitter"``: the benchmark's procedure itself: uniform noise in ``[0, 1e-7)`` from
    a seeded generator (``seed``) is added to the map, then the rule above is applied.

  An earlier version of this module counted ties with ``>=`` and no noise: where several
  fixated pixels share the map's minimum it joined the last fixated value directly to
  (1, 1), skipping the non-fixated pixels with lower-but-nonzero values, and inflated
  AUC-Judd by up to 0.04-0.08 on images with fixations outside the model's window.

Everything runs on the maps' device, one call per batch of same-size stimuli.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import check_seed

__all__ = [
    "prepare_maps",
    "check_fixation_masks",
    "nss",
    "auc_judd",
    "judd_roc_curve",
    "TIES",
    "CONSTANT_RTOL",
    "JITTER",
]

#: Tie rules of :func:`auc_judd` (module docstring).
TIES = ("expected", "jitter")
#: The benchmark's jitter: uniform noise in [0, JITTER) added to the map (``AUC_Judd.m``).
JITTER = 1e-7
#: A map whose spread (max - min) is at most this share of its largest magnitude counts as constant.
CONSTANT_RTOL = 1e-5


def check_fixation_masks(masks: torch.Tensor) -> torch.Tensor:
    """Fixation maps: bool (B, 1, H, W) or (B, H, W) with at least one fixated and one free pixel each."""
    if not isinstance(masks, torch.Tensor):
        raise TypeError(
            f"fixation masks must be a torch.Tensor, got {type(masks).__name__}; build them with "
            "GazeRecord.fixation_mask()."
        )
    if masks.dtype != torch.bool:
        raise TypeError(
            f"fixation masks must be bool (True = fixated pixel), got {masks.dtype}; use masks > 0 for a 0/1 map."
        )
    if masks.dim() == 3:
        masks = masks[:, None]
    if masks.dim() != 4 or masks.shape[1] != 1:
        raise ValueError(f"fixation masks must have shape (B, 1, H, W) or (B, H, W), got {tuple(masks.shape)}.")
    counts = masks.flatten(1).sum(1)
    if (counts == 0).any():
        raise ValueError(
            f"fixation mask {int((counts == 0).nonzero()[0])} has no fixated pixel; "
            "NSS and AUC need at least one fixation per image."
        )
    if (counts == masks[0, 0].numel()).any():
        raise ValueError("a fixation mask marks every pixel as fixated; AUC needs non-fixated pixels.")
    return masks


def prepare_maps(maps: torch.Tensor, size: tuple[int, int], resize: str | None = "bilinear") -> torch.Tensor:
    """Saliency maps (B, 1, h, w) or (B, h, w) -> float (B, 1, H, W) at the stimulus ``size``.

    ``resize``: ``"bilinear"`` (default), ``"bicubic"``, ``"nearest"`` or None (sizes must match).
    """
    if not isinstance(maps, torch.Tensor) or not maps.is_floating_point():
        raise TypeError(
            "saliency maps must be a floating-point torch.Tensor of shape (B, 1, h, w), got "
            + (f"dtype {maps.dtype}." if isinstance(maps, torch.Tensor) else f"{type(maps).__name__}.")
        )
    if maps.dim() == 3:
        maps = maps[:, None]
    if maps.dim() != 4 or maps.shape[1] != 1:
        raise ValueError(f"saliency maps must have shape (B, 1, h, w) or (B, h, w), got {tuple(maps.shape)}.")
    if not torch.isfinite(maps).all():
        raise ValueError("saliency maps contain NaN or infinite values.")
    stimulus = tuple(int(s) for s in size)
    if tuple(maps.shape[-2:]) != stimulus:
        if resize is None:
            raise ValueError(
                f"maps are {tuple(maps.shape[-2:])} but the stimulus is {stimulus}; pass "
                "resize='bilinear' or resize the maps yourself."
            )
        if resize not in ("bilinear", "bicubic", "nearest"):
            raise ValueError(f"resize must be 'bilinear', 'bicubic', 'nearest' or None, got {resize!r}.")
        kwargs = {} if resize == "nearest" else {"align_corners": False}
        maps = F.interpolate(maps, size=stimulus, mode=resize, **kwargs)
    return maps


def _snap_constant(maps: torch.Tensor) -> torch.Tensor:
    """Maps whose spread is rounding noise (at most :data:`CONSTANT_RTOL` of their largest magnitude,
    e.g. a constant after bilinear resizing) become exactly constant (their mean)."""
    flat = maps.flatten(1)
    hi, lo = flat.amax(1), flat.amin(1)
    scale = torch.maximum(hi.abs(), lo.abs())
    flat_enough = (hi - lo) <= CONSTANT_RTOL * scale
    if not flat_enough.any():
        return maps
    means = flat.mean(1).view(-1, 1, 1, 1).expand_as(maps)
    return torch.where(flat_enough.view(-1, 1, 1, 1), means, maps)


def _pair(maps, masks, resize):
    masks = check_fixation_masks(masks)
    maps = _snap_constant(prepare_maps(maps, masks.shape[-2:], resize))
    if maps.shape[0] != masks.shape[0]:
        raise ValueError(f"{maps.shape[0]} maps but {masks.shape[0]} fixation masks; pass one of each per image.")
    return maps, masks.to(maps.device)


def nss(maps: torch.Tensor, fixation_masks: torch.Tensor, resize: str | None = "bilinear") -> torch.Tensor:
    """Normalised scanpath saliency of each map, (B,) (module docstring)."""
    maps, masks = _pair(maps, fixation_masks, resize)
    flat, fixed = maps.flatten(1).double(), masks.flatten(1)
    mean = flat.mean(1, keepdim=True)
    std = flat.std(1, keepdim=True)  # unbiased, as MATLAB's std
    z = torch.where(std > 0, (flat - mean) / std.clamp_min(torch.finfo(flat.dtype).tiny), torch.zeros_like(flat))
    return ((z * fixed).sum(1) / fixed.sum(1)).to(maps.dtype)


def _check_ties(ties: str) -> str:
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES} (see fovex_lib.gaze.saliency_metrics), got {ties!r}.")
    return ties


def _jittered(flat: torch.Tensor, seed: int) -> torch.Tensor:
    """The benchmark's tie breaking: ``S + U[0, JITTER)`` from a seeded CPU generator (same noise on any device)."""
    generator = torch.Generator().manual_seed(check_seed(seed))
    noise = torch.rand(flat.shape, generator=generator, dtype=torch.float64)
    return flat + JITTER * noise.to(flat.device)


def _judd_points(flat: torch.Tensor, fixed: torch.Tensor):
    """The benchmark's ROC points for maps whose fixated values are distinct from the others'.

    Returns false- and true-positive rates (B, K + 2) from (0, 0) to (1, 1), padded with (1, 1).
    """
    pixels = flat.shape[1]
    n_fix = fixed.sum(1, keepdim=True).double()  # (B, 1)
    n_free = pixels - n_fix
    k = int(n_fix.max())
    all_sorted = flat.sort(dim=1).values  # ascending, (B, P)
    # fixated values in descending order = the thresholds; padding (-inf) after the N_b real ones
    thresholds = torch.where(fixed, flat, torch.full_like(flat, -torch.inf)).topk(k, dim=1).values  # (B, K)
    valid = torch.arange(k, device=flat.device)[None] < n_fix  # (B, K)
    above_all = (pixels - torch.searchsorted(all_sorted, thresholds, side="left")).double()  # #S >= t
    rank = torch.arange(1, k + 1, device=flat.device, dtype=torch.float64)[None]  # i
    tp = torch.where(valid, rank / n_fix, torch.ones_like(thresholds))
    fp = torch.where(valid, (above_all - rank) / n_free, torch.ones_like(thresholds))
    zeros, ones = torch.zeros_like(tp[:, :1]), torch.ones_like(tp[:, :1])
    return torch.cat([zeros, fp, ones], dim=1), torch.cat([zeros, tp, ones], dim=1)


def _expected_judd(flat: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
    """(B,) AUC-Judd averaged over every order of tied pixels (module docstring), in closed form."""
    n_fix = fixed.sum(1, keepdim=True).double()  # (B, 1)
    n_free = flat.shape[1] - n_fix
    fixated_sorted = torch.where(fixed, flat, torch.full_like(flat, torch.inf)).sort(dim=1).values
    at_or_below = torch.searchsorted(fixated_sorted, flat, side="right").double()  # fixated <= v
    below = torch.searchsorted(fixated_sorted, flat, side="left").double()  # fixated < v
    above = n_fix - at_or_below  # g: fixated strictly above
    tied = at_or_below - below  # m: fixated tied with v
    half = 0.5 / n_fix
    # E[min((g + X) / n + 1/(2n), 1)], X uniform on 0..m: the min only bites when g + X = n
    share = (above + tied / 2) / n_fix + half - torch.where(above + tied == n_fix, half / (tied + 1), 0.0)
    return (share * ~fixed).sum(1) / n_free[:, 0]


def auc_judd(
    maps: torch.Tensor,
    fixation_masks: torch.Tensor,
    resize: str | None = "bilinear",
    ties: str = "expected",
    seed: int = 0,
) -> torch.Tensor:
    """AUC-Judd of each map, (B,) (module docstring).

    ``ties``: ``"expected"`` (default; the benchmark's score averaged over the orders of tied
    pixels, exact and noise-free) or ``"jitter"`` (the benchmark's seeded 1e-7 noise, ``seed``).
    """
    _check_ties(ties)
    maps, masks = _pair(maps, fixation_masks, resize)
    flat, fixed = maps.flatten(1).double(), masks.flatten(1)
    if ties == "expected":
        return _expected_judd(flat, fixed).to(maps.dtype)
    fp, tp = _judd_points(_jittered(flat, seed), fixed)
    return torch.trapezoid(tp, fp, dim=1).to(maps.dtype)


def judd_roc_curve(saliency: torch.Tensor, fixation_mask: torch.Tensor, resize: str | None = "bilinear", seed: int = 0):
    """The benchmark's ROC curve for one image, for plotting: (false-positive rates, true-positive
    rates) as numpy arrays from (0, 0) to (1, 1), one point per fixated pixel.

    Ties are broken as the benchmark does, with seeded 1e-7 noise, so the curve's area is
    ``auc_judd(..., ties="jitter", seed=seed)``; the default ``auc_judd`` is its mean over
    all tie orders.
    """
    maps, masks = _pair(saliency, fixation_mask, resize)
    if maps.shape[0] != 1:
        raise ValueError(f"pass one image (batch of 1), got {maps.shape[0]}.")
    fp, tp = _judd_points(_jittered(maps.flatten(1).double(), seed), masks.flatten(1))
    return fp[0].cpu().numpy(), tp[0].cpu().numpy()
