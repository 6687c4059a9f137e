"""Checksummed, atomic downloads and safe zip extraction for the eye-tracking data sets.

Only real users with a network need this; the tests drive it with ``file://`` URLs,
fake openers and a local HTTP server. Rules:

* **Checksummed.** Every file is hashed while it streams in and compared with the
  expected digest, written ``"sha256:<hex>"`` or ``"md5:<hex>"`` (MD5 only where it
  is the only digest published for a file). A mismatch raises
  :class:`ChecksumError` and leaves nothing behind. A file with no published digest
  needs ``checksum=None`` *and* ``allow_unverified=True``; its SHA-256 is then
  returned so that a caller can record it.
* **Complete.** When the server announces a ``Content-Length``, the number of bytes
  received must equal it; a shorter body (a dropped connection) raises
  :class:`DownloadError` instead of leaving a truncated file.
* **Atomic.** Data stream into a temporary file in the destination's folder, which
  is renamed onto the destination (``os.replace``) only after the checks passed; an
  interrupted download never leaves a half-written file under the final name.
  Archives are extracted into a temporary folder next to the destination and
  renamed into place the same way.
* **Bounded in time.** Every connect and every read waits at most ``timeout``
  seconds (default :data:`DEFAULT_TIMEOUT` = 60 s), so a server that stalls cannot
  hang a run. Network trouble that may pass (timeouts, dropped or refused
  connections, short bodies, HTTP 5xx/408/429) is retried ``retries`` times
  (default :data:`DEFAULT_RETRIES` = 3) after waiting ``backoff``, ``2 * backoff``,
  ``4 * backoff``, ... seconds (default :data:`DEFAULT_BACKOFF` = 1 s). The final
  :class:`DownloadError` names the URL.
* **Safe.** Zip members with absolute paths or ``..`` components are refused, and so
  is an archive whose members to extract would take more than ``max_bytes``
  uncompressed (default :data:`DEFAULT_MAX_EXTRACT_BYTES` = 4 GiB, far above the
  few hundred MB of MIT1003), so that a small crafted archive cannot fill the disk.

Where the data live (:func:`data_root`): an explicit ``root`` argument, else the
environment variable ``FOVEX_DATA``, else ``~/.cache/fovex_lib/data``. The root is
a folder holding one sub-folder per data set (``osie/``, ``mit1003/``).
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import math
import os
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from .._checks import check_count

__all__ = [
    "ENV_VAR",
    "ChecksumError",
    "DownloadError",
    "data_root",
    "parse_checksum",
    "file_digest",
    "download_file",
    "extract_zip",
    "DEFAULT_TIMEOUT",
    "DEFAULT_RETRIES",
    "DEFAULT_BACKOFF",
    "DEFAULT_MAX_EXTRACT_BYTES",
]

ENV_VAR = "FOVEX_DATA"
DEFAULT_ROOT = Path.home() / ".cache" / "fovex_lib" / "data"
DEFAULT_TIMEOUT = 60.0  # seconds for a connect or a single read
DEFAULT_RETRIES = 3  # further tries after the first one failed
DEFAULT_BACKOFF = 1.0  # seconds before the first retry; doubles each time (1, 2, 4 s)
DEFAULT_MAX_EXTRACT_BYTES = 4 * 1024**3  # 4 GiB: total uncompressed size extract_zip accepts
_ALGORITHMS = ("sha256", "md5")


class ChecksumError(ValueError):
    """A downloaded or existing file does not have the expected digest."""


class DownloadError(OSError):
    """A download failed (timeout, lost or refused connection, HTTP error, short body); names the URL."""


class _ShortBody(OSError):
    """The server sent fewer (or more) bytes than its Content-Length announced."""


def data_root(
    root: str | os.PathLike | None = None,
    *,
    contains: str | None = None,
    fallbacks: Sequence[str | os.PathLike] = (),
    bases: Sequence[str | os.PathLike] = (),
    argument: str = "root",
) -> Path:
    """The folder that holds the data sets (one sub-folder per set: ``osie/``, ``mit1003/``).

    The one place that decides where data live: the loaders, the chapters and the tests
    all ask it.

    Without ``contains`` nothing is checked: ``root`` if given, else ``$FOVEX_DATA`` if
    set, else ``~/.cache/fovex_lib/data`` (where downloads go). Relative paths are taken
    relative to the current working directory.

    With ``contains`` (a path inside the folder, e.g. ``"osie/stimuli"``) the first
    candidate that holds it is returned. The candidates: ``root`` alone when it is given
    (an explicit folder is never second-guessed); otherwise ``$FOVEX_DATA``, then
    ``fallbacks``, then ``~/.cache/fovex_lib/data``. A relative candidate is tried in the
    current working directory, then under each of ``bases``.

    Args:
        root: an explicit folder, or None.
        contains: what the folder must hold; None: no check (see above).
        fallbacks: further folders to try after ``$FOVEX_DATA``, e.g. ``../shared/data``
            beside a clone of the repository.
        bases: folders against which relative candidates are tried too (e.g. the
            repository root for a chapter running in ``book/chapters``).
        argument: the caller's name for ``root``, used in the error message.

    Raises:
        TypeError: ``root`` is not a path.
        FileNotFoundError: no candidate holds ``contains``; the message lists every folder
            tried and how to point at the data.
    """
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"{argument} must be a path (str or os.PathLike) or None, got {type(root).__name__}.")
    env = os.environ.get(ENV_VAR)
    if contains is None:
        if root is not None:
            return Path(root).expanduser()
        return Path(env).expanduser() if env else DEFAULT_ROOT
    candidates = [root] if root is not None else [*([env] if env else []), *fallbacks, DEFAULT_ROOT]
    tried: list[Path] = []
    for candidate in candidates:
        path = Path(candidate).expanduser()
        for folder in [path] if path.is_absolute() else [Path.cwd() / path, *(Path(b) / path for b in bases)]:
            if folder not in tried:
                tried.append(folder)
            if (folder / contains).exists():
                return folder
    where = f"the folder given as {argument}" if root is not None else f"${ENV_VAR} ({env or 'not set'})"
    raise FileNotFoundError(
        f"no data folder holding {contains} found: looked in {', '.join(str(t) for t in tried)} "
        f"({where}). Point {argument}= or the environment variable {ENV_VAR} at the folder that "
        f"holds {contains.split('/')[0]}/ (e.g. {ENV_VAR}=../shared/data beside a clone of the repository)."
    )


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


def _is_seconds(value, allow_zero: bool) -> bool:
    """A finite number of seconds, > 0 (or >= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return value >= 0 if allow_zero else value > 0


def _content_length(response) -> int | None:
    """The announced body size, or None when the response does not say (or says nonsense)."""
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        length = int(value)  # type: ignore[arg-type]  # None (no header) raises TypeError
    except (TypeError, ValueError):
        return None
    return length if length >= 0 else None


def _worth_retrying(err: BaseException) -> bool:
    """Network trouble that may pass: timeouts, lost/refused connections, DNS hiccups, short bodies, 5xx."""
    if isinstance(err, urllib.error.HTTPError):
        return err.code in (408, 429) or err.code >= 500
    cause: object = err
    if isinstance(err, urllib.error.URLError):  # urllib wraps connect errors; a missing file:// path is not one
        cause = err.reason
    return isinstance(cause, (TimeoutError, ConnectionError, socket.gaierror, http.client.HTTPException, _ShortBody))


def _fetch(url: str, dest: Path, opener, algorithm: str, expected: str | None, progress: bool, chunk_size: int) -> str:
    """One try: stream ``url`` into a temporary file next to ``dest``, check it, rename it into place."""
    hashers = {algorithm: hashlib.new(algorithm), "sha256": hashlib.sha256()}
    handle, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(handle, "wb") as out, opener(url) as response:
            announced = _content_length(response)
            received = 0
            with tqdm(total=announced, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(chunk_size), b""):
                    out.write(chunk)
                    for hasher in hashers.values():
                        hasher.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if announced is not None and received != announced:
                raise _ShortBody(
                    f"received {received} bytes but the server announced {announced} "
                    "(Content-Length); the connection was cut off"
                )
            out.flush()
            os.fsync(out.fileno())
        got = hashers[algorithm].hexdigest()
        if expected is not None and got != expected:
            raise ChecksumError(
                f"{url}: {algorithm} digest {got} does not match the expected {expected}; "
                "the download is corrupt or the file changed upstream. Nothing was written."
            )
        os.replace(tmp_name, dest)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return hashers["sha256"].hexdigest()


def download_file(
    url: str,
    dest: str | os.PathLike,
    checksum: str | None,
    *,
    allow_unverified: bool = False,
    opener=None,
    progress: bool = True,
    chunk_size: int = 1 << 16,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
) -> str:
    """Download ``url`` to ``dest`` atomically, check its length and digest, retry network trouble.

    Args:
        url: any URL ``urllib`` opens (``https://``, ``http://``, ``file://``).
        dest: final path; its folder is created. An existing file with the right
            digest is kept (no download); one with a wrong digest is replaced.
        checksum: ``"sha256:<hex>"`` / ``"md5:<hex>"``, or None for a file without a
            published digest (then ``allow_unverified=True`` is required).
        allow_unverified: accept ``checksum=None``.
        opener: callable ``opener(url) -> file-like`` (context manager with ``read(n)``,
            optionally ``headers``); default ``urllib.request.urlopen`` with ``timeout``.
            Tests pass a fake; a custom opener sets its own timeout.
        progress: show a tqdm bar.
        timeout: seconds to wait for the connection and for each read (default 60).
        retries: how many times to try again after a timeout, a lost or refused
            connection, a body shorter than its ``Content-Length`` or an HTTP
            5xx/408/429 (default 3; 0 = a single try). Checksum mismatches and other
            HTTP errors (e.g. 404) are not retried.
        backoff: seconds to wait before the first retry, doubled before each further one
            (default 1: waits of 1, 2, 4 s).

    Returns:
        the file's SHA-256 hex digest (whatever ``checksum`` used).

    Raises:
        ChecksumError: the digest does not match (nothing is written).
        DownloadError: the download failed after all tries; names the URL and the last cause.
    """
    if checksum is None:
        if not allow_unverified:
            raise ValueError(
                f"no checksum given for {url}; pass checksum='sha256:...' or, for a file "
                "without a published digest, allow_unverified=True."
            )
        algorithm, expected = "sha256", None
    else:
        algorithm, expected = parse_checksum(checksum)
    if not _is_seconds(timeout, allow_zero=False):
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}.")
    if not _is_seconds(backoff, allow_zero=True):
        raise ValueError(f"backoff must be a finite number of seconds >= 0, got {backoff!r}.")
    check_count(retries, "retries", low=0)
    dest = Path(dest)
    if dest.is_file() and expected is not None and file_digest(dest, algorithm) == expected:
        return file_digest(dest, "sha256")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if opener is None:
        opener = functools.partial(urllib.request.urlopen, timeout=timeout)
    attempt = 0
    while True:
        try:
            return _fetch(url, dest, opener, algorithm, expected, progress, chunk_size)
        except (
            urllib.error.URLError,
            http.client.HTTPException,
            TimeoutError,
            ConnectionError,
            socket.gaierror,
            _ShortBody,
        ) as err:
            transient = _worth_retrying(err)
            if not transient or attempt == retries:
                tries = "1 try" if attempt == 0 else f"{attempt + 1} tries"
                hint = "check the network connection and the URL, then run again" if transient else "check the URL"
                raise DownloadError(
                    f"could not download {url} ({type(err).__name__}: {err}) after {tries} "
                    f"(timeout {timeout:g} s per connect/read); {hint}. Nothing was written "
                    f"to {dest}."
                ) from err
            time.sleep(backoff * 2**attempt)
            attempt += 1


