"""Scanpaths of people, explainers and references (fovex_lib.gaze.scanpaths) and the scanpath
table (fovex_lib.gaze.scanpath_evaluate), on analytic cases and on the offline OSIE data."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fovex_lib.gaze.evaluate import map_to_stimulus, scanpath_to_stimulus
from fovex_lib.gaze.osie import load_osie
from fovex_lib.gaze.records import GazeRecord
from fovex_lib.gaze.scanpath_evaluate import COLUMNS, image_seed, score_scanpaths
from fovex_lib.gaze.scanpath_measures import compare
from fovex_lib.gaze.scanpaths import (
    IOR_RADIUS_FRACTION,
    human_scanpaths,
    ior_radius,
    model_scanpaths,
    random_scanpath,
    truncate,
    winner_take_all,
)
from fovex_lib.method.explainer import Explanation
from fovex_lib.tools.cache import ResultCache

from conftest import shared_data


# --------------------------------------------------------------------------- winner-take-all
def naive_winner_take_all(maps, length, radius):
    """Independent computation: whole-image inhibition discs, ties to the centre by a full sort."""
    batch, _, height, width = maps.shape
    out = np.zeros((batch, length, 2))
    for b in range(batch):
        values = maps[b, 0].double().numpy().copy()
        inhibited = np.zeros((height, width), dtype=bool)
        rr, cc = np.mgrid[0:height, 0:width]
        centre = (rr - (height - 1) / 2) ** 2 + (cc - (width - 1) / 2) ** 2
        for step in range(length):
            if inhibited.all():
                inhibited[:] = False
            candidates = [
                (centre[r, c], r * width + c)
                for r in range(height)
                for c in range(width)
                if not inhibited[r, c] and values[r, c] == values[~inhibited].max()
            ]
            r, c = divmod(min(candidates)[1], width)
            out[b, step] = r, c
            inhibited |= (rr - r) ** 2 + (cc - c) ** 2 <= radius**2
    return out


def test_winner_take_all_equals_an_independent_computation_with_ties():
    gen = torch.Generator().manual_seed(0)
    maps = torch.rand(3, 1, 17, 23, generator=gen)
    maps[1] = 0.0  # one big tie: fixations must start at the centre
    maps[2] = (maps[2] * 4).floor()  # many ties
    got = winner_take_all(maps, 6, 3.5).numpy()
    assert np.array_equal(got, naive_winner_take_all(maps, 6, 3.5))
    assert tuple(got[1, 0]) == (8, 11)  # the centre pixel of a 17 x 23 map


def test_winner_take_all_visits_peaks_in_order_and_respects_the_inhibition_radius():
    maps = torch.zeros(1, 1, 40, 60)
    peaks = [(5, 5, 3.0), (30, 50, 2.0), (20, 30, 1.0)]
    for r, c, v in peaks:
        maps[0, 0, r, c] = v
    path = winner_take_all(maps, 5, 8.0)[0].numpy()
    assert [tuple(p) for p in path[:3]] == [(r, c) for r, c, _ in peaks]
    distances = np.hypot(*(path[:, None] - path[None]).transpose(2, 0, 1))
    assert (distances[np.triu_indices(5, 1)] > 8.0).all()


def test_winner_take_all_lifts_inhibition_when_everything_is_inhibited():
    maps = torch.zeros(1, 1, 5, 5)
    maps[0, 0, 1, 3] = 1.0
    path = winner_take_all(maps, 3, 10.0)[0].numpy()  # the first disc covers the whole map
    assert [tuple(p) for p in path] == [(1, 3)] * 3


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.zeros(1, 5, 5), r"\(B, 1, H, W\)"),
        (torch.full((1, 1, 5, 5), float("nan")), "finite"),
    ],
)
def test_winner_take_all_rejects_bad_maps(bad, match):
    with pytest.raises(ValueError, match=match):
        winner_take_all(bad, 2, 1.0)


def test_ior_radius_is_one_sixth_of_the_smaller_side():
    assert IOR_RADIUS_FRACTION == pytest.approx(1 / 6)
    assert ior_radius((600, 800)) == pytest.approx(100.0)


# --------------------------------------------------------------------------- chance scanpaths
def test_random_scanpaths_are_reproducible_and_on_the_stimulus():
    size = (60, 80)
    a = random_scanpath(size, 500, torch.Generator().manual_seed(3))
    b = random_scanpath(size, 500, torch.Generator().manual_seed(3))
    assert np.array_equal(a, b)
    assert (a[:, 0] >= -0.5).all() and (a[:, 0] < 59.5).all() and (a[:, 1] >= -0.5).all() and (a[:, 1] < 79.5).all()
    assert abs(a[:, 1].mean() - 39.5) < 4  # uniform: mean at the centre, sd 80 / sqrt(12) / sqrt(500) ~ 1


def test_centre_biased_random_scanpaths_follow_the_centre_gaussian():
    size = (600, 800)
    path = random_scanpath(size, 4000, torch.Generator().manual_seed(1), centre_sigma=0.1)
    assert np.allclose(path.mean(0), [299.5, 399.5], atol=5)
    assert np.allclose(path.std(0), [60, 80], rtol=0.06)  # 0.1 x height, 0.1 x width


def test_image_seed_depends_on_the_image_not_on_its_position():
    assert image_seed(0, "1001") == image_seed(0, "1001") != image_seed(0, "1002") != image_seed(1, "1002")


# --------------------------------------------------------------------------- human scanpaths
@pytest.fixture(scope="module")
def osie():
    return load_osie(shared_data(), download=False)


def test_human_scanpaths_are_each_observers_fixations_in_order_with_durations(osie):
    record = osie[0]
    paths = human_scanpaths(record)
    assert len(paths) == record.num_observers == 15
    for o, path in enumerate(paths):
        own = record.observer == o
        assert np.array_equal(path[:, :2], record.fixations[own])
        assert np.array_equal(path[:, 2], record.durations[own])
    assert truncate(paths, 3)[0].shape == (3, 3)
    assert truncate([np.zeros((2, 3))], 3) == [None]


# --------------------------------------------------------------------------- model scanpaths
class PeakExplainer:
    """A map with its maximum at one input pixel; counts its calls."""

    def __init__(self, peak):
        self.peak, self.calls = peak, 0

    def __call__(self, images, target=None):
        self.calls += 1
        maps = torch.zeros(images.shape[0], 1, *images.shape[-2:])
        maps[:, 0, self.peak[0], self.peak[1]] = 1.0
        return Explanation(saliency=maps, targets=torch.zeros(images.shape[0], dtype=torch.long))


class PathExplainer:
    """Returns a fixed scanpath in normalised coordinates, like FovEx."""

    def __init__(self, path):
        self.path = torch.tensor(path, dtype=torch.float32)

    def __call__(self, images, target=None):
        out = Explanation(
            saliency=torch.zeros(images.shape[0], 1, *images.shape[-2:]),
            targets=torch.zeros(images.shape[0], dtype=torch.long),
        )
        out.scanpath = self.path[None].repeat(images.shape[0], 1, 1)
        return out


def test_model_scanpaths_maps_fovex_paths_and_turns_maps_into_winner_take_all_paths(osie, tmp_path):
    records = list(osie)[:2]
    model = torch.nn.Linear(1, 1)
    fovex_like = PathExplainer([[0.0, 0.0], [-1.0, 1.0], [0.5, -0.5]])
    peak = PeakExplainer((30, 200))
    cache = ResultCache(tmp_path)
    kwargs = dict(model_name="toy", length=3, batch_size=2, cache=cache, progress=False)
    out = model_scanpaths(model, records, {"path": fovex_like, "map": peak}, **kwargs)
    for record in records:
        expected = scanpath_to_stimulus(fovex_like.path, record.size, 224, "crop")
        assert np.allclose(out["path"][record.image_id]["scanpath"], expected)
        maps = torch.zeros(1, 1, 224, 224)
        maps[0, 0, 30, 200] = 1.0
        on_stimulus = map_to_stimulus(maps, record.size, "crop")
        expected = winner_take_all(on_stimulus, 3, ior_radius(record.size))[0].numpy()
        assert np.array_equal(out["map"][record.image_id]["scanpath"], expected)
    assert peak.calls == 1  # one batch of two images
    again = model_scanpaths(model, records, {"map": peak}, **kwargs)
    assert peak.calls == 1  # every value came from the cache
    assert np.array_equal(again["map"][records[1].image_id]["scanpath"], out["map"][records[1].image_id]["scanpath"])
    with pytest.raises(ValueError, match="scanpath_length >= 5"):
        model_scanpaths(model, records, {"path": fovex_like}, model_name="toy", length=5, progress=False)


# --------------------------------------------------------------------------- the table
def toy_record(paths, size=(60, 80)):
    """A GazeRecord whose observers made the given (N, 2) scanpaths, 200 ms per fixation."""
    fixations = np.concatenate(paths).astype(np.float64)
    observer = np.concatenate([np.full(len(p), o) for o, p in enumerate(paths)])
    return GazeRecord(
        image_id="toy",
        path=Path("unused.jpg"),
        size=size,
        fixations=fixations,
        observer=observer.astype(np.int64),
        durations=np.full(len(fixations), 200.0),
        num_observers=len(paths),
    )


def test_identical_people_and_an_identical_model_score_the_maximum():
    path = np.array([[10.0, 10.0], [30.0, 60.0], [50.0, 20.0], [20.0, 40.0]])
    record = toy_record([path, path, path])
    rows = score_scanpaths(
        [record], {"copy": {"toy": {"scanpath": path}}}, lengths=(3, 4), shuffle=(), grid=(3, 4), progress=False
    )
    assert {(r["method"], r["length"]) for r in rows} >= {("human ceiling", 3), ("copy", 4), ("oracle map", 4)}
    for row in rows:
        assert set(row) == set(COLUMNS)
        if row["method"] in ("human ceiling", "copy"):
            for name in ("mm_vector", "mm_direction", "mm_length", "mm_position", "scanmatch", "edit"):
                assert row[name] == pytest.approx(1.0), (row["method"], name)
            assert row["nearest_px"] == 0.0
            assert row["observers"] == (3 if row["method"] == "human ceiling" else 3)  # 3 pairs / 3 observers
    ceiling = next(r for r in rows if r["method"] == "human ceiling")
    assert ceiling["mm_duration"] == pytest.approx(1.0)  # equal durations
    model_row = next(r for r in rows if r["method"] == "copy")
    assert np.isnan(model_row["mm_duration"])  # a model scanpath has no durations


def test_rows_average_the_measures_over_the_observers_with_enough_fixations():
    a = np.array([[10.0, 10.0], [30.0, 60.0], [50.0, 20.0]])
    b = np.array([[40.0, 70.0], [5.0, 5.0], [25.0, 35.0]])
    short = np.array([[1.0, 1.0]])  # fewer than L fixations: left out
    record = toy_record([a, b, short])
    model = np.array([[12.0, 14.0], [28.0, 50.0], [45.0, 30.0]])
    rows = score_scanpaths(
        [record],
        {"m": {"toy": {"scanpath": model}}},
        lengths=(3,),
        shuffle=(),
        grid=(3, 4),
        references=False,
        progress=False,
    )
    (row,) = rows
    expected = [compare(model, p, (60, 80), (3, 4)) for p in (a, b)]
    for name in ("mm_vector", "mm_position", "scanmatch", "edit", "nearest_px"):
        assert row[name] == pytest.approx(np.mean([e[name] for e in expected]))
    assert row["observers"] == 2


def same_rows(a, b):
    """Equal rows, NaN equal to NaN (undefined MultiMatch duration of model scanpaths)."""
    return json.dumps(a) == json.dumps(b)


def test_shuffled_rows_and_shards_are_reproducible(osie, tmp_path):
    records = list(osie)[:2]
    gen = torch.Generator().manual_seed(0)
    paths = {"m": {r.image_id: {"scanpath": random_scanpath(r.size, 5, gen)} for r in records}}
    kwargs = dict(lengths=(3, 5), shuffle=("m",), shuffles=3, grid=(4, 6), progress=False)
    whole = score_scanpaths(records, paths, **kwargs)
    assert {r["method"] for r in whole} == {
        "human ceiling",
        "m",
        "m (order shuffled)",
        "oracle map",
        "centre map",
        "centre random",
        "uniform random",
    }
    cache = ResultCache(tmp_path)
    parts = [score_scanpaths(records, paths, cache=cache, shard=f"{i}/2", **kwargs) for i in range(2)]
    assert same_rows(parts[0] + parts[1], whole)  # image 0 in shard 0, image 1 in shard 1
    assert same_rows(score_scanpaths(records, paths, cache=cache, **kwargs), whole)  # from the cache
    with pytest.raises(ValueError, match="shuffle names"):
        score_scanpaths(records, paths, shuffle=("FovEx",), progress=False)


def test_draw_pixel_scanpath_numbers_fixations_in_viewing_order():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fovex_lib.tools.plotting import draw_pixel_scanpath

    fig, ax = plt.subplots()
    path = np.array([[10.0, 20.0, 150.0], [30.0, 5.0, 90.0], [12.0, 40.0, 300.0]])  # durations ignored
    draw_pixel_scanpath(path, ax, color="red", label="observer")
    texts = [(t.get_text(), t.get_position()) for t in ax.texts]
    assert texts == [("1", (20.0, 10.0)), ("2", (5.0, 30.0)), ("3", (40.0, 12.0))]  # (x, y) = (col, row)
    assert np.array_equal(ax.collections[0].get_offsets(), path[:, [1, 0]])
    assert ax.get_legend_handles_labels()[1] == ["observer"]
    assert {t.get_fontsize() for t in ax.texts} == {9}  # legible in the book's column by default
    draw_pixel_scanpath(path, ax, fontsize=12)
    assert {t.get_fontsize() for t in ax.texts[3:]} == {12}
    with pytest.raises(ValueError, match=r"\(L, 2\)"):
        draw_pixel_scanpath(np.zeros(4), ax)
    plt.close(fig)
