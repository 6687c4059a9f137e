"""The gaze-alignment table: explanation maps scored against human fixations.

**What the model saw vs what people saw** (``view``). People looked at the whole
stimulus; the model's input is square. Two views are offered, and every function that
moves between the model's input and the stimulus takes ``view``:

* ``view="crop"``: :func:`fovex_lib.datasets.images.load_image`'s view: the shorter side scaled
  to ``size`` (224) and the centre ``size x size`` square cut out. For an 800x600 OSIE
  image that square covers the central 600x600 pixels; the 100-pixel bands left and
  right were never shown to the model. :func:`map_to_stimulus` places the map at the
  crop's position in a zero canvas of the scaled image's size and resizes the canvas
  (bilinear) to the stimulus: the map is **0 outside the window** ("no evidence there",
  which is true: the model did not see it). Fixations outside the window count as misses
  for every explanation method alike, which hands the centre-bias reference an advantage.
* ``view="full"``: the whole stimulus resized (antialiased bilinear) to ``size x size``,
  aspect ratio not kept, so the model sees everything people saw; the map is resized back
  to the stimulus (bilinear).

The FovEx paper does not say how its maps were brought to the MIT1003 stimuli (which
have varying sizes and aspect ratios), so neither view is "the paper's".

We score on the full stimulus with *all* fixations, so explanation rows share their
ground truth with the centre-bias and inter-observer rows; :func:`fraction_in_crop`
reports how many fixations the crop window leaves out.

**Loop, cache and shards** (the shared protocol of chapters 6 and 7):
:func:`evaluate_methods` and :func:`evaluate_references` walk the records, method by
method, through the library's one resumable loop, :func:`fovex_lib.tools.cache.cached_map`;
``cache`` is any object with ``get(key) -> dict | None`` and ``put(key, value)``
(e.g. ``fovex_lib.tools.cache.ResultCache``), ``shard="i/n"`` keeps items ``i, i+n, ...``.
Each cache key comes from :func:`fovex_lib.tools.cache.result_key` and holds everything that
determines the value (method, the explainer's class and settings from
``fovex_lib.tools.cache.explainer_settings``, the given method settings, model, image,
sizes, target, metric conventions, view, results version).

Paper numbers (Panda et al., Table 2: MIT1003, NSS / AUC-Judd) are in ``PAPER_TABLE2``.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_count
from ..metrics._common import renamed_arguments
from ..tools.cache import cached_map, explainer_settings, result_key, select_shard
from .reference_maps import centre_bias_map, inter_observer_maps
from .saliency_metrics import auc_judd, nss

__all__ = [
    "PAPER_TABLE2",
    "METRIC_SETTINGS",
    "VIEWS",
    "check_view",
    "select_shard",
    "crop_geometry",
    "crop_box",
    "map_to_stimulus",
    "scanpath_to_stimulus",
    "fraction_in_crop",
    "evaluate_methods",
    "evaluate_references",
    "summarise_gaze",
]

PAPER_TABLE2 = {  # method: (NSS, AUC-Judd) on MIT1003, FovEx paper Table 2
    "FovEx": (0.7160, 0.7044),
    "RISE": (0.6287, 0.6400),
    "Mean. Pert.": (0.6197, 0.6698),
    "GAE": (0.4120, 0.6875),
    "Grad-CAM": (0.2357, 0.5581),
    "Grad-CAM++": (0.0372, 0.5094),
    "Cls. Emb.": (0.1231, 0.5317),
}
# The metric conventions (part of every cache key).
METRIC_SETTINGS = {
    "resize": "bilinear",
    "outside_crop": 0.0,
    "nss_std": "unbiased",
    "auc": "judd, expected over tie orders",
    "fixation_map": "binary, rounded pixels",
}
#: How the model's square input is cut from the stimulus (module docstring).
VIEWS = ("crop", "full")


def check_view(view: str) -> str:
    if view not in VIEWS:
        raise ValueError(
            f"view must be 'crop' (centre square, as load_image) or 'full' (whole stimulus "
            f"resized to the model's input), got {view!r}."
        )
    return view


def crop_geometry(stimulus_size: tuple[int, int], size: int = 224) -> tuple[int, int, int, int]:
    """(scaled H, scaled W, top, left) of :func:`fovex_lib.datasets.images.resize_image`'s centre crop."""
    height, width = stimulus_size
    scale = size / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    return new_h, new_w, (new_h - size) // 2, (new_w - size) // 2