def _safe_members(archive: zipfile.ZipFile, path: Path) -> list[zipfile.ZipInfo]:
    members = []
    for info in archive.infolist():
        name = PurePosixPath(info.filename)
        if name.is_absolute() or ".." in name.parts or ":" in info.filename:
            raise ValueError(f"{path}: refusing to extract member {info.filename!r} (absolute path or '..').")
        members.append(info)
    return members


def extract_zip(
    archive_path: str | os.PathLike,
    dest_dir: str | os.PathLike,
    *,
    folders: tuple[str, ...],
    max_bytes: int = DEFAULT_MAX_EXTRACT_BYTES,
) -> list[Path]:
    """Extract a zip atomically: the named top-level ``folders`` appear in ``dest_dir`` complete or not at all.

    Args:
        archive_path: the zip file.
        dest_dir: where the folders end up (``dest_dir / folder``).
        folders: top-level folder names the archive must contain (e.g. ``("ALLSTIMULI",)``);
            a missing one raises ``ValueError``. Other members are ignored.
        max_bytes: refuse the archive (``ValueError``) when the members to extract add up to
            more than this many bytes uncompressed (default 4 GiB). Python's ``zipfile``
            never writes more than a member's declared size, so this bounds the disk used.

    Returns:
        the extracted folder paths. Existing folders of the same name are replaced.

    Raises:
        ValueError: the archive is unreadable, damaged or incomplete (every extracted member
            is checked against its CRC), unsafe, too large, or lacks one of ``folders``.
    """
    check_count(max_bytes, "max_bytes", low=0)
    archive_path, dest_dir = Path(archive_path), Path(dest_dir)
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(
            f"{archive_path}: not a readable zip archive ({err}); it is damaged or incomplete - "
            "delete it and download it again."
        ) from err
    dest_dir.mkdir(parents=True, exist_ok=True)
    with archive, tempfile.TemporaryDirectory(prefix=".extract-", dir=dest_dir) as tmp:
        members = _safe_members(archive, archive_path)
        present = {PurePosixPath(m.filename).parts[0] for m in members if m.filename.strip("/")}
        missing = [f for f in folders if f not in present]
        if missing:
            raise ValueError(f"{archive_path}: expected top-level folder(s) {missing}, found {sorted(present)}.")
        wanted = [m for m in members if PurePosixPath(m.filename).parts[0] in folders]
        total = sum(m.file_size for m in wanted)
        if total > max_bytes:
            raise ValueError(
                f"{archive_path}: its members would take {total:,} bytes uncompressed, more than "
                f"the limit of {max_bytes:,} bytes; this is not the expected archive (corrupt or "
                "crafted). If it is genuine, pass a larger max_bytes."
            )
        try:
            archive.extractall(tmp, members=wanted)
        except (zipfile.BadZipFile, zlib.error, EOFError) as err:
            raise ValueError(
                f"{archive_path}: the archive is damaged ({type(err).__name__}: {err}); delete it "
                "and download it again."
            ) from err
        out = []
        for folder in folders:
            target = dest_dir / folder
            if target.exists():
                shutil.rmtree(target)
            os.replace(Path(tmp) / folder, target)
            out.append(target)
    return out
