"""Stage 1: differentiable foveation.

A fixation ``f = (row, col)`` lives in normalised image coordinates: ``-1`` is the
top row / left column, ``+1`` the bottom row / right column (the grid is
``torch.linspace(-1, 1, H)``, so ``-1`` and ``+1`` are the centres of the edge
pixels). Pixel coordinates are ``(f + 1) / 2 * (size - 1)``; see
:func:`to_pixels` and :func:`to_normalised`.

The foveated image keeps full detail near the fixation and shows a blurred
copy elsewhere::

    W       = exp(-||u - f||^2 / sigma)          # u runs over the pixel grid
    x_phi   = W * x + (1 - W) * blur(x)

``sigma`` is used as given (as in the FovEx reference code), *not* as
``2 * sigma^2``: the blob falls to ``1/e`` at a distance ``sqrt(sigma)``.
Everything is differentiable with respect to the fixation position.
"""

from __future__ import annotations

import torch
from torchvision.transforms.functional import gaussian_blur as _tv_gaussian_blur

from .._checks import check_fixations, check_images, check_positive

__all__ = ["coordinate_grid", "gaussian_blob", "gaussian_blur", "foveate", "to_pixels", "to_normalised"]


def coordinate_grid(height: int, width: int, device=None, dtype=torch.float32):
    """Row and column coordinates of every pixel, each (H, W), on ``linspace(-1, 1, .)``."""
    rows = torch.linspace(-1.0, 1.0, height, device=device, dtype=dtype)
    cols = torch.linspace(-1.0, 1.0, width, device=device, dtype=dtype)
    return torch.meshgrid(rows, cols, indexing="ij")


def gaussian_blob(fixations: torch.Tensor, size: tuple[int, int] | torch.Size, sigma: float) -> torch.Tensor:
    """Gaussian blobs ``exp(-||u - f||^2 / sigma)`` centred on the fixations.

    Args:
        fixations: (B, 2) float tensor of (row, col) positions in [-1, 1].
            Positions outside [-1, 1] are allowed (the blob is then partly off the image).
        size: (H, W) of the map.
        sigma: width parameter, used as given (value 1/e at distance sqrt(sigma)).

    Returns:
        (B, 1, H, W) tensor with peak value 1 at the fixation, on the fixations' device.
    """
    check_fixations(fixations)
    sigma = check_positive(sigma, "sigma")
    height, width = size
    rows, cols = coordinate_grid(height, width, fixations.device, fixations.dtype)
    d_row = rows[None] - fixations[:, 0, None, None]
    d_col = cols[None] - fixations[:, 1, None, None]
    return torch.exp(-(d_row**2 + d_col**2) / sigma)[:, None]


def gaussian_blur(images: torch.Tensor, kernel_size: int = 41, sigma: float = 10.0) -> torch.Tensor:
    """Depthwise Gaussian blur with reflect padding (torchvision's ``gaussian_blur``).

    The kernel is normalised to sum 1, so a constant image stays constant and the
    mean colour is preserved up to border effects. ``kernel_size`` must be odd
    and smaller than the image (reflect padding needs ``kernel_size // 2 < H, W``).
    """
    check_images(images)
    sigma = check_positive(sigma, "blur sigma")
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"blur kernel_size must be an odd int >= 1, got {kernel_size!r}.")
    height, width = images.shape[-2:]
    if kernel_size // 2 >= min(height, width):
        raise ValueError(
            f"blur kernel_size {kernel_size} is too large for {height}x{width} images "
            f"(reflect padding needs kernel_size // 2 < {min(height, width)}); use a smaller kernel."
        )
    return _tv_gaussian_blur(images, kernel_size=[kernel_size, kernel_size], sigma=[sigma, sigma])


def foveate(
    images: torch.Tensor,
    fixations: torch.Tensor,
    sigma: float = 0.15,
    blurred: torch.Tensor | None = None,
    kernel_size: int = 41,
    blur_sigma: float = 10.0,
) -> torch.Tensor:
    """Foveate a batch: sharp at the fixation, blurred far from it.

    Args:
        images: (B, 3, H, W) in [0, 1].
        fixations: (B, 2) (row, col) in [-1, 1]; may require grad.
        sigma: foveation width (see :func:`gaussian_blob`).
        blurred: pre-computed ``gaussian_blur(images)``; computed here when None.
        kernel_size, blur_sigma: blur settings used when ``blurred`` is None.

    Returns:
        (B, 3, H, W) foveated images ``W * x + (1 - W) * blurred``.
    """
    check_images(images)
    check_fixations(fixations, images.shape[0])
    if blurred is None:
        blurred = gaussian_blur(images, kernel_size, blur_sigma)
    weight = gaussian_blob(fixations, images.shape[-2:], sigma)
    return weight * images + (1 - weight) * blurred


def to_pixels(positions: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Normalised (row, col) in [-1, 1] -> pixel (row, col) in [0, H-1] x [0, W-1]."""
    height, width = size
    scale = torch.tensor([height - 1, width - 1], dtype=positions.dtype, device=positions.device)
    return (positions + 1) / 2 * scale


def to_normalised(pixels: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Pixel (row, col) -> normalised (row, col); the inverse of :func:`to_pixels`."""
    height, width = size
    scale = torch.tensor([height - 1, width - 1], dtype=pixels.dtype, device=pixels.device)
    return pixels / scale * 2 - 1
