"""Reference maps, the crop geometry back onto the stimulus, and the table loop
(cache protocol, shards) with a fake explainer whose maps are known in advance."""

import math

import numpy as np
import pytest
import torch

from fovex_lib.datasets.images import load_image
from fovex_lib.gaze.evaluate import (
    METRIC_SETTINGS,
    crop_box,
    crop_geometry,
    evaluate_methods,
    evaluate_references,
    fraction_in_crop,
    map_to_stimulus,
    scanpath_to_stimulus,
    select_shard,
    summarise_gaze,
)
from fovex_lib.gaze.osie import load_osie
from fovex_lib.gaze.records import GazeRecord
from fovex_lib.gaze.reference_maps import centre_bias_map, fixation_density, inter_observer_maps
from fovex_lib.method.explainer import Explanation

from conftest import shared_data


def _record(fixations, observer, size=(30, 40)):
    fixations = np.asarray(fixations, dtype=float)
    return GazeRecord(
        "x",
        path=None,
        size=size,
        fixations=fixations,
        observer=np.asarray(observer),
        durations=np.full(len(fixations), np.nan),
        num_observers=int(max(observer)) + 1,
    )


def test_centre_bias_map():
    cb = centre_bias_map((31, 41), sigma=0.25)
    assert cb.shape == (1, 1, 31, 41) and cb[0, 0, 15, 20] == pytest.approx(1.0)
    # one standard deviation (0.25 * H rows = 7.75) below the centre: exp(-1/2) at the exact position
    expected = math.exp(-((25 - 15) ** 2) / (2 * (0.25 * 31) ** 2))
    assert cb[0, 0, 25, 20].item() == pytest.approx(expected, rel=1e-5)
    assert torch.equal(cb[0, 0, :, 0], cb[0, 0, :, -1])  # symmetric


def test_fixation_density_against_a_loop():
    points = [(3.2, 4.0), (10.0, 30.5), (29.0, 0.0)]
    got = fixation_density(points, (30, 40), sigma_px=4.0, dtype=torch.float64)[0, 0]
    expected = np.zeros((30, 40))
    for r in range(30):
        for c in range(40):
            expected[r, c] = sum(math.exp(-((r - pr) ** 2 + (c - pc) ** 2) / 32.0) for pr, pc in points)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


def test_inter_observer_maps_leave_one_out():
    record = _record([(5, 5), (6, 7), (20, 30), (5, 6)], [0, 0, 1, 2])
    maps, masks = inter_observer_maps(record, sigma_px=3.0, device="cpu", dtype=torch.float64)
    assert maps.shape == (3, 1, 30, 40) and masks.shape == (3, 1, 30, 40)
    # observer 1's map is made of observers 0 and 2 only; its mask holds its single fixation
    expected = fixation_density([(5, 5), (6, 7), (5, 6)], (30, 40), 3.0, dtype=torch.float64)
    assert torch.allclose(maps[1:2], expected)
    assert masks[1, 0].nonzero().tolist() == [[20, 30]]
    # when everyone looks at one spot, the others predict each observer perfectly
    same = _record([(12, 12)] * 5, [0, 1, 2, 3, 4])
    rows = evaluate_references([same], observer_sigma_px=2.0, progress=False)
    io = next(r for r in rows if r["method"] == "inter-observer")
    assert io["auc_judd"] == pytest.approx(1.0) and io["nss"] > 5


def test_crop_geometry_matches_load_image():
    assert crop_geometry((600, 800), 224) == (224, 299, 0, 37)  # 800 * 224 / 600 = 298.7 -> 299
    top, left, bottom, right = crop_box((600, 800), 224)
    assert (top, bottom) == (0, 600)
    assert left == pytest.approx(37 * 800 / 299) and right == pytest.approx(261 * 800 / 299)
    # the crop of a stimulus whose columns carry their own index equals load_image's view
    cols = torch.arange(800.0).expand(1, 3, 600, 800) / 800
    from fovex_lib.datasets.images import resize_image

    view = resize_image(cols, 224)
    lo, hi = view[0, 0, 0, 0].item() * 800, view[0, 0, 0, -1].item() * 800
    assert lo == pytest.approx(left, abs=2) and hi == pytest.approx(right - 1, abs=2)


