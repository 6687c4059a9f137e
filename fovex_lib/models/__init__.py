"""Classifiers that FovEx explains.

* :mod:`.zoo` - ImageNet models by name (``load_model``, ``list_models``) behind one wrapper,
  :class:`~fovex_lib.models.zoo.ImageClassifier`, that knows the model's input mean / std
* :mod:`.small` - the small CNN and ViT trained on the synthetic data set (registered in the
  zoo as ``synthetic_cnn`` / ``synthetic_vit``; weights ship with the package)
* :mod:`.train_synthetic` - retrains them (``python -m fovex_lib.models.train_synthetic``)
"""

from . import small  # noqa: F401  (registers synthetic_cnn / synthetic_vit in the zoo)
from .zoo import (
    ImageClassifier,
    cached_weights,
    imagenet_classes,
    list_models,
    load_model,
    load_state_dict_file,
    register_model,
)

__all__ = [
    "ImageClassifier",
    "cached_weights",
    "imagenet_classes",
    "list_models",
    "load_model",
    "load_state_dict_file",
    "register_model",
]
