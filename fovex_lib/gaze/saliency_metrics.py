"""NSS and AUC-Judd, as the MIT saliency benchmark defines them, batched in PyTorch.

Both compare a saliency map ``S`` with a binary **fixation map** ``F`` of the
stimulus size (True at every pixel some observer fixated; several fixations on one
pixel mark it once, as in the benchmark's ``fixationMap``).

* The map is first brought to the stimulus size (benchmark: ``imresize``). Here:
  ``resize="bilinear"`` (the default; ``torch.nn.functional.interpolate``,
  ``align_corners=False``). MATLAB's ``imresize`` default is bicubic, which can
  overshoot; bilinear keeps the map's range. ``resize=None`` refuses maps of another size.
* **NSS** (normalised scanpath saliency, Peters et al. 2005):
  ``Z = (S - mean(S)) / std(S)`` over all pixels, ``NSS = mean(Z[F])``. 0 is chance,
  higher is better; it is the number of standard deviations by which the map is
  higher at fixated pixels than on average. ``std`` is the sample standard deviation
  (N - 1, MATLAB's ``std``). A constant map has no spread: its NSS is defined as 0
  here (the benchmark would divide by zero).
* **AUC-Judd** (Judd et al. 2009): the fixated pixels are the positives, all other
  pixels the negatives. Thresholds are the map's values at the fixated pixels; at
  threshold ``t`` the true-positive rate is the fraction of fixated pixels with
  ``S >= t`` and the false-positive rate the fraction of non-fixated pixels with
  ``S >= t``. The ROC curve through ``(0, 0)``, these points and ``(1, 1)`` is
  integrated with the trapezoid rule. 0.5 is chance, 1 perfect.

  Convention difference: the benchmark adds uniform noise of size 1e-7 to the map
  to break ties and then assumes the i-th threshold has exactly i fixated pixels
  above it. We count ties exactly instead (``>=``), with no noise. Where the fixated
  values are distinct the two agree exactly; with ties (e.g. flat regions, maps that
  are 0 outside the model's crop) ours is deterministic and a constant map scores
  exactly 0.5, the benchmark's a noise-dependent value.

Everything runs on the maps' device, one call per batch of same-size stimuli.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["prepare_maps", "check_fixation_masks", "nss", "auc_judd", "judd_roc_curve"]


def check_fixation_masks(masks: torch.Tensor) -> torch.Tensor:
    """Fixation maps: bool (B, 1, H, W) or (B, H, W) with at least one fixated and one free pixel each."""
    if not isinstance(masks, torch.Tensor):
        raise TypeError(f"fixation masks must be a torch.Tensor, got {type(masks).__name__}; build them with "
                        "GazeRecord.fixation_mask().")
    if masks.dtype != torch.bool:
        raise TypeError(f"fixation masks must be bool (True = fixated pixel), got {masks.dtype}; "
                        "use masks > 0 for a 0/1 map.")
    if masks.dim() == 3:
        masks = masks[:, None]
    if masks.dim() != 4 or masks.shape[1] != 1:
        raise ValueError(f"fixation masks must have shape (B, 1, H, W) or (B, H, W), got {tuple(masks.shape)}.")
    counts = masks.flatten(1).sum(1)
    if (counts == 0).any():
        raise ValueError(f"fixation mask {int((counts == 0).nonzero()[0])} has no fixated pixel; "
                         "NSS and AUC need at least one fixation per image.")
    if (counts == masks[0, 0].numel()).any():
        raise ValueError("a fixation mask marks every pixel as fixated; AUC needs non-fixated pixels.")
    return masks


def prepare_maps(maps: torch.Tensor, size: tuple[int, int], resize: str | None = "bilinear") -> torch.Tensor:
    """Saliency maps (B, 1, h, w) or (B, h, w) -> float (B, 1, H, W) at the stimulus ``size``.

    ``resize``: ``"bilinear"`` (default), ``"bicubic"``, ``"nearest"`` or None (sizes must match).
    """
    if not isinstance(maps, torch.Tensor) or not maps.is_floating_point():
        raise TypeError("saliency maps must be a floating-point torch.Tensor of shape (B, 1, h, w), got "
                        + (f"dtype {maps.dtype}." if isinstance(maps, torch.Tensor) else f"{type(maps).__name__}."))
    if maps.dim() == 3:
        maps = maps[:, None]
    if maps.dim() != 4 or maps.shape[1] != 1:
        raise ValueError(f"saliency maps must have shape (B, 1, h, w) or (B, h, w), got {tuple(maps.shape)}.")
    if not torch.isfinite(maps).all():
        raise ValueError("saliency maps contain NaN or infinite values.")
    size = tuple(int(s) for s in size)
    if tuple(maps.shape[-2:]) != size:
        if resize is None:
            raise ValueError(f"maps are {tuple(maps.shape[-2:])} but the stimulus is {size}; pass "
                             "resize='bilinear' or resize the maps yourself.")
        if resize not in ("bilinear", "bicubic", "nearest"):
            raise ValueError(f"resize must be 'bilinear', 'bicubic', 'nearest' or None, got {resize!r}.")
        kwargs = {} if resize == "nearest" else {"align_corners": False}
        maps = F.interpolate(maps, size=size, mode=resize, **kwargs)
    return maps


def _pair(maps, masks, resize):
    masks = check_fixation_masks(masks)
    maps = prepare_maps(maps, masks.shape[-2:], resize)
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


def _judd_curves(maps, fixation_masks, resize):
    """ROC points (B, K + 2) of AUC-Judd: false- and true-positive rates, padded with (1, 1)."""
    maps, masks = _pair(maps, fixation_masks, resize)
    flat, fixed = maps.flatten(1).double(), masks.flatten(1)
    pixels = flat.shape[1]
    n_fix = fixed.sum(1, keepdim=True).double()                          # (B, 1)
    n_free = pixels - n_fix
    k = int(n_fix.max())
    all_sorted = flat.sort(dim=1).values                                 # ascending, (B, P)
    # fixated values in descending order = the thresholds; padding (-inf) after the N_b real ones
    thresholds = torch.where(fixed, flat, torch.full_like(flat, -torch.inf)).topk(k, dim=1).values  # (B, K)
    valid = torch.arange(k, device=flat.device)[None] < n_fix            # (B, K)
    above_all = (pixels - torch.searchsorted(all_sorted, thresholds, side="left")).double()  # #S >= t
    fix_ascending = thresholds.flip(1).contiguous()
    above_fix = (k - torch.searchsorted(fix_ascending, thresholds, side="left")).double()    # #S[F] >= t
    tp = torch.where(valid, above_fix / n_fix, torch.ones_like(thresholds))
    fp = torch.where(valid, (above_all - above_fix) / n_free, torch.ones_like(thresholds))
    zeros, ones = torch.zeros_like(tp[:, :1]), torch.ones_like(tp[:, :1])
    return torch.cat([zeros, fp, ones], dim=1), torch.cat([zeros, tp, ones], dim=1), maps.dtype


def auc_judd(maps: torch.Tensor, fixation_masks: torch.Tensor, resize: str | None = "bilinear") -> torch.Tensor:
    """AUC-Judd of each map, (B,) (module docstring), with exact tie counting."""
    fp, tp, dtype = _judd_curves(maps, fixation_masks, resize)
    return torch.trapezoid(tp, fp, dim=1).to(dtype)


def judd_roc_curve(saliency: torch.Tensor, fixation_mask: torch.Tensor, resize: str | None = "bilinear"):
    """The ROC curve behind :func:`auc_judd` for one image: (false-positive rates, true-positive
    rates) as numpy arrays from (0, 0) to (1, 1), for plotting."""
    fp, tp, _ = _judd_curves(saliency, fixation_mask, resize)
    if fp.shape[0] != 1:
        raise ValueError(f"pass one image (batch of 1), got {fp.shape[0]}.")
    return fp[0].cpu().numpy(), tp[0].cpu().numpy()
