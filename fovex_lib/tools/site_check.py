"""Check the built site the way a reader sees it: ``python -m fovex_lib.tools.site_check _build/html``.

``make site-check`` builds the book and runs this. Two parts:

**Files** (pure Python, always runs): every HTML page of the site is parsed and

* every local ``href`` / ``src`` (links, stylesheets, scripts, images) must point at a
  file of the site, and a link's ``#anchor`` at an ``id`` on the target page;
* no page may load anything from another host (``<script src>``, stylesheets, images,
  frames with an ``http(s)://`` or ``//`` address): the site must work from disk with no
  network. Plain links to other sites (``<a href>``) are fine;
* no TeX may be left where nothing renders it: ``$...\\cmd...$`` in the text (MathJax
  does not read single dollars), or TeX delimiters on a page that loads no MathJax;
* every cell with a live widget (a widget-view output, or the cell tag ``widget``, which
  Jupyter Book turns into the class ``tag_widget``) must be followed by a cell tagged
  ``widget-static`` (class ``tag_widget-static``) with an output: the precomputed
  counterpart that works without a kernel. Widgets need a kernel; on the static site a
  widget alone is an empty or dead area.

**Browser** (headless Chromium driven by Playwright, skipped with a message when either is
missing): the site is served on ``127.0.0.1`` (a free port) and every page is loaded at
1280 px. A page fails on a console error or uncaught exception, a request that fails or
answers >= 400 (a missing image, stylesheet or script), any request to another host
(blocked, so the check never waits on the network), an image that did not decode, TeX
left unrendered after MathJax has typeset the page (``\\(``, ``\\[``, ``$$``,
``\\begin{``) or a MathJax error, a display equation wider than the column (it scrolls,
see ``book/_static/fovex.css``: break it with ``aligned``), and - at 390 px, a phone -
content wider than the screen that is not inside a scrolling box. Widget areas are
reported with their size. Every static player (matplotlib's ``to_jshtml``, what
:func:`fovex_lib.tools.plotting.animate` makes) is stepped once with its "Next frame"
button: a player whose picture does not change fails.

``--from-disk`` loads the pages as ``file://`` addresses instead of serving them, with
every request that is not a file blocked: the way a reader opens the built folder from a
USB stick with no network. It checks the same things (math rendered, images, players).

Chromium: the first of ``--chromium``, ``$CHROMIUM``, ``chromium``, ``chromium-browser``,
``google-chrome`` on the PATH (Debian: ``apt-get install -y chromium``). Playwright is used
with that executable only (``playwright install`` is never needed). Exit status 1 when a
page has a problem, 0 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import posixpath
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = [
    "PageReport",
    "check_files",
    "check_in_browser",
    "find_chromium",
    "main",
    "site_pages",
]

# Folders of the built site that hold assets, not pages (their .html files are templates).
_ASSET_DIRS = ("_static", "_sources", "_images", "_downloads")
# Elements whose text is code, not prose: TeX inside them is meant to be shown as typed.
_CODE_TAGS = frozenset({"script", "style", "pre", "code", "textarea", "kbd", "samp", "noscript", "template"})
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
# <link rel=...> values that make the browser load the target.
_LOADING_RELS = frozenset(
    {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload", "prefetch", "manifest"}
)
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# TeX that MathJax renders (its default delimiters) and inline $...$ that nothing renders.
_TEX_DELIMITERS = re.compile(r"\\\(|\\\[|\$\$|\\begin\{")
_RAW_DOLLAR_TEX = re.compile(r"(?<![\$\\])\$(?!\$)[^$\n]{0,200}?\\[A-Za-z]+[^$\n]{0,200}?(?<!\\)\$(?!\$)")


@dataclass
class PageReport:
    """What the check found on one page."""

    page: str  # path relative to the site root, e.g. "book/intro.html"
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # information, not failures
    load_ms: float | None = None  # browser: from navigation to typeset math and idle network
    bytes: int = 0  # the page's HTML with the local images it shows
    redirect: str | None = None  # a page that only forwards to another (not loaded in the browser)


@dataclass
class _Cell:
    classes: set[str]
    widget: bool = False  # has a widget-view output or a .jupyter-widgets element
    output: bool = False  # has some output content


@dataclass
class _Parsed:
    ids: set[str] = field(default_factory=set)
    # (tag, attribute, value, line) of every address the page refers to
    refs: list[tuple[str, str, str, int]] = field(default_factory=list)
    # (text, line) of prose (outside code and outside rendered-math elements)
    prose: list[tuple[str, int]] = field(default_factory=list)
    cells: list[_Cell] = field(default_factory=list)
    loads_mathjax: bool = False
    math_elements: int = 0
    redirect: str | None = None  # <meta http-equiv="refresh"> target


class _PageParser(HTMLParser):
    """Collects ids, addresses, prose text and notebook cells of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = _Parsed()
        # open elements: (tag, classes, the _Cell it opened or None)
        self._stack: list[tuple[str, set[str], _Cell | None]] = []

    def _inside(self, predicate: Callable[[str, set[str]], bool]) -> bool:
        return any(predicate(tag, classes) for tag, classes, _ in self._stack)

    def _cell(self) -> _Cell | None:
        for _, _, cell in reversed(self._stack):
            if cell is not None:
                return cell
        return None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        classes = set(attr.get("class", "").split())
        line = self.getpos()[0]
        for key in ("id", "name") if tag == "a" else ("id",):
            if attr.get(key):
                self.out.ids.add(attr[key])
        if tag == "meta" and attr.get("http-equiv", "").lower() == "refresh":
            target = re.search(r"url=(.+)$", attr.get("content", ""), re.IGNORECASE)
            if target:
                self.out.redirect = target.group(1).strip().strip("'\"")
                self.out.refs.append(("meta refresh", "url", self.out.redirect, line))
        kind = f"link rel={attr.get('rel', '')}" if tag == "link" else tag
        for key in ("href", "src", "poster", "data"):
            if key in attr:
                self.out.refs.append((kind, key, attr[key], line))
        if tag == "script" and "mathjax" in attr.get("src", "").lower():
            self.out.loads_mathjax = True
        if "math" in classes:
            self.out.math_elements += 1
        cell = self._cell()
        if cell is not None:
            if (tag == "script" and attr.get("type") == _WIDGET_VIEW) or "jupyter-widgets" in classes:
                cell.widget = True
            if self._inside(lambda _t, c: "cell_output" in c) and tag in ("img", "svg", "video", "table", "canvas"):
                cell.output = True
        opened: _Cell | None = None
        if tag == "div" and "cell" in classes and cell is None:
            opened = _Cell(classes=classes, widget="tag_widget" in classes)
            self.out.cells.append(opened)
        if tag not in _VOID_TAGS:
            self._stack.append((tag, classes, opened))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS and self._stack and self._stack[-1][0] == tag:
            self._stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._stack) - 1, -1, -1):
            if self._stack[depth][0] == tag:
                del self._stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        if not data.strip():
            return
        if self._inside(lambda t, c: "cell_output" in c) and not self._inside(lambda t, c: t in ("script", "style")):
            cell = self._cell()
            if cell is not None:
                cell.output = True
        if self._inside(lambda t, c: t in _CODE_TAGS or "math" in c or "highlight" in c):
            return
        self.out.prose.append((data, self.getpos()[0]))


