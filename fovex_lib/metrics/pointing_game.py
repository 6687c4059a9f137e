"""Energy-Based Pointing Game (Wang et al. 2020, Score-CAM).

For a non-negative map :math:`S` and the object's region :math:`R` (the union of its
boxes, or an exact mask),

.. math::

    \\text{EBPG} = 100 \\cdot \\frac{\\sum_{u \\in R} S(u)}{\\sum_{u} S(u)} \\quad (\\text{in \\%, higher is better}),

the share of the map's energy that falls inside the object. A uniform map scores the
region's area share (:math:`100 |R| / HW`); a map that is the region's indicator
scores 100.

Documented edge cases: a map whose total energy is 0 (all zeros) has no share to
measure and gets ``NaN`` (with a ``RuntimeWarning``); a region covering the whole
image scores 100 for every map (uninformative, but defined); an empty region is an error.
"""

from __future__ import annotations

import warnings

import torch

from ..datasets.boxes import boxes_to_mask
from ._common import check_maps
from .result import MetricResult

__all__ = ["energy_pointing_game", "region_masks"]


def region_masks(regions, size: tuple[int, int], batch: int) -> torch.Tensor:
    """Regions as a (B, 1, H, W) bool tensor.

    ``regions`` is either such a bool tensor, or a list of B lists of boxes
    ``(x0, y0, x1, y1)`` in pixel coordinates of the map grid (see
    :func:`fovex_lib.datasets.boxes.boxes_to_mask`).
    """
    if isinstance(regions, torch.Tensor):
        if regions.dtype != torch.bool:
            raise TypeError(
                f"a region mask must be a bool tensor (B, 1, H, W), got dtype {regions.dtype}; "
                "use mask > 0.5 or pass boxes instead."
            )
        if regions.dim() != 4 or tuple(regions.shape) != (batch, 1, *size):
            raise ValueError(
                f"region mask must have shape ({batch}, 1, {size[0]}, {size[1]}) like the maps, "
                f"got {tuple(regions.shape)}."
            )
        return regions
    if not isinstance(regions, (list, tuple)):
        raise TypeError(
            "regions must be a bool tensor (B, 1, H, W) or a list of B lists of boxes "
            f"(x0, y0, x1, y1), got {type(regions).__name__}."
        )
    if len(regions) != batch:
        raise ValueError(f"regions lists boxes for {len(regions)} images but there are {batch} maps.")
    return torch.stack([boxes_to_mask(boxes, size) for boxes in regions])[:, None]


def energy_pointing_game(maps: torch.Tensor, regions) -> MetricResult:
    """Per-image EBPG in %: share of each map's energy inside its region.

    Unlike the other metric functions it needs no model: its leading arguments are
    ``(maps, regions)``.

    Args:
        maps: (B, 1, H, W) non-negative finite maps (e.g. in [0, 1]).
        regions: (B, 1, H, W) bool masks, or a list of B lists of ``(x0, y0, x1, y1)``
            boxes in the maps' pixel coordinates (several boxes per image are united).

    Returns:
        :class:`~fovex_lib.metrics.result.MetricResult` with ``metric="energy_pointing_game"``;
        ``values`` is a (B,) float64 CPU tensor, ``NaN`` where a map's total energy is 0
        (``.mean()`` leaves those out); ``targets`` and ``substrate`` are None.
    """
    check_maps(maps, non_negative=True)
    masks = region_masks(regions, (maps.shape[-2], maps.shape[-1]), maps.shape[0]).to(maps.device)
    empty = ~masks.flatten(1).any(1)
    if empty.any():
        raise ValueError(
            f"the region of image {int(empty.nonzero()[0])} covers no pixel; "
            "EBPG needs at least one pixel inside the object."
        )
    flat = maps.flatten(1).double()
    total = flat.sum(1)
    inside = (flat * masks.flatten(1)).sum(1)
    zero = total == 0
    if zero.any():
        warnings.warn(
            f"{int(zero.sum())} map(s) are all zeros (no energy); their EBPG is NaN.", RuntimeWarning, stacklevel=2
        )
    values = torch.where(zero, torch.full_like(total, float("nan")), 100.0 * inside / total.clamp_min(1e-300))
    return MetricResult(metric="energy_pointing_game", values=values.cpu(), higher_is_better=True)
