"""The site check (fovex_lib.tools.site_check) on tiny hand-made sites, and the site tooling around it."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from fovex_lib.tools import book_site, site_assets
from fovex_lib.tools.site_check import check_files, check_in_browser, find_chromium, main

HEAD = """<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<link rel="stylesheet" href="{up}_static/style.css">
<script defer src="{up}_static/mathjax/tex-mml-chtml.js"></script>
<link rel="canonical" href="https://example.org/book/">
</head><body><article class="bd-article">
"""
TAIL = "</article></body></html>\n"


def page(body: str, up: str = "") -> str:
    return HEAD.format(up=up) + body + TAIL


def widget_cell(tags: str = "tag_widget") -> str:
    return (
        f'<div class="cell {tags} docutils container"><div class="cell_input"><pre>interact(f)</pre></div>'
        '<div class="cell_output docutils container">'
        '<script type="application/vnd.jupyter.widget-view+json">{"model_id": "ab"}</script></div></div>'
    )


def static_cell(output: str = '<img src="../_images/frames.png" alt="frames">') -> str:
    return (
        '<div class="cell tag_widget-static docutils container"><div class="cell_input"><pre>show()</pre></div>'
        f'<div class="cell_output docutils container">{output}</div></div>'
    )


def make_site(root: Path, chapter_body: str) -> Path:
    """A site of three pages: a redirect, an intro that links into the chapter, the chapter."""
    (root / "_static" / "mathjax").mkdir(parents=True)
    (root / "_static" / "style.css").write_text("body {}\n")
    (root / "_static" / "mathjax" / "tex-mml-chtml.js").write_text("// MathJax\n")
    (root / "_images").mkdir()
    (root / "_images" / "frames.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (root / "book").mkdir()
    (root / "index.html").write_text('<html><head><meta http-equiv="Refresh" content="0; url=book/intro.html" />')
    (root / "book" / "intro.html").write_text(
        page(
            '<h1 id="intro">Intro</h1><p>See <a href="chapter.html#the-maths">the maths</a>, '
            '<a href="https://arxiv.org/abs/2408.02123">the paper</a> and <a href="#intro">the top</a>.</p>',
            up="../",
        )
    )
    (root / "book" / "chapter.html").write_text(page(chapter_body, up="../"))
    # a theme template among the assets is not a page
    (root / "_static" / "webpack-macros.html").write_text('<script src="https://cdn.example.org/x.js"></script>')
    return root


GOOD_CHAPTER = (
    '<section id="the-maths"><h2>The maths</h2>'
    '<p>A blob <span class="math notranslate nohighlight">\\(W_f\\)</span> costs $5 and $6.</p>'
    '<div class="math notranslate nohighlight">\\[x_\\phi = W_f \\odot x\\]</div>'
    "<pre>price = '$$' + r'\\(' + '$\\alpha$'</pre>"
    '<img src="../_images/frames.png" alt="frames"></section>' + widget_cell() + static_cell()
)


def problems_of(root: Path) -> dict[str, list[str]]:
    return {report.page: report.problems for report in check_files(root)}


def test_a_clean_site_passes_and_templates_among_the_assets_are_not_pages(tmp_path):
    found = problems_of(make_site(tmp_path, GOOD_CHAPTER))
    assert found == {"book/chapter.html": [], "book/intro.html": [], "index.html": []}


def test_broken_link_broken_anchor_and_missing_image_fail(tmp_path):
    root = make_site(tmp_path, GOOD_CHAPTER)
    intro = root / "book" / "intro.html"
    intro.write_text(
        page(
            '<p><a href="chaptr.html">typo</a> <a href="chapter.html#no-such-section">gone</a> '
            '<a href="#nowhere">here</a> <img src="../_images/missing.png"></p>',
            up="../",
        )
    )
    found = problems_of(root)["book/intro.html"]
    assert any(p.startswith("broken link") and "chaptr.html" in p for p in found)
    assert any(p.startswith("broken anchor") and "no-such-section" in p for p in found)
    assert any(p.startswith("broken anchor") and "nowhere" in p for p in found)
    assert any(p.startswith("missing file") and "missing.png" in p for p in found)
    assert len(found) == 4


def test_external_script_stylesheet_and_image_fail_but_plain_links_do_not(tmp_path):
    root = make_site(tmp_path, GOOD_CHAPTER)
    (root / "book" / "intro.html").write_text(
        page(
            '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>'
            '<link rel="stylesheet" href="//fonts.example.com/a.css">'
            '<img src="http://example.org/a.png"><a href="https://example.org/">a link</a>',
            up="../",
        )
    )
    found = problems_of(root)["book/intro.html"]
    assert len(found) == 3
    assert all(p.startswith("loads from another host") for p in found)
    assert any("cdn.jsdelivr.net" in p for p in found)


def test_raw_tex_fails(tmp_path):
    chapter = GOOD_CHAPTER + "<p>The weight $\\alpha_i$ of each fixation.</p>"
    found = problems_of(make_site(tmp_path, chapter))["book/chapter.html"]
    assert len(found) == 1 and found[0].startswith("raw TeX in $...$") and "alpha_i" in found[0]


def test_tex_on_a_page_without_mathjax_fails(tmp_path):
    root = make_site(tmp_path, GOOD_CHAPTER)
    (root / "book" / "intro.html").write_text(
        '<html><body><p>Display: $$x^2$$</p><span class="math">\\(y\\)</span></body></html>'
    )
    found = problems_of(root)["book/intro.html"]
    assert any(p.startswith("raw TeX and no MathJax") and "$$x^2$$" in p for p in found)
    assert any("math elements but the page loads no MathJax" in p for p in found)


def test_a_widget_needs_a_static_counterpart_right_after_it(tmp_path):
    alone = GOOD_CHAPTER.replace(static_cell(), "") + "<p>Some text.</p>"
    found = problems_of(make_site(tmp_path / "a", alone))["book/chapter.html"]
    assert len(found) == 1 and found[0].startswith("widget without static counterpart")

    # an untagged cell with a widget output counts as a widget too
    untagged = GOOD_CHAPTER.replace(widget_cell(), widget_cell(tags=""), 1).replace(static_cell(), "")
    found = problems_of(make_site(tmp_path / "b", untagged))["book/chapter.html"]
    assert len(found) == 1 and "widget output" in found[0]

    empty = GOOD_CHAPTER.replace(static_cell(), static_cell(output=""))
    found = problems_of(make_site(tmp_path / "c", empty))["book/chapter.html"]
    assert len(found) == 1 and found[0].startswith("empty static counterpart")


def test_redirect_to_a_missing_page_fails(tmp_path):
    root = make_site(tmp_path, GOOD_CHAPTER)
    (root / "index.html").write_text('<meta http-equiv="refresh" content="0; url=book/start.html">')
    assert any(p.startswith("broken link") for p in problems_of(root)["index.html"])


def test_command_line_exit_status_and_summary(tmp_path, capsys):
    root = make_site(tmp_path, GOOD_CHAPTER)
    assert main([str(root), "--no-browser"]) == 0
    out = capsys.readouterr().out
    assert "book/chapter.html" in out and "site check: passed" in out and "in all" in out
    (root / "book" / "chapter.html").write_text(page('<a href="gone.html">x</a>', up="../"))
    assert main([str(root), "--no-browser"]) == 1
    assert "FAIL  broken link" in capsys.readouterr().out
    assert main([str(tmp_path / "nothing")]) == 2


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium (apt-get install -y chromium)")
def test_browser_part_catches_errors_failed_requests_other_hosts_and_raw_tex(tmp_path):
    pytest.importorskip("playwright.sync_api")
    root = make_site(tmp_path, GOOD_CHAPTER)
    (root / "_static" / "mathjax" / "tex-mml-chtml.js").write_text("window.MathJax = {};\n")
    (root / "book" / "chapter.html").write_text(
        page(
            '<p id="the-maths">Left raw: \\(x^2\\) and <span class="note">fine</span>.</p>'
            '<img src="../_images/nothing.png"><img src="https://example.org/a.png">'
            '<script>console.error("boom")</script>'
            '<div style="width: 900px">too wide for a phone</div>',
            up="../",
        )
    )
    reports = [r for r in check_files(root) if r.page in ("book/chapter.html", "book/intro.html")]
    chromium = find_chromium()
    assert chromium is not None
    check_in_browser(root, reports, chromium, timeout_s=20)
    chapter, intro = sorted(reports, key=lambda r: r.page)
    assert intro.problems == [] and intro.load_ms is not None
    text = "\n".join(chapter.problems)
    assert "console error: boom" in text
    assert "HTTP 404" in text and "nothing.png" in text
    assert "request to another host (blocked): https://example.org/a.png" in text
    assert "TeX not rendered by MathJax" in text and "x^2" in text
    assert "wider than a 390 px screen" in text


def _png(colour: tuple[int, int, int]) -> str:
    """A decodable 4x4 PNG of one colour, as a data: address."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def player(name: str, frames: list[str]) -> str:
    """A static player laid out like matplotlib's to_jshtml (image, slider, frame buttons)."""
    return (
        f'<div class="animation"><img id="_anim_img{name}" src="{frames[0]}">'
        f'<input id="_anim_slider{name}" type="range" min="0" max="{len(frames) - 1}" value="0">'
        f'<button title="First frame" onclick="anim{name}.show(0)">|&lt;</button>'
        f'<button title="Next frame" onclick="anim{name}.show(anim{name}.i + 1)">&gt;</button></div>'
        f"<script>var anim{name} = {{i: 0, frames: {frames!r}, show(i) {{"
        f"this.i = i % this.frames.length; document.getElementById('_anim_img{name}').src = this.frames[this.i]; }}}};"
        "</script>"
    )


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium (apt-get install -y chromium)")
def test_browser_steps_the_static_players_and_from_disk_blocks_every_other_request(tmp_path):
    pytest.importorskip("playwright.sync_api")
    root = make_site(tmp_path, GOOD_CHAPTER)
    (root / "_static" / "mathjax" / "tex-mml-chtml.js").write_text("window.MathJax = {};\n")
    red, blue = _png((255, 0, 0)), _png((0, 0, 255))
    (root / "book" / "chapter.html").write_text(
        page(
            '<p id="the-maths">Players.</p>' + player("good", [red, blue, red]) + player("stuck", [red, red]),
            up="../",
        )
    )
    (root / "book" / "intro.html").write_text(
        page('<img src="../_images/frames.png" alt="" hidden><img src="https://example.org/a.png">', up="../")
    )
    chromium = find_chromium()
    assert chromium is not None
    for from_disk in (False, True):
        reports = [r for r in check_files(root) if r.page in ("book/chapter.html", "book/intro.html")]
        check_in_browser(root, reports, chromium, timeout_s=20, from_disk=from_disk)
        chapter, intro = sorted(reports, key=lambda r: r.page)
        assert chapter.problems == ["static player stuck: 'Next frame' does not change the picture"], from_disk
        assert "1 of 2 static player(s) step (frames: 3, 2)" in chapter.notes
        assert "request to another host (blocked): https://example.org/a.png" in intro.problems, from_disk


