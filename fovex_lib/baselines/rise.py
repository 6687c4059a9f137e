"""RISE: Randomized Input Sampling for Explanation (Petsiuk, Das & Saenko, BMVC 2018).

The saliency of pixel u for class c is the expected score of the masked image,
given that u was kept:

    S_c(u) = 1 / (N p) * sum_i f_c(x * M_i) * M_i(u)

with N random masks M_i. Each mask is a coarse s x s grid of independent
Bernoulli(p) cells, upsampled bilinearly to ``(s + 1) * cell`` pixels
(``cell = ceil(H / s)``) and cropped at a random offset in ``[0, cell)`` so that
the soft cell borders fall anywhere. f_c is the **softmax probability** of the
target (the authors' code appends a softmax to the model).

Defaults and sources: ``n_masks = 4000``, ``s = 7``, ``p = 0.5`` (the paper's
ResNet-50 setting); the crop-and-shift mask construction and the ``1 / (N p)``
normalisation follow the authors' code (github.com/eclique/RISE, ``explanations.py``).

Differences, all documented: the masks are made on the model's device in torch
(``F.interpolate(..., mode="bilinear", align_corners=False)`` instead of
scikit-image's ``resize``) from a CPU ``torch.Generator`` seeded with ``seed`` (so a
seed gives the same masks on every device); the same
N masks are used for every image of a batch (so a batch gives exactly the maps of
one-at-a-time runs); masked pixels take the value ``fill`` (default 0 = black in
[0, 1] RGB: the paper's ``x * M``; the authors' code multiplies the *normalised*
image, which amounts to filling with the data set mean: pass
``fill=model.mean`` values to imitate it). The final map is min-max normalised per
image so that every explainer returns maps in [0, 1] (RISE's raw scale is a
probability, the normalisation does not change the ranking).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .._checks import check_count, check_fraction, check_seed
from ..method.attribution import normalise_maps
from ..method.explainer import Explainer, Explanation

__all__ = ["RISE", "rise_masks"]


def rise_masks(
    n_masks: int,
    size: tuple[int, int],
    grid_size: int = 7,
    p: float = 0.5,
    seed: int = 0,
    device="cpu",
    start: int = 0,
    stop: int | None = None,
) -> torch.Tensor:
    """RISE masks ``start:stop`` of the sequence of ``n_masks`` defined by ``seed``: (n, 1, H, W) in [0, 1].

    All random numbers (the N coarse grids and N shifts) are drawn at once, so any
    slice is the same whether the masks are made in one go or in chunks.
    """
    height, width = size
    # The random numbers come from a CPU generator on every device, so a seed gives the same
    # masks on a CPU and a GPU (a CUDA generator draws other numbers); they are small.
    gen = torch.Generator().manual_seed(seed)
    grids = (torch.rand(n_masks, 1, grid_size, grid_size, generator=gen) < p).float().to(device)
    cell_h, cell_w = math.ceil(height / grid_size), math.ceil(width / grid_size)
    shifts = torch.rand(n_masks, 2, generator=gen).to(device)
    shift_h = (shifts[:, 0] * cell_h).long().clamp_max(cell_h - 1)
    shift_w = (shifts[:, 1] * cell_w).long().clamp_max(cell_w - 1)
    stop = n_masks if stop is None else stop
    up = F.interpolate(
        grids[start:stop],
        size=((grid_size + 1) * cell_h, (grid_size + 1) * cell_w),
        mode="bilinear",
        align_corners=False,
    )
    rows = shift_h[start:stop, None] + torch.arange(height, device=device)[None]  # (n, H)
    cols = shift_w[start:stop, None] + torch.arange(width, device=device)[None]  # (n, W)
    index = torch.arange(stop - start, device=device)[:, None, None]
    return up[:, 0][index, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


class RISE(Explainer):
    """RISE explainer (model-agnostic: needs only forward passes).

    Args:
        model: maps (B, 3, H, W) in [0, 1] to (B, C) logits.
        n_masks: number of random masks N (paper, ResNet-50: 4000).
        grid_size: coarse grid side s (paper: 7).
        p: probability of keeping a cell (paper: 0.5).
        batch_size: masked images per forward pass (authors' code: 100).
        fill: value of masked pixels in [0, 1]: a number or 3 per-channel values (default 0).
        seed: seeds the masks (default 0); no global RNG is used.
        progress: show a progress bar over mask chunks.
    """

    name = "RISE"

    def __init__(
        self,
        model: nn.Module,
        n_masks: int = 4000,
        grid_size: int = 7,
        p: float = 0.5,
        batch_size: int = 100,
        fill=0.0,
        seed: int = 0,
        progress: bool = False,
    ):
        super().__init__(model)
        self.n_masks = check_count(n_masks, "n_masks")
        self.grid_size = check_count(grid_size, "grid_size")
        self.p = check_fraction(p, "p")
        if self.p == 0.0:
            raise ValueError("p must be > 0 (with p = 0 every mask hides the whole image).")
        self.batch_size = check_count(batch_size, "batch_size")
        fill_t = torch.as_tensor(fill, dtype=torch.float32).flatten()
        if fill_t.numel() not in (1, 3) or not torch.all((fill_t >= 0) & (fill_t <= 1)):
            raise ValueError(f"fill must be a number or 3 numbers in [0, 1], got {fill!r}.")
        self.fill = fill_t
        self.seed = check_seed(seed)
        self.progress = progress

    @torch.no_grad()
    def explain(self, images: torch.Tensor, targets: torch.Tensor) -> Explanation:
        batch, _, height, width = images.shape
        fill = self.fill.to(images).view(1, -1, 1, 1)
        masks_per_pass = max(1, self.batch_size // batch)
        saliency = torch.zeros(batch, 1, height, width, device=images.device, dtype=images.dtype)
        starts = range(0, self.n_masks, masks_per_pass)
        for start in tqdm(starts, desc="RISE", disable=not self.progress):
            stop = min(start + masks_per_pass, self.n_masks)
            masks = rise_masks(
                self.n_masks, (height, width), self.grid_size, self.p, self.seed, images.device, start, stop
            ).to(images.dtype)  # (n, 1, H, W)
            masked = images[:, None] * masks[None] + fill[:, None] * (1 - masks[None])  # (B, n, 3, H, W)
            probs = self.model(masked.flatten(0, 1)).softmax(dim=1).view(batch, stop - start, -1)
            scores = probs.gather(2, targets.view(batch, 1, 1).expand(-1, stop - start, 1))  # (B, n, 1)
            saliency += torch.einsum("bn,nhw->bhw", scores[..., 0], masks[:, 0]).unsqueeze(1)
        saliency /= self.n_masks * self.p
        return Explanation(saliency=normalise_maps(saliency), targets=targets)
