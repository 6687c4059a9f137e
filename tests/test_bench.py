"""The benchmark (python -m fovex_lib.bench) in CI size, on the small synthetic CNN."""
import pytest
import torch

from fovex_lib.bench import PAPER_SETTINGS, QUICK_SETTINGS, BenchRow, bench_fovex, bench_metrics, format_table, main, \
    run_benchmark
from fovex_lib.method.fovex import FovEx
from fovex_lib.models.zoo import load_model


def test_paper_settings_are_the_published_ones():
    assert PAPER_SETTINGS["scanpath_length"] * PAPER_SETTINGS["steps"] == 200
    assert (PAPER_SETTINGS["blur_kernel_size"], PAPER_SETTINGS["blur_sigma"]) == (41, 10.0)
    assert QUICK_SETTINGS["scanpath_length"] * QUICK_SETTINGS["steps"] == 4
    defaults = FovEx(torch.nn.Linear(1, 1))
    for name, value in PAPER_SETTINGS.items():
        assert getattr(defaults, name) == value  # the library defaults are the paper's


def test_batched_maps_equal_the_loop_and_rates_are_positive():
    model = load_model("synthetic_cnn", pretrained=False)
    images = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    settings = {**QUICK_SETTINGS, "blur_kernel_size": 21, "blur_sigma": 4.0}
    batched, loop, maps = bench_fovex(model, images, batch_size=2, settings=settings)
    assert batched > 0 and loop > 0 and maps.shape == (3, 1, 64, 64)
    one = torch.cat([FovEx(model, **settings)(images[i:i + 1]).saliency for i in range(3)])
    torch.testing.assert_close(maps, one, rtol=0, atol=1e-5)


def test_run_benchmark_and_table():
    rows, metric_times = run_benchmark(["synthetic_cnn"], quick=True, metrics=False, images=2, log=None)
    (row,) = rows
    assert isinstance(row, BenchRow) and row.model == "synthetic_cnn" and row.images == 2
    assert row.dtype == "float32" and not row.channels_last and row.speedup > 0
    table = format_table(rows, metric_times)
    assert "synthetic_cnn" in table and "quick (L=2, 2 steps)" in table and "device: CPU" in table
    with pytest.raises(ValueError, match="images"):
        run_benchmark(["synthetic_cnn"], quick=True, images=-1, log=None)


def test_metric_timings_cover_every_metric():
    model = load_model("synthetic_cnn", pretrained=False)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    times = bench_metrics(model, x, x[:, :1])
    assert set(times) == {"average drop/increase", "deletion AUC", "insertion AUC", "energy pointing game"}
    assert all(t > 0 for t in times.values())
    assert "deletion AUC" in format_table([], {"synthetic_cnn": times})


def test_command_line(capsys):
    assert main(["--models", "synthetic_cnn", "--quick", "--no-metrics", "--dtype", "bf16"]) == 0
    out = capsys.readouterr().out
    assert "synthetic_cnn" in out and "bfloat16" in out and "speed-up" in out
    assert main(["--models", "synthetic_cnn", "--quick", "--images", "0"]) == 2
