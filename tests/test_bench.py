"""The benchmark (python -m fovex_lib.bench) in CI size, on the small synthetic CNN.

Real timings vary from run to run, so the arithmetic (explanations per second, seconds
per image, speed-up) is checked against a fake clock: ``bench._timed`` replaced by one
that runs the timed call and reports fixed seconds.
"""

import pytest
import torch

from fovex_lib import bench
from fovex_lib.bench import (
    PAPER_SETTINGS,
    QUICK_SETTINGS,
    BenchRow,
    bench_fovex,
    bench_metrics,
    format_table,
    main,
    run_benchmark,
)
from fovex_lib.method.fovex import FovEx
from fovex_lib.models.zoo import load_model

#: FovEx's published ViT-B/16 settings (Panda et al., arXiv 2408.02123), written out here
#: independently of the library: lr 0.1, 20 steps, scanpath length 10, foveation sigma 0.15,
#: blur window 41 with sigma 10, forgetting 0.1, heat-map sigma 0.15, random restarts on.
PUBLISHED = {
    "scanpath_length": 10,
    "steps": 20,
    "lr": 0.1,
    "sigma": 0.15,
    "blur_kernel_size": 41,
    "blur_sigma": 10.0,
    "forgetting": 0.1,
    "heatmap_sigma": 0.15,
    "restarts": True,
}
SMALL_BLUR = {"blur_kernel_size": 21, "blur_sigma": 4.0}  # 64x64 images


def fake_clock(*seconds):
    """A stand-in for ``bench._timed``: runs each timed call, reports the next of ``seconds``."""
    readings = iter(seconds)

    def timed(fn, device):
        fn()
        return next(readings)

    return timed


def test_paper_settings_are_the_published_ones():
    assert PAPER_SETTINGS == PUBLISHED
    # --quick runs the same algorithm: only the scanpath length and the steps are cut
    assert QUICK_SETTINGS.keys() == PUBLISHED.keys()
    assert {k: v for k, v in QUICK_SETTINGS.items() if v != PUBLISHED[k]} == {"scanpath_length": 2, "steps": 2}
    defaults = FovEx(torch.nn.Linear(1, 1))
    assert {name: getattr(defaults, name) for name in PUBLISHED} == PUBLISHED  # library defaults = paper


@pytest.mark.parametrize("quick", [False, True])
def test_run_benchmark_times_the_settings_it_names(monkeypatch, quick):
    seen = []

    def fake_bench_fovex(model, images, batch_size, settings, *args):
        seen.append((images.shape, batch_size, settings))
        return 6.0, 1.5, torch.zeros(images.shape[0], 1, *images.shape[-2:])

    monkeypatch.setattr(bench, "bench_fovex", fake_bench_fovex)
    rows, metric_times = run_benchmark(["synthetic_cnn"], quick=quick, metrics=False, log=None)
    # on CPU the defaults are 2 images in one batch; the model's own input size
    assert seen == [((2, 3, 64, 64), 2, QUICK_SETTINGS if quick else PAPER_SETTINGS)]
    (row,) = rows
    assert row.settings == ("quick (L=2, 2 steps)" if quick else "paper (L=10, 20 steps)")
    assert (row.batched_per_s, row.loop_per_s, row.speedup) == (6.0, 1.5, 4.0)
    assert metric_times == {}


@pytest.mark.slow
def test_rates_are_images_per_second_and_batched_maps_equal_the_loop(monkeypatch):
    monkeypatch.setattr(bench, "_timed", fake_clock(2.0, 0.5))  # the loop runs first, then the batches
    model = load_model("synthetic_cnn", pretrained=False)
    images = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    settings = {**QUICK_SETTINGS, **SMALL_BLUR}
    batched, loop, maps = bench_fovex(model, images, batch_size=2, settings=settings, loop_images=2)
    assert (batched, loop) == (3 / 0.5, 2 / 2.0)  # 3 images batched in 0.5 s; 2 in the loop in 2 s
    assert maps.shape == (3, 1, 64, 64)
    one = torch.cat([FovEx(model, **settings)(images[i : i + 1]).saliency for i in range(3)])
    torch.testing.assert_close(maps, one, rtol=0, atol=1e-5)


def test_metric_timings_are_seconds_per_image_for_every_metric(monkeypatch):
    monkeypatch.setattr(bench, "_timed", fake_clock(3.0, 5.0, 7.0, 1.0))
    model = load_model("synthetic_cnn", pretrained=False)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    times = bench_metrics(model, x, x[:, :1])  # each metric really runs once on both images
    assert times == {
        "average drop/increase": 1.5,
        "deletion AUC": 2.5,
        "insertion AUC": 3.5,
        "energy pointing game": 0.5,
    }


def test_format_table():
    rows = [
        BenchRow("net_a", "CPU test", "quick (L=2, 2 steps)", 4, 2, "bfloat16", True, 8.0, 2, 2.0),
        BenchRow("net_b", "CPU test", "quick (L=2, 2 steps)", 4, 2, "bfloat16", True, 3.0, 2, 4.0),
    ]
    lines = format_table(rows, {"net_a": {"deletion AUC": 0.25}}).splitlines()
    assert lines[0].startswith("device: CPU test; torch ") and lines[0].endswith("images 4 (loop 2)")
    assert lines[1].split() == [
        "model",
        "settings",
        "batched",
        "setup",
        "batched",
        "expl/s",
        "loop",
        "fp32",
        "expl/s",
        "speed-up",
    ]
    assert set(lines[2]) == {"-", " "}
    assert lines[3].split("  ")[0] == "net_a"
    cells = [c.strip() for c in lines[3].split("  ") if c.strip()]
    assert cells == ["net_a", "quick (L=2, 2 steps)", "bfloat16, channels-last, batch 2", "8", "2", "4.00x"]
    cells = [c.strip() for c in lines[4].split("  ") if c.strip()]
    assert cells[-3:] == ["3", "4", "0.75x"]
    assert "model in bfloat16, channels-last" in lines[-2]
    assert lines[-1].split() == ["net_a", "deletion", "AUC", "0.25"]
    assert "device" not in format_table([]) and format_table([]).splitlines()[0].split()[0] == "model"


@pytest.mark.slow
def test_run_benchmark_for_real_and_its_table():
    rows, metric_times = run_benchmark(["synthetic_cnn"], quick=True, metrics=False, images=2, log=None)
    (row,) = rows
    assert isinstance(row, BenchRow) and row.model == "synthetic_cnn" and row.device.startswith("CPU ")
    assert (row.images, row.batch_size, row.loop_images) == (2, 2, 2)
    assert row.dtype == "float32" and not row.channels_last and metric_times == {}
    assert row.speedup == row.batched_per_s / row.loop_per_s
    table = format_table(rows, metric_times)
    assert f"{row.batched_per_s:.3g}" in table and f"{row.speedup:.2f}x" in table
    with pytest.raises(ValueError, match="images"):
        run_benchmark(["synthetic_cnn"], quick=True, images=-1, log=None)


def test_command_line(capsys):
    assert main(["--models", "synthetic_cnn", "--quick", "--no-metrics", "--dtype", "bf16"]) == 0
    out = capsys.readouterr().out
    assert "synthetic_cnn" in out and "bfloat16" in out and "speed-up" in out
    assert main(["--models", "synthetic_cnn", "--quick", "--images", "0"]) == 2
    assert "images must be at least 1" in capsys.readouterr().err
