"""Random CAM: a sanity-check baseline (the "model randomisation" spirit of Adebayo et al. 2018).

It is Grad-CAM with the channel weights replaced by random numbers,
``alpha_k ~ U(-1, 1)``, as in pytorch-grad-cam's ``RandomCAM``: the map still has
the layer's activation structure (objects light up somewhat) but no link to the
target class. A metric that cannot tell a method from Random CAM says little.

Difference from the package: ``RandomCAM`` draws from NumPy's *global* generator
(a new draw per image). Here the weights come from ``numpy.random.default_rng(seed)``:
one weight vector per call, shared by every image of the batch, so results are
reproducible and an image's map does not depend on its batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from torch import nn

from .._checks import check_seed
from .gradcam import CAMExplainer

__all__ = ["RandomCAM"]


def _seeded_random_cam_class():
    from pytorch_grad_cam import RandomCAM as _RandomCAM

    class SeededRandomCAM(_RandomCAM):
        """pytorch-grad-cam's RandomCAM with weights from a seeded generator (see module docstring)."""

        seed = 0

        def get_cam_weights(self, input_tensor, target_layer, target_category, activations, grads):
            channels = activations.shape[1]
            weights = np.random.default_rng(self.seed).uniform(-1.0, 1.0, size=channels)
            return np.broadcast_to(weights, (activations.shape[0], channels)).astype(np.float32)

    return SeededRandomCAM


class RandomCAM(CAMExplainer):
    """Random CAM sanity baseline.

    Args:
        model, target_layers, reshape_transform: as for :class:`~fovex_lib.baselines.gradcam.GradCAM`.
        seed: seeds the random channel weights (default 0).
    """

    name = "Random CAM"

    def __init__(
        self,
        model: nn.Module,
        target_layers: Sequence[nn.Module] | None = None,
        reshape_transform: Callable | None = None,
        seed: int = 0,
    ):
        super().__init__(model, target_layers, reshape_transform)
        self.seed = check_seed(seed)

    def _make_cam(self):
        cam = _seeded_random_cam_class()(
            model=self.model, target_layers=self.target_layers, reshape_transform=self.reshape_transform
        )
        cam.seed = self.seed
        return cam
