"""The JavaScript the book's pages load, served from the site itself (no CDN).

The built site must work from disk with no network (a course lab, an archived copy, a USB
stick), so the three scripts its pages would otherwise load from CDNs come from the npm
registry at build time, at pinned versions checked against pinned checksums:

* **MathJax 3** renders the formulas (Sphinx's ``mathjax_path`` points at the copy);
* **RequireJS** and the **ipywidgets HTML manager** (``@jupyter-widgets/html-manager``)
  draw the widgets whose state a notebook stores (MyST-NB's ``nb_ipywidgets_js``); they
  are only loaded by pages of notebooks that store widget state.

``make book`` runs ``python -m fovex_lib.tools.site_assets _build/site_assets`` before the
build; ``_config.yml`` lists that folder in ``html_static_path``, so Sphinx copies it to
``_build/html/_static/``. Each package is fetched with ``npm pack`` (the tarball only, none
of its dependencies: the files used here are self-contained bundles), its integrity is
compared with :data:`PACKAGES`, and only the files the pages use are extracted. A second run
with the same pins does nothing. To update a package, change its version and integrity here
(``npm pack NAME@VERSION --json`` prints the new integrity).
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = ["PACKAGES", "NpmPackage", "fetch_site_assets", "main"]


@dataclass(frozen=True)
class NpmPackage:
    """One npm package: the files of it the site serves, under ``folder``."""

    name: str
    version: str
    integrity: str  # npm's "sha512-<base64>" of the tarball
    folder: str  # destination folder inside the assets folder (and so inside _static/)
    strip: str  # prefix removed from the kept paths (inside the tarball's "package/")
    keep: tuple[str, ...]  # kept paths, fnmatch patterns ("*" also matches "/")

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball_name(self) -> str:
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"

    def kept(self, member: str) -> str | None:
        """The destination path (inside ``folder``) of a tarball member, or None if not kept."""
        path = PurePosixPath(member)
        if path.parts[:1] != ("package",):
            return None
        inner = "/".join(path.parts[1:])
        if not any(fnmatch.fnmatchcase(inner, pattern) for pattern in self.keep):
            return None
        return inner.removeprefix(self.strip)


PACKAGES: tuple[NpmPackage, ...] = (
    NpmPackage(
        name="mathjax",
        version="3.2.2",
        integrity="sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        folder="mathjax",
        strip="es5/",
        # The combined TeX+MathML -> CommonHTML component, its web fonts, and the parts it
        # loads on demand: TeX extensions (\require, autoload), the accessibility tools and
        # speech rules of its context menu.
        keep=(
            "LICENSE",
            "es5/tex-mml-chtml.js",
            "es5/output/chtml/fonts/woff-v2/*",
            "es5/input/tex/extensions/*",
            "es5/input/mml/*",
            "es5/a11y/*",
            "es5/ui/*",
            "es5/sre/*",
        ),
    ),
    NpmPackage(
        name="requirejs",
        version="2.3.8",
        integrity="sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        folder="requirejs",
        strip="",
        keep=("require.js",),
    ),
    NpmPackage(
        # ipywidgets 8's embedding manager: bundles @jupyter-widgets/base, controls and
        # output, so the standard widgets need nothing else; its icon font files are loaded
        # relative to the script.
        name="@jupyter-widgets/html-manager",
        version="1.0.15",
        integrity="sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        folder="jupyter-widgets",
        strip="dist/",
        keep=("dist/embed-amd.js", "dist/embed.js.LICENSE.txt", "dist/*.woff2", "dist/*.woff", "dist/*.ttf"),
    ),
)

_STAMP = ".site_assets.json"


def _integrity(path: Path) -> str:
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def _npm_pack(package: NpmPackage, cache: Path) -> Path:
    """The package's tarball in ``cache`` (fetched with ``npm pack`` unless already there)."""
    tarball = cache / package.tarball_name
    if tarball.is_file() and _integrity(tarball) == package.integrity:
        return tarball
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "npm is needed to fetch the site's MathJax and widget scripts from the npm registry: "
            "install Node.js (Debian: apt-get install -y npm) and run `make book` again"
        )
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [npm, "pack", package.spec, "--prefer-offline", "--silent", "--pack-destination", str(cache)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if not tarball.is_file():
        raise RuntimeError(f"npm pack {package.spec} did not write {tarball}")
    got = _integrity(tarball)
    if got != package.integrity:
        tarball.unlink()
        raise RuntimeError(f"{package.spec}: integrity {got} differs from the pinned {package.integrity}")
    return tarball


def _extract(package: NpmPackage, tarball: Path, dest: Path) -> int:
    """Extract the kept files of ``tarball`` into ``dest``; returns the number of files."""
    count = 0
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            target = package.kept(member.name)
            if target is None:
                continue
            if ".." in PurePosixPath(target).parts or PurePosixPath(target).is_absolute():
                raise RuntimeError(f"{package.spec}: unsafe path {member.name!r} in the tarball")
            out = dest.joinpath(*PurePosixPath(target).parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None  # a regular file
            with source, open(out, "wb") as sink:
                shutil.copyfileobj(source, sink)
            count += 1
    if count == 0:
        raise RuntimeError(f"{package.spec}: none of {package.keep} found in the tarball")
    return count


def fetch_site_assets(dest: Path, cache: Path | None = None, packages: tuple[NpmPackage, ...] = PACKAGES) -> bool:
    """Fill ``dest`` with the pinned packages' files; returns False if it was already up to date.

    ``cache`` holds the downloaded tarballs (default: ``dest/../npm-pack``); the folder is
    replaced whole, so files of an older version never linger.
    """
    dest = Path(dest)
    cache = Path(cache) if cache is not None else dest.parent / "npm-pack"
    pins = [
        {"name": p.name, "version": p.version, "integrity": p.integrity, "folder": p.folder, "keep": list(p.keep)}
        for p in packages
    ]
    stamp = dest / _STAMP
    if stamp.is_file() and json.loads(stamp.read_text()) == pins:
        return False
    staging = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for package in packages:
        tarball = _npm_pack(package, cache)
        count = _extract(package, tarball, staging / package.folder)
        print(f"site assets: {package.spec}: {count} files -> {dest / package.folder}")
    (staging / _STAMP).write_text(json.dumps(pins, indent=1) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fovex_lib.tools.site_assets",
        description="Fetch the site's MathJax and widget scripts from npm (pinned).",
    )
    parser.add_argument("dest", type=Path, help="folder to fill (the build serves it as static files)")
    parser.add_argument("--cache", type=Path, default=None, help="where the npm tarballs are kept")
    args = parser.parse_args(argv)
    try:
        changed = fetch_site_assets(args.dest, args.cache)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"site assets: {error}", file=sys.stderr)
        return 1
    if not changed:
        print(f"site assets: {args.dest} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
