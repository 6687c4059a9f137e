"""fovex_lib: FovEx (foveation-based explanations, arXiv 2408.02123) in PyTorch.

The package is laid out by layer:

* :mod:`fovex_lib.method` - the method's stages, one module each: foveation, memory,
  fixations, attribution, and :class:`FovEx` that chains them (chapters 1-4)
* :mod:`fovex_lib.baselines` - Grad-CAM, Grad-CAM++, Random CAM, RISE, Meaningful
  Perturbation, GAE, class-embedding projection behind FovEx's interface (chapter 5)
* :mod:`fovex_lib.registry` - every method by name with named settings presets
  (``make_explainer``, ``list_methods``, ``applicable_methods``)
* :mod:`fovex_lib.metrics` - average % drop / increase, deletion / insertion, energy-based
  pointing game (chapter 6)
* :mod:`fovex_lib.gaze` - OSIE and MIT1003, NSS and AUC-Judd, reference maps (chapter 7)
* :mod:`fovex_lib.datasets` - photos (``load_image``), object boxes, the synthetic data set
* :mod:`fovex_lib.models` - classifiers by name (``load_model``) and the small synthetic models
* :mod:`fovex_lib.tools` - batch runs of chapters, result cache, stored tables, statistics, plots
* :mod:`fovex_lib.bench` - the speed benchmark (``python -m fovex_lib.bench``)

The names most people need are importable from here: ``from fovex_lib import FovEx,
load_model, load_image, make_explainer``.
"""

from .datasets.images import SAMPLE_IMAGES, load_image, sample_image_names
from .method.attribution import attribution_map, normalise_maps
from .method.explainer import Explainer, Explanation
from .method.fixations import Scanpath, loss_landscape, optimise_fixation, optimise_scanpath
from .method.foveation import foveate, gaussian_blob, gaussian_blur, to_normalised, to_pixels
from .method.fovex import FovEx, FovExOutput
from .method.memory import foveate_with_memory, update_memory
from .models import ImageClassifier, imagenet_classes, list_models, load_model  # also registers the small models
from .registry import applicable_methods, list_methods, make_explainer

__version__ = "0.1.0"

__all__ = [
    "FovEx",
    "FovExOutput",
    "Explainer",
    "Explanation",
    "load_model",
    "list_models",
    "ImageClassifier",
    "imagenet_classes",
    "load_image",
    "sample_image_names",
    "SAMPLE_IMAGES",
    "gaussian_blob",
    "gaussian_blur",
    "foveate",
    "to_pixels",
    "to_normalised",
    "update_memory",
    "foveate_with_memory",
    "optimise_fixation",
    "optimise_scanpath",
    "loss_landscape",
    "Scanpath",
    "attribution_map",
    "normalise_maps",
    "make_explainer",
    "list_methods",
    "applicable_methods",
]