def test_map_to_stimulus_geometry():
    ones = map_to_stimulus(torch.ones(1, 1, 224, 224), (600, 800))[0, 0]
    assert ones.shape == (600, 800)
    left, right = crop_box((600, 800))[1], crop_box((600, 800))[3]
    assert torch.all(ones[:, : int(left) - 2] == 0) and torch.all(ones[:, int(right) + 2 :] == 0)
    assert torch.allclose(ones[:, int(left) + 2 : int(right) - 2], torch.ones(1))
    # a single hot pixel (row 112, col 112 of the crop) lands where the inverse scaling puts it
    spike = torch.zeros(1, 1, 224, 224)
    spike[0, 0, 112, 112] = 1
    peak = map_to_stimulus(spike, (600, 800))[0, 0]
    r, c = divmod(int(peak.argmax()), 800)
    assert abs(r - ((112 + 0.5) * 600 / 224 - 0.5)) <= 1.5
    assert abs(c - ((37 + 112 + 0.5) * 800 / 299 - 0.5)) <= 1.5
    # FovEx positions: the crop centre (0, 0) is crop pixel (111.5, 111.5); the corner (-1, -1) pixel (0, 0)
    points = scanpath_to_stimulus(torch.tensor([[0.0, 0.0], [-1.0, -1.0]]), (600, 800))
    np.testing.assert_allclose(points[0], [112 * 600 / 224 - 0.5, (37 + 112) * 800 / 299 - 0.5])
    np.testing.assert_allclose(points[1], [0.5 * 600 / 224 - 0.5, 37.5 * 800 / 299 - 0.5])


def test_select_shard():
    items = list(range(10))
    assert select_shard(items, None) == items
    assert select_shard(items, "1/3") == [1, 4, 7]
    for bad in ("3/3", "a/b", "1"):
        with pytest.raises(ValueError):
            select_shard(items, bad)


class DictCache:
    """The cache protocol, in memory."""

    def __init__(self):
        self.store = {}

    def _k(self, key):
        return repr(sorted(key.items()))

    def get(self, key):
        return self.store.get(self._k(key))

    def put(self, key, value):
        self.store[self._k(key)] = value


class FixationExplainer:
    """Explains with the true fixations seen through the crop: a map known in advance."""

    def __init__(self, records, size=224):
        self.calls = 0
        self.maps = {}
        for r in records:
            _, _, top, left = crop_geometry(r.size, size)
            scale = size / min(r.size)
            inside = [(row * scale - top, col * scale - left) for row, col in r.fixations]
            self.maps[r.image_id] = fixation_density(inside, (size, size), sigma_px=3.0)

    def __call__(self, images, target=None):
        self.calls += 1
        order = self.order[: images.shape[0]]
        self.order = self.order[images.shape[0] :]
        maps = torch.cat([self.maps[i] for i in order])
        return Explanation(saliency=maps / maps.amax(dim=(2, 3), keepdim=True), targets=torch.zeros(len(order)))


@pytest.mark.slow
def test_evaluate_methods_cache_and_shards():
    data = load_osie(shared_data(), image_ids=["1001", "1002", "1003"], download=False)
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 4))
    truth = FixationExplainer(data)

    def flat(images, target=None):
        return Explanation(
            torch.full((images.shape[0], 1, 224, 224), 0.5),
            torch.zeros(images.shape[0], dtype=torch.long),
        )

    truth.order = [r.image_id for r in data]
    cache = DictCache()
    rows, kept = evaluate_methods(
        model,
        data,
        {"truth": truth, "flat": flat},
        model_name="toy",
        batch_size=2,
        cache=cache,
        keep=["1002"],
        progress=False,
    )
    assert len(rows) == 6 and truth.calls == 2
    by = {(r["image_id"], r["method"]): r for r in rows}
    for record in data:
        # the fixations' own map (seen through the crop) beats chance by far
        assert by[(record.image_id, "truth")]["auc_judd"] > 0.9
        assert by[(record.image_id, "truth")]["nss"] > 3
        # flat map: 0.5 on the crop (3/4 of the pixels), 0 outside. ROC points (0,0), (3/4, f), (1,1)
        # with f the share of fixations in the crop: area = 3/4 * f / 2 + 1/4 * (f + 1) / 2 = f / 2 + 1/8
        inside = fraction_in_crop(record)
        assert by[(record.image_id, "flat")]["auc_judd"] == pytest.approx(inside / 2 + 1 / 8, abs=0.02)
    assert kept[("1002", "truth")]["map"].shape == (224, 224)
    # second run: everything comes from the cache, the explainer is not called again
    rows2, _ = evaluate_methods(
        model,
        data,
        {"truth": truth, "flat": flat},
        model_name="toy",
        batch_size=2,
        cache=cache,
        keep=["1002"],
        progress=False,
    )
    assert truth.calls == 2 and rows2 == rows
    # shards partition the images
    truth.order = ["1002"]
    shard_rows, _ = evaluate_methods(model, data, {"truth": truth}, model_name="toy", shard="1/3", progress=False)
    assert [r["image_id"] for r in shard_rows] == ["1002"]
    table = summarise_gaze(rows)
    assert table["truth"]["n"] == 3 and set(table) == {"truth", "flat"}
    assert table["flat"]["nss"] == pytest.approx(np.mean([by[r.image_id, "flat"]["nss"] for r in data]))


