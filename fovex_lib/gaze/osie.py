"""OSIE: 700 natural images (800x600) with free-viewing fixations of 15 observers.

Xu, Jiang, Wang, Kankanhalli and Zhao, "Predicting human gaze beyond pixels",
Journal of Vision 14(1):28, 2014; public repository
``NUS-VIP/predicting-human-gaze-beyond-pixels`` (MIT licence).

Layout read here (the repository's own, under ``data/``)::

    <root>/osie/stimuli/1001.jpg ... 1700.jpg     800x600 RGB
    <root>/osie/eye/fixations.mat                 MATLAB v5

``fixations.mat`` holds a 700x1 cell ``fixations``; each entry is a struct with
``img`` (file name) and ``subjects`` (a cell of 15 structs with ``fix_x``,
``fix_y`` - 1-based pixel coordinates, x = column, y = row - and ``fix_duration``
in ms). The loader converts to the library's 0-based ``(row, col)``
(:mod:`fovex_lib.gaze.records`): ``row = fix_y - 1``, ``col = fix_x - 1``.

Documented handling of imperfect data:

* stimuli missing from ``stimuli/`` (e.g. a partial copy): those images are left
  out and listed in ``dataset.missing``; a stimulus without a fixation entry is an error.
* an image with fewer than ``min_observers`` observers (default 15): ``ValueError``
  (lower ``min_observers`` to accept it). An observer with no fixations is kept
  (contributes nothing).
* fixations outside the image: ``outside="drop"`` (default) removes them and counts
  them in ``record.dropped``; ``outside="error"`` raises.
* unreadable ``fixations.mat`` or a malformed entry: ``ValueError`` naming the file/entry.
  Unreadable images fail when loaded (:meth:`GazeRecord.load`).

Download (:func:`download_osie`): from the repository at a pinned commit, every file
checked against the SHA-256 list shipped in ``osie_sha256.txt``. That list covers
``eye/fixations.mat`` and stimuli 1001-1500 (the copy available to this project);
stimuli 1501-1700 have no recorded digest and are fetched only with
``all_images=True``, checked instead to decode completely (a cut-off JPEG is
refused) as 800x600 images.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from .download import DEFAULT_RETRIES, DEFAULT_TIMEOUT, data_root, download_file
from .records import GazeDataset, GazeRecord, fixations_inside

__all__ = ["OSIE_SIZE", "OSIE_OBSERVERS", "OSIE_URL", "load_osie", "download_osie", "osie_dir", "osie_checksums"]

OSIE_SIZE = (600, 800)  # (H, W)
OSIE_OBSERVERS = 15
OSIE_COMMIT = "63223a0dba3b521861cb7f356ad13400ef4b3d03"
OSIE_URL = f"https://raw.githubusercontent.com/NUS-VIP/predicting-human-gaze-beyond-pixels/{OSIE_COMMIT}/data/"
OSIE_IDS = [str(i) for i in range(1001, 1701)]


def osie_checksums() -> dict[str, str]:
    """``{"stimuli/1001.jpg": "sha256:...", "eye/fixations.mat": "sha256:..."}`` from ``osie_sha256.txt``."""
    table = {}
    with open(Path(__file__).with_name("osie_sha256.txt"), encoding="utf-8") as handle:
        for line in handle:
            if line.strip() and not line.startswith("#"):
                digest, name = line.split()
                table[name] = f"sha256:{digest}"
    return table


def osie_dir(root: str | os.PathLike | None = None) -> Path:
    """The OSIE folder: ``root/osie`` (``root`` from :func:`fovex_lib.gaze.download.data_root`),
    or ``root`` itself when it already holds ``eye/fixations.mat``."""
    base = data_root(root)
    if (base / "eye" / "fixations.mat").is_file():
        return base
    return base / "osie"


def download_osie(
    root: str | os.PathLike | None = None,
    all_images: bool = False,
    opener=None,
    base_url: str = OSIE_URL,
    progress: bool = True,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> Path:
    """Download OSIE into ``osie_dir(root)``; files already there with the right digest are kept.

    Args:
        root: data folder (see :func:`fovex_lib.gaze.download.data_root`).
        all_images: also fetch stimuli 1501-1700, which have no recorded digest (each is
            checked to decode completely as an 800x600 image).
        opener, base_url: for tests (a fake opener / a ``file://`` mirror of the ``data/`` folder).
        progress: progress bar over files.
        timeout, retries: per connect/read timeout in seconds and number of retries of
            :func:`~fovex_lib.gaze.download.download_file` (defaults 60 s and 3).
    """
    from tqdm.auto import tqdm

    target = osie_dir(root)
    sums = osie_checksums()
    names = ["eye/fixations.mat"] + [f"stimuli/{i}.jpg" for i in OSIE_IDS]
    if not all_images:
        names = [n for n in names if n in sums]
    for name in tqdm(names, desc="OSIE", disable=not progress):
        dest = target / name
        checksum = sums.get(name)
        download_file(
            base_url + name,
            dest,
            checksum,
            allow_unverified=checksum is None,
            opener=opener,
            progress=False,
            timeout=timeout,
            retries=retries,
        )
        if checksum is None:
            _check_stimulus(dest)
    return target


def _check_stimulus(path: Path) -> None:
    """Decode the whole image (``Image.verify`` would pass a cut-off JPEG) and check its size;
    a bad file is removed and raises ``ValueError``."""
    try:
        with Image.open(path) as img:
            img.load()  # full decode: raises on a truncated file
            size = img.size
    except Exception as err:  # Pillow raises many types for broken files
        path.unlink(missing_ok=True)
        raise ValueError(f"{path}: downloaded file is not a readable image ({err}); removed it.") from err
    if size != OSIE_SIZE[::-1]:
        path.unlink(missing_ok=True)
        raise ValueError(f"{path}: expected an 800x600 OSIE stimulus, got {size[0]}x{size[1]}; removed it.")


def _field(struct, name: str, where: str):
    try:
        value = struct[name]
    except (ValueError, KeyError, IndexError) as err:
        raise ValueError(f"{where}: missing field {name!r}; is this OSIE's eye/fixations.mat?") from err
    while isinstance(value, np.ndarray) and value.size == 1 and (value.dtype == object or value.dtype.kind == "U"):
        value = value.flat[0]  # MATLAB wraps cells and strings in 1x1 arrays
    return value


def _read_fixations_mat(path: Path) -> list[tuple[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]]:
    """[(file name, [(fix_x, fix_y, fix_duration) per subject]) per image] from fixations.mat."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except Exception as err:  # scipy raises ValueError, OSError, MatReadError, ...
        raise ValueError(
            f"{path}: cannot read the MATLAB file ({type(err).__name__}: {err}); the file "
            "may be corrupt or truncated - download it again (download_osie)."
        ) from err
    if "fixations" not in mat:
        raise ValueError(f"{path}: no variable 'fixations' (found {sorted(k for k in mat if not k.startswith('__'))}).")
    entries = []
    for k, cell in enumerate(np.asarray(mat["fixations"]).ravel()):
        where = f"{path.name}, entry {k}"
        name = str(_field(cell, "img", where)).strip()
        subjects = np.asarray(_field(cell, "subjects", where)).ravel()
        observers = []
        for j, subject in enumerate(subjects):
            sw = f"{where} ({name}), subject {j}"
            xs = np.asarray(_field(subject, "fix_x", sw), dtype=np.float64).ravel()
            ys = np.asarray(_field(subject, "fix_y", sw), dtype=np.float64).ravel()
            ds = np.asarray(_field(subject, "fix_duration", sw), dtype=np.float64).ravel()
            if not (len(xs) == len(ys) == len(ds)):
                raise ValueError(
                    f"{sw}: fix_x, fix_y, fix_duration have different lengths ({len(xs)}, {len(ys)}, {len(ds)})."
                )
            if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
                raise ValueError(f"{sw}: fixation coordinates contain NaN or infinity.")
            observers.append((xs, ys, ds))
        entries.append((name, observers))
    return entries


def load_osie(
    root: str | os.PathLike | None = None,
    image_ids=None,
    download: bool = True,
    min_observers: int = OSIE_OBSERVERS,
    outside: str = "drop",
) -> GazeDataset:
    """Load OSIE stimuli and fixations.

    Args:
        root: data folder holding ``osie/`` (or the OSIE folder itself); default
            ``$FOVEX_DATA`` then ``~/.cache/fovex_lib/data`` (:func:`~fovex_lib.gaze.download.data_root`).
        image_ids: keep only these ids (e.g. ``["1001", "1002"]``); default all with a stimulus.
        download: when ``eye/fixations.mat`` is missing, download the data set
            (:func:`download_osie`; needs a network); False raises instead.
        min_observers: fewest observers an image may have (OSIE: 15).
        outside: ``"drop"`` or ``"error"`` for fixations outside the image (module docstring).

    Returns:
        :class:`~fovex_lib.gaze.records.GazeDataset` of :class:`GazeRecord`, sorted by id;
        stimulus sizes are read from the file headers (images are loaded lazily).
    """
    if outside not in ("drop", "error"):
        raise ValueError(f"outside must be 'drop' or 'error', got {outside!r}.")
    folder = osie_dir(root)
    mat_path = folder / "eye" / "fixations.mat"
    if not mat_path.is_file():
        if not download:
            raise FileNotFoundError(
                f"OSIE not found: {mat_path} does not exist. Point root= or the "
                "FOVEX_DATA environment variable at a folder holding osie/, or pass download=True."
            )
        try:
            download_osie(root)
        except OSError as err:
            raise FileNotFoundError(
                f"OSIE not found at {folder} and the download failed ({err}). Without a "
                "network, copy the data set there or set FOVEX_DATA."
            ) from err
    entries = _read_fixations_mat(mat_path)
    wanted = None if image_ids is None else {str(i) for i in image_ids}
    records, missing = [], []
    known = {Path(name).stem for name, _ in entries}
    if wanted is not None and wanted - known:
        raise ValueError(f"unknown OSIE image id(s) {sorted(wanted - known)[:5]}; ids run 1001..1700.")
    for name, observers in entries:
        image_id = Path(name).stem
        if wanted is not None and image_id not in wanted:
            continue
        path = folder / "stimuli" / name
        if not path.is_file():
            missing.append(image_id)
            continue
        if len(observers) < min_observers:
            raise ValueError(
                f"OSIE image {image_id} has {len(observers)} observers, fewer than "
                f"min_observers={min_observers}; pass a smaller min_observers to accept it."
            )
        try:
            with Image.open(path) as img:
                width, height = img.size
        except Exception as err:
            raise ValueError(f"{path}: cannot read the image header ({err}); the file may be corrupt.") from err
        rows = [ys - 1.0 for _, ys, _ in observers]
        cols = [xs - 1.0 for xs, _, _ in observers]
        fixations = np.stack([np.concatenate(rows), np.concatenate(cols)], axis=1) if rows else np.zeros((0, 2))
        observer = np.concatenate([np.full(len(xs), j, dtype=np.int64) for j, (xs, _, _) in enumerate(observers)])
        durations = np.concatenate([ds for _, _, ds in observers])
        inside = fixations_inside(fixations, (height, width))
        if not inside.all() and outside == "error":
            bad = fixations[~inside][0] + 1.0
            raise ValueError(
                f"OSIE image {image_id}: {int((~inside).sum())} fixation(s) outside the "
                f"{width}x{height} image, e.g. fix_x={bad[1]:.1f}, fix_y={bad[0]:.1f} (1-based); "
                "pass outside='drop' to remove them."
            )
        records.append(
            GazeRecord(
                image_id=image_id,
                path=path,
                size=(height, width),
                fixations=fixations[inside],
                observer=observer[inside],
                durations=durations[inside],
                num_observers=len(observers),
                dropped=int((~inside).sum()),
            )
        )
    stimuli = {p.stem for p in (folder / "stimuli").glob("*.jpg")} if (folder / "stimuli").is_dir() else set()
    orphans = sorted(stimuli - known)
    if orphans:
        raise ValueError(f"{folder / 'stimuli'}: image(s) {orphans[:5]} have no entry in {mat_path.name}.")
    records.sort(key=lambda r: r.image_id)
    return GazeDataset(records, "OSIE", folder, missing)
