"""Faithfulness and localisation metrics for explanation maps (chapter 6).

* :mod:`~fovex_lib.metrics.drop_increase` - Average % Drop / % Increase (Chattopadhyay et al. 2018)
* :mod:`~fovex_lib.metrics.deletion_insertion` - Deletion / Insertion AUC (Petsiuk et al. 2018)
* :mod:`~fovex_lib.metrics.pointing_game` - Energy-Based Pointing Game (Wang et al. 2020)
* :mod:`~fovex_lib.metrics.evaluate` - the Table-1 loop (explain + score, cache, shards)
* :mod:`~fovex_lib.metrics.result` - :class:`MetricResult`, what every metric function returns

One API for every metric:

* leading arguments ``(model, images, maps, targets, ...)``: a model mapping (N, 3, H, W)
  images in [0, 1] to logits, the images, (N, 1, H, W) maps of the same size, and targets
  (None = the predicted class); work is batched on the model's device. The pointing game
  needs no model: ``energy_pointing_game(maps, regions)``.
* one result type, :class:`~fovex_lib.metrics.result.MetricResult` (``DropIncrease`` and
  ``Curves`` add their details): ``values`` is an (N,) float64 CPU tensor, one value per
  image; ``curves`` (N, K + 1) and ``fractions`` (K + 1,) where the metric has curves.
* one name, ``substrate``, for what hidden pixels become (``"black"``, ``"mean"``,
  ``"model_mean"``, ``"blur"`` or a tensor; :func:`make_substrate`); in the metric settings
  of the evaluation loop, where three metrics meet, ``drop_increase_substrate``,
  ``deletion_substrate`` and ``insertion_substrate``.

Deletion / insertion follow the RISE reference code; their default substrates are defined
in the model's normalised space, so they need the model's ``mean`` / ``std`` (any
:class:`~fovex_lib.models.zoo.ImageClassifier` has them).
"""

from .deletion_insertion import (
    SUBSTRATES,
    Curves,
    curve_auc,
    deletion,
    insertion,
    make_substrate,
    model_normalisation,
    perturbation_curves,
    pixel_ranks,
    rise_gaussian_kernel,
    substrate_name,
    trapezoid_auc,
)
from .drop_increase import DROP_SUBSTRATES, DropIncrease, drop_increase, mask_images
from .evaluate import METRIC_DEFAULTS, MethodScores, evaluate_method, metric_settings, score_maps, summarise_metrics
from .pointing_game import energy_pointing_game, region_masks
from .result import MetricResult

__all__ = [
    "MetricResult",
    "drop_increase",
    "DropIncrease",
    "mask_images",
    "DROP_SUBSTRATES",
    "deletion",
    "insertion",
    "perturbation_curves",
    "Curves",
    "curve_auc",
    "trapezoid_auc",
    "pixel_ranks",
    "make_substrate",
    "substrate_name",
    "model_normalisation",
    "rise_gaussian_kernel",
    "SUBSTRATES",
    "energy_pointing_game",
    "region_masks",
    "evaluate_method",
    "score_maps",
    "summarise_metrics",
    "metric_settings",
    "METRIC_DEFAULTS",
    "MethodScores",
]