def _parse(path: Path) -> _Parsed:
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return parser.out


def site_pages(root: Path) -> list[Path]:
    """The site's HTML pages (not the templates among its assets), sorted."""
    pages = []
    for path in sorted(root.rglob("*.html")):
        rel = path.relative_to(root)
        if rel.parts[0] in _ASSET_DIRS:
            continue
        pages.append(path)
    return pages


def _is_external(value: str) -> bool:
    split = urlsplit(value)
    return split.scheme in ("http", "https", "ws", "wss", "ftp") or (not split.scheme and value.startswith("//"))


def _local_target(root: Path, page: Path, value: str) -> tuple[Path | None, str]:
    """(file, fragment) that a local address on ``page`` points at; file None if outside the site."""
    split = urlsplit(value)
    base = page.parent.relative_to(root).as_posix()
    if split.path:
        rel = posixpath.normpath(posixpath.join(base, unquote(split.path)))
    else:
        rel = page.relative_to(root).as_posix()
    if rel == ".." or rel.startswith("../") or rel.startswith("/"):
        return None, split.fragment
    target = root / rel
    if target.is_dir():
        target = target / "index.html"
    return target, unquote(split.fragment)


def _snippet(text: str, at: int, width: int = 70) -> str:
    start = max(at - 20, 0)
    return " ".join(text[start : start + width].split())