# --- site assets and the Sphinx extension ----------------------------------------------------


def fake_package(tmp_path: Path) -> tuple[site_assets.NpmPackage, Path]:
    """A tarball laid out like an npm package, in the cache, with its pinned integrity."""
    cache = tmp_path / "cache"
    cache.mkdir()
    tarball = cache / "fake-1.0.0.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        for name, data in {
            "package/es5/tex.js": b"tex",
            "package/es5/fonts/a.woff2": b"font",
            "package/es5/other.js": b"not kept",
            "package/LICENSE": b"licence",
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    package = site_assets.NpmPackage(
        name="fake",
        version="1.0.0",
        integrity=integrity,
        folder="fake",
        strip="es5/",
        keep=("LICENSE", "es5/tex.js", "es5/fonts/*"),
    )
    return package, cache


def test_site_assets_extracts_the_kept_files_of_a_pinned_tarball_once(tmp_path):
    package, cache = fake_package(tmp_path)
    dest = tmp_path / "assets"
    assert site_assets.fetch_site_assets(dest, cache, packages=(package,)) is True
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == [".site_assets.json", "fake/LICENSE", "fake/fonts/a.woff2", "fake/tex.js"]
    assert site_assets.fetch_site_assets(dest, cache, packages=(package,)) is False  # up to date


