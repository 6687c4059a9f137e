"""fovex_lib: FovEx (foveation-based explanations) in PyTorch, one module per stage.

* :mod:`fovex_lib.foveation` - Gaussian blob, blur, foveated image (stage 1)
* :mod:`fovex_lib.memory` - memory state with forgetting (stage 2)
* :mod:`fovex_lib.fixations` - sign-gradient fixation search, scanpaths (stage 3)
* :mod:`fovex_lib.attribution` - scanpath -> attribution map (stage 4)
* :mod:`fovex_lib.fovex` - the :class:`FovEx` explainer
* :mod:`fovex_lib.models`, :mod:`fovex_lib.images` - models and pictures that work offline
* :mod:`fovex_lib.synthetic`, :mod:`fovex_lib.small_models` - synthetic evidence data set and
  the small CNN / ViT trained on it (``python -m fovex_lib.train_synthetic`` retrains them)
* :mod:`fovex_lib.baselines` - Grad-CAM, Grad-CAM++, Random CAM, RISE, Meaningful Perturbation,
  GAE, class-embedding projection behind FovEx's interface (``make_explainer(name, model)``)
* :mod:`fovex_lib.metrics` - average % drop / increase, deletion / insertion, energy-based
  pointing game; :mod:`fovex_lib.boxes`, :mod:`fovex_lib.imagenet_val` - object boxes
* :mod:`fovex_lib.gaze` - OSIE and MIT1003 loaders, NSS and AUC-Judd, reference maps
* :mod:`fovex_lib.precision` - bf16 autocast / channels-last for the metrics (and FovEx)
* :mod:`fovex_lib.runner` (``python -m fovex_lib run``), :mod:`fovex_lib.cache`,
  :mod:`fovex_lib.bench` (``python -m fovex_lib.bench``) - batch reports, resumable sharded
  runs, speed
"""
from .attribution import attribution_map, normalise_maps
from .explainer import Explainer, Explanation
from .fixations import Scanpath, loss_landscape, optimise_fixation, optimise_scanpath
from .foveation import foveate, gaussian_blob, gaussian_blur, to_normalised, to_pixels
from .fovex import FovEx, FovExOutput
from .images import SAMPLE_IMAGES, load_image, sample_image_names
from .memory import foveate_with_memory, update_memory
from .models import ImageClassifier, imagenet_classes, list_models, load_model
from . import small_models, synthetic  # noqa: F401,E402  (registers synthetic_cnn / synthetic_vit)

__version__ = "0.1.0"

__all__ = [
    "FovEx", "FovExOutput", "Explainer", "Explanation", "load_model", "list_models", "ImageClassifier",
    "imagenet_classes", "load_image", "sample_image_names", "SAMPLE_IMAGES", "gaussian_blob",
    "gaussian_blur", "foveate", "to_pixels", "to_normalised", "update_memory", "foveate_with_memory",
    "optimise_fixation", "optimise_scanpath", "loss_landscape", "Scanpath", "attribution_map", "normalise_maps",
]
