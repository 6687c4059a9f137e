"""Small matplotlib helpers the chapters share (images, maps, scanpaths).

Every function draws on a given ``ax`` (or a new one) and returns it, so figures
can be composed freely. Positions use the library's convention: (row, col) in
[-1, 1], converted to pixels with :func:`fovex_lib.to_pixels`.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..method.foveation import to_pixels

__all__ = ["to_numpy_image", "show_image", "show_map", "draw_scanpath"]


def to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) or (1, 3, H, W) tensor in [0, 1] -> (H, W, 3) numpy array."""
    if image.dim() == 4:
        if image.shape[0] != 1:
            raise ValueError(f"pass one image, got a batch of {image.shape[0]}.")
        image = image[0]
    return image.detach().float().cpu().permute(1, 2, 0).clamp(0, 1).numpy()


def _axis(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def show_image(image: torch.Tensor, ax=None, title: str | None = None):
    """Show one RGB image."""
    ax = _axis(ax)
    ax.imshow(to_numpy_image(image))
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def show_map(saliency: torch.Tensor, image: torch.Tensor | None = None, ax=None, title: str | None = None,
             alpha: float = 0.5, cmap: str = "jet", colorbar: bool = False, vmin: float = 0.0,
             vmax: float = 1.0):
    """Show a (H, W) / (1, H, W) / (1, 1, H, W) map, overlaid on ``image`` when given.

    The colour scale is fixed to [vmin, vmax] (default [0, 1], the range of attribution
    maps) so that several panels can share it.
    """
    ax = _axis(ax)
    values = saliency.detach().float().cpu().squeeze().numpy()
    if image is not None:
        ax.imshow(to_numpy_image(image))
        shown = ax.imshow(values, cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax)
    else:
        shown = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    if colorbar:
        plt.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def draw_scanpath(scanpath: torch.Tensor, size: tuple[int, int], ax, color: str = "white",
                  numbered: bool = True, line: bool = True, marker_size: float = 180,
                  filled: bool = True):
    """Draw fixations (L, 2) in [-1, 1] as numbered circles joined by lines.

    ``filled=False`` draws hollow circles that leave the image under each fixation visible.
    """
    px = to_pixels(scanpath.detach().float().cpu(), size).numpy()
    rows, cols = px[:, 0], px[:, 1]
    if line:
        ax.plot(cols, rows, "-", color=color, lw=1.2, alpha=0.8)
    ax.scatter(cols, rows, s=marker_size, facecolors="black" if filled else "none", edgecolors=color,
               linewidths=1.5, zorder=3)
    if numbered:
        for i, (r, c) in enumerate(zip(rows, cols), start=1):
            ax.text(c, r, str(i), color=color, ha="center", va="center", fontsize=8, weight="bold", zorder=4)
    return ax