def test_site_assets_refuses_a_tarball_whose_checksum_differs(tmp_path, monkeypatch):
    package, cache = fake_package(tmp_path)
    wrong = site_assets.NpmPackage(**{**package.__dict__, "integrity": "sha512-AAAA"})
    monkeypatch.setattr(site_assets.shutil, "which", lambda name: None)  # and npm is not there
    with pytest.raises(RuntimeError, match="npm is needed"):
        site_assets.fetch_site_assets(tmp_path / "assets", cache, packages=(wrong,))


def test_every_pinned_package_keeps_what_the_config_loads():
    folders = {p.folder: p for p in site_assets.PACKAGES}
    assert folders["mathjax"].kept("package/es5/tex-mml-chtml.js") == "tex-mml-chtml.js"
    assert folders["requirejs"].kept("package/require.js") == "require.js"
    assert folders["jupyter-widgets"].kept("package/dist/embed-amd.js") == "embed-amd.js"
    assert folders["jupyter-widgets"].kept("package/dist/libembed-amd.js") is None
    config = (Path(__file__).parent.parent / "_config.yml").read_text()
    assert "mathjax_path: mathjax/tex-mml-chtml.js" in config
    assert "requirejs/require.js" in config and "jupyter-widgets/embed-amd.js" in config


def config(url: str = "", branch: str = "main") -> SimpleNamespace:
    launch = {"colab_url": "https://colab.research.google.com", "binderhub_url": "https://mybinder.org"}
    return SimpleNamespace(
        html_theme_options={"repository_url": url, "repository_branch": branch, "launch_buttons": launch},
        book_repository_url="",
    )


