"""MIT1003 (Judd, Ehinger, Durand and Torralba, "Learning to predict where humans look",
ICCV 2009): 1003 images, free viewing by 15 observers; the data set of the FovEx
paper's Table 2. Official page: https://people.csail.mit.edu/tjudd/WherePeopleLook/

Layout read here (the two official archives, unzipped as they come)::

    <root>/mit1003/ALLSTIMULI/<name>.jpeg                 stimuli (sizes vary, longer side 1024)
    <root>/mit1003/ALLFIXATIONMAPS/<name>_fixPts.jpg      fixated pixels of all observers (binary)
    <root>/mit1003/ALLFIXATIONMAPS/<name>_fixMap.jpg      the same, blurred (for display)

Fixations come from ``_fixPts.jpg``: every pixel brighter than ``threshold * 255``
(default 0.5; the maps are stored as JPEG, so their zeros and ones carry small
compression errors) is one fixated pixel. These archives pool the observers and
keep no order or duration, so ``record.observer`` is -1 and ``record.durations``
NaN; per-observer scanpaths are only in the raw ``DATA.zip`` eye-tracker files,
which need the authors' MATLAB code to segment into fixations and are not read here.

Handling of imperfect data: a stimulus without its ``_fixPts.jpg`` (or the other way
round) raises ``ValueError`` naming it; so does a fixation map whose size differs from
its stimulus, an unreadable file, or a map without any fixated pixel.

Download (:func:`download_mit1003`): ``ALLSTIMULI.zip`` is checked against the MD5
that pysaliency's MIT1003 loader uses (the only published digest we know);
``ALLFIXATIONMAPS.zip`` has no published digest, so its SHA-256 is recorded in
``<root>/mit1003/SHA256SUMS`` on first download (trust on first use) and later
downloads must match it. The digest is recorded only after the archive has been
read and fully extracted (every member checked against its CRC): a cut-off or
damaged archive is deleted and never pins its digest, so simply running the
download again fixes it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from .download import (
    DEFAULT_MAX_EXTRACT_BYTES,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    ChecksumError,
    data_root,
    download_file,
    extract_zip,
)
from .records import GazeDataset, GazeRecord

__all__ = ["MIT1003_URL", "MIT1003_ARCHIVES", "load_mit1003", "download_mit1003", "mit1003_dir"]

MIT1003_URL = "https://people.csail.mit.edu/tjudd/WherePeopleLook/"
# archive name -> (top-level folder inside, checksum or None when none is published)
MIT1003_ARCHIVES = {
    "ALLSTIMULI.zip": ("ALLSTIMULI", "md5:0d7df8b954ecba69b6796e77b9afe4b6"),
    "ALLFIXATIONMAPS.zip": ("ALLFIXATIONMAPS", None),
}
MIT1003_OBSERVERS = 15
_STIMULUS_SUFFIXES = {".jpeg", ".jpg"}


def mit1003_dir(root: str | os.PathLike | None = None) -> Path:
    """``root/mit1003``, or ``root`` itself when it already holds ``ALLSTIMULI/``."""
    base = data_root(root)
    return base if (base / "ALLSTIMULI").is_dir() else base / "mit1003"


def _recorded_sums(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    sums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split()
            sums[name] = f"sha256:{digest}"
    return sums


def _write_sums(path: Path, recorded: dict[str, str]) -> None:
    """Write ``SHA256SUMS`` atomically (temporary file + rename)."""
    lines = ["# SHA-256 of the MIT1003 archives as first downloaded (trust on first use)"]
    lines += [f"{v.split(':', 1)[1]}  {k}" for k, v in sorted(recorded.items())]
    tmp = path.with_suffix(".part")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def download_mit1003(
    root: str | os.PathLike | None = None,
    opener=None,
    base_url: str = MIT1003_URL,
    keep_archives: bool = False,
    progress: bool = True,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    max_bytes: int = DEFAULT_MAX_EXTRACT_BYTES,
) -> Path:
    """Download and unpack the stimuli and fixation-map archives into ``mit1003_dir(root)``.

    Each archive is downloaded atomically and checked (module docstring), then
    unpacked atomically; the archive is deleted afterwards unless ``keep_archives``.
    An archive without a published digest has its SHA-256 recorded in ``SHA256SUMS``
    only once it has been extracted completely; a damaged archive is deleted and
    raises ``ValueError`` (run again to download it anew).

    Args:
        root: data folder (see :func:`fovex_lib.gaze.download.data_root`).
        opener, base_url: let tests serve a fabricated archive.
        keep_archives: keep the ``.zip`` files after extraction.
        progress: show download progress bars.
        timeout, retries: per connect/read timeout in seconds and number of retries of
            :func:`~fovex_lib.gaze.download.download_file` (defaults 60 s and 3).
        max_bytes: largest total uncompressed size accepted per archive
            (:func:`~fovex_lib.gaze.download.extract_zip`; default 4 GiB).
    """
    target = mit1003_dir(root)
    target.mkdir(parents=True, exist_ok=True)
    sums_path = target / "SHA256SUMS"
    recorded = _recorded_sums(sums_path)
    for archive, (folder, checksum) in MIT1003_ARCHIVES.items():
        if (target / folder).is_dir():
            continue
        pinned = checksum is None and archive in recorded  # digest from our own first download
        checksum = checksum or recorded.get(archive)
        dest, url = target / archive, base_url + archive
        try:
            sha256 = download_file(
                url,
                dest,
                checksum,
                allow_unverified=checksum is None,
                opener=opener,
                progress=progress,
                timeout=timeout,
                retries=retries,
            )
        except ChecksumError as err:
            if not pinned:
                raise
            raise ChecksumError(
                f"{err} The expected digest was recorded in {sums_path} at the first download; "
                f"if the archive changed upstream, or that first download was damaged, delete "
                f"the line for {archive} in {sums_path} and run again."
            ) from err
        try:
            extract_zip(dest, target, folders=(folder,), max_bytes=max_bytes)
        except ValueError as err:
            dest.unlink(missing_ok=True)
            raise ValueError(
                f"MIT1003 archive {archive} downloaded from {url} cannot be used: {err} The archive "
                "was deleted and its digest not recorded; run download_mit1003 again to download "
                "it anew."
            ) from err
        if archive not in recorded:  # trust on first use, now that the archive is known to be complete
            recorded[archive] = f"sha256:{sha256}"
            _write_sums(sums_path, recorded)
        if not keep_archives:
            dest.unlink()
    return target


def _read_gray(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("L"))
    except Exception as err:
        raise ValueError(f"{path}: cannot read the image ({err}); the file may be corrupt.") from err


def load_mit1003(
    root: str | os.PathLike | None = None, image_ids=None, download: bool = True, threshold: float = 0.5
) -> GazeDataset:
    """Load MIT1003 stimuli and the pooled fixations of its fixation-point maps.

    Args:
        root: data folder holding ``mit1003/`` (or that folder itself); default
            ``$FOVEX_DATA`` then ``~/.cache/fovex_lib/data``.
        image_ids: keep only these stimulus names (file names without extension).
        download: download the archives when ``ALLSTIMULI/`` is missing (needs a network).
        threshold: a ``_fixPts.jpg`` pixel above ``threshold * 255`` is a fixated pixel.

    Returns:
        :class:`~fovex_lib.gaze.records.GazeDataset`, sorted by name. ``record.fixations``
        holds the fixated pixel centres (row-major order); ``record.extra["fixation_map"]``
        the path of the blurred ``_fixMap.jpg`` when present.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        raise ValueError(f"threshold must be a number in (0, 1), got {threshold!r}.")
    folder = mit1003_dir(root)
    stimuli_dir, maps_dir = folder / "ALLSTIMULI", folder / "ALLFIXATIONMAPS"
    if not stimuli_dir.is_dir() or not maps_dir.is_dir():
        if not download:
            raise FileNotFoundError(
                f"MIT1003 not found: {stimuli_dir} and {maps_dir} must exist. Point root= "
                "or FOVEX_DATA at a folder holding mit1003/, or pass download=True."
            )
        try:
            download_mit1003(root)
        except OSError as err:
            raise FileNotFoundError(f"MIT1003 not found at {folder} and the download failed ({err}).") from err
    stimuli = {p.stem: p for p in stimuli_dir.iterdir() if p.suffix.lower() in _STIMULUS_SUFFIXES}
    points = {p.name[: -len("_fixPts.jpg")]: p for p in maps_dir.glob("*_fixPts.jpg")}
    if not stimuli:
        raise ValueError(f"{stimuli_dir} holds no .jpeg stimuli.")
    if set(stimuli) != set(points):
        no_map, no_stim = sorted(set(stimuli) - set(points)), sorted(set(points) - set(stimuli))
        raise ValueError(
            f"MIT1003 files do not pair up: stimuli without _fixPts.jpg {no_map[:5]}, "
            f"fixation maps without stimulus {no_stim[:5]}."
        )
    names = sorted(stimuli)
    if image_ids is not None:
        wanted = [str(i) for i in image_ids]
        unknown = sorted(set(wanted) - set(stimuli))
        if unknown:
            raise ValueError(f"unknown MIT1003 image id(s) {unknown[:5]}.")
        names = sorted(set(wanted))
    records = []
    for name in names:
        try:
            with Image.open(stimuli[name]) as img:
                width, height = img.size
        except Exception as err:
            raise ValueError(f"{stimuli[name]}: cannot read the image header ({err}).") from err
        fixated = _read_gray(points[name]) > threshold * 255
        if fixated.shape != (height, width):
            raise ValueError(
                f"{points[name]}: fixation map is {fixated.shape[1]}x{fixated.shape[0]} but the "
                f"stimulus is {width}x{height}."
            )
        rows, cols = np.nonzero(fixated)
        if len(rows) == 0:
            raise ValueError(f"{points[name]}: no pixel above threshold {threshold}; is it a fixation map?")
        fix_map = maps_dir / f"{name}_fixMap.jpg"
        records.append(
            GazeRecord(
                image_id=name,
                path=stimuli[name],
                size=(height, width),
                fixations=np.stack([rows, cols], axis=1).astype(np.float64),
                observer=np.full(len(rows), -1, dtype=np.int64),
                durations=np.full(len(rows), np.nan),
                num_observers=MIT1003_OBSERVERS,
                extra={"fixation_map": fix_map} if fix_map.is_file() else {},
            )
        )
    return GazeDataset(records, "MIT1003", folder)
