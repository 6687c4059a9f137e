"""Faithfulness and localisation metrics for explanation maps (chapter 6).

* :mod:`~fovex_lib.metrics.drop_increase` - Average % Drop / % Increase (Chattopadhyay et al. 2018)
* :mod:`~fovex_lib.metrics.deletion_insertion` - Deletion / Insertion AUC (Petsiuk et al. 2018)
* :mod:`~fovex_lib.metrics.pointing_game` - Energy-Based Pointing Game (Wang et al. 2020)
* :mod:`~fovex_lib.metrics.evaluate` - the Table-1 loop (explain + score, cache, shards)

Every function takes a model mapping (B, 3, H, W) images in [0, 1] to logits, the images,
(B, 1, H, W) maps of the same size, and targets (None = the predicted class); work is
batched on the model's device.
"""
from .deletion_insertion import (SUBSTRATES, Curves, deletion, insertion, make_substrate, perturbation_curves,
                                 pixel_ranks, trapezoid_auc)
from .drop_increase import MASK_MODES, DropIncrease, drop_increase, mask_images
from .evaluate import METRIC_DEFAULTS, MethodScores, evaluate_method, metric_settings, score_maps, summarise
from .pointing_game import energy_pointing_game, region_masks

__all__ = [
    "drop_increase", "DropIncrease", "mask_images", "MASK_MODES",
    "deletion", "insertion", "perturbation_curves", "Curves", "trapezoid_auc", "pixel_ranks", "make_substrate",
    "SUBSTRATES", "energy_pointing_game", "region_masks",
    "evaluate_method", "score_maps", "summarise", "metric_settings", "METRIC_DEFAULTS", "MethodScores",
]
