"""Reference maps that anchor a gaze-alignment table from below and above.

* **Centre bias** (lower anchor): people look near the centre of a photo whatever it
  shows. :func:`centre_bias_map` is an axis-aligned Gaussian at the image centre whose
  widths are a fraction ``sigma`` of the image height and width (stretched to the
  aspect ratio, like the centre model of Judd et al. 2009)::

      C(r, c) = exp(-(r - r0)^2 / (2 (sigma H)^2) - (c - c0)^2 / (2 (sigma W)^2))

  with ``(r0, c0) = ((H - 1) / 2, (W - 1) / 2)`` and default ``sigma = 0.25``
  (our choice, not fitted to the data). Any map that does not beat it explains less
  about where people look than "the middle of the picture".
* **Inter-observer** (upper anchor): how well the *other* observers predict one
  observer. For each observer ``o``, :func:`inter_observer_maps` sums isotropic
  Gaussians (``sigma_px`` pixels; default 24, our choice: 3% of OSIE's 800-pixel
  width, of the order of one degree of visual angle in common lab set-ups) at the
  fixations of all observers but ``o``;
  that map is scored against ``o``'s fixations and the scores are averaged over
  observers (leave-one-out). Needs per-observer data (OSIE; not MIT1003's pooled maps).

Gaussian sums are computed exactly (no truncation, no padding) as a product of a
row and a column factor: ``sum_k g(r - r_k) g(c - c_k) = G_r^T G_c``.
"""

from __future__ import annotations

import torch

from .._checks import check_positive
from .records import GazeRecord

__all__ = ["centre_bias_map", "fixation_density", "inter_observer_maps"]


def _size(size) -> tuple[int, int]:
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size)
    ):
        raise ValueError(f"size must be (H, W) with two positive ints, got {size!r}.")
    return int(size[0]), int(size[1])


def centre_bias_map(size: tuple[int, int], sigma: float = 0.25, device=None, dtype=torch.float32) -> torch.Tensor:
    """(1, 1, H, W) centre-bias Gaussian with peak 1 (module docstring)."""
    height, width = _size(size)
    sigma = check_positive(sigma, "sigma")
    rows = torch.arange(height, device=device, dtype=dtype) - (height - 1) / 2
    cols = torch.arange(width, device=device, dtype=dtype) - (width - 1) / 2
    g_row = torch.exp(-(rows**2) / (2 * (sigma * height) ** 2))
    g_col = torch.exp(-(cols**2) / (2 * (sigma * width) ** 2))
    return (g_row[:, None] * g_col[None, :])[None, None]


def fixation_density(
    fixations, size: tuple[int, int], sigma_px: float = 24.0, device=None, dtype=torch.float32
) -> torch.Tensor:
    """(1, 1, H, W) sum of Gaussians ``exp(-d^2 / (2 sigma_px^2))`` at (N, 2) ``(row, col)`` pixel positions.

    Positions are 0-based continuous pixel coordinates (as in :class:`GazeRecord`).
    No fixations give an all-zero map.
    """
    height, width = _size(size)
    sigma_px = check_positive(sigma_px, "sigma_px")
    points = torch.as_tensor(fixations, device=device, dtype=dtype).reshape(-1, 2)
    rows = torch.arange(height, device=device, dtype=dtype)
    cols = torch.arange(width, device=device, dtype=dtype)
    g_row = torch.exp(-((rows[None] - points[:, :1]) ** 2) / (2 * sigma_px**2))  # (N, H)
    g_col = torch.exp(-((cols[None] - points[:, 1:]) ** 2) / (2 * sigma_px**2))  # (N, W)
    return (g_row.T @ g_col)[None, None]


def inter_observer_maps(
    record: GazeRecord, sigma_px: float = 24.0, device=None, dtype=torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Leave-one-out maps and the held-out observers' fixation masks.

    Returns:
        ``maps`` (O, 1, H, W): for each observer with at least one fixation, the density
        of all other observers' fixations; ``masks`` (O, 1, H, W) bool: that observer's
        fixated pixels. Observers without fixations are skipped.
    """
    if not record.has_observers:
        raise ValueError(
            f"image {record.image_id}: the inter-observer map needs to know which observer made "
            "which fixation; this data set does not say (e.g. MIT1003's pooled fixation maps)."
        )
    maps, masks = [], []
    for o in range(record.num_observers):
        own = record.observer == o
        if not own.any():
            continue
        maps.append(fixation_density(record.fixations[~own], record.size, sigma_px, device, dtype))
        masks.append(record.fixation_mask(observers=o).to(device))
    if len(maps) < 2:
        raise ValueError(
            f"image {record.image_id}: fewer than two observers with fixations; no inter-observer map can be made."
        )
    return torch.cat(maps), torch.cat(masks)