def test_launch_buttons_only_with_a_repository_url(monkeypatch):
    monkeypatch.delenv("BOOK_REPOSITORY_URL", raising=False)
    monkeypatch.delenv("BOOK_REPOSITORY_BRANCH", raising=False)
    local = config()
    book_site._configure_repository(None, local)
    assert local.html_theme_options["launch_buttons"] == {}
    assert local.html_theme_options["use_repository_button"] is False

    monkeypatch.setenv("BOOK_REPOSITORY_URL", "https://github.com/someone/fovex-book.git")
    monkeypatch.setenv("BOOK_REPOSITORY_BRANCH", "gh-pages-source")
    deployed = config()
    book_site._configure_repository(None, deployed)
    options = deployed.html_theme_options
    assert options["repository_url"] == "https://github.com/someone/fovex-book"
    assert options["repository_branch"] == "gh-pages-source"
    assert options["use_repository_button"] is True
    assert options["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert deployed.book_repository_url == "https://github.com/someone/fovex-book@gh-pages-source"


def test_repo_text_fills_in_the_repository_url_or_a_placeholder(monkeypatch):
    from types import SimpleNamespace

    def render(text: str) -> str:
        role = book_site.RepoTextRole()
        role.text = text
        monkeypatch.setattr(book_site.RepoTextRole, "config", property(lambda self: local), raising=False)
        (node,), messages = role.run()
        assert messages == []
        return node.astext()

    monkeypatch.delenv("BOOK_REPOSITORY_URL", raising=False)
    monkeypatch.delenv("BOOK_REPOSITORY_BRANCH", raising=False)
    local = SimpleNamespace(html_theme_options={})
    assert render("%env FOVEX_REPO_URL={url}") == "%env FOVEX_REPO_URL=https://github.com/OWNER/REPO"
    monkeypatch.setenv("BOOK_REPOSITORY_URL", "https://github.com/someone/fovex-book.git")
    monkeypatch.setenv("BOOK_REPOSITORY_BRANCH", "dev")
    assert render(" !git clone -b {branch} {url} ") == "!git clone -b dev https://github.com/someone/fovex-book"
