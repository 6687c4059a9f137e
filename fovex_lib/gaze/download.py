"""Checksummed, atomic downloads and safe zip extraction for the eye-tracking data sets.

Only real users with a network need this; the tests drive it with ``file://`` URLs
and a fake opener. Rules:

* **Checksummed.** Every file is hashed while it streams in and compared with the
  expected digest, written ``"sha256:<hex>"`` or ``"md5:<hex>"`` (MD5 only where it
  is the only digest published for a file). A mismatch raises
  :class:`ChecksumError` and leaves nothing behind. A file with no published digest
  needs ``checksum=None`` *and* ``allow_unverified=True``; its SHA-256 is then
  returned so that a caller can record it.
* **Atomic.** Data stream into a temporary file in the destination's folder, which
  is renamed onto the destination (``os.replace``) only after the check passed; an
  interrupted download never leaves a half-written file under the final name.
  Archives are extracted into a temporary folder next to the destination and
  renamed into place the same way.
* **Safe.** Zip members with absolute paths or ``..`` components are refused.

Where the data live (:func:`data_root`): an explicit ``root`` argument, else the
environment variable ``FOVEX_DATA``, else ``~/.cache/fovex_lib/data``. The root is
a folder holding one sub-folder per data set (``osie/``, ``mit1003/``).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

__all__ = ["ENV_VAR", "ChecksumError", "data_root", "parse_checksum", "file_digest", "download_file",
           "extract_zip"]

ENV_VAR = "FOVEX_DATA"
DEFAULT_ROOT = Path.home() / ".cache" / "fovex_lib" / "data"
_ALGORITHMS = ("sha256", "md5")


class ChecksumError(ValueError):
    """A downloaded or existing file does not have the expected digest."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder that holds the data sets: ``root``, else ``$FOVEX_DATA``, else the default cache.

    Relative paths are taken relative to the current working directory.
    """
    if root is not None:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a path (str or os.PathLike), got {type(root).__name__}.")
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return DEFAULT_ROOT


def parse_checksum(checksum: str) -> tuple[str, str]:
    """``"sha256:<hex>"`` or ``"md5:<hex>"`` -> (algorithm, lower-case hex digest)."""
    if not isinstance(checksum, str) or ":" not in checksum:
        raise ValueError(f"checksum must look like 'sha256:<hex>' or 'md5:<hex>', got {checksum!r}.")
    algorithm, digest = checksum.split(":", 1)
    algorithm, digest = algorithm.strip().lower(), digest.strip().lower()
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"checksum algorithm must be one of {_ALGORITHMS}, got {algorithm!r}.")
    expected_len = hashlib.new(algorithm).digest_size * 2
    if len(digest) != expected_len or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"a {algorithm} digest has {expected_len} hex digits, got {digest!r}.")
    return algorithm, digest


def file_digest(path: str | os.PathLike, algorithm: str = "sha256", chunk_size: int = 1 << 20) -> str:
    """Hex digest of a file, read in chunks."""
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def download_file(url: str, dest: str | os.PathLike, checksum: str | None, *,
                  allow_unverified: bool = False, opener=None, progress: bool = True,
                  chunk_size: int = 1 << 16) -> str:
    """Download ``url`` to ``dest`` atomically and check its digest.

    Args:
        url: any URL ``urllib`` opens (``https://``, ``http://``, ``file://``).
        dest: final path; its folder is created. An existing file with the right
            digest is kept (no download); one with a wrong digest is replaced.
        checksum: ``"sha256:<hex>"`` / ``"md5:<hex>"``, or None for a file without a
            published digest (then ``allow_unverified=True`` is required).
        allow_unverified: accept ``checksum=None``.
        opener: callable ``opener(url) -> file-like`` (context manager with ``read(n)``);
            default ``urllib.request.urlopen``. Tests pass a fake.
        progress: show a tqdm bar.

    Returns:
        the file's SHA-256 hex digest (whatever ``checksum`` used).
    """
    if checksum is None:
        if not allow_unverified:
            raise ValueError(f"no checksum given for {url}; pass checksum='sha256:...' or, for a file "
                             "without a published digest, allow_unverified=True.")
        algorithm, expected = "sha256", None
    else:
        algorithm, expected = parse_checksum(checksum)
    dest = Path(dest)
    if dest.is_file() and expected is not None and file_digest(dest, algorithm) == expected:
        return file_digest(dest, "sha256")
    dest.parent.mkdir(parents=True, exist_ok=True)
    opener = urllib.request.urlopen if opener is None else opener
    hashers = {algorithm: hashlib.new(algorithm), "sha256": hashlib.sha256()}
    handle, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(handle, "wb") as out, opener(url) as response:
            total = getattr(response, "length", None) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(chunk_size), b""):
                    out.write(chunk)
                    for hasher in hashers.values():
                        hasher.update(chunk)
                    bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        got = hashers[algorithm].hexdigest()
        if expected is not None and got != expected:
            raise ChecksumError(f"{url}: {algorithm} digest {got} does not match the expected {expected}; "
                                "the download is corrupt or the file changed upstream. Nothing was written.")
        os.replace(tmp_name, dest)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return hashers["sha256"].hexdigest()


def _safe_members(archive: zipfile.ZipFile, path: Path) -> list[zipfile.ZipInfo]:
    members = []
    for info in archive.infolist():
        name = PurePosixPath(info.filename)
        if name.is_absolute() or ".." in name.parts or ":" in info.filename:
            raise ValueError(f"{path}: refusing to extract member {info.filename!r} (absolute path or '..').")
        members.append(info)
    return members


def extract_zip(archive_path: str | os.PathLike, dest_dir: str | os.PathLike, *,
                folders: tuple[str, ...]) -> list[Path]:
    """Extract a zip atomically: the named top-level ``folders`` appear in ``dest_dir`` complete or not at all.

    Args:
        archive_path: the zip file.
        dest_dir: where the folders end up (``dest_dir / folder``).
        folders: top-level folder names the archive must contain (e.g. ``("ALLSTIMULI",)``);
            a missing one raises ``ValueError``. Other members are ignored.

    Returns:
        the extracted folder paths. Existing folders of the same name are replaced.
    """
    archive_path, dest_dir = Path(archive_path), Path(dest_dir)
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"{archive_path}: not a readable zip archive ({err}); delete it and download again.") from err
    dest_dir.mkdir(parents=True, exist_ok=True)
    with archive, tempfile.TemporaryDirectory(prefix=".extract-", dir=dest_dir) as tmp:
        members = _safe_members(archive, archive_path)
        present = {PurePosixPath(m.filename).parts[0] for m in members if m.filename.strip("/")}
        missing = [f for f in folders if f not in present]
        if missing:
            raise ValueError(f"{archive_path}: expected top-level folder(s) {missing}, found {sorted(present)}.")
        wanted = [m for m in members if PurePosixPath(m.filename).parts[0] in folders]
        archive.extractall(tmp, members=wanted)
        out = []
        for folder in folders:
            target = dest_dir / folder
            if target.exists():
                shutil.rmtree(target)
            os.replace(Path(tmp) / folder, target)
            out.append(target)
    return out
