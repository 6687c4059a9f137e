"""Pictures and labels that work offline.

* :mod:`.images` - bundled photos and user files (``load_image``)
* :mod:`.boxes` - object boxes of the bundled photos (energy-based pointing game)
* :mod:`.imagenet_val` - ImageNet validation images and boxes, when a user has them
* :mod:`.synthetic` - the synthetic evidence data set (appendix A)

Gaze data sets (OSIE, MIT1003) live in :mod:`fovex_lib.gaze`.
"""
