"""Faithfulness and localisation metrics for explanation maps (chapter 6).

* :mod:`~fovex_lib.metrics.drop_increase` - Average % Drop / % Increase (Chattopadhyay et al. 2018)
* :mod:`~fovex_lib.metrics.deletion_insertion` - Deletion / Insertion AUC (Petsiuk et al. 2018)
* :mod:`~fovex_lib.metrics.pointing_game` - Energy-Based Pointing Game (Wang et al. 2020)
* :mod:`~fovex_lib.metrics.evaluate` - the Table-1 loop (explain + score, cache, shards)

Every function takes a model mapping (B, 3, H, W) images in [0, 1] to logits, the images,
(B, 1, H, W) maps of the same size, and targets (None = the predicted class); work is
batched on the model's device. Deletion / insertion follow the RISE reference code; their
default substrates are defined in the model's normalised space, so they need the model's
``mean`` / ``std`` (any :class:`~fovex_lib.models.zoo.ImageClassifier` has them).
"""
from .deletion_insertion import (SUBSTRATES, Curves, curve_auc, deletion, insertion, make_substrate,
                                 model_normalisation, perturbation_curves, pixel_ranks, rise_gaussian_kernel,
                                 trapezoid_auc)
from .drop_increase import MASK_MODES, DropIncrease, drop_increase, mask_images
from .evaluate import METRIC_DEFAULTS, MethodScores, evaluate_method, metric_settings, score_maps, summarise
from .pointing_game import energy_pointing_game, region_masks

__all__ = [
    "drop_increase", "DropIncrease", "mask_images", "MASK_MODES",
    "deletion", "insertion", "perturbation_curves", "Curves", "curve_auc", "trapezoid_auc", "pixel_ranks",
    "make_substrate", "model_normalisation", "rise_gaussian_kernel", "SUBSTRATES",
    "energy_pointing_game", "region_masks",
    "evaluate_method", "score_maps", "summarise", "metric_settings", "METRIC_DEFAULTS", "MethodScores",
]
