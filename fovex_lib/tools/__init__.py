"""Book tooling: batch runs, caching, stored tables, statistics and figures.

* :mod:`.runner` - execute chapters as batch reports (``python -m fovex_lib run``)
* :mod:`.cache` - the resumable, sharded result cache
* :mod:`.results` - stored tables with provenance, ``RESULTS_VERSION``, atomic writes
* :mod:`.stats` - bootstrap confidence intervals, paired differences to FovEx
* :mod:`.plotting` - figures shared by the chapters
* :mod:`.report` - plain-text tables for the chapters' printed outputs
* :mod:`.site_assets` - the site's MathJax and widget scripts, fetched from npm (pinned)
* :mod:`.book_site` - Sphinx extension: repository URL, launch and download buttons
* :mod:`.site_check` - checks the built site (``make site-check``), in headless Chromium too

The speed benchmark is :mod:`fovex_lib.bench` (``python -m fovex_lib.bench``).
"""
