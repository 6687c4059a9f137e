"""Benchmark: FovEx explanations per second, batched vs one image at a time.

``python -m fovex_lib.bench`` times FovEx at the paper's settings (scanpath length 10,
20 steps, i.e. 200 forward + backward passes per image; blur 41/10; 224x224) for
ResNet-50, ViT-B/16 (random weights: only the architecture matters for timing) and
EfficientNet-Lite0, in two ways:

* **batched**: ``FovEx`` on batches of ``--batch-size`` images, optionally with bf16
  autocast (``--dtype bf16``) and channels-last (``--channels-last``);
* **loop**: one image at a time in float32, the way the reference code runs.

It prints explanations per second for both and their ratio, and seconds per image for
each metric of :mod:`fovex_lib.metrics` (``--no-metrics`` skips them), with the model in
the batched run's precision and layout (:func:`fovex_lib.method.precision.with_precision`). The
images are uniform noise from a seeded generator (content does not change the cost).

``--quick`` is a CI-sized run: 2 images, scanpath length 2, 2 steps (not the paper's
settings; the table says which settings were used), metrics timed on one image. Defaults on CUDA: bf16, channels-last,
batch 32, 64 images (8 in the loop); on CPU: float32, batch = images = 2.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
from dataclasses import dataclass

import torch

from . import metrics as _metrics
from ._checks import check_count, check_seed
from .method.fovex import FovEx
from .method.precision import check_autocast_dtype, with_precision
from .models.zoo import load_model
from .registry import PRESETS

__all__ = [
    "PAPER_SETTINGS",
    "QUICK_SETTINGS",
    "BenchRow",
    "bench_fovex",
    "bench_metrics",
    "run_benchmark",
    "format_table",
    "device_name",
    "main",
]

#: FovEx at the published settings (the library's defaults, listed for the table).
PAPER_SETTINGS = dict(
    scanpath_length=10,
    steps=20,
    lr=0.1,
    sigma=0.15,
    blur_kernel_size=41,
    blur_sigma=10.0,
    forgetting=0.1,
    heatmap_sigma=0.15,
    restarts=True,
)
#: --quick: the same algorithm with the "quick" preset's 2 fixations of 2 steps (4 passes per
#: image instead of 200; :data:`fovex_lib.registry.PRESETS`).
QUICK_SETTINGS = {**PAPER_SETTINGS, **PRESETS["quick"]["fovex"]}
MODELS = ("resnet50", "vit_b_16", "efficientnet_lite0")


@dataclass
class BenchRow:
    """One model's timings. ``*_per_s`` are explanations per second."""

    model: str
    device: str
    settings: str
    images: int
    batch_size: int
    dtype: str
    channels_last: bool
    batched_per_s: float
    loop_images: int
    loop_per_s: float

    @property
    def speedup(self) -> float:
        return self.batched_per_s / self.loop_per_s


