"""Stage 4: from a scanpath to an attribution map.

The FovEx map is a weighted sum of Gaussians at the fixations, min-max normalised
*per image*::

    S = sum_i alpha_i * exp(-||u - f_i||^2 / sigma)
    S = (S - min S) / (max S - min S)

(The reference code normalises over the whole batch; we normalise each image on
its own so that a map does not depend on which other images share its batch.)
"""

from __future__ import annotations

import torch

from .._checks import check_positive, check_weights
from .foveation import gaussian_blob

__all__ = ["attribution_map", "normalise_maps"]


def normalise_maps(maps: torch.Tensor) -> torch.Tensor:
    """Min-max normalise each map of a (B, 1, H, W) batch to [0, 1].

    A constant map (max == min) carries no ranking and becomes all zeros.
    """
    flat = maps.flatten(1)
    low = flat.min(dim=1).values.view(-1, 1, 1, 1)
    high = flat.max(dim=1).values.view(-1, 1, 1, 1)
    span = high - low
    return torch.where(span > 0, (maps - low) / span.clamp_min(torch.finfo(maps.dtype).tiny), torch.zeros_like(maps))


def attribution_map(
    scanpath: torch.Tensor,
    size: tuple[int, int] | torch.Size,
    sigma: float = 0.15,
    weights: torch.Tensor | None = None,
    normalise: bool = True,
) -> torch.Tensor:
    """Sum of Gaussians at the fixations.

    Args:
        scanpath: (B, L, 2) fixations (row, col) in [-1, 1].
        size: (H, W) of the map.
        sigma: heat-map width, used as in :func:`fovex_lib.method.foveation.gaussian_blob`.
        weights: alpha_i, finite numbers >= 0 of shape (L,) or (B, L) with at least one
            positive per image; default all ones.
        normalise: min-max normalise per image (default True).

    Returns:
        (B, 1, H, W) map; in [0, 1] with maximum 1 per image when normalised.
    """
    if not isinstance(scanpath, torch.Tensor) or scanpath.dim() != 3 or scanpath.shape[-1] != 2:
        shape = tuple(scanpath.shape) if isinstance(scanpath, torch.Tensor) else type(scanpath).__name__
        raise ValueError(f"scanpath must be a tensor of shape (B, L, 2), got {shape}.")
    sigma = check_positive(sigma, "heatmap sigma")
    batch, length, _ = scanpath.shape
    weights = check_weights(weights, length)
    if weights is None:
        weights = torch.ones(batch, length, device=scanpath.device, dtype=scanpath.dtype)
    weights = weights.to(device=scanpath.device, dtype=scanpath.dtype)
    if weights.dim() == 1:
        weights = weights.expand(batch, -1)
    if weights.shape != (batch, length):
        raise ValueError(
            f"weights must have shape (L,) = ({length},) or (B, L) = ({batch}, {length}), got {tuple(weights.shape)}."
        )
    blobs = gaussian_blob(scanpath.reshape(-1, 2), size, sigma).view(batch, length, *size)
    maps = (weights[:, :, None, None] * blobs).sum(dim=1, keepdim=True)
    return normalise_maps(maps) if normalise else maps
