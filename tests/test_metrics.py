"""Metrics on analytic fixtures: EBPG, deletion / insertion, % drop / increase, the evaluation loop."""

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from fovex_lib.metrics import (
    Curves,
    DropIncrease,
    MetricResult,
    curve_auc,
    deletion,
    drop_increase,
    energy_pointing_game,
    evaluate_method,
    insertion,
    make_substrate,
    mask_images,
    metric_settings,
    pixel_ranks,
    summarise_metrics,
    trapezoid_auc,
)
from fovex_lib.models.zoo import ImageClassifier

from conftest import tiny_cnn

EPS = 0.01  # probability floor of the box model


class BoxIntactModel(nn.Module):
    """Two classes; p(class 0) = EPS + (1 - 2 EPS) * (mean of channel 0 over a box).

    On an all-ones image with black as the deletion baseline, p(class 0) falls linearly with the
    number of box pixels deleted; logits (log p, log(1 - p)) make the softmax exactly (p, 1 - p).
    """

    def __init__(self, box):
        super().__init__()
        self.box = box  # (top, left, bottom, right), end exclusive

    def forward(self, x):
        top, left, bottom, right = self.box
        q = x[:, 0, top:bottom, left:right].mean((1, 2))
        p = EPS + (1 - 2 * EPS) * q
        return torch.stack([p.log(), (1 - p).log()], 1)


class SumModel(nn.Module):
    """Three classes with logits (a s, 0, -a s), s = sum of channel 0 (float64)."""

    def __init__(self, a=0.05):
        super().__init__()
        self.a = a

    def forward(self, x):
        s = self.a * x[:, 0].sum((1, 2))
        return torch.stack([s, torch.zeros_like(s), -s], 1)


def classifier(seed=0):
    """tiny_cnn behind an ImageClassifier (it has the mean / std the default substrates need)."""
    return ImageClassifier(
        tiny_cnn(seed=seed),
        (0.485, 0.456, 0.406),
        (0.229, 0.224, 0.225),
        [f"c{i}" for i in range(5)],
        input_size=(64, 64),
        name=f"tiny{seed}",
    ).eval()


def box_map(size, box):
    top, left, bottom, right = box
    m = torch.zeros(1, 1, *size, dtype=torch.float64)
    m[..., top:bottom, left:right] = 1
    return m


# ---------------------------------------------------------------- EBPG
def test_ebpg_indicator_map_scores_100_and_uniform_map_scores_area_share():
    size = (20, 30)
    boxes = [[(3, 2, 13, 8)], [(0, 0, 30, 20)], [(5, 5, 10, 10), (8, 8, 20, 12)]]  # (x0, y0, x1, y1)
    masks = torch.zeros(3, 1, *size, dtype=torch.bool)
    masks[0, 0, 2:8, 3:13] = True
    masks[1] = True
    masks[2, 0, 5:10, 5:10] = True
    masks[2, 0, 8:12, 8:20] = True
    indicator = masks.double()
    assert torch.allclose(energy_pointing_game(indicator, boxes).values, torch.full((3,), 100.0, dtype=torch.float64))
    uniform = torch.full((3, 1, *size), 0.3)
    # area shares counted by hand: 10x6 box; whole image; 5x5 + 4x12 - overlap 2x2
    expected = torch.tensor([60 / 600, 1.0, (25 + 48 - 4) / 600], dtype=torch.float64) * 100
    assert torch.allclose(energy_pointing_game(uniform, boxes).values, expected)
    assert torch.allclose(energy_pointing_game(uniform, masks).values, expected)


def test_ebpg_weighted_map_by_hand():
    m = torch.zeros(1, 1, 4, 4)
    m[0, 0, 0, 0] = 3.0  # inside
    m[0, 0, 3, 3] = 1.0  # outside
    assert energy_pointing_game(m, [[(0, 0, 2, 2)]]).values.item() == pytest.approx(75.0)


def test_ebpg_zero_map_is_nan_with_warning():
    with pytest.warns(RuntimeWarning, match="all zeros"):
        out = energy_pointing_game(torch.zeros(2, 1, 8, 8), [[(0, 0, 4, 4)], [(1, 1, 3, 3)]]).values
    assert torch.isnan(out).all()