def check_files(root: Path) -> list[PageReport]:
    """The file part of the check (no browser): links, assets, external loads, raw TeX, widgets."""
    root = Path(root)
    pages = site_pages(root)
    parsed = {page: _parse(page) for page in pages}
    id_cache: dict[Path, set[str]] = {page: result.ids for page, result in parsed.items()}
    reports = []
    for page, result in parsed.items():
        report = PageReport(page=page.relative_to(root).as_posix(), bytes=page.stat().st_size)
        report.redirect = result.redirect
        if result.redirect:
            report.notes.append(f"redirects to {result.redirect}")
        images: set[Path] = set()
        for tag, attr, value, line in result.refs:
            value = value.strip()
            if not value or (value.startswith("#") and tag != "a"):
                continue
            scheme = urlsplit(value).scheme
            if scheme in ("mailto", "javascript", "data", "blob", "tel"):
                continue
            loads = tag in (
                "script",
                "img",
                "iframe",
                "source",
                "video",
                "audio",
                "embed",
                "object",
                "input",
                "meta refresh",
            ) or (tag.startswith("link rel=") and bool(set(tag.removeprefix("link rel=").split()) & _LOADING_RELS))
            if _is_external(value):
                if loads:
                    report.problems.append(f"loads from another host: <{tag} {attr}={value!r}> (line {line})")
                continue
            if scheme:
                continue
            target, fragment = _local_target(root, page, value)
            if target is None:
                report.problems.append(f"link outside the site: <{tag} {attr}={value!r}> (line {line})")
                continue
            if not target.is_file():
                kind = "broken link" if tag in ("a", "meta refresh") else "missing file"
                report.problems.append(f"{kind}: <{tag} {attr}={value!r}> (line {line})")
                continue
            if tag == "img":
                images.add(target)
            if tag == "a" and fragment and target.suffix == ".html":
                if target not in id_cache:
                    id_cache[target] = _parse(target).ids
                if fragment not in id_cache[target]:
                    report.problems.append(f"broken anchor: <a href={value!r}>: no id {fragment!r} (line {line})")
        report.bytes += sum(image.stat().st_size for image in images)
        _check_tex(result, report)
        _check_widgets(result, report)
        reports.append(report)
    return reports


def _check_tex(result: _Parsed, report: PageReport) -> None:
    for text, line in result.prose:
        found = _RAW_DOLLAR_TEX.search(text)
        if found:
            report.problems.append(f"raw TeX in $...$ (not rendered): {_snippet(text, found.start())!r} (line {line})")
        elif not result.loads_mathjax:
            delimiter = _TEX_DELIMITERS.search(text)
            if delimiter:
                report.problems.append(
                    f"raw TeX and no MathJax on the page: {_snippet(text, delimiter.start())!r} (line {line})"
                )
    if result.math_elements and not result.loads_mathjax:
        report.problems.append(f"{result.math_elements} math elements but the page loads no MathJax")


def _check_widgets(result: _Parsed, report: PageReport) -> None:
    cells = result.cells
    for index, cell in enumerate(cells):
        if not cell.widget:
            continue
        after = cells[index + 1] if index + 1 < len(cells) else None
        name = f"code cell {index + 1}" + (" (tag widget)" if "tag_widget" in cell.classes else " (widget output)")
        if after is None or "tag_widget-static" not in after.classes:
            report.problems.append(
                f"widget without static counterpart: {name} is not followed by a cell tagged widget-static "
                "(on the site the widget has no kernel: an empty or dead area)"
            )
        elif not after.output:
            report.problems.append(f"empty static counterpart: the widget-static cell after {name} has no output")
        else:
            report.notes.append(f"{name}: static counterpart in code cell {index + 2}")


# --- browser -----------------------------------------------------------------------------