def crop_box(stimulus_size: tuple[int, int], size: int = 224) -> tuple[float, float, float, float]:
    """The crop window on the stimulus as pixel *edges* ``(top, left, bottom, right)``:
    stimulus pixel ``(r, c)`` (spanning ``[r, r+1) x [c, c+1)``) is inside when its area is."""
    height, width = stimulus_size
    new_h, new_w, top, left = crop_geometry(stimulus_size, size)
    sy, sx = height / new_h, width / new_w
    return top * sy, left * sx, (top + size) * sy, (left + size) * sx


def fraction_in_crop(record, size: int = 224) -> float:
    """Fraction of the record's fixations inside the model's crop window."""
    top, left, bottom, right = crop_box(record.size, size)
    rows, cols = record.fixations[:, 0] + 0.5, record.fixations[:, 1] + 0.5  # centre -> edge coordinates
    inside = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
    return float(inside.mean()) if len(inside) else float("nan")


def map_to_stimulus(maps: torch.Tensor, stimulus_size: tuple[int, int], view: str = "crop") -> torch.Tensor:
    """(B, 1, s, s) maps on the model's input -> (B, 1, H, W) on the stimulus.

    ``view="crop"``: 0 outside the centre crop; ``"full"``: the map resized to the stimulus.
    """
    check_view(view)
    if not isinstance(maps, torch.Tensor) or maps.dim() != 4 or maps.shape[1] != 1 or maps.shape[2] != maps.shape[3]:
        raise ValueError(
            "maps must be a (B, 1, s, s) tensor (square maps on the model's centre crop), got "
            + (str(tuple(maps.shape)) if isinstance(maps, torch.Tensor) else type(maps).__name__)
            + "."
        )
    size = maps.shape[-1]
    if view == "full":
        return F.interpolate(maps, size=tuple(stimulus_size), mode="bilinear", align_corners=False)
    new_h, new_w, top, left = crop_geometry(stimulus_size, size)
    canvas = maps.new_zeros(maps.shape[0], 1, new_h, new_w)
    canvas[..., top : top + size, left : left + size] = maps
    if (new_h, new_w) == tuple(stimulus_size):
        return canvas
    return F.interpolate(canvas, size=tuple(stimulus_size), mode="bilinear", align_corners=False)


def scanpath_to_stimulus(
    scanpath: torch.Tensor, stimulus_size: tuple[int, int], size: int = 224, view: str = "crop"
) -> np.ndarray:
    """FovEx fixations (L, 2) in normalised input coordinates -> (L, 2) ``(row, col)`` stimulus pixels."""
    from ..method.foveation import to_pixels

    check_view(view)
    points = to_pixels(torch.as_tensor(scanpath, dtype=torch.float64).reshape(-1, 2), (size, size)).numpy()
    if view == "full":
        new_h, new_w, top, left = size, size, 0, 0
    else:
        new_h, new_w, top, left = crop_geometry(stimulus_size, size)
    rows = (points[:, 0] + top + 0.5) * stimulus_size[0] / new_h - 0.5
    cols = (points[:, 1] + left + 0.5) * stimulus_size[1] / new_w - 0.5
    return np.stack([rows, cols], axis=1)


def _score(maps_on_stimulus: torch.Tensor, masks: torch.Tensor) -> tuple[list[float], list[float]]:
    return nss(maps_on_stimulus, masks).tolist(), auc_judd(maps_on_stimulus, masks).tolist()


