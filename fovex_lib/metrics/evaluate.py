"""The Table-1 loop: explain images with a method, score every map with every metric.

:func:`score_maps` applies all metrics to given maps; :func:`evaluate_method` also
computes the maps, image by image in batches, optionally through a result cache and on
a shard of the images (the shared protocol of chapters 6 and 7):

* ``cache``: None (nothing stored) or an object with ``.get(key: dict) -> dict | None``
  and ``.put(key: dict, value: dict)``, e.g. ``fovex_lib.tools.cache.ResultCache(directory)``.
  The loop is :func:`fovex_lib.tools.cache.cached_map` and the keys come from
  :func:`fovex_lib.tools.cache.result_key` (task ``"metrics"``): one entry per (method, the
  explainer's class and settings, ``method_settings``, model, image, size, target, metric
  settings, whether EBPG is scored, results version); the explainer's settings come from
  the explainer itself (``fovex_lib.tools.cache.explainer_settings``), so explainers with
  different settings never share entries. The value holds the image's metric values and
  the seconds each stage took.
* ``shard``: None or ``"i/n"``: only images ``i, i + n, i + 2n, ...`` (0-based) are processed.

:func:`summarise_metrics` turns per-image values into one table row.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..tools.cache import cached_map, explainer_settings, result_key, select_shard
from ._common import check_batch_size, is_constant
from .deletion_insertion import deletion, insertion
from .drop_increase import DROP_SUBSTRATES, drop_increase
from .pointing_game import energy_pointing_game

__all__ = [
    "METRIC_DEFAULTS",
    "VALUE_NAMES",
    "MethodScores",
    "score_maps",
    "evaluate_method",
    "summarise_metrics",
    "metric_settings",
]

#: Default metric settings (see each metric's module for the source of each default). The
#: ``<metric>_substrate`` entries are each metric's ``substrate`` argument.
METRIC_DEFAULTS = {
    "drop_increase_substrate": "black",  # drop / increase: Grad-CAM++ multiplies the image by the map
    "step": None,  # deletion / insertion pixels per step; None = one row (W)
    # Deletion / insertion as in the RISE code (eclique/RISE evaluation.py, CausalMetric), whose
    # model takes the normalised image z = (x - mean) / std:
    "deletion_substrate": "model_mean",  # RISE: deleted pixels set to z = 0, i.e. the model's mean colour
    "insertion_substrate": "blur",  # RISE: start from conv2d(z, gkern(11, 5)), zero padding in z
    "blur_kernel_size": 11,  # RISE gkern window (klen)
    "blur_sigma": 5.0,  # RISE gkern sigma (nsig)
}

#: Per-image values a scoring run produces, with the direction that is better.
VALUE_NAMES = {"drop": "lower", "increase": "higher", "deletion": "lower", "insertion": "higher", "ebpg": "higher"}
_STAGES = ("explain", "drop_increase", "deletion", "insertion", "ebpg")
#: Metric settings that were renamed (old name -> new name); the old names raise a TypeError.
_RENAMED_SETTINGS = {"mask_mode": "drop_increase_substrate"}


def metric_settings(**overrides) -> dict:
    """:data:`METRIC_DEFAULTS` updated with ``overrides``.

    Unknown names are a ValueError; the old name ``mask_mode`` is a TypeError that names
    its replacement ``drop_increase_substrate``. ``drop_increase_substrate`` must be one of
    :data:`~fovex_lib.metrics.drop_increase.DROP_SUBSTRATES` (the loop computes both).
    """
    renamed = sorted(set(overrides) & set(_RENAMED_SETTINGS))
    if renamed:
        raise TypeError(
            "; ".join(f"the metric setting {old!r} is now called {_RENAMED_SETTINGS[old]!r}" for old in renamed) + "."
        )
    unknown = set(overrides) - set(METRIC_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown metric settings {sorted(unknown)}; known: {sorted(METRIC_DEFAULTS)}.")
    settings = {**METRIC_DEFAULTS, **overrides}
    if settings["drop_increase_substrate"] not in DROP_SUBSTRATES:
        raise ValueError(
            f"drop_increase_substrate must be one of {DROP_SUBSTRATES}, got {settings['drop_increase_substrate']!r}."
        )
    return settings


@dataclass
class MethodScores:
    """Per-image results of one method on one image set.

    Attributes:
        method: the method's name.
        ids: image ids (in the processed order).
        values: name -> (N,) float array; ``drop`` (%), ``increase`` (0/1) with the chosen
            ``drop_increase_substrate``, ``drop_<substrate>`` / ``increase_<substrate>`` for every
            substrate of :data:`~fovex_lib.metrics.drop_increase.DROP_SUBSTRATES`, ``deletion``,
            ``insertion`` (AUCs), ``ebpg`` (%; NaN for all-zero maps or without regions),
            ``constant_map`` (0/1).
        seconds: stage -> (N,) seconds per image (``explain``, ``drop_increase``, ``deletion``,
            ``insertion``, ``ebpg``), as measured when the value was computed (also for
            cached values).
        curves: optional name -> (N, K + 1) deletion / insertion curves (not cached).
    """

    method: str
    ids: list[str]
    values: dict[str, np.ndarray]
    seconds: dict[str, np.ndarray]
    curves: dict[str, np.ndarray] = field(default_factory=dict)


def score_maps(
    model: torch.nn.Module,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets,
    regions=None,
    settings: dict | None = None,
    batch_size: int = 64,
    progress: bool = False,
    keep_curves: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, float], dict]:
    """All metrics on one batch of maps.

    Args:
        model, images, maps, targets: as for the metric functions (targets: B ints).
        regions: bool masks (B, 1, H, W) or lists of boxes for EBPG; None skips EBPG (NaN).
        settings: metric settings (:func:`metric_settings`); None = defaults.
        batch_size: forward-pass batch for the deletion / insertion queue.

    Returns:
        (per-image values, seconds per image for each metric, curves if ``keep_curves``).
    """
    settings = metric_settings(**(settings or {}))
    n = images.shape[0]
    values, seconds, curves = {}, {}, {}

    for substrate in DROP_SUBSTRATES:  # both substrates (one forward pass each), so they can be compared
        start = time.perf_counter()
        di = drop_increase(model, images, maps, targets, substrate=substrate, batch_size=batch_size)
        if substrate == settings["drop_increase_substrate"]:
            seconds["drop_increase"] = (time.perf_counter() - start) / n
            values["drop"] = di.values.numpy()
            values["increase"] = di.increase.double().numpy()
        values[f"drop_{substrate}"] = di.values.numpy()
        values[f"increase_{substrate}"] = di.increase.double().numpy()

    blur = {"blur_kernel_size": settings["blur_kernel_size"], "blur_sigma": settings["blur_sigma"]}
    for name, fn, substrate in (
        ("deletion", deletion, settings["deletion_substrate"]),
        ("insertion", insertion, settings["insertion_substrate"]),
    ):
        start = time.perf_counter()
        result = fn(
            model,
            images,
            maps,
            targets,
            step=settings["step"],
            substrate=substrate,
            batch_size=batch_size,
            progress=progress,
            **blur,
        )
        seconds[name] = (time.perf_counter() - start) / n
        values[name] = result.values.numpy()
        if keep_curves:
            curves[name] = result.curves.numpy()
            curves["fractions"] = result.fractions.numpy()

    start = time.perf_counter()
    if regions is None:
        values["ebpg"] = np.full(n, math.nan)
    else:
        values["ebpg"] = energy_pointing_game(maps, regions).values.numpy()
    seconds["ebpg"] = (time.perf_counter() - start) / n
    values["constant_map"] = is_constant(maps).double().cpu().numpy()
    return values, seconds, curves


def _as_targets(targets, n: int) -> list[int]:
    if targets is None:
        raise ValueError(
            "evaluate_method needs explicit targets (B ints), so that cache keys are well defined; "
            "use the predicted classes, e.g. model(images).argmax(1)."
        )
    t = torch.as_tensor(targets).reshape(-1)
    if t.is_floating_point() or t.numel() != n:
        raise ValueError(f"targets must be {n} integer class indices, got {t.numel()} of dtype {t.dtype}.")
    return [int(v) for v in t.tolist()]


def evaluate_method(
    model: torch.nn.Module,
    explainer,
    images: torch.Tensor,
    ids: list[str],
    targets,
    regions=None,
    *,
    method: str | None = None,
    method_settings: dict | None = None,
    model_name: str | None = None,
    settings: dict | None = None,
    explain_batch: int = 8,
    batch_size: int = 64,
    cache=None,
    shard: str | None = None,
    progress: bool = False,
    keep_curves: bool = False,
) -> MethodScores:
    """Explain ``images`` with ``explainer`` and score every map with every metric.

    Args:
        model: the classifier the maps explain.
        explainer: callable ``explainer(images, target) -> Explanation`` (or a (B, 1, H, W) map).
        images: (N, 3, H, W) in [0, 1].
        ids: N image ids (used in cache keys and the result).
        targets: N class indices to explain.
        regions: EBPG regions, bool (N, 1, H, W) or N lists of boxes; None: no EBPG.
        method, method_settings, model_name: describe the explainer for the cache key
            (defaults: ``explainer.name``, ``{}``, ``model.name``). The key also holds
            :func:`~fovex_lib.tools.cache.explainer_settings` of the explainer (its class and, for
            the library's explainers, every setting); ``method_settings`` adds what that
            cannot see (e.g. the settings of a plain function).
        settings: metric settings (:func:`metric_settings`).
        explain_batch: images explained (and scored) at a time.
        batch_size: forward-pass batch of the metrics.
        cache, shard: see the module docstring.
        progress: progress bar over the images still to compute.
        keep_curves: also return the deletion / insertion curves (computed images only).
    """
    if len(ids) != images.shape[0]:
        raise ValueError(f"ids has {len(ids)} entries but there are {images.shape[0]} images.")
    check_batch_size(explain_batch)
    target_list = _as_targets(targets, images.shape[0])
    settings = metric_settings(**(settings or {}))
    method = str(method or getattr(explainer, "name", type(explainer).__name__))
    model_name = model_name or getattr(model, "name", type(model).__name__)
    if isinstance(regions, torch.Tensor) and regions.shape[0] != images.shape[0]:
        raise ValueError(f"regions has {regions.shape[0]} masks but there are {images.shape[0]} images.")
    if isinstance(regions, (list, tuple)) and len(regions) != images.shape[0]:
        raise ValueError(f"regions lists {len(regions)} images but there are {images.shape[0]} images.")

    described = explainer_settings(explainer)  # once: every key of this call shares it

    def key(i: int) -> dict:
        return result_key(
            "metrics",
            method,
            ids[i],
            model=model_name,
            explainer=described,
            method_settings=method_settings,
            size=list(images.shape[-2:]),
            target=target_list[i],
            metrics=settings,
            ebpg=regions is not None,
        )

    kept: dict[str, list] = {}

    def compute(idx: list[int]) -> list[dict]:
        x = images[idx]
        t = torch.tensor([target_list[i] for i in idx])
        start = time.perf_counter()
        out = explainer(x, t)
        maps = out.saliency if hasattr(out, "saliency") else out
        explain_s = (time.perf_counter() - start) / len(idx)
        reg: torch.Tensor | list | None = None  # this batch's regions: masks, or lists of boxes
        if isinstance(regions, torch.Tensor):
            reg = regions[idx]
        elif regions is not None:
            reg = [regions[i] for i in idx]
        values, seconds, curves = score_maps(
            model, x, maps.detach(), t, reg, settings, batch_size, keep_curves=keep_curves
        )
        seconds["explain"] = explain_s
        for name, c in curves.items():
            kept.setdefault(name, []).append(c)
        timing = {f"seconds_{stage}": float(seconds[stage]) for stage in _STAGES}
        return [{**{name: float(v[j]) for name, v in values.items()}, **timing} for j in range(len(idx))]

    order = select_shard(range(images.shape[0]), shard)
    rows = cached_map(
        list(range(images.shape[0])),
        compute,
        key,
        cache=cache,
        shard=shard,
        batch_size=explain_batch,
        progress=progress,
        desc=method,
    )

    names = [*VALUE_NAMES, *(f"{v}_{s}" for s in DROP_SUBSTRATES for v in ("drop", "increase")), "constant_map"]
    values = {name: np.array([row[name] for row in rows], dtype=float) for name in names}
    seconds = {stage: np.array([row[f"seconds_{stage}"] for row in rows], dtype=float) for stage in _STAGES}
    curves = {}
    for name, parts in kept.items():
        curves[name] = parts[0] if name == "fractions" else np.concatenate(parts)
    return MethodScores(method, [ids[i] for i in order], values, seconds, curves)


def summarise_metrics(scores: MethodScores) -> dict[str, float]:
    """One table row of :func:`evaluate_method`'s scores: Average % Drop, Average % Increase, mean
    deletion / insertion AUC, mean EBPG (plus ``drop_<substrate>`` / ``increase_<substrate>`` for
    every substrate of :data:`~fovex_lib.metrics.drop_increase.DROP_SUBSTRATES`).

    EBPG is averaged over the images where it is defined (``nan`` maps skipped);
    ``n`` counts images, ``n_constant`` constant maps.
    """
    v = scores.values
    ebpg = v["ebpg"][np.isfinite(v["ebpg"])]
    return {
        "drop": float(np.mean(v["drop"])),
        "increase": 100.0 * float(np.mean(v["increase"])),
        "deletion": float(np.mean(v["deletion"])),
        "insertion": float(np.mean(v["insertion"])),
        "ebpg": float(np.mean(ebpg)) if ebpg.size else math.nan,
        **{f"drop_{b}": float(np.mean(v[f"drop_{b}"])) for b in DROP_SUBSTRATES},
        **{f"increase_{b}": 100.0 * float(np.mean(v[f"increase_{b}"])) for b in DROP_SUBSTRATES},
        "n": int(len(scores.ids)),
        "n_constant": int(np.sum(v["constant_map"])),
    }
