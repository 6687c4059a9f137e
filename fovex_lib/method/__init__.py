"""The FovEx method, one module per stage (chapters 1-4 of the book).

* :mod:`.foveation` - Gaussian blob, blur, foveated image (stage 1)
* :mod:`.memory` - memory state with forgetting (stage 2)
* :mod:`.fixations` - sign-gradient fixation search, scanpaths (stage 3)
* :mod:`.attribution` - scanpath -> attribution map (stage 4)
* :mod:`.fovex` - the :class:`~fovex_lib.method.fovex.FovEx` explainer that chains them
* :mod:`.explainer` - the ``explainer(images, target) -> Explanation`` interface every method shares
* :mod:`.precision` - bf16 autocast / channels-last for FovEx and the metrics
"""
