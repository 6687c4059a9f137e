"""Stage 2: the memory state.

FovEx remembers where it has already looked. After fixation ``t`` the memory is::

    G_t = forgetting * G_{t-1} + blob(f_t)          (G_0 = 0)

and while the next fixation ``f`` is being chosen the model sees::

    W     = clip(G + blob(f), 0, 1)
    x_phi = W * x + (1 - W) * blur(x)  =  x + (blur(x) - x) * clip(1 - (G + blob(f)), 0, 1)

so regions seen earlier stay sharp (fading with ``forgetting``; 0 forgets at once,
1 never forgets) and the model is pushed towards *new* evidence. With no candidate
fixation (``fixations=None``) the same formula gives the view of the memory alone,
``x + (blur(x) - x) * (1 - clip(G, 0, 1))``.
"""

from __future__ import annotations

import torch

from .._checks import check_fraction
from .foveation import gaussian_blob

__all__ = ["update_memory", "sharpness_mask", "foveate_with_memory"]


def update_memory(memory: torch.Tensor | None, blob: torch.Tensor, forgetting: float) -> torch.Tensor:
    """One memory update ``G_t = forgetting * G_{t-1} + blob``; ``memory=None`` means G = 0."""
    forgetting = check_fraction(forgetting, "forgetting")
    if memory is None:
        return blob.clone()
    if memory.shape != blob.shape:
        raise ValueError(f"memory has shape {tuple(memory.shape)} but the blob has {tuple(blob.shape)}.")
    return forgetting * memory + blob


def sharpness_mask(memory: torch.Tensor | None, blob: torch.Tensor | None) -> torch.Tensor:
    """``W = clip(G + blob, 0, 1)``: 1 where the image is shown sharp, 0 where blurred.

    ``memory=None`` stands for G = 0 and ``blob=None`` for no candidate fixation; at
    least one of them must be given.
    """
    if memory is None:
        if blob is None:
            raise ValueError("sharpness_mask needs a memory, a blob or both; got neither.")
        total = blob
    elif blob is None:
        total = memory
    else:
        total = memory + blob
    return total.clamp(0.0, 1.0)


def foveate_with_memory(
    images: torch.Tensor,
    blurred: torch.Tensor,
    memory: torch.Tensor | None,
    fixations: torch.Tensor | None,
    sigma: float,
) -> torch.Tensor:
    """What the model sees for a candidate fixation, given the memory of earlier ones.

    Args:
        images: (B, 3, H, W) images; ``blurred`` their blurred copies, same shape.
        memory: (B, 1, H, W) memory G of the earlier fixations, or None (G = 0).
        fixations: (B, 2) candidate fixations (row, col) in [-1, 1], or None for the
            view of the memory alone (``sigma`` is then unused).
        sigma: width of the candidate's Gaussian blob, used as given.

    Returns:
        ``images + (blurred - images) * (1 - clip(G + blob, 0, 1))``; with no memory and
        no fixation nothing is sharp and the result is (up to rounding) ``blurred``.
    """
    blob = None if fixations is None else gaussian_blob(fixations, images.shape[-2:], sigma)
    if memory is None and blob is None:
        weight = torch.zeros_like(images[:, :1])
    else:
        weight = sharpness_mask(memory, blob)
    return images + (blurred - images) * (1 - weight)