@renamed_arguments(settings="method_settings")
def evaluate_methods(
    model: torch.nn.Module,
    records,
    explainers: dict,
    *,
    model_name: str,
    method_settings: dict | None = None,
    size: int = 224,
    target: int | None = None,
    batch_size: int = 4,
    dataset: str | None = None,
    view: str = "crop",
    cache=None,
    shard=None,
    keep=(),
    progress: bool = True,
):
    """Score every explainer on every record (NSS and AUC-Judd on the stimulus).

    Args:
        model: the classifier the explainers wrap (its device is used).
        records: :class:`~fovex_lib.gaze.records.GazeRecord` list (e.g. ``load_osie()``).
        explainers: ``{method name: explainer}``; an explainer is called as
            ``explainer(images, target=target)`` and returns an object with ``saliency``
            (B, 1, size, size) (and optionally ``targets``, ``scanpath``).
        model_name: for the cache key.
        method_settings: ``{method name: dict of its settings}`` for the cache key; the key also
            holds :func:`~fovex_lib.tools.cache.explainer_settings` of each explainer (its class
            and, for the library's explainers, every setting), so explainers with different
            settings never share entries.
        size: model input size (224).
        target: None explains the predicted class; an int explains that class everywhere.
        batch_size: images per explainer call.
        dataset: data-set name for the key (default ``records.name``).
        view: ``"crop"`` or ``"full"``: what the model is shown (module docstring).
        cache, shard: the shared protocol (module docstring).
        keep: image ids whose maps (and scanpaths) are returned for display; a cached value
            without its map is computed again for these.
        progress: tqdm bar over the images still to compute, per method.

    Returns:
        ``(rows, kept)``: rows are dicts ``image_id, method, target, nss, auc_judd, seconds``
        (``seconds``: explainer time per image), method by method, each in the records' order;
        ``kept[(image_id, method)]`` is a dict with ``map`` ((size, size) float32 numpy array)
        and ``scanpath`` when present.
    """
    if not isinstance(explainers, dict) or not explainers:
        raise ValueError("explainers must be a non-empty dict {method name: explainer}.")
    check_count(batch_size, "batch_size")
    if target is not None and (isinstance(target, bool) or not isinstance(target, int)):
        raise TypeError(f"target must be None (predicted class) or an int class index, got {target!r}.")
    from ..method.explainer import model_device

    check_view(view)
    device = model_device(model)
    method_settings = method_settings or {}
    dataset = dataset or getattr(records, "name", "gaze")
    keep = {str(k) for k in keep}
    records = list(records)
    rows, kept = [], {}

    def has_map(record, value: dict) -> bool:  # a kept image needs its map, not only its scores
        return record.image_id not in keep or "map" in value

    for method, explainer in explainers.items():
        described = explainer_settings(explainer)  # once per method: every key of this method shares it

        def key(record, method=method, described=described):
            return result_key(
                "gaze",
                method,
                record.image_id,
                model=model_name,
                explainer=described,
                method_settings=method_settings.get(method, {}),
                dataset=dataset,
                image_size=list(record.size),
                input_size=size,
                target="predicted" if target is None else target,
                metrics=METRIC_SETTINGS,
                view=view,
            )

        def compute(batch, method=method, explainer=explainer):
            images = torch.cat([r.load(size, crop=view == "crop") for r in batch]).to(device)
            start = time.perf_counter()
            out = explainer(images, target=target)
            maps = out.saliency.detach()
            seconds = (time.perf_counter() - start) / len(batch)
            if tuple(maps.shape[-2:]) != (size, size):
                raise ValueError(f"{method} returned maps of size {tuple(maps.shape[-2:])}, expected {(size, size)}.")
            targets = getattr(out, "targets", None)
            scanpath = getattr(out, "scanpath", None)
            values: list[dict] = [{} for _ in batch]
            groups: dict[tuple, list[int]] = {}
            for j, record in enumerate(batch):
                groups.setdefault(tuple(record.size), []).append(j)
            for stim_size, js in groups.items():
                on_stimulus = map_to_stimulus(maps[js].float(), stim_size, view)
                masks = torch.cat([batch[j].fixation_mask() for j in js]).to(device)
                nss_values, auc_values = _score(on_stimulus, masks)
                for j, n_value, a_value in zip(js, nss_values, auc_values):
                    value = {
                        "nss": n_value,
                        "auc_judd": a_value,
                        "seconds": seconds,
                        "target": int(targets[j]) if targets is not None else -1,
                    }
                    if batch[j].image_id in keep:
                        value["map"] = maps[j, 0].float().cpu().numpy()
                        if scanpath is not None:
                            value["scanpath"] = scanpath[j].detach().float().cpu().numpy()
                    values[j] = value
            return values

        table = cached_map(
            records,
            compute,
            key,
            cache=cache,
            shard=shard,
            batch_size=batch_size,
            progress=progress,
            desc=f"gaze: {method}",
            accept=has_map,
        )
        for record, value in zip(select_shard(records, shard), table):
            rows.append(
                {
                    "image_id": record.image_id,
                    "method": method,
                    "target": value["target"],
                    "nss": float(value["nss"]),
                    "auc_judd": float(value["auc_judd"]),
                    "seconds": float(value["seconds"]),
                }
            )
            if record.image_id in keep:
                kept[(record.image_id, method)] = {k: np.asarray(value[k]) for k in ("map", "scanpath") if k in value}
    return rows, kept


