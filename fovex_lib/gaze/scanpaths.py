"""Scanpaths: ordered fixations of people, of FovEx, and of simple reference generators.

A scanpath here is a numpy array of shape (L, 2), ``(row, col)`` in 0-based continuous
**stimulus** pixel coordinates (the convention of :mod:`fovex_lib.gaze.records`), in viewing
order; human scanpaths carry a third column, the fixation duration in ms.

Where the scanpaths come from:

* **people**: :func:`human_scanpaths`, one per observer of a :class:`~fovex_lib.gaze.records.GazeRecord`
  (OSIE keeps every observer's fixations in viewing order, with durations);
* **FovEx**: its ordered fixations, mapped from the model's input to the stimulus with
  :func:`fovex_lib.gaze.evaluate.scanpath_to_stimulus` (crop or full view, as chapter 7);
* **a saliency map**: :func:`winner_take_all` - the map's maximum, then inhibition of
  return (the neighbourhood of each fixation is switched off) and the next maximum, as in
  the saliency model of Itti, Koch & Niebur (1998, IEEE TPAMI 20(11)), whose focus of
  attention has a fixed radius of one sixth of the smaller image side
  (:data:`IOR_RADIUS_FRACTION`). This turns any attribution map (Grad-CAM, RISE, ...) or
  reference map (the centre bias, the other observers' fixation density) into a scanpath;
* **chance**: :func:`random_scanpath`, uniform on the stimulus or drawn from the
  centre-bias Gaussian of chapter 7.

:func:`model_scanpaths` runs explainers over records in batches through the library's
resumable loop (:func:`fovex_lib.tools.cache.cached_map`), like chapter 7's
:func:`~fovex_lib.gaze.evaluate.evaluate_methods`: an explainer whose output carries a
``scanpath`` (FovEx) gives its own fixations, every other explainer's map is turned into a
scanpath by :func:`winner_take_all` on the stimulus.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .._checks import check_count, check_positive
from ..tools.cache import cached_map, explainer_settings, result_key, select_shard
from .evaluate import check_view, map_to_stimulus, scanpath_to_stimulus

__all__ = [
    "IOR_RADIUS_FRACTION",
    "human_scanpaths",
    "truncate",
    "ior_radius",
    "winner_take_all",
    "random_scanpath",
    "model_scanpaths",
]

#: Inhibition-of-return radius as a fraction of the smaller stimulus side: Itti, Koch & Niebur
#: (1998) fix the focus of attention's radius to one sixth of the smaller of width and height.
IOR_RADIUS_FRACTION = 1 / 6


def human_scanpaths(record) -> list[np.ndarray]:
    """Every observer's scanpath on ``record``: a list of (N_o, 3) float64 arrays
    ``(row, col, duration in ms)`` in viewing order, one per observer (index = observer).

    Observers without fixations give an empty (0, 3) array. Raises ValueError for data sets
    that do not record which observer made which fixation (MIT1003's pooled maps).
    """
    paths = record.per_observer()  # raises for pooled data sets
    out = []
    for o in range(record.num_observers):
        own = record.observer == o
        out.append(np.column_stack([paths[o], record.durations[own]]).astype(np.float64))
    return out


def truncate(paths: list[np.ndarray], length: int) -> list[np.ndarray | None]:
    """The first ``length`` fixations of each path; None for a path with fewer fixations
    (so that every compared path has the same length)."""
    check_count(length, "length")
    return [p[:length] if len(p) >= length else None for p in paths]


def ior_radius(size: tuple[int, int], fraction: float = IOR_RADIUS_FRACTION) -> float:
    """The inhibition-of-return radius in pixels: ``fraction`` of the smaller side of ``size``."""
    return check_positive(fraction, "fraction") * min(size)


def winner_take_all(maps: torch.Tensor, length: int, radius: float) -> torch.Tensor:
    """Scanpaths from saliency maps by winner-take-all with inhibition of return.

    Fixation 1 is the pixel where the map is largest; every pixel within ``radius`` pixels
    of it is then inhibited (excluded), and fixation 2 is the largest remaining pixel, and
    so on (Itti, Koch & Niebur 1998; :data:`IOR_RADIUS_FRACTION` gives their radius).
    Ties (e.g. a map that is 0 on a large area) go to the tied pixel nearest the image
    centre, then to the first in row-major order, so the result is deterministic.
    When every pixel is inhibited before ``length`` fixations, inhibition is lifted (as a
    person would return to a region seen before) and the search continues on the map.

    Args:
        maps: (B, 1, H, W) finite saliency maps (any scale; only the order of values matters).
        length: fixations per scanpath.
        radius: inhibition radius in pixels (> 0).

    Returns:
        (B, length, 2) float64 ``(row, col)`` pixel positions (integers: pixel centres), on
        the maps' device.
    """
    if not isinstance(maps, torch.Tensor) or maps.dim() != 4 or maps.shape[1] != 1:
        raise ValueError(
            "maps must be a (B, 1, H, W) tensor, got "
            + (str(tuple(maps.shape)) if isinstance(maps, torch.Tensor) else type(maps).__name__)
            + "."
        )
    if not torch.isfinite(maps).all():
        raise ValueError("maps hold NaN or infinite values; winner-take-all needs finite maps.")
    check_count(length, "length")
    radius = check_positive(radius, "radius")
    batch, _, height, width = maps.shape
    values = maps[:, 0].to(torch.float64)
    rows = torch.arange(height, device=maps.device, dtype=torch.float64)
    cols = torch.arange(width, device=maps.device, dtype=torch.float64)
    # distance to the centre, scaled below one pixel step of any map: breaks ties only
    centre_d2 = (rows[:, None] - (height - 1) / 2) ** 2 + (cols[None, :] - (width - 1) / 2) ** 2
    inhibited = torch.zeros(batch, height, width, dtype=torch.bool, device=maps.device)
    out = torch.empty(batch, length, 2, dtype=torch.float64, device=maps.device)
    flat_centre = centre_d2.reshape(-1)
    reach = int(np.floor(radius))  # the inhibited disc lies inside this many pixels of the fixation
    for step in range(length):
        if bool(inhibited.all(dim=(1, 2)).any()):  # nothing left: lift inhibition where so
            inhibited[inhibited.all(dim=(1, 2))] = False
        masked = values.masked_fill(inhibited, -torch.inf).reshape(batch, -1)
        best = masked.max(dim=1, keepdim=True).values
        tied = masked == best
        # among the tied pixels, the one nearest the centre (argmin picks the first of equals)
        choice = torch.where(tied, flat_centre[None, :], torch.inf).argmin(dim=1).tolist()
        for b, index in enumerate(choice):
            r, c = divmod(index, width)
            out[b, step, 0], out[b, step, 1] = r, c
            top, bottom = max(0, r - reach), min(height, r + reach + 1)
            left, right = max(0, c - reach), min(width, c + reach + 1)
            d2 = (rows[top:bottom, None] - r) ** 2 + (cols[None, left:right] - c) ** 2
            inhibited[b, top:bottom, left:right] |= d2 <= radius**2
    return out


def random_scanpath(
    size: tuple[int, int], length: int, generator: torch.Generator, centre_sigma: float | None = None
) -> np.ndarray:
    """A chance scanpath of ``length`` fixations on a stimulus of ``size`` (H, W).

    ``centre_sigma=None``: uniform over the stimulus area. Otherwise each fixation is drawn
    independently from the centre-bias Gaussian of chapter 7
    (:func:`~fovex_lib.gaze.reference_maps.centre_bias_map`, standard deviations
    ``centre_sigma * H`` and ``centre_sigma * W``), redrawn where it falls off the stimulus.
    ``generator`` (a CPU ``torch.Generator``) makes the draws reproducible.

    Returns a (length, 2) float64 array of ``(row, col)`` continuous pixel positions.
    """
    check_count(length, "length")
    height, width = size
    if centre_sigma is None:
        u = torch.rand(length, 2, generator=generator, dtype=torch.float64)
        return (u * torch.tensor([height, width], dtype=torch.float64) - 0.5).numpy()
    check_positive(centre_sigma, "centre_sigma")
    centre = torch.tensor([(height - 1) / 2, (width - 1) / 2], dtype=torch.float64)
    scale = torch.tensor([centre_sigma * height, centre_sigma * width], dtype=torch.float64)
    points: list[torch.Tensor] = []
    while len(points) < length:
        p = centre + scale * torch.randn(2, generator=generator, dtype=torch.float64)
        if -0.5 <= p[0] < height - 0.5 and -0.5 <= p[1] < width - 0.5:
            points.append(p)
    return torch.stack(points).numpy()


def model_scanpaths(
    model: torch.nn.Module,
    records,
    explainers: dict,
    *,
    model_name: str,
    length: int,
    method_settings: dict | None = None,
    size: int = 224,
    view: str = "crop",
    ior_fraction: float = IOR_RADIUS_FRACTION,
    batch_size: int = 4,
    dataset: str | None = None,
    cache=None,
    shard=None,
    progress: bool = True,
) -> dict[str, dict[str, dict]]:
    """Each explainer's scanpath on each record's stimulus, in batches, cached and sharded.

    An explainer whose output has ``scanpath`` (FovEx) gives its own fixations (it must
    make at least ``length``); every other explainer's map is brought to the stimulus with
    :func:`~fovex_lib.gaze.evaluate.map_to_stimulus` (``view``) and turned into ``length``
    fixations by :func:`winner_take_all` with radius ``ior_fraction`` x the smaller side.
    All explain the class the model predicts.

    Args:
        model: the classifier the explainers wrap (its device is used).
        records: :class:`~fovex_lib.gaze.records.GazeRecord` list.
        explainers: ``{method name: explainer}``.
        model_name: for the cache key.
        length: fixations per scanpath (the longest length a table needs; shorter ones are prefixes).
        method_settings: ``{method name: dict}`` added to the cache key (as in chapter 7).
        size, view: the model's input size and view (``"crop"`` or ``"full"``, chapter 7).
        ior_fraction: inhibition-of-return radius for map-driven scanpaths.
        batch_size: images per explainer call.
        dataset: data-set name for the key (default ``records.name``).
        cache, shard: the shared protocol of :mod:`fovex_lib.tools.cache`.
        progress: a tqdm bar per method over the images still to compute.

    Returns:
        ``{method: {image_id: {"scanpath": (length, 2) float64 stimulus pixels, "target": int,
        "seconds": explainer seconds per image}}}`` for the shard's records.
    """
    if not isinstance(explainers, dict) or not explainers:
        raise ValueError("explainers must be a non-empty dict {method name: explainer}.")
    check_count(length, "length")
    check_count(batch_size, "batch_size")
    check_view(view)
    from ..method.explainer import model_device

    device = model_device(model)
    method_settings = method_settings or {}
    dataset = dataset or getattr(records, "name", "gaze")
    records = list(records)
    out: dict[str, dict[str, dict]] = {}
    for method, explainer in explainers.items():
        described = explainer_settings(explainer)

        def key(record, method=method, described=described):
            return result_key(
                "scanpath",
                method,
                record.image_id,
                model=model_name,
                explainer=described,
                method_settings=method_settings.get(method, {}),
                dataset=dataset,
                image_size=list(record.size),
                input_size=size,
                target="predicted",
                view=view,
                length=length,
                winner_take_all={"ior_fraction": float(ior_fraction), "ties": "nearest centre"},
            )

        def compute(batch, method=method, explainer=explainer):
            images = torch.cat([r.load(size, crop=view == "crop") for r in batch]).to(device)
            start = time.perf_counter()
            result = explainer(images)
            seconds = (time.perf_counter() - start) / len(batch)
            own = getattr(result, "scanpath", None)
            values = []
            for j, record in enumerate(batch):
                if own is not None:
                    if own.shape[1] < length:
                        raise ValueError(
                            f"{method} made {own.shape[1]} fixations but length={length}: "
                            f"give it scanpath_length >= {length}."
                        )
                    path = scanpath_to_stimulus(own[j, :length].detach().cpu(), record.size, size, view)
                else:
                    on_stimulus = map_to_stimulus(result.saliency[j : j + 1].detach().float(), record.size, view)
                    radius = ior_radius(record.size, ior_fraction)
                    path = winner_take_all(on_stimulus, length, radius)[0].cpu().numpy()
                values.append({"scanpath": path, "target": int(result.targets[j]), "seconds": seconds})
            return values

        table = cached_map(
            records,
            compute,
            key,
            cache=cache,
            shard=shard,
            batch_size=batch_size,
            progress=progress,
            desc=f"scanpaths: {method}",
        )
        out[method] = {
            record.image_id: {
                "scanpath": np.asarray(value["scanpath"], dtype=np.float64),
                "target": int(value["target"]),
                "seconds": float(value["seconds"]),
            }
            for record, value in zip(select_shard(records, shard), table)
        }
    return out