def find_chromium(explicit: str | None = None) -> str | None:
    """Path of a Chromium executable, or None."""
    candidates = [explicit, os.environ.get("CHROMIUM")]
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    candidates += [shutil.which(name) for name in names]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _serve(root: Path) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# Runs in the page after it has loaded: TeX left in the text, MathJax errors, images that
# did not decode, widget areas and their size.
_PAGE_PROBE = r"""
() => {
  const skip = "script, style, pre, code, textarea, noscript, template, mjx-container, .highlight";
  const tex = /\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{/;
  const dollar = /(^|[^$\\])\$(?!\$)[^$\n]{0,200}?\\[A-Za-z]+[^$\n]{0,200}?\$/;
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.nodeValue;
    if (!text || !(tex.test(text) || dollar.test(text))) continue;
    if (node.parentElement && node.parentElement.closest(skip)) continue;
    raw.push(text.trim().replace(/\s+/g, " ").slice(0, 80));
  }
  const errors = [...document.querySelectorAll("mjx-merror")]
    .map((e) => (e.getAttribute("data-mjx-error") || e.textContent).slice(0, 80));
  const images = [...document.querySelectorAll("img")]
    .filter((img) => img.complete && img.naturalWidth === 0)
    .map((img) => img.getAttribute("src"));
  const widgets = [...document.querySelectorAll(".jupyter-widgets, .widget-subarea, .jupyter-widgets-view")]
    .filter((el) => !el.parentElement.closest(".jupyter-widgets, .widget-subarea, .jupyter-widgets-view"))
    .map((el) => { const r = el.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; });
  const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length;
  const equations = [...document.querySelectorAll('mjx-container[display="true"]')]
    .map((el) => [el.scrollWidth - el.clientWidth, (el.textContent || "").replace(/\s+/g, "").slice(0, 50)])
    .filter(([over]) => over > 1);
  return {raw, errors, images, widgets, views, equations};
}
"""

# At a phone width: elements of the article wider than the screen that no scrolling box holds.
_OVERFLOW_PROBE = r"""
() => {
  const width = document.documentElement.clientWidth;
  const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const scrolls = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll") return true;
    }
    return false;
  };
  const wide = [];
  for (const el of article.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= width + 1) continue;
    if (wide.some((w) => w.el.contains(el)) || scrolls(el)) continue;
    wide.push({el, over: Math.round(r.right - width)});
  }
  const describe = (el) => {
    const names = typeof el.className === "string" ? el.className.trim().split(/\s+/).slice(0, 2) : [];
    const cls = names.filter((n) => n).map((n) => "." + n).join("");
    const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40);
    return el.tagName.toLowerCase() + cls + (text ? ` "${text}"` : "");
  };
  return {
    page: document.documentElement.scrollWidth - width,
    wide: wide.sort((a, b) => b.over - a.over).slice(0, 3).map((w) => [describe(w.el), w.over]),
  };
}
"""


# The static players (matplotlib's jshtml): click "Next frame" and see the picture change.
_PLAYER_PROBE = r"""
() => {
  const players = [];
  for (const img of document.querySelectorAll('img[id^="_anim_img"]')) {
    const id = img.id.slice("_anim_img".length);
    const slider = document.getElementById("_anim_slider" + id);
    const box = img.closest(".animation") || img.parentElement;
    const next = box && box.querySelector('button[title="Next frame"]');
    const before = img.getAttribute("src");
    if (next) next.click();
    const after = img.getAttribute("src");
    const first = box && box.querySelector('button[title="First frame"]');
    if (first) first.click();
    players.push({id, frames: slider ? Number(slider.max) + 1 : 0, button: !!next,
                  steps: !!before && before !== after, decoded: img.naturalWidth > 0});
  }
  return players;
}
"""


