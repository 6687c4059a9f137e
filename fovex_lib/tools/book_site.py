"""Sphinx extension for the book's site: repository links, launch and download buttons.

Loaded by ``_config.yml`` (``sphinx: extra_extensions``). It does four things:

* **Repository URL from the deploy step.** The URL is never written into ``_config.yml``:
  the build reads it from the environment variable ``BOOK_REPOSITORY_URL`` (and the branch
  from ``BOOK_REPOSITORY_BRANCH``, default ``main``). The GitHub Pages workflow
  (``.github/workflows/deploy.yml``) sets both from its own repository; locally
  ``make book BOOK_REPOSITORY_URL=https://github.com/OWNER/REPO`` does the same. A URL in
  ``_config.yml``'s ``repository: url`` is used when the variable is unset.
* **Launch buttons only with a URL.** With a repository URL, the Colab and Binder buttons
  configured in ``_config.yml`` (``launch_buttons``) and a repository button are shown on
  every notebook page; without one they are removed, so a local build has no broken
  buttons (sphinx-book-theme would otherwise fail on them).
* **Download of the MyST source.** Next to the ``.ipynb`` in each notebook page's download
  menu, a ``.md`` entry offers the paired MyST file (``book/chapters/NN_name.md``), copied
  into ``_sources/``.
* **The** ``repo-file`` **role**: ``{repo-file}`README.md``` links a file of the repository
  on the repository's site when the URL is known, and otherwise names it as a path in the
  repository. **The** ``repo-text`` **role** writes code text with the repository's URL
  filled in (:class:`RepoTextRole`).

It also loads the site's own CSS and search-snippet script (``book/_static/``), drops
the duplicated inline scripts that sphinx-thebe and sphinx-togglebutton leave on every page,
stops the build early, with the command to run, when the static assets of
:mod:`fovex_lib.tools.site_assets` (MathJax, the widget manager) have not been fetched, and
copies the widget manager's icon fonts beside the notebook pages (:func:`_copy_widget_fonts`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.util.docutils import SphinxRole

__all__ = ["repository_url", "setup"]

_ENV_URL = "BOOK_REPOSITORY_URL"
_ENV_BRANCH = "BOOK_REPOSITORY_BRANCH"


def repository_url(config: Config) -> str:
    """The repository URL of this build ('' when none is set), without a trailing slash."""
    options = config.html_theme_options or {}
    url = os.environ.get(_ENV_URL, "").strip() or str(options.get("repository_url") or "").strip()
    return url.rstrip("/").removesuffix(".git")


def _repository_branch(config: Config) -> str:
    options = config.html_theme_options or {}
    return os.environ.get(_ENV_BRANCH, "").strip() or str(options.get("repository_branch") or "") or "main"


def _configure_repository(app: Sphinx, config: Config) -> None:
    options = dict(config.html_theme_options or {})
    # One search box: the one at the top of the sidebar (Ctrl+K). Without this the theme
    # also draws a header bar across the page that holds nothing but a second search box.
    options["navbar_persistent"] = []
    url = repository_url(config)
    # recorded as a config value so that a changed URL makes Sphinx re-read every page
    config.book_repository_url = f"{url}@{_repository_branch(config)}" if url else ""
    if url:
        options["repository_url"] = url
        options["repository_branch"] = _repository_branch(config)
        options["use_repository_button"] = True
    else:
        # No repository: no launch buttons (they would point nowhere) and no repository button.
        options["repository_url"] = ""
        options["launch_buttons"] = {}
        options["use_repository_button"] = False
    config.html_theme_options = options


def _check_static_assets(app: Sphinx, config: Config) -> None:
    """Fail early, with the fix, if the fetched MathJax is missing from html_static_path."""
    mathjax = str(config.mathjax_path or "")
    if not mathjax or "://" in mathjax or mathjax.startswith("/"):
        return
    confdir = Path(app.confdir)
    for static in config.html_static_path:
        if (confdir / static / mathjax).is_file():
            return
    raise ConfigError(
        f"mathjax_path {mathjax!r} is not in html_static_path {list(config.html_static_path)}: fetch the "
        "site's scripts first, with `make book` or `python -m fovex_lib.tools.site_assets _build/site_assets`"
    )


def _paired_markdown(app: Sphinx, pagename: str) -> Path | None:
    """The MyST .md paired with a notebook page (same folder and stem), if there is one."""
    source = Path(app.env.doc2path(pagename))
    if source.suffix != ".ipynb":
        return None
    paired = source.with_suffix(".md")
    return paired if paired.is_file() else None


def _add_markdown_download(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: nodes.document | None
) -> None:
    paired = _paired_markdown(app, pagename)
    if paired is None:
        return
    groups = [b for b in context.get("header_buttons", []) if b.get("label") == "download-buttons"]
    if not groups:
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(paired, target)
    button = {
        "type": "link",
        "url": f"{context['pathto']('_sources', 1)}/{pagename}.md",
        "text": ".md",
        "tooltip": "Download the MyST Markdown source (jupytext)",
        "icon": "fas fa-file-lines",
        "label": "download-myst-button",
    }
    buttons = groups[0]["buttons"]
    # after the notebook's own entry (.ipynb), before "Print to PDF"
    at = next((i for i, b in enumerate(buttons) if b.get("label") == "download-pdf-button"), len(buttons))
    buttons.insert(at, button)


def _drop_duplicate_assets(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: nodes.document | None
) -> None:
    """Keep one of each script and stylesheet of a page.

    sphinx-thebe and sphinx-togglebutton register their inline configuration scripts in a
    way that puts them twice on every page; the second ``const THEBE_JS_URL = ...`` is a
    JavaScript error ("Identifier has already been declared") on every page.
    """
    for key in ("script_files", "css_files"):
        assets = context.get(key)
        if not assets:
            continue
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        kept = []
        for asset in assets:
            attributes = getattr(asset, "attributes", {}) or {}
            identity = (
                str(getattr(asset, "filename", asset) or ""),  # inline scripts: None or ""
                tuple(sorted((k, str(v)) for k, v in attributes.items())),
            )
            if identity in seen:
                continue
            seen.add(identity)
            kept.append(asset)
        context[key] = kept


#: What ``{url}`` becomes in a ``repo-text`` role when the build has no repository URL.
PLACEHOLDER_URL = "https://github.com/OWNER/REPO"


class RepoTextRole(SphinxRole):
    """``{repo-text}`%env FOVEX_REPO_URL={url}```: code text with the repository's address.

    ``{url}`` becomes the repository URL of the build (:data:`PLACEHOLDER_URL` when none is
    set) and ``{branch}`` its branch, so the published book shows the command a reader can
    copy (e.g. the line that lets a chapter's first cell install ``fovex_lib`` on Colab).
    """

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        text = self.text.strip()
        filled = text.replace("{url}", repository_url(self.config) or PLACEHOLDER_URL).replace(
            "{branch}", _repository_branch(self.config)
        )
        return [nodes.literal(filled, filled)], []


class RepoFileRole(SphinxRole):
    """``{repo-file}`path```: a link to the file in the repository, or its path when no URL is set."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        path = self.text.strip().lstrip("/")
        literal = nodes.literal(path, path)
        url = repository_url(self.config)
        if url:
            branch = _repository_branch(self.config)
            reference = nodes.reference("", "", literal, refuri=f"{url}/blob/{branch}/{path}", internal=False)
            return [reference], []
        where = nodes.Text(" (in the top folder of the book's repository)") if "/" not in path else nodes.Text("")
        return [literal, where], []


#: The widget manager's icon fonts (copied from npm by fovex_lib.tools.site_assets).
_WIDGET_FONTS = ("*.woff2", "*.woff", "*.ttf")


def _copy_widget_fonts(app: Sphinx, exception: Exception | None) -> None:
    """Put the widget manager's icon fonts also in ``@jupyter-widgets/`` beside every notebook page.

    ``book/_static/jupyter-widgets-setup.js`` points the manager at ``_static/jupyter-widgets/``,
    but when the manager's CSS is applied before that mapping (seen in a fresh clone, on one
    page), the browser asks for the fonts relative to the page
    (``book/chapters/@jupyter-widgets/<hash>.woff2``) and gets a 404. Copies there make both
    paths work; they are small (about 0.5 MB per folder).
    """
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    fonts = [f for pattern in _WIDGET_FONTS for f in (out / "_static" / "jupyter-widgets").glob(pattern)]
    if not fonts:
        return
    folders = {page.parent for page in out.glob("book/**/*.html")}
    for folder in sorted(folders):
        target = folder / "@jupyter-widgets"
        target.mkdir(exist_ok=True)
        for font in fonts:
            shutil.copyfile(font, target / font.name)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("book_repository_url", "", "env", types=[str])
    # config-inited: before sphinx-book-theme reads the repository options (builder-inited).
    app.connect("config-inited", _configure_repository)
    app.connect("config-inited", _check_static_assets)
    # after sphinx-book-theme has built its header buttons (priority 501)
    app.connect("html-page-context", _add_markdown_download, priority=510)
    app.add_role("repo-file", RepoFileRole())
    app.add_role("repo-text", RepoTextRole())
    # Better search result snippets (book/_static/search-snippets.js, in html_static_path);
    # deferred, so that it runs after Sphinx's searchtools.js, whose functions it replaces.
    app.add_js_file("search-snippets.js", loading_method="defer")
    # The site's CSS (book/_static/fovex.css): long inline code wraps, wide equations scroll.
    app.add_css_file("fovex.css")
    app.connect("html-page-context", _drop_duplicate_assets, priority=900)
    app.connect("build-finished", _copy_widget_fonts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
