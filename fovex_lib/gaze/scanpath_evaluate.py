"""The scanpath table: model and reference scanpaths compared with every human observer's.

For each image and each scanpath length L (the first L fixations of every path; observers
with fewer than L fixations are left out at that L, so every compared path has the same
length), :func:`score_scanpaths` gives one row per scanpath source with the mean of each
measure of :mod:`fovex_lib.gaze.scanpath_measures` over the observers:

* ``"human ceiling"``: every pair of observers (each unordered pair once; all measures are
  symmetric), with fixation durations, so the MultiMatch duration similarity is defined
  here only - how alike two people's scanpaths are;
* each model method (from :func:`fovex_lib.gaze.scanpaths.model_scanpaths`) against each
  observer;
* ``"<method> (order shuffled)"`` for each method named in ``shuffle``: the same fixations
  in ``shuffles`` random orders (per image and L, seeded), the measures averaged over the
  orders - a permutation test of whether the *order* carries information beyond the positions;
* ``"oracle map"``: winner-take-all on the fixation density of the *other* observers
  (leave-one-out, ``observer_sigma_px``), compared with the held-out observer;
* ``"centre map"``: winner-take-all on chapter 7's centre-bias Gaussian;
* ``"centre random"``, ``"uniform random"``: chance scanpaths
  (:func:`fovex_lib.gaze.scanpaths.random_scanpath`), one per image, seeded by the image id.

Each image's rows are one cached entry (:mod:`fovex_lib.tools.cache`); the key holds the
model scanpaths' SHA-256, so new model scanpaths are scored again.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from .._checks import check_count, check_seed
from ..tools.cache import cached_map, result_key
from .reference_maps import centre_bias_map, fixation_density
from .scanpath_measures import compare
from .scanpaths import IOR_RADIUS_FRACTION, human_scanpaths, ior_radius, random_scanpath, truncate, winner_take_all

__all__ = ["MEASURES", "COLUMNS", "REFERENCE_SOURCES", "score_scanpaths", "image_seed"]

#: measure column -> (label, higher is better)
MEASURES = {
    "mm_vector": ("MultiMatch vector", True),
    "mm_direction": ("MultiMatch direction", True),
    "mm_length": ("MultiMatch length", True),
    "mm_position": ("MultiMatch position", True),
    "mm_duration": ("MultiMatch duration", True),
    "scanmatch": ("ScanMatch", True),
    "edit": ("edit similarity", True),
    "nearest_px": ("nearest-fixation distance (px)", False),
}
#: the columns of a row of :func:`score_scanpaths`
COLUMNS = ("image_id", "method", "length", "observers", *MEASURES)
#: the reference rows of :func:`score_scanpaths` besides the model methods and their shuffles
REFERENCE_SOURCES = ("human ceiling", "oracle map", "centre map", "centre random", "uniform random")


def image_seed(seed: int, image_id: str) -> int:
    """A seed for one image's random draws: the same for an image whatever subset or shard it is in."""
    check_seed(seed)
    digest = hashlib.sha256(f"{seed}:{image_id}".encode()).hexdigest()
    return int(digest[:15], 16)


def _mean_measures(pairs: list[dict]) -> dict:
    """Column-wise mean of measure dicts (NaN where a measure is undefined for every pair)."""
    out = {}
    for name in MEASURES:
        values = np.array([p[name] for p in pairs], dtype=np.float64)
        out[name] = float(values.mean()) if len(values) and np.isfinite(values).all() else float("nan")
    return out