def device_name(device: torch.device) -> str:
    """A readable name of the device (GPU model or CPU type and thread count)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu}, {torch.get_num_threads()} threads"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def _noise(n: int, size: int, seed: int, device) -> torch.Tensor:
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=generator).to(device)


def bench_fovex(
    model: torch.nn.Module,
    images: torch.Tensor,
    batch_size: int,
    settings: dict,
    autocast_dtype=None,
    channels_last: bool = False,
    loop_images: int | None = None,
    progress: bool = False,
) -> tuple[float, float, torch.Tensor]:
    """Time FovEx on ``images``: returns (batched explanations/s, loop explanations/s, batched maps).

    The loop runs first (plain float32 model, one image per call) on the first
    ``loop_images`` images; then the batched run (which may convert the model to
    channels-last in place). Each is warmed up on one small call before timing.
    """
    from tqdm.auto import tqdm

    device = images.device
    n = images.shape[0]
    loop_images = n if loop_images is None else min(loop_images, n)
    plain = FovEx(model, **settings)
    plain(images[:1])  # warm-up (allocations, kernel selection)

    def loop():
        for i in tqdm(range(loop_images), desc="loop", disable=not progress, leave=False):
            plain(images[i : i + 1])

    loop_s = _timed(loop, device)
    fast = FovEx(model, autocast_dtype=autocast_dtype, channels_last=channels_last, **settings)
    fast(images[: min(batch_size, n)])  # warm-up at the batch size
    maps = []

    def batched():
        for start in tqdm(range(0, n, batch_size), desc="batched", disable=not progress, leave=False):
            maps.append(fast(images[start : start + batch_size]).saliency)

    batched_s = _timed(batched, device)
    if channels_last:
        model.to(memory_format=torch.contiguous_format)
    return n / batched_s, loop_images / loop_s, torch.cat(maps)


def bench_metrics(model: torch.nn.Module, images: torch.Tensor, maps: torch.Tensor) -> dict[str, float]:
    """Seconds per image for each metric of :mod:`fovex_lib.metrics`, with its own defaults.

    The energy-based pointing game scores the maps against a central box (half the
    image's height and width) standing in for an object.
    """
    device = images.device
    n = images.shape[0]
    h, w = images.shape[-2:]
    box = torch.zeros(n, 1, h, w, dtype=torch.bool, device=device)
    box[:, :, h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = True
    calls = {
        "average drop/increase": lambda: _metrics.drop_increase(model, images, maps),
        "deletion AUC": lambda: _metrics.deletion(model, images, maps),
        "insertion AUC": lambda: _metrics.insertion(model, images, maps),
        "energy pointing game": lambda: _metrics.energy_pointing_game(maps, box),
    }
    return {name: _timed(call, device) / n for name, call in calls.items()}


def run_benchmark(
    models=MODELS,
    device: str | torch.device = "cpu",
    images: int | None = None,
    batch_size: int | None = None,
    loop_images: int | None = None,
    dtype: str | None = None,
    channels_last: bool | None = None,
    quick: bool = False,
    metrics: bool = True,
    seed: int = 0,
    progress: bool = False,
    log=print,
) -> tuple[list[BenchRow], dict[str, dict]]:
    """Benchmark every model; returns (rows, {model: {metric: seconds per image}})."""
    device = torch.device(device)
    cuda = device.type == "cuda"
    settings = QUICK_SETTINGS if quick else PAPER_SETTINGS
    if images is None:
        images = 2 if quick or not cuda else 64
    if batch_size is None:
        batch_size = images if not cuda else 32
    if loop_images is None:
        loop_images = images if not cuda else min(images, 8)
    autocast_dtype = check_autocast_dtype(dtype if dtype is not None else ("bf16" if cuda else None))
    channels_last = cuda if channels_last is None else channels_last
    for name, value in [("images", images), ("batch_size", batch_size), ("loop_images", loop_images)]:
        check_count(value, name)
    check_seed(seed)
    label = (
        "paper (L=10, 20 steps)" if not quick else f"quick (L={settings['scanpath_length']}, {settings['steps']} steps)"
    )
    rows, metric_times = [], {}
    log = log or (lambda *a, **k: None)
    for name in models:
        log(f"{name}: loading (random weights) ...")
        model = load_model(name, pretrained=False, device=device)
        size = model.input_size[0]
        x = _noise(images, size, seed, device)
        batched, loop, maps = bench_fovex(
            model, x, batch_size, settings, autocast_dtype, channels_last, loop_images, progress
        )
        rows.append(
            BenchRow(
                name,
                device_name(device),
                label,
                images,
                batch_size,
                str(autocast_dtype or torch.float32).removeprefix("torch."),
                channels_last,
                batched,
                loop_images,
                loop,
            )
        )
        log(f"{name}: batched {batched:.3g}/s, loop {loop:.3g}/s")
        if metrics:  # --quick: one image (deletion/insertion alone take ~225 forward passes per image)
            m = 1 if quick else maps.shape[0]
            metric_times[name] = bench_metrics(with_precision(model, autocast_dtype, channels_last), x[:m], maps[:m])
        del model
    return rows, metric_times


def format_table(rows: list[BenchRow], metric_times: dict[str, dict] | None = None) -> str:
    """A plain-text table of the rows (and the metric timings, when there are any)."""
    head = ["model", "settings", "batched setup", "batched expl/s", "loop fp32 expl/s", "speed-up"]
    body = [
        [
            r.model,
            r.settings,
            f"{r.dtype}{', channels-last' if r.channels_last else ''}, batch {r.batch_size}",
            f"{r.batched_per_s:.3g}",
            f"{r.loop_per_s:.3g}",
            f"{r.speedup:.2f}x",
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)) for line in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if rows:
        lines.insert(
            0,
            f"device: {rows[0].device}; torch {torch.__version__}; "
            f"{datetime.date.today().isoformat()}; images {rows[0].images} (loop {rows[0].loop_images})",
        )
    if metric_times:
        setup = f"{rows[0].dtype}{', channels-last' if rows[0].channels_last else ''}" if rows else "float32"
        lines.append(f"\nseconds per image per metric (metrics' own defaults; model in {setup}):")
        for model, times in metric_times.items():
            for metric, t in times.items():
                lines.append(f"  {model:20s} {metric:24s} {t:.3g}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fovex_lib.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model names")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--images", type=int, default=None, help="images explained in the batched run")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--loop-images", type=int, default=None, help="images explained one at a time")
    parser.add_argument(
        "--dtype",
        default=None,
        choices=["fp32", "bf16", "fp16"],
        help="autocast dtype of the batched run (default: bf16 on CUDA, fp32 on CPU)",
    )
    parser.add_argument(
        "--channels-last",
        default=None,
        action=argparse.BooleanOptionalAction,
        help="channels-last in the batched run (default: on for CUDA)",
    )
    parser.add_argument("--quick", action="store_true", help="CI size: 2 images, 2 fixations x 2 steps")
    parser.add_argument("--no-metrics", action="store_true", help="skip the metric timings")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        rows, metric_times = run_benchmark(
            [m.strip() for m in args.models.split(",") if m.strip()],
            args.device,
            args.images,
            args.batch_size,
            args.loop_images,
            args.dtype,
            args.channels_last,
            args.quick,
            not args.no_metrics,
            args.seed,
            args.progress,
            log=lambda *a: print(*a, file=sys.stderr),
        )
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_table(rows, metric_times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
