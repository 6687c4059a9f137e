"""Stage 3: choosing fixations by gradient descent on the fixation position.

For one fixation, every image in the batch starts at the image centre ``(0, 0)``
and takes ``steps`` sign-gradient steps on the cross-entropy of the target class::

    loss(f) = CE(model(foveate_with_memory(x, G, f)), target)
    f      <- clip(f - lr * sign(d loss / d f), -1, 1)

The position with the lowest loss *seen* is kept. When a step did not lower the
best loss, the next position is a random restart drawn uniformly in [-1, 1]^2
(``restarts=True``, the published setting) or the stepped position jittered by
``U(-lr/2, lr/2)`` per coordinate (``restarts=False``).

A scanpath repeats this ``L`` times, adding each chosen fixation to the memory
state (:mod:`fovex_lib.method.memory`) so that later fixations look for new evidence.

Deliberate differences from the FovEx reference code (each one documented):

* the best position is the one whose loss was *evaluated* (the reference stores the
  position after the step, whose loss was never computed);
* positions are kept inside the image, ``[-1, 1]^2``, after every step (the
  reference lets them drift outside, where a blob is mostly off the image);
* randomness comes from one ``torch.Generator`` seeded with ``seed`` (an int in
  ``[0, 2**63)``, see :func:`fovex_lib._checks.check_seed`): all random
  numbers of a run (one uniform pair per fixation and step) are drawn up front on
  the CPU and shared by every image of the batch, so an image gets the same scanpath
  alone or in any batch, on any device, and no global RNG is touched (the reference
  seeds the global RNGs and draws only for the images that need it);
* each image's loss is differentiated on its own (sum of per-image losses), which
  gives the same sign as the reference's batch mean and works for any batch size;
* NaN or infinite logits (or a NaN gradient with respect to the position) raise a
  ``ValueError`` at the end of the search, naming the images: a fixation chosen from
  NaN losses would be arbitrary. The check costs one device synchronisation per fixation.

Speed: pass a model wrapped by :func:`fovex_lib.method.precision.with_precision` (bf16 autocast
and/or channels-last; :class:`~fovex_lib.method.fovex.FovEx` does this when asked). Only the
model's forward and backward passes change; the foveation, the memory, the loss (on
float32 logits), the gradient with respect to the position and all bookkeeping stay in
float32. Sign-gradient steps are discrete, so a tiny change of a gradient can flip a step
and the scanpath may then differ; the tolerance measured against float32 is documented
and tested in ``tests/test_precision.py`` and appendix B.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .._checks import check_count, check_finite_logits, check_fraction, check_logits, check_positive, check_seed
from .foveation import gaussian_blob
from .memory import foveate_with_memory, update_memory

__all__ = ["FixationSearch", "Scanpath", "random_draws", "optimise_fixation", "optimise_scanpath", "loss_landscape"]


@dataclass
class FixationSearch:
    """The result of optimising one fixation for a batch of B images.

    Attributes:
        best: (B, 2) chosen fixation (row, col) in [-1, 1].
        best_loss: (B,) cross-entropy at ``best``.
        positions: (B, steps, 2) every position whose loss was evaluated, in order.
        losses: (B, steps) the loss at each of those positions.
        restarted: (B, steps) True where the *next* position was a restart/jitter
            because this step did not improve the best loss.
    """

    best: torch.Tensor
    best_loss: torch.Tensor
    positions: torch.Tensor
    losses: torch.Tensor
    restarted: torch.Tensor


@dataclass
class Scanpath:
    """The result of :func:`optimise_scanpath` for a batch of B images.

    Attributes:
        fixations: (B, L, 2) chosen fixations, (row, col) in [-1, 1], in order.
        losses: (B, L) cross-entropy at each chosen fixation (memory included).
        positions: (B, L, steps, 2) every evaluated position of every search.
        step_losses: (B, L, steps) the loss at each of those positions.
        restarted: (B, L, steps) see :class:`FixationSearch`.
        memory: (B, 1, H, W) memory state after the last fixation.
    """

    fixations: torch.Tensor
    losses: torch.Tensor
    positions: torch.Tensor
    step_losses: torch.Tensor
    restarted: torch.Tensor
    memory: torch.Tensor


def random_draws(seed: int, scanpath_length: int, steps: int) -> torch.Tensor:
    """All uniform [0, 1) numbers a run needs, shape (L, steps, 2), from a CPU generator.

    Drawing on the CPU makes runs identical across devices; the tensor is moved to
    the model's device once, outside the optimisation loop.
    """
    generator = torch.Generator(device="cpu").manual_seed(check_seed(seed))
    return torch.rand(scanpath_length, steps, 2, generator=generator)


def optimise_fixation(
    model: torch.nn.Module,
    images: torch.Tensor,
    blurred: torch.Tensor,
    memory: torch.Tensor | None,
    targets: torch.Tensor,
    *,
    steps: int = 20,
    lr: float = 0.1,
    sigma: float = 0.15,
    restarts: bool = True,
    draws: torch.Tensor | None = None,
) -> FixationSearch:
    """Search one fixation per image by sign-gradient descent (see module docstring).

    Args:
        model: maps (B, 3, H, W) images in [0, 1] to (B, C) logits.
        images, blurred: (B, 3, H, W) original and blurred images.
        memory: (B, 1, H, W) memory state, or None for the first fixation.
        targets: (B,) class indices.
        steps: number of evaluated positions (forward + backward passes).
        lr: step length in normalised units (the image spans 2).
        sigma: foveation width.
        restarts: random restarts (True) or jitter (False) when a step does not improve.
        draws: (steps, 2) uniform numbers on the images' device; default from seed 0.
    """
    steps = check_count(steps, "steps")
    lr = check_positive(lr, "lr")
    batch = images.shape[0]
    device = images.device
    if draws is None:
        draws = random_draws(0, 1, steps)[0]
    draws = draws.to(device=device, dtype=images.dtype)

    position = torch.zeros(batch, 2, device=device, dtype=images.dtype)  # the image centre
    best = position.clone()
    best_loss = torch.full((batch,), float("inf"), device=device, dtype=images.dtype)
    positions, losses, restarted = [], [], []
    finite = torch.ones(batch, dtype=torch.bool, device=device)  # checked once, after the loop
    for step in range(steps):
        position.requires_grad_(True)
        seen = foveate_with_memory(images, blurred, memory, position, sigma)
        logits = check_logits(model(seen), batch)
        if logits.dtype not in (torch.float32, torch.float64):
            logits = logits.float()  # cross-entropy in full precision under autocast
        loss = F.cross_entropy(logits, targets, reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), position)
        finite &= torch.isfinite(logits.detach()).all(dim=1) & torch.isfinite(grad).all(dim=1)
        position, loss = position.detach(), loss.detach().to(images.dtype)

        improved = loss < best_loss
        best_loss = torch.where(improved, loss, best_loss)
        best = torch.where(improved[:, None], position, best)
        positions.append(position)
        losses.append(loss)
        restarted.append(~improved)

        stepped = position - lr * torch.sign(grad)
        if restarts:
            fallback = (draws[step] * 2 - 1).expand_as(stepped)
        else:
            fallback = stepped + draws[step] * lr - lr / 2
        position = torch.where(improved[:, None], stepped, fallback).clamp(-1.0, 1.0)

    check_finite_logits(finite, "(or NaN gradients) during the fixation search")
    return FixationSearch(best, best_loss, torch.stack(positions, 1), torch.stack(losses, 1), torch.stack(restarted, 1))


def optimise_scanpath(
    model: torch.nn.Module,
    images: torch.Tensor,
    blurred: torch.Tensor,
    targets: torch.Tensor,
    *,
    scanpath_length: int = 10,
    steps: int = 20,
    lr: float = 0.1,
    sigma: float = 0.15,
    forgetting: float = 0.1,
    restarts: bool = True,
    seed: int = 0,
    progress: bool = False,
) -> Scanpath:
    """Choose ``scanpath_length`` fixations per image, updating the memory after each."""
    scanpath_length = check_count(scanpath_length, "scanpath_length")
    steps = check_count(steps, "steps")
    sigma = check_positive(sigma, "sigma")
    forgetting = check_fraction(forgetting, "forgetting")
    draws = random_draws(seed, scanpath_length, steps).to(images.device)
    size = images.shape[-2:]

    memory = None
    searches = []
    for t in tqdm(range(scanpath_length), desc="fixations", disable=not progress, leave=False):
        search = optimise_fixation(
            model, images, blurred, memory, targets, steps=steps, lr=lr, sigma=sigma, restarts=restarts, draws=draws[t]
        )
        memory = update_memory(memory, gaussian_blob(search.best, size, sigma), forgetting)
        searches.append(search)

    def stack(name):
        return torch.stack([getattr(s, name) for s in searches], 1)

    assert memory is not None  # scanpath_length >= 1 (checked above)
    return Scanpath(stack("best"), stack("best_loss"), stack("positions"), stack("losses"), stack("restarted"), memory)


@torch.no_grad()
def loss_landscape(
    model: torch.nn.Module,
    image: torch.Tensor,
    blurred: torch.Tensor,
    memory: torch.Tensor | None,
    target: int,
    *,
    sigma: float = 0.15,
    resolution: int = 15,
    batch_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of ``target`` for a fixation at every point of a grid (one image).

    Args:
        image, blurred: (1, 3, H, W); memory: (1, 1, H, W) or None.
        resolution: grid points per axis on [-1, 1].
        batch_size: fixations evaluated per forward pass.

    Returns:
        ``(grid, losses)``: grid (R, R, 2) of (row, col) positions and losses (R, R).
    """
    resolution = check_count(resolution, "resolution")
    axis = torch.linspace(-1, 1, resolution, device=image.device, dtype=image.dtype)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), -1)
    flat = grid.reshape(-1, 2)
    targets = torch.full((flat.shape[0],), int(target), device=image.device, dtype=torch.long)
    chunks = []
    for start in range(0, flat.shape[0], batch_size):
        chunk = flat[start : start + batch_size]
        n = chunk.shape[0]
        mem = None if memory is None else memory.expand(n, -1, -1, -1)
        seen = foveate_with_memory(image.expand(n, -1, -1, -1), blurred.expand(n, -1, -1, -1), mem, chunk, sigma)
        logits = check_logits(model(seen), n)
        chunks.append(F.cross_entropy(logits.float(), targets[start : start + n], reduction="none"))
    losses = torch.cat(chunks)
    check_finite_logits(torch.isfinite(losses), "on the loss-landscape grid", items="grid point(s), row-major index")
    return grid, losses.view(resolution, resolution)