@pytest.mark.parametrize(
    "boxes, match",
    [
        ([[]], "non-empty list"),
        ([[(4, 4, 4, 6)]], "empty"),
        ([[(5, 2, 3, 6)]], "empty"),
        ([[(-1, 0, 4, 4)]], "outside"),
        ([[(0, 0, 9, 4)]], "outside"),
        ([[(1.1, 1.1, 1.4, 1.4)]], "no pixel"),
        ([[(0, 0, 4, 4)], [(0, 0, 4, 4)]], "2 images"),
    ],
)
def test_ebpg_bad_boxes(boxes, match):
    with pytest.raises(ValueError, match=match):
        energy_pointing_game(torch.rand(1, 1, 8, 8), boxes)


def test_ebpg_bad_maps_and_masks():
    with pytest.raises(ValueError, match="non-negative"):
        energy_pointing_game(torch.rand(1, 1, 8, 8) - 0.5, [[(0, 0, 4, 4)]])
    with pytest.raises(ValueError, match="NaN"):
        energy_pointing_game(torch.full((1, 1, 8, 8), float("nan")), [[(0, 0, 4, 4)]])
    with pytest.raises(ValueError, match="unsqueeze"):
        energy_pointing_game(torch.rand(1, 8, 8), [[(0, 0, 4, 4)]])
    with pytest.raises(ValueError, match="covers no pixel"):
        energy_pointing_game(torch.rand(1, 1, 8, 8), torch.zeros(1, 1, 8, 8, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        energy_pointing_game(torch.rand(1, 1, 8, 8), torch.ones(1, 1, 8, 8))
    with pytest.raises(ValueError, match="shape"):
        energy_pointing_game(torch.rand(1, 1, 8, 8), torch.ones(1, 1, 4, 4, dtype=torch.bool))


def test_ebpg_on_synthetic_data_with_exact_boxes():
    from fovex_lib.datasets.synthetic import make_dataset

    data = make_dataset(4, seed=5)
    masks = data.box_masks()
    hundred = torch.full((4,), 100.0, dtype=torch.float64)
    assert torch.allclose(energy_pointing_game(masks.float(), masks).values, hundred)
    area = masks.flatten(1).sum(1).double() / masks[0].numel() * 100
    assert torch.allclose(energy_pointing_game(torch.ones(4, 1, 64, 64), masks).values, area)


# ---------------------------------------------------------------- deletion / insertion, closed form
SIZE = (16, 16)
BOX = (4, 2, 6, 18 - 2)  # rows 4..5, cols 2..15: A = 2 * 14 = 28 pixels
N = SIZE[0] * SIZE[1]
A = (BOX[2] - BOX[0]) * (BOX[3] - BOX[1])


def test_deletion_and_insertion_auc_closed_form():
    model = BoxIntactModel(BOX).double()
    image = torch.ones(1, 3, *SIZE, dtype=torch.float64)
    salient_box = box_map(SIZE, BOX)
    step = 4  # divides A and N: the kinks fall on sample points, the spacing is n_k / N, the trapezoid is exact
    # box deleted first (to black): p falls linearly from 1 to 0 over the first A pixels -> area (A / N) / 2
    d = deletion(model, image, salient_box, targets=0, step=step, substrate="black")
    assert d.auc.item() == pytest.approx(EPS + (1 - 2 * EPS) * A / (2 * N), abs=1e-12)
    # box restored first from black: p rises over the first A pixels -> 1 - A / (2 N)
    i = insertion(model, image, salient_box, targets=0, step=step, substrate="black")
    assert i.auc.item() == pytest.approx(EPS + (1 - 2 * EPS) * (1 - A / (2 * N)), abs=1e-12)
    # box deleted last: p stays 1 for N - A pixels -> 1 - A / (2 N); step 4 divides both A and N - A
    d_last = deletion(model, image, 1 - salient_box, targets=0, step=4, substrate="black")
    assert d_last.auc.item() == pytest.approx(EPS + (1 - 2 * EPS) * (1 - A / (2 * N)), abs=1e-12)
    # curve shape: includes the start (all intact) and the end (all deleted)
    assert d.curves.shape == (1, math.ceil(N / step) + 1)
    assert d.curves[0, 0].item() == pytest.approx(1 - EPS) and d.curves[0, -1].item() == pytest.approx(EPS)
    assert d.fractions[0] == 0 and d.fractions[-1] == 1


def test_default_step_is_one_row_and_last_step_may_be_short():
    model = BoxIntactModel(BOX).double()
    image = torch.ones(1, 3, *SIZE, dtype=torch.float64)
    d = deletion(model, image, box_map(SIZE, BOX), targets=0, substrate="black")
    assert d.step == SIZE[1] and d.curves.shape[1] == SIZE[0] + 1
    step = 24  # N = 256 = 10 * 24 + 16: 11 steps, the last one 16 pixels
    d = deletion(model, image, box_map(SIZE, BOX), targets=0, step=step, substrate="black")
    counts = np.minimum(np.arange(12) * step, N)
    p = EPS + (1 - 2 * EPS) * np.maximum(0.0, 1 - counts / A)
    t = np.arange(12) / 11  # RISE's uniform spacing k / K, also with a short last step
    expected = sum((t[k + 1] - t[k]) * (p[k] + p[k + 1]) / 2 for k in range(11))
    assert expected == pytest.approx((p.sum() - p[0] / 2 - p[-1] / 2) / 11)  # RISE's auc formula
    assert d.fractions.numpy() == pytest.approx(t)
    assert d.curves[0].numpy() == pytest.approx(p, abs=1e-12)
    assert d.auc.item() == pytest.approx(expected, abs=1e-12)


def test_trapezoid_matches_numpy():
    t = torch.tensor([0.0, 0.1, 0.5, 1.0], dtype=torch.float64)
    p = torch.tensor([[0.2, 0.9, 0.4, 0.0]], dtype=torch.float64)
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy >= 2 renamed trapz
    assert trapezoid_auc(t, p).item() == pytest.approx(trapezoid(p[0].numpy(), t.numpy()))
    uniform = torch.linspace(0, 1, 4, dtype=torch.float64)
    assert curve_auc(p).item() == pytest.approx(trapezoid(p[0].numpy(), uniform.numpy()))


def _naive_curve(model, image, saliency, target, step, substrate_image, kind):
    """One forward pass per step, pixels ranked as RISE: flip of numpy's (stable) ascending argsort."""
    h, w = image.shape[-2:]
    order = np.flip(np.argsort(saliency.reshape(-1).numpy(), kind="stable")).copy()
    start, end = (image, substrate_image) if kind == "deletion" else (substrate_image, image)
    scores = []
    for k in range(math.ceil(h * w / step) + 1):
        x = start.clone().reshape(3, -1)
        chosen = torch.from_numpy(order[: min(k * step, h * w)])
        x[:, chosen] = end.reshape(3, -1)[:, chosen]
        with torch.no_grad():
            scores.append(torch.softmax(model(x.reshape(1, 3, h, w)), 1)[0, target].item())
    return np.array(scores)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["deletion", "insertion"])
def test_batched_curves_equal_naive_loop(noise_images, kind):
    model = tiny_cnn(seed=1)
    gen = torch.Generator().manual_seed(4)
    maps = torch.rand(3, 1, 64, 64, generator=gen, dtype=torch.float64)
    maps[1] = (maps[1] * 4).round() / 4  # many ties: reverse raster order decides
    targets = [0, 3, 1]
    step = 256
    fn = deletion if kind == "deletion" else insertion
    substrate = "black" if kind == "deletion" else "mean"
    got = fn(model, noise_images, maps, targets, step=step, substrate=substrate, batch_size=7)
    for b in range(3):
        sub = (
            torch.zeros_like(noise_images[b])
            if kind == "deletion"
            else noise_images[b].mean((1, 2), keepdim=True).expand_as(noise_images[b])
        )
        want = _naive_curve(model, noise_images[b], maps[b, 0], targets[b], step, sub, kind)
        assert got.curves[b].numpy() == pytest.approx(want, abs=1e-10)
    # batch composition does not matter: one image alone gives its row of the batch
    alone = fn(model, noise_images[2:], maps[2:], targets[2], step=step, substrate=substrate, batch_size=64)
    assert torch.allclose(alone.curves[0], got.curves[2], atol=1e-12)


def test_default_substrates_are_rises(noise_images):
    """Insertion starts from RISE's blur, deletion ends on the model's mean colour (tests/test_rise_exact.py
    checks both against an independent RISE implementation)."""
    model = classifier(seed=2)
    x = noise_images[:1]
    maps = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ins = insertion(model, x, maps, 0, step=4096)
    dele = deletion(model, x, maps, 0, step=4096)
    with torch.no_grad():
        p = lambda image: torch.softmax(model(image), 1)[0, 0].item()  # noqa: E731
        blurred, grey = p(make_substrate(x, "blur", model)), p(model.mean.double().expand_as(x))
        original = p(x)
    assert ins.curves[0].numpy() == pytest.approx([blurred, original], abs=1e-12)
    assert dele.curves[0].numpy() == pytest.approx([original, grey], abs=1e-12)
    assert (ins.substrate, dele.substrate) == ("blur", "model_mean")


def test_constant_map_is_flagged_and_ranked_in_reverse_raster_order(noise_images):
    model = classifier(seed=1)
    constant = torch.full((1, 1, 64, 64), 0.5, dtype=torch.float64)
    reverse = torch.arange(64 * 64, dtype=torch.float64).view(1, 1, 64, 64)  # last pixel most salient
    a = deletion(model, noise_images[:1], constant, 0, step=512)
    b = deletion(model, noise_images[:1], reverse, 0, step=512)
    assert a.constant_map.tolist() == [True] and b.constant_map.tolist() == [False]
    assert torch.allclose(a.curves, b.curves)
    assert pixel_ranks(constant)[0, -5:].tolist() == [4, 3, 2, 1, 0]


def test_curve_bad_inputs(noise_images):
    model = tiny_cnn()
    good = torch.rand(3, 1, 64, 64, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        deletion(model, noise_images, good[:, 0])
    with pytest.raises(ValueError, match="do not resize"):
        deletion(model, noise_images, good[..., :32, :32])
    with pytest.raises(ValueError, match="3 images"):
        deletion(model, noise_images, good[:2])
    bad = good.clone()
    bad[0, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        insertion(model, noise_images, bad)
    with pytest.raises(ValueError, match="step"):
        deletion(model, noise_images, good, step=0)
    with pytest.raises(ValueError, match="larger than the image"):
        deletion(model, noise_images, good, step=64 * 64 + 1)
    with pytest.raises(ValueError, match="substrate"):
        insertion(model, noise_images, good, substrate="grey")
    with pytest.raises(ValueError, match="out of range"):
        deletion(model, noise_images, good, targets=99)
    with pytest.raises(TypeError, match="floating-point"):
        deletion(model, noise_images, (good > 0.5))


# ---------------------------------------------------------------- drop / increase
def _softmax3(s):
    e = [math.exp(s), 1.0, math.exp(-s)]
    return [v / sum(e) for v in e]


def test_drop_increase_by_hand():
    model = SumModel(a=0.05)
    x = torch.zeros(2, 3, 4, 4, dtype=torch.float64)
    x[:, 0] = torch.linspace(0.1, 0.9, 16, dtype=torch.float64).view(4, 4)
    m = torch.zeros(2, 1, 4, 4, dtype=torch.float64)
    m[:, :, :2] = 1.0  # keep the top half
    m[:, :, 2:] = 0.25  # dim the bottom half
    targets = [0, 2]
    # by hand: s = 0.05 * sum of channel 0
    c = x[0, 0].numpy()
    s_full = 0.05 * c.sum()
    s_black = 0.05 * (c[:2].sum() + 0.25 * c[2:].sum())
    mean = c.mean()
    s_mean = 0.05 * (c[:2].sum() + (0.25 * c[2:] + 0.75 * mean).sum())
    for substrate, s_masked in (("black", s_black), ("mean", s_mean)):
        y0, o0 = _softmax3(s_full)[0], _softmax3(s_masked)[0]
        y2, o2 = _softmax3(s_full)[2], _softmax3(s_masked)[2]
        out = drop_increase(model, x, m, targets, substrate=substrate)
        assert out.scores.tolist() == pytest.approx([y0, y2])
        assert out.masked_scores.tolist() == pytest.approx([o0, o2])
        assert out.drop.tolist() == pytest.approx([100 * max(0, y0 - o0) / y0, 100 * max(0, y2 - o2) / y2])
        assert out.increase.tolist() == [y0 < o0, y2 < o2] == [False, True]
        assert out.average_drop == pytest.approx(100 * (y0 - o0) / y0 / 2)
        assert out.average_increase == pytest.approx(50.0)


def test_drop_substrates_differ_and_ones_map_changes_nothing(noise_images):
    maps = torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    black, mean = mask_images(noise_images, maps, "black"), mask_images(noise_images, maps, "mean")
    assert not torch.allclose(black, mean)
    assert torch.allclose(mask_images(noise_images, torch.ones_like(maps), "mean"), noise_images)
    out = drop_increase(tiny_cnn(), noise_images, torch.ones_like(maps))
    assert out.drop.abs().max().item() < 1e-9 and not out.increase.any()


def test_drop_increase_bad_inputs(noise_images):
    model = tiny_cnn()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        drop_increase(model, noise_images, torch.full((3, 1, 64, 64), 2.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="non-negative"):
        drop_increase(model, noise_images, torch.full((3, 1, 64, 64), -0.5, dtype=torch.float64))
    with pytest.raises(ValueError, match="substrate"):
        drop_increase(model, noise_images, torch.ones(3, 1, 64, 64), substrate="grey")
    with pytest.raises(TypeError, match="torch.Tensor"):
        drop_increase(model, noise_images, np.ones((3, 1, 64, 64)))


def test_drop_increase_takes_every_substrate(noise_images):
    model = classifier(seed=3)
    maps = torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    mean = drop_increase(model, noise_images, maps, [0, 1, 2], substrate="mean")
    as_tensor = drop_increase(model, noise_images, maps, [0, 1, 2], substrate=make_substrate(noise_images, "mean"))
    assert torch.equal(mean.values, as_tensor.values) and (mean.substrate, as_tensor.substrate) == ("mean", "tensor")
    grey = drop_increase(model, noise_images, maps, [0, 1, 2], substrate="model_mean")
    expected = maps * noise_images + (1 - maps) * model.mean.double()
    assert torch.equal(mask_images(noise_images, maps, "model_mean", model), expected)
    assert grey.substrate == "model_mean" and not torch.equal(grey.masked_scores, mean.masked_scores)


# ---------------------------------------------------------------- one API for every metric
MODEL_METRICS = [drop_increase, deletion, insertion]


def test_every_metric_takes_the_same_leading_arguments_and_names_the_substrate_alike():
    import inspect

    from fovex_lib.metrics import perturbation_curves

    for fn in [*MODEL_METRICS, perturbation_curves]:
        parameters = list(inspect.signature(fn).parameters)
        assert parameters[:4] == ["model", "images", "maps", "targets"], fn.__name__
        assert "substrate" in parameters and not {"mode", "mask_mode", "target"} & set(parameters), fn.__name__
    assert list(inspect.signature(energy_pointing_game).parameters) == ["maps", "regions"]
    assert list(inspect.signature(mask_images).parameters)[:3] == ["images", "maps", "substrate"]
    assert {k for k in metric_settings() if "substrate" in k} == {
        "drop_increase_substrate",
        "deletion_substrate",
        "insertion_substrate",
    }


def test_every_metric_returns_a_metric_result_with_the_same_shapes(noise_images):
    model = classifier(seed=1)
    maps = torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    results = [
        fn(model, noise_images, maps, [0, 1, 2], step=1024)
        if fn is not drop_increase
        else fn(model, noise_images, maps, [0, 1, 2])
        for fn in MODEL_METRICS
    ]
    results.append(energy_pointing_game(maps, [[(0, 0, 32, 32)]] * 3))
    for result, kind in zip(results, [DropIncrease, Curves, Curves, MetricResult]):
        assert isinstance(result, MetricResult) and type(result) is kind
        assert result.values.shape == (3,) and result.values.dtype == torch.float64
        assert result.values.device.type == "cpu" and len(result) == 3
        assert result.mean() == pytest.approx(float(result.values.mean()))
    drop, dele, ins, ebpg = results
    assert [r.metric for r in results] == ["drop_increase", "deletion", "insertion", "energy_pointing_game"]
    assert [r.higher_is_better for r in results] == [False, False, True, True]
    for r in (drop, dele, ins):
        assert r.targets.tolist() == [0, 1, 2] and r.targets.dtype == torch.long
    assert (drop.substrate, dele.substrate, ins.substrate) == ("black", "model_mean", "blur")
    assert ebpg.targets is None and ebpg.substrate is None and ebpg.curves is None and drop.curves is None
    for curves in (dele, ins):  # (N, K + 1) curves over (K + 1,) fractions; values are their AUCs
        assert curves.curves.shape == (3, 5) and curves.fractions.shape == (5,)
        assert torch.equal(curves.values, curve_auc(curves.curves)) and curves.auc is curves.values
    assert drop.drop is drop.values and drop.average_drop == pytest.approx(drop.mean())
    with pytest.warns(RuntimeWarning):  # an undefined EBPG (all-zero map) is left out of the mean
        partly = energy_pointing_game(torch.cat([maps[:2], torch.zeros(1, 1, 64, 64)]), [[(0, 0, 32, 32)]] * 3)
    assert partly.mean() == pytest.approx(float(partly.values[:2].mean()))


@pytest.mark.parametrize(
    "call, new",
    [
        (lambda m, x, s: drop_increase(m, x, s, mode="mean"), "substrate"),
        (lambda m, x, s: drop_increase(m, x, s, target=0), "targets"),
        (lambda m, x, s: deletion(m, x, s, target=0), "targets"),
        (lambda m, x, s: insertion(m, x, s, target=0), "targets"),
        (lambda m, x, s: mask_images(x, s, mode="mean"), "substrate"),
        (lambda m, x, s: metric_settings(mask_mode="mean"), "drop_increase_substrate"),
        (
            lambda m, x, s: evaluate_method(
                m, CountingExplainer(), x, ["a", "b", "c"], [0, 1, 2], settings={"mask_mode": "mean"}
            ),
            "drop_increase_substrate",
        ),
    ],
)
def test_old_argument_names_raise_a_type_error_naming_the_new_one(noise_images, call, new):
    maps = torch.rand(3, 1, 64, 64, dtype=torch.float64)
    with pytest.raises(TypeError, match=f"is now called '{new}'"):
        call(tiny_cnn(), noise_images, maps)


# ---------------------------------------------------------------- evaluation loop, cache, shards
class DictCache:
    """The cache protocol (get / put with dict keys) in memory."""

    def __init__(self):
        self.store, self.puts = {}, 0

    def get(self, key):
        return self.store.get(repr(sorted(key.items())))

    def put(self, key, value):
        self.puts += 1
        self.store[repr(sorted(key.items()))] = dict(value)


class CountingExplainer:
    """Explains with a fixed map per image (the image's channel-0), counting images explained."""

    name = "channel0"

    def __init__(self):
        self.count = 0

    def __call__(self, images, target):
        self.count += images.shape[0]
        return images[:, :1].clone()


@pytest.mark.slow
def test_evaluate_method_cache_and_shards(noise_images):
    model = classifier()
    ids = ["a", "b", "c"]
    regions = [[(0, 0, 32, 32)]] * 3
    settings = {"step": 1024}
    explainer, cache = CountingExplainer(), DictCache()
    full = evaluate_method(
        model, explainer, noise_images, ids, [0, 1, 2], regions, settings=settings, explain_batch=2, cache=cache
    )
    assert explainer.count == 3 and cache.puts == 3 and full.ids == ids
    # values equal the metric functions called directly
    maps = noise_images[:, :1]
    direct = deletion(model, noise_images, maps, [0, 1, 2], step=1024)
    assert full.values["deletion"] == pytest.approx(direct.auc.numpy())
    assert full.values["ebpg"] == pytest.approx(energy_pointing_game(maps, regions).values.numpy())
    for substrate in ("black", "mean"):
        direct = drop_increase(model, noise_images, maps, [0, 1, 2], substrate=substrate)
        assert full.values[f"drop_{substrate}"] == pytest.approx(direct.values.numpy())
    assert full.values["drop"] == pytest.approx(full.values["drop_black"])  # the default substrate
    again = evaluate_method(model, explainer, noise_images, ids, [0, 1, 2], regions, settings=settings, cache=cache)
    assert explainer.count == 3  # everything came from the cache
    for name in full.values:
        assert again.values[name] == pytest.approx(full.values[name])
    part = evaluate_method(
        model, CountingExplainer(), noise_images, ids, [0, 1, 2], regions, settings=settings, shard="1/2"
    )
    assert part.ids == ["b"] and part.values["drop"] == pytest.approx(full.values["drop"][1:2])
    row = summarise_metrics(full)
    assert row["drop"] == pytest.approx(full.values["drop"].mean()) and row["n"] == 3
    assert set(full.seconds) == {"explain", "drop_increase", "deletion", "insertion", "ebpg"}
    with pytest.raises(ValueError, match="shard"):
        evaluate_method(model, explainer, noise_images, ids, [0, 1, 2], shard="3/2")
    with pytest.raises(ValueError, match="unknown metric settings"):
        evaluate_method(model, explainer, noise_images, ids, [0, 1, 2], settings={"steps": 3})
    with pytest.raises(ValueError, match="targets"):
        evaluate_method(model, explainer, noise_images, ids, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate_method(model, explainer, noise_images, ids, [0, 1, 2], None, settings=settings)
