"""FovEx: foveation-based explanations (Panda et al., arXiv 2408.02123).

Puts the four stages together: blur the image once, choose a scanpath of
fixations by gradient descent with a memory state, and turn the scanpath into a
map. Defaults are the published ViT-B/16 settings.

Scanpath convention: ``out.scanpath[b, i] = (row, col)`` of fixation ``i`` of image
``b`` in normalised coordinates, ``-1`` = top/left, ``+1`` = bottom/right (pixel
centres of the edge pixels); ``fovex_lib.to_pixels`` converts to pixel indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._checks import check_count, check_fraction, check_positive, check_seed, check_weights
from .attribution import attribution_map
from .explainer import Explainer, Explanation
from .fixations import Scanpath, optimise_scanpath
from .foveation import gaussian_blur
from .precision import check_autocast_dtype, with_precision

__all__ = ["FovEx", "FovExOutput"]


@dataclass
class FovExOutput(Explanation):
    """FovEx result: ``saliency`` (B,1,H,W), ``targets`` (B,), ``scanpath`` (B,L,2) and
    ``search``, the full :class:`~fovex_lib.method.fixations.Scanpath` (every evaluated position)."""

    scanpath: torch.Tensor
    search: Scanpath


class FovEx(Explainer):
    """Foveation-based explainer.

    Args:
        model: maps (B, 3, H, W) in [0, 1] to (B, C) logits (CNN or transformer).
        scanpath_length: number of fixations L (paper: 10).
        steps: gradient steps per fixation (paper: 20).
        lr: sign-gradient step length in normalised units (paper: 0.1).
        sigma: foveation width, ``exp(-d^2 / sigma)`` (paper: 0.15).
        blur_kernel_size, blur_sigma: peripheral blur (paper: 41, 10).
        forgetting: memory forgetting factor in [0, 1] (paper: 0.1).
        heatmap_sigma: width of the Gaussians of the final map (paper: 0.15).
        restarts: random restarts (True, paper) or jitter (False) when a step does not improve.
        weights: alpha_i for the map, finite numbers >= 0 of shape (L,) or (B, L), at
            least one positive per image; default all ones. NaN or negative weights raise.
        seed: seeds the explainer's own generator, an int in [0, 2**63); no global RNG is touched.
        progress: show a progress bar over fixations.
        autocast_dtype: None (default: everything in float32) or ``torch.bfloat16``
            (also ``"bf16"``) / ``torch.float16``: run the model's forward and backward
            passes under ``torch.autocast`` for speed on GPUs. The fixation positions,
            memory, loss and map stay in float32. Results stay within the tolerance
            documented in appendix B (not bit-identical: a sign-gradient step can flip).
        channels_last: convert the model to channels-last memory format (in place, once,
            here) and feed it channels-last images; same values, faster convolutions on GPU.

    Example::

        ex = FovEx(load_model("efficientnet_lite0"), seed=0)
        out = ex(load_image("coffee"))      # target=None explains the predicted class
        out.saliency, out.scanpath
    """

    name = "FovEx"

    def __init__(
        self,
        model: torch.nn.Module,
        scanpath_length: int = 10,
        steps: int = 20,
        lr: float = 0.1,
        sigma: float = 0.15,
        blur_kernel_size: int = 41,
        blur_sigma: float = 10.0,
        forgetting: float = 0.1,
        heatmap_sigma: float = 0.15,
        restarts: bool = True,
        weights=None,
        seed: int = 0,
        progress: bool = False,
        autocast_dtype: torch.dtype | str | None = None,
        channels_last: bool = False,
    ):
        super().__init__(model)
        self.scanpath_length = check_count(scanpath_length, "scanpath_length")
        self.steps = check_count(steps, "steps")
        self.lr = check_positive(lr, "lr")
        self.sigma = check_positive(sigma, "sigma")
        self.blur_kernel_size = blur_kernel_size
        self.blur_sigma = check_positive(blur_sigma, "blur_sigma")
        self.forgetting = check_fraction(forgetting, "forgetting")
        self.heatmap_sigma = check_positive(heatmap_sigma, "heatmap_sigma")
        self.restarts = bool(restarts)
        check_weights(weights, self.scanpath_length)  # fail here, not after the search
        self.weights = weights
        self.seed = check_seed(seed)
        self.progress = progress
        # The fixation search runs the model through this wrapper (the model itself when
        # neither option is asked for); the target prediction stays in float32.
        self.search_model = with_precision(model, autocast_dtype, channels_last)
        self.autocast_dtype = check_autocast_dtype(autocast_dtype)
        self.channels_last = channels_last

    def explain(self, images: torch.Tensor, targets: torch.Tensor) -> FovExOutput:
        blurred = gaussian_blur(images, self.blur_kernel_size, self.blur_sigma)
        search = optimise_scanpath(
            self.search_model,
            images,
            blurred,
            targets,
            scanpath_length=self.scanpath_length,
            steps=self.steps,
            lr=self.lr,
            sigma=self.sigma,
            forgetting=self.forgetting,
            restarts=self.restarts,
            seed=self.seed,
            progress=self.progress,
        )
        saliency = attribution_map(search.fixations, images.shape[-2:], self.heatmap_sigma, self.weights)
        return FovExOutput(saliency=saliency, targets=targets, scanpath=search.fixations, search=search)