class _PageWatch:
    """Event handlers of one page: they record its problems and block other hosts."""

    def __init__(self, origin: str | None, problems: list[str]) -> None:
        self.origin = origin  # "127.0.0.1:PORT"; None: from disk, only file:// is allowed
        self.problems = problems
        self.blocked: set[str] = set()

    def _allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        if self.origin is None:
            return parts.scheme in ("file", "data", "blob")
        return parts.netloc == self.origin or parts.scheme in ("data", "blob")

    def route(self, route: Any) -> None:
        url = route.request.url
        if not self._allowed(url):
            self.blocked.add(url)
            route.abort()
        else:
            route.continue_()

    def console(self, message: Any) -> None:
        # "Failed to load resource" repeats what response / request_failed report
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console error: {message.text[:200]}")

    def page_error(self, error: Any) -> None:
        self.problems.append(f"uncaught exception: {str(error)[:200]}")

    def request_failed(self, request: Any) -> None:
        if request.url not in self.blocked:
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")


def check_in_browser(
    root: Path,
    reports: list[PageReport],
    chromium: str,
    timeout_s: float = 30.0,
    phone_width: int = 390,
    from_disk: bool = False,
) -> None:
    """The browser part: load every page of ``reports`` in headless Chromium, adding to them.

    ``from_disk``: open the pages as ``file://`` addresses (no server) and block every
    request that is not a file, instead of serving the site on 127.0.0.1.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    args = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium's sandbox cannot run as root
    with contextlib.ExitStack() as stack:
        if from_disk:
            base, origin = root.resolve().as_uri() + "/", None
        else:
            base = stack.enter_context(_serve(root))
            origin = urlsplit(base).netloc
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=args)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            for report in reports:
                if report.redirect:
                    continue  # checked as a link by the file part
                page = context.new_page()
                watch = _PageWatch(origin, report.problems)
                page.route("**/*", watch.route)
                page.on("console", watch.console)
                page.on("pageerror", watch.page_error)
                page.on("requestfailed", watch.request_failed)
                page.on("response", watch.response)
                problems = report.problems
                started = time.perf_counter()
                try:
                    page.goto(base + report.page, wait_until="load", timeout=timeout_s * 1000)
                    page.evaluate(
                        "() => (window.MathJax && MathJax.startup && MathJax.startup.promise) || null",
                    )
                    try:
                        page.wait_for_load_state("networkidle", timeout=timeout_s * 1000)
                    except PlaywrightError:
                        problems.append(f"network still busy after {timeout_s:.0f} s")
                    report.load_ms = (time.perf_counter() - started) * 1000
                    _record_probe(page.evaluate(_PAGE_PROBE), report)
                    _record_players(page.evaluate(_PLAYER_PROBE), report)
                    if phone_width:
                        page.set_viewport_size({"width": phone_width, "height": 844})
                        page.wait_for_timeout(150)
                        _record_overflow(page.evaluate(_OVERFLOW_PROBE), report, phone_width)
                except PlaywrightError as error:
                    problems.append(f"page did not load: {str(error).splitlines()[0][:200]}")
                for url in sorted(watch.blocked):
                    problems.append(f"request to another host (blocked): {url}")
                page.close()
            context.close()
        finally:
            browser.close()


def _record_probe(probe: dict[str, Any], report: PageReport) -> None:
    for text in probe["raw"][:5]:
        report.problems.append(f"TeX not rendered by MathJax: {text!r}")
    if len(probe["raw"]) > 5:
        report.problems.append(f"... and {len(probe['raw']) - 5} more pieces of unrendered TeX")
    for text in probe["errors"]:
        report.problems.append(f"MathJax error: {text!r}")
    for src in probe["images"]:
        report.problems.append(f"image did not load: {src}")
    for over, text in probe["equations"]:
        report.problems.append(f"equation wider than the column at 1280 px (+{over} px, scrolls): {text!r}")
    if probe["views"] or probe["widgets"]:
        sizes = ", ".join(f"{w}x{h}" for w, h in probe["widgets"]) or "none drawn"
        report.notes.append(f"{probe['views']} widget view(s) on the page; widget areas drawn (px): {sizes}")


def _record_players(players: list[dict[str, Any]], report: PageReport) -> None:
    for player in players:
        if not player["button"]:
            report.problems.append(f"static player {player['id'][:8]}: no 'Next frame' button")
        elif not player["steps"]:
            report.problems.append(f"static player {player['id'][:8]}: 'Next frame' does not change the picture")
        elif not player["decoded"]:
            report.problems.append(f"static player {player['id'][:8]}: its frame did not decode")
    if players:
        frames = ", ".join(str(p["frames"]) for p in players)
        working = sum(p["button"] and p["steps"] and p["decoded"] for p in players)
        report.notes.append(f"{working} of {len(players)} static player(s) step (frames: {frames})")


def _record_overflow(probe: dict[str, Any], report: PageReport, width: int) -> None:
    if probe["wide"]:
        culprits = "; ".join(f"{what} (+{over} px)" for what, over in probe["wide"])
        report.problems.append(f"wider than a {width} px screen: {culprits}")
    elif probe["page"] > 1:
        report.problems.append(f"the page scrolls sideways at {width} px by {probe['page']} px")


# --- command line ---------------------------------------------------------------------------


def _size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def _print_summary(root: Path, reports: list[PageReport], browser: bool, out: Any) -> None:
    width = max(len(r.page) for r in reports)
    print(f"{'page':{width}s}  {'load ms':>7s}  {'size':>8s}  problems", file=out)
    for report in reports:
        load = f"{report.load_ms:7.0f}" if report.load_ms is not None else "      -"
        print(f"{report.page:{width}s}  {load}  {_megabytes(report.bytes):>8s}  {len(report.problems)}", file=out)
        for problem in report.problems:
            print(f"    FAIL  {problem}", file=out)
        for note in report.notes:
            print(f"    note  {note}", file=out)
    largest = max(reports, key=lambda r: r.bytes)
    print(f"site: {root} - {len(reports)} pages, {_megabytes(_size(root))} in all", file=out)
    load = f", loaded in {largest.load_ms:.0f} ms in Chromium" if largest.load_ms is not None else ""
    print(f"largest page: {largest.page} ({_megabytes(largest.bytes)} with its images){load}", file=out)
    if browser:
        slowest = max(reports, key=lambda r: r.load_ms or 0.0)
        print(f"slowest page: {slowest.page} ({slowest.load_ms or 0:.0f} ms)", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fovex_lib.tools.site_check",
        description="Check the built book: links, assets, offline use, math, widgets (files and headless Chromium).",
    )
    parser.add_argument("root", type=Path, nargs="?", default=Path("_build/html"), help="the built site")
    parser.add_argument("--no-browser", action="store_true", help="only the file checks")
    parser.add_argument("--chromium", default=None, help="Chromium executable (default: $CHROMIUM or the PATH)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per page in the browser")
    parser.add_argument("--phone-width", type=int, default=390, help="width of the overflow check, 0: none")
    parser.add_argument(
        "--from-disk",
        action="store_true",
        help="open the pages as file:// addresses with every other request blocked (no server, no network)",
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    if not (root / "index.html").is_file():
        print(f"site check: {root}/index.html not found: build the site first (make book)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    reports = check_files(root)
    browser = False
    if args.no_browser:
        print("site check: browser part skipped (--no-browser)")
    else:
        chromium = find_chromium(args.chromium)
        try:
            import playwright.sync_api  # noqa: F401 - only to test that it is installed
        except ImportError:
            chromium = None
            print("site check: the Python package playwright is missing (it is in requirements.txt: make venv)")
        if chromium is None:
            print(
                "site check: no Chromium found, so the browser part is SKIPPED (the file checks still ran). "
                "Install it with `apt-get install -y chromium` (Debian/Ubuntu, as root) or pass --chromium PATH."
            )
        else:
            where = "from disk (file://, other requests blocked)" if args.from_disk else "served on 127.0.0.1"
            print(f"site check: loading {len(reports)} pages in {chromium} (headless), {where}")
            check_in_browser(
                root,
                reports,
                chromium,
                timeout_s=args.timeout,
                phone_width=args.phone_width,
                from_disk=args.from_disk,
            )
            browser = True
    _print_summary(root, reports, browser, sys.stdout)
    failed = [r for r in reports if r.problems]
    total = sum(len(r.problems) for r in reports)
    seconds = time.perf_counter() - started
    if failed:
        print(f"site check: FAILED - {total} problems on {len(failed)} of {len(reports)} pages ({seconds:.0f} s)")
        return 1
    print(f"site check: passed - {len(reports)} pages ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
