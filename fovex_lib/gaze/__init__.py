"""Human-gaze alignment: eye-tracking data sets, saliency metrics, reference maps.

* :mod:`fovex_lib.gaze.osie`, :mod:`fovex_lib.gaze.mit1003` - loaders returning
  :class:`~fovex_lib.gaze.records.GazeRecord` (stimulus + per-observer fixations)
* :mod:`fovex_lib.gaze.download` - checksummed, atomic downloads; data folder from the
  ``root`` argument or the ``FOVEX_DATA`` environment variable
* :mod:`fovex_lib.gaze.saliency_metrics` - NSS and AUC-Judd (MIT saliency benchmark)
* :mod:`fovex_lib.gaze.reference_maps` - centre-bias and inter-observer maps
* :mod:`fovex_lib.gaze.evaluate` - explanation maps back on the stimulus, the score table
* :mod:`fovex_lib.gaze.scanpaths` - human, FovEx, map-driven (winner-take-all) and random scanpaths
* :mod:`fovex_lib.gaze.scanpath_measures` - MultiMatch, ScanMatch, edit similarity, nearest-fixation distance
* :mod:`fovex_lib.gaze.scanpath_evaluate` - the scanpath table of chapter 8
"""

from .download import ENV_VAR, ChecksumError, data_root, download_file
from .evaluate import PAPER_TABLE2, evaluate_methods, evaluate_references, map_to_stimulus, summarise_gaze
from .mit1003 import download_mit1003, load_mit1003
from .osie import download_osie, load_osie
from .records import GazeDataset, GazeRecord
from .reference_maps import centre_bias_map, fixation_density, inter_observer_maps
from .saliency_metrics import auc_judd, judd_roc_curve, nss

__all__ = [
    "ENV_VAR",
    "ChecksumError",
    "data_root",
    "download_file",
    "load_osie",
    "download_osie",
    "load_mit1003",
    "download_mit1003",
    "GazeDataset",
    "GazeRecord",
    "nss",
    "auc_judd",
    "judd_roc_curve",
    "centre_bias_map",
    "fixation_density",
    "inter_observer_maps",
    "map_to_stimulus",
    "evaluate_methods",
    "evaluate_references",
    "summarise_gaze",
    "PAPER_TABLE2",
]