@pytest.mark.slow
def test_references_on_real_osie_images():
    data = load_osie(shared_data(), image_ids=["1001", "1010"], download=False)
    table = summarise_gaze(evaluate_references(data, progress=False))
    assert set(table) == {"centre bias", "crop window", "inter-observer"}
    # the leave-one-out human map is the upper anchor
    assert table["inter-observer"]["auc_judd"] > table["centre bias"]["auc_judd"] > 0.5
    assert table["inter-observer"]["nss"] > 1.0
    assert load_image(data[0].path).shape == (1, 3, 224, 224)


class CountingCache(DictCache):
    """DictCache that counts hits, misses and writes (as ResultCache does)."""

    def __init__(self):
        super().__init__()
        self.hits = self.misses = self.writes = 0
        self.keys = {}  # the key dicts as given, by their text

    def get(self, key):
        value = super().get(key)
        self.hits, self.misses = self.hits + (value is not None), self.misses + (value is None)
        return value

    def put(self, key, value):
        self.writes += 1
        self.keys[self._k(key)] = key
        super().put(key, value)


def test_gaze_loops_share_the_cache_loop_and_the_key_builder():
    """evaluate_methods and evaluate_references go through tools.cache.cached_map with result_key keys:
    a second run only hits, a kept image whose entry lacks its map is computed again, and every key
    holds the results version."""
    from fovex_lib.tools.cache import explainer_settings, result_key
    from fovex_lib.tools.results import RESULTS_VERSION

    data = load_osie(shared_data(), image_ids=["1001", "1002", "1003"], download=False)
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 4))
    calls = []

    def flat(images, target=None):
        calls.append(images.shape[0])
        return Explanation(torch.full((images.shape[0], 1, 224, 224), 0.5), torch.zeros(images.shape[0]).long())

    cache = CountingCache()
    run = dict(model_name="toy", batch_size=2, cache=cache, progress=False)
    rows, _ = evaluate_methods(model, data, {"flat": flat}, **run)
    assert (cache.hits, cache.misses, cache.writes, calls) == (0, 3, 3, [2, 1])
    again, _ = evaluate_methods(model, data, {"flat": flat}, **run)
    assert (cache.hits, cache.misses, cache.writes, calls) == (3, 3, 3, [2, 1]) and again == rows
    # a kept image needs its map: its entry (scores only) is computed again and replaced
    _, kept = evaluate_methods(model, data, {"flat": flat}, keep=["1003"], **run)
    assert calls == [2, 1, 1] and cache.writes == 4 and kept[("1003", "flat")]["map"].shape == (224, 224)
    evaluate_methods(model, data, {"flat": flat}, keep=["1003"], **run)
    assert calls == [2, 1, 1] and cache.writes == 4
    # every key is built by result_key: task, results version, method, image, explainer description
    keys = list(cache.keys.values())
    assert all(k["version"] == RESULTS_VERSION and k["task"] == "gaze" and k["method"] == "flat" for k in keys)
    assert sorted(k["image"] for k in keys) == ["1001", "1002", "1003"]
    assert all(k["explainer"] == explainer_settings(flat) and k["model"] == "toy" for k in keys)
    assert keys[0] == result_key(
        "gaze",
        "flat",
        keys[0]["image"],
        model="toy",
        explainer=explainer_settings(flat),
        dataset=keys[0]["dataset"],
        image_size=keys[0]["image_size"],
        input_size=224,
        target="predicted",
        metrics=METRIC_SETTINGS,
        view="crop",
    )
    # the reference rows: the same loop, record by record in the records' order
    references = evaluate_references(data, cache=cache, progress=False)
    writes = cache.writes
    assert evaluate_references(data, cache=cache, progress=False) == references and cache.writes == writes
    assert [r["image_id"] for r in references] == [r.image_id for r in data for _ in range(3)]


def test_evaluate_methods_old_settings_argument_names_its_replacement():
    data = load_osie(shared_data(), image_ids=["1001"], download=False)
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 4))
    with pytest.raises(TypeError, match="is now called 'method_settings'"):
        evaluate_methods(model, data, {"flat": lambda x, target=None: x}, model_name="toy", settings={})
