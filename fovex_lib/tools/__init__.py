"""Book tooling: batch runs, caching, stored tables, statistics and figures.

* :mod:`.runner` - execute chapters as batch reports (``python -m fovex_lib run``)
* :mod:`.cache` - the resumable, sharded result cache
* :mod:`.results` - stored tables with provenance, ``RESULTS_VERSION``, atomic writes
* :mod:`.stats` - bootstrap confidence intervals, paired differences to FovEx
* :mod:`.plotting` - figures shared by the chapters
* :mod:`.report` - plain-text tables for the chapters' printed outputs

The speed benchmark is :mod:`fovex_lib.bench` (``python -m fovex_lib.bench``).
"""