def _paths_digest(paths: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for method in sorted(paths):
        h.update(method.encode())
        h.update(np.ascontiguousarray(paths[method], dtype=np.float64).tobytes())
    return h.hexdigest()


def score_scanpaths(
    records,
    model_paths: dict[str, dict[str, dict]],
    *,
    lengths=(5, 10),
    shuffle=("FovEx",),
    shuffles: int = 10,
    seed: int = 0,
    centre_sigma: float = 0.25,
    observer_sigma_px: float = 24.0,
    ior_fraction: float = IOR_RADIUS_FRACTION,
    grid: tuple[int, int] = (8, 12),
    references: bool = True,
    dataset: str | None = None,
    cache=None,
    shard=None,
    progress: bool = True,
) -> list[dict]:
    """Score scanpaths against each record's human observers (module docstring).

    Args:
        records: :class:`~fovex_lib.gaze.records.GazeRecord` list with per-observer data (OSIE).
        model_paths: ``{method: {image_id: {"scanpath": (>= max(lengths), 2) array, ...}}}``,
            e.g. :func:`~fovex_lib.gaze.scanpaths.model_scanpaths`; a method without an entry
            for an image has no rows for it.
        lengths: the scanpath lengths L to score (each >= 1; MultiMatch needs L >= 3, its
            columns are NaN below).
        shuffle: methods whose fixations are also scored in shuffled order.
        shuffles: random orders per image and L for the shuffled rows.
        seed: seeds the shuffles and the chance scanpaths (per image, :func:`image_seed`).
        centre_sigma: the centre-bias Gaussian's width (chapter 7) for ``"centre map"`` and
            ``"centre random"``.
        observer_sigma_px: Gaussian sigma of the other observers' density (``"oracle map"``).
        ior_fraction: inhibition-of-return radius of the map-driven reference scanpaths.
        grid: (rows, cols) of the grid for ScanMatch and the edit similarity.
        references: add the rows of :data:`REFERENCE_SOURCES`.
        dataset: data-set name for the key (default ``records.name``).
        cache, shard, progress: the shared protocol of :mod:`fovex_lib.tools.cache`.

    Returns:
        Rows ``image_id, method, length, observers`` (how many observers, or observer pairs
        for the human ceiling, were compared) and one column per :data:`MEASURES` entry;
        image by image, then by length, then by method.
    """
    lengths = sorted({check_count(L, "length") for L in lengths})
    check_count(shuffles, "shuffles")
    check_seed(seed)
    longest = lengths[-1]
    dataset = dataset or getattr(records, "name", "gaze")
    records = list(records)
    unknown = [m for m in shuffle if m not in model_paths]
    if unknown:
        raise ValueError(f"shuffle names {unknown}, which are not among the model methods {list(model_paths)}.")

    def paths_of(record) -> dict[str, np.ndarray]:
        paths = {}
        for method, per_image in model_paths.items():
            if record.image_id in per_image:
                path = np.asarray(per_image[record.image_id]["scanpath"], dtype=np.float64)
                if path.ndim != 2 or path.shape[1] != 2 or len(path) < longest:
                    raise ValueError(
                        f"{method} on image {record.image_id}: scanpath of shape {path.shape}, but the "
                        f"table needs at least {longest} (row, col) fixations (lengths={lengths})."
                    )
                paths[method] = path[:longest]
        return paths

    settings = {
        "lengths": lengths,
        "shuffle": list(shuffle),
        "shuffles": shuffles,
        "seed": seed,
        "centre_sigma": centre_sigma,
        "observer_sigma_px": observer_sigma_px,
        "ior_fraction": float(ior_fraction),
        "grid": list(grid),
        "references": references,
    }

    def key(record):
        return result_key(
            "scanpath-scores",
            "all",
            record.image_id,
            dataset=dataset,
            image_size=list(record.size),
            settings=settings,
            model_paths=_paths_digest(paths_of(record)),
        )

    def compute(batch):  # a cache value holds plain lists: rows as lists in COLUMNS order
        return [{"rows": [[row[c] for c in COLUMNS] for row in _score_record(r, paths_of(r))]} for r in batch]

    def _score_record(record, paths: dict[str, np.ndarray]) -> list[dict]:
        size = tuple(record.size)
        humans = human_scanpaths(record)
        generator = torch.Generator().manual_seed(image_seed(seed, record.image_id))
        chance: dict[str, np.ndarray] = {}
        oracle: list[np.ndarray | None] = []
        if references:
            chance["centre map"] = winner_take_all(
                centre_bias_map(size, centre_sigma), longest, ior_radius(size, ior_fraction)
            )[0].numpy()
            chance["centre random"] = random_scanpath(size, longest, generator, centre_sigma=centre_sigma)
            chance["uniform random"] = random_scanpath(size, longest, generator)
            others = []
            for o in range(len(humans)):
                rest = np.concatenate([h[:, :2] for j, h in enumerate(humans) if j != o])
                others.append(fixation_density(rest, size, observer_sigma_px))
            oracle_paths = winner_take_all(torch.cat(others), longest, ior_radius(size, ior_fraction)).numpy()
            oracle = [oracle_paths[o] for o in range(len(humans))]
        rows = []
        for L in lengths:
            observed = truncate(humans, L)
            valid = [o for o, p in enumerate(observed) if p is not None]
            if len(valid) < 2:
                continue  # no human ceiling (nor a meaningful comparison) at this length

            def against_people(path, valid=valid, observed=observed, L=L):
                return _mean_measures([compare(path[:L], observed[o][:, :2], size, grid) for o in valid])

            table: dict[str, dict] = {}
            if references:
                pairs = [
                    compare(observed[a], observed[b], size, grid) for i, a in enumerate(valid) for b in valid[i + 1 :]
                ]
                table["human ceiling"] = {**_mean_measures(pairs), "observers": len(pairs)}
            for method, path in paths.items():
                table[method] = {**against_people(path), "observers": len(valid)}
                if method in shuffle:  # own generator per image and L: the same orders for any `lengths`
                    orders_from = torch.Generator().manual_seed(image_seed(seed, f"{record.image_id}:shuffle:{L}"))
                    orders = [torch.randperm(L, generator=orders_from).numpy() for _ in range(shuffles)]
                    shuffled = [against_people(path[:L][order]) for order in orders]
                    table[f"{method} (order shuffled)"] = {**_mean_measures(shuffled), "observers": len(valid)}
            if references:
                table["oracle map"] = {
                    **_mean_measures(
                        [compare(oracle[o][:L], observed[o][:, :2], size, grid) for o in valid]  # type: ignore[index]
                    ),
                    "observers": len(valid),
                }
                for name in ("centre map", "centre random", "uniform random"):
                    table[name] = {**against_people(chance[name]), "observers": len(valid)}
            for method, values in table.items():
                rows.append({"image_id": record.image_id, "method": method, "length": L, **values})
        for row in rows:  # plain Python numbers (the cache stores JSON)
            for name in MEASURES:
                row[name] = float(row[name])
        return rows

    table = cached_map(
        records, compute, key, cache=cache, shard=shard, batch_size=1, progress=progress, desc="scanpath scores"
    )
    return [dict(zip(COLUMNS, row)) for value in table for row in value["rows"]]