def evaluate_references(
    records,
    *,
    centre_sigma: float = 0.25,
    observer_sigma_px: float = 24.0,
    size: int = 224,
    dataset: str | None = None,
    view: str = "crop",
    device="cpu",
    cache=None,
    shard=None,
    progress: bool = True,
) -> list[dict]:
    """Rows for the reference maps: ``"centre bias"``, ``"crop window"`` and ``"inter-observer"``.

    * centre bias: :func:`~fovex_lib.gaze.reference_maps.centre_bias_map` (``centre_sigma``).
    * crop window (``view="crop"`` only): 1 on the model's crop window, 0 outside - what the
      crop alone is worth. In the full view the window is the whole stimulus (a constant map).
    * inter-observer: leave-one-out maps (``observer_sigma_px``), scores averaged over
      observers; skipped (absent) for data sets without per-observer fixations.

    Rows come record by record (the references of one record together), in the records' order.
    """
    check_view(view)
    dataset = dataset or getattr(records, "name", "gaze")
    items = select_shard(list(records), shard)

    def centre(record, masks):
        return _score(centre_bias_map(record.size, centre_sigma, device=device), masks)

    def window(record, masks):
        return _score(map_to_stimulus(torch.ones(1, 1, size, size, device=device), record.size), masks)

    def observers(record, masks):
        maps, held_out = inter_observer_maps(record, observer_sigma_px, device=device)
        n_values, a_values = _score(maps, held_out)
        return [float(np.mean(n_values))], [float(np.mean(a_values))]

    references = {"centre bias": ({"centre_sigma": centre_sigma}, centre, items)}
    if view == "crop":
        references["crop window"] = ({"input_size": size}, window, items)
    references["inter-observer"] = (
        {"observer_sigma_px": observer_sigma_px},
        observers,
        [r for r in items if r.has_observers],
    )
    values: dict[tuple[str, str], dict] = {}
    for method, (method_settings, score, scored) in references.items():

        def key(record, method=method, method_settings=method_settings):
            return result_key(
                "gaze-reference",
                method,
                record.image_id,
                method_settings=method_settings,
                dataset=dataset,
                image_size=list(record.size),
                metrics=METRIC_SETTINGS,
            )

        def compute(batch, score=score):
            out = []
            for record in batch:
                n_values, a_values = score(record, record.fixation_mask().to(device))
                out.append({"nss": n_values[0], "auc_judd": a_values[0]})
            return out

        table = cached_map(scored, compute, key, cache=cache, progress=progress, desc=f"references: {method}")
        values.update({(record.image_id, method): value for record, value in zip(scored, table)})
    rows = []
    for record in items:
        for method in references:
            if (record.image_id, method) in values:  # inter-observer: only records with observers
                value = values[record.image_id, method]
                rows.append(
                    {
                        "image_id": record.image_id,
                        "method": method,
                        "target": -1,
                        "nss": float(value["nss"]),
                        "auc_judd": float(value["auc_judd"]),
                        "seconds": 0.0,
                    }
                )
    return rows


def summarise_gaze(rows: list[dict]) -> dict[str, dict]:
    """Per method of :func:`evaluate_methods` / :func:`evaluate_references` rows: ``n`` images,
    mean and standard error of NSS and AUC-Judd, mean seconds per image."""
    table: dict[str, dict] = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        entry: dict[str, float] = {"n": len(mine)}
        for metric in ("nss", "auc_judd", "seconds"):
            values = np.array([r[metric] for r in mine], dtype=np.float64)
            entry[metric] = float(values.mean())
            sem = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
            entry[f"{metric}_sem"] = float(sem)
        table[method] = entry
    return table
