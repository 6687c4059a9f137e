"""Issue 13, items 3, 4, 6 and 11 (cache part): cache keys from the explainer's real settings,
merging refuses incomplete shard sets, atomic cache writes on a full disk, clear errors."""

import pytest
import torch

from fovex_lib import FovEx
from fovex_lib.gaze.evaluate import evaluate_methods
from fovex_lib.gaze.osie import load_osie
from fovex_lib.method.explainer import Explanation
from fovex_lib.metrics.evaluate import evaluate_method
from fovex_lib.tools.cache import (
    ResultCache,
    ShardTable,
    cached_map,
    explainer_settings,
    format_shard,
    merge_tables,
    shard_from_env,
)

from conftest import file_size_limit, shared_data, tiny_cnn


# --------------------------------------------------------------------------- item 3: keys from real settings
def small_fovex(model, **changes):
    """A FovEx cheap enough for a test: one fixation, one step, a small blur."""
    settings = dict(scanpath_length=1, steps=1, blur_kernel_size=5, blur_sigma=2.0)
    return FovEx(model, **{**settings, **changes})


def test_explainer_settings_hold_every_fovex_setting():
    model = tiny_cnn(dtype=torch.float32)
    described = explainer_settings(small_fovex(model, lr=0.05, weights=torch.tensor([2.0])))
    assert described["class"] == "fovex_lib.method.fovex.FovEx"
    assert described["lr"] == 0.05 and described["steps"] == 1 and described["blur_kernel_size"] == 5
    assert described["weights"]["values"] == [2.0]
    assert "model" not in described and "search_model" not in described and "progress" not in described
    assert explainer_settings(small_fovex(model)) == explainer_settings(small_fovex(model, progress=True))
    for change in [
        dict(steps=2),
        dict(sigma=0.2),
        dict(forgetting=0.3),
        dict(seed=1),
        dict(restarts=False),
        dict(heatmap_sigma=0.1),
        dict(weights=torch.tensor([3.0])),
        dict(autocast_dtype="bf16"),
    ]:
        assert explainer_settings(small_fovex(model, **change)) != explainer_settings(small_fovex(model)), change


def test_explainer_settings_of_other_explainers():
    class Described:
        def settings(self):
            return {"radius": 3}

        def __call__(self, images, target=None):
            return images[:, :1]

    assert explainer_settings(Described())["radius"] == 3
    # a plain function or an object with state adds only its name: method_settings describes it
    counter = type("Counter", (), {"calls": 0, "__call__": lambda self, x, t=None: x})()
    assert set(explainer_settings(counter)) == {"class"}
    assert set(explainer_settings(lambda x, t=None: x)) == {"class"}
    # submodules of the model are named by their place in it (e.g. Grad-CAM's target layer)
    from fovex_lib.baselines.gradcam import GradCAM

    model = tiny_cnn(dtype=torch.float32)
    assert explainer_settings(GradCAM(model, target_layers=[model[2]]))["target_layers"] == ["module:2"]


#: Cheap metric settings for a model without mean / std (4 deletion steps, plain substrates).
METRICS = {"step": 256, "deletion_substrate": "black", "insertion_substrate": "black"}


@pytest.mark.slow
def test_evaluate_method_cache_misses_when_a_fovex_setting_changes(tmp_path):
    model = tiny_cnn(dtype=torch.float32)
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    cache = ResultCache(tmp_path)

    def run(explainer, **kwargs):
        before = (cache.hits, cache.misses)
        evaluate_method(model, explainer, images, ["a", "b"], [0, 1], settings=METRICS, cache=cache, **kwargs)
        return cache.hits - before[0], cache.misses - before[1]

    assert run(small_fovex(model)) == (0, 2)
    assert run(small_fovex(model)) == (2, 0)  # same settings: hits
    assert run(small_fovex(model, steps=2)) == (0, 2)  # another setting: misses
    assert run(small_fovex(model, seed=3)) == (0, 2)
    assert run(small_fovex(model), method_settings={"note": "x"}) == (0, 2)  # method_settings still count
    assert run(small_fovex(model), method_settings={"note": "x"}) == (2, 0)


class RecordingCache(ResultCache):
    """A ResultCache that also keeps every key it was asked for."""

    def __init__(self, directory):
        super().__init__(directory)
        self.asked = []

    def get(self, key, _count=True):
        self.asked.append(key)
        return super().get(key, _count)


def test_evaluate_method_keys_come_from_the_one_key_builder(tmp_path):
    from fovex_lib.metrics.evaluate import metric_settings
    from fovex_lib.tools.cache import result_key
    from fovex_lib.tools.results import RESULTS_VERSION

    model = tiny_cnn(dtype=torch.float32)
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    cache, explainer = RecordingCache(tmp_path), small_fovex(model)
    evaluate_method(
        model, explainer, images, ["a", "b"], [0, 1], settings=METRICS, cache=cache, method="FovEx", model_name="tiny"
    )
    assert cache.asked == [
        result_key(
            "metrics",
            "FovEx",
            image,
            model="tiny",
            explainer=explainer_settings(explainer),
            method_settings={},
            size=[32, 32],
            target=target,
            metrics=metric_settings(**METRICS),
            ebpg=False,
        )
        for image, target in (("a", 0), ("b", 1))
    ]
    assert all(k["version"] == RESULTS_VERSION and k["explainer"]["steps"] == 1 for k in cache.asked)
    assert cache.writes == 2 and cache.misses == 2


def test_result_key_holds_the_version_and_refuses_reserved_condition_names():
    from fovex_lib.tools.cache import result_key
    from fovex_lib.tools.results import RESULTS_VERSION

    key = result_key("gaze", "FovEx", "1001", model="m", explainer={"class": "x"}, view="crop")
    assert key == {
        "task": "gaze",
        "version": RESULTS_VERSION,
        "method": "FovEx",
        "image": "1001",
        "model": "m",
        "explainer": {"class": "x"},
        "method_settings": {},
        "view": "crop",
    }
    assert result_key("gaze", "FovEx", "1001", view="full") != result_key("gaze", "FovEx", "1001", view="crop")
    assert result_key("metrics", "FovEx", "1001") != result_key("gaze", "FovEx", "1001")
    with pytest.raises(ValueError, match="reserved"):
        result_key("gaze", "FovEx", "1001", version="old")


def test_cached_map_accept_recomputes_rejected_hits():
    cache, computed = {}, []

    class Cache:
        def get(self, key):
            return cache.get(key["item"])

        def put(self, key, value):
            cache[key["item"]] = value

    def compute(batch):
        computed.extend(batch)
        return [{"item": i, "full": i % 2 == 0} for i in batch]

    cached_map(range(4), compute, lambda i: {"item": i}, cache=Cache())
    cache[1] = {"item": 1}  # an entry that lacks what the next call needs
    rows = cached_map(range(4), compute, lambda i: {"item": i}, cache=Cache(), accept=lambda i, v: "full" in v)
    assert computed == [0, 1, 2, 3, 1] and rows[1] == {"item": 1, "full": False} == cache[1]


@pytest.mark.slow
def test_gaze_cache_misses_when_a_fovex_setting_changes(tmp_path):
    data = load_osie(shared_data(), image_ids=["1001"], download=False)
    model = tiny_cnn(dtype=torch.float32)
    cache = ResultCache(tmp_path)

    def run(explainer):
        before = (cache.hits, cache.misses)
        evaluate_methods(model, data, {"FovEx": explainer}, model_name="tiny", size=32, cache=cache, progress=False)
        return cache.hits - before[0], cache.misses - before[1]

    assert run(small_fovex(model)) == (0, 1)
    assert run(small_fovex(model)) == (1, 0)
    assert run(small_fovex(model, forgetting=0.5)) == (0, 1)


# --------------------------------------------------------------------------- item 4: merging shards
def _shards(items, specs):
    return [
        cached_map(items, lambda batch: [{"item": i} for i in batch], lambda i: {"item": i}, shard=spec)
        for spec in specs
    ]


def test_cached_map_tables_carry_their_shard():
    items = list(range(7))
    table = _shards(items, [" 01/3"])[0]
    assert isinstance(table, ShardTable) and table.shard == "1/3" and table == [{"item": 1}, {"item": 4}]
    assert _shards(items, [None])[0].shard == "0/1"
    assert table.to_dict() == {"shard": "1/3", "rows": [{"item": 1}, {"item": 4}]}


def test_merge_refuses_a_missing_shard_and_names_it():
    items = list(range(9))
    with pytest.raises(ValueError, match=r"missing shard\(s\) 1/3"):
        merge_tables(_shards(items, ["0/3", "2/3"]))
    with pytest.raises(ValueError, match=r"missing shard\(s\) 1/3"):
        merge_tables(_shards(items, ["0/3", "2/3"]), by="item")


def test_merge_refuses_repeated_and_foreign_shards():
    items = list(range(9))
    with pytest.raises(ValueError, match=r"repeated shard\(s\) 0/2"):
        merge_tables(_shards(items, ["0/2", "1/2", "0/2"]))
    with pytest.raises(ValueError, match=r"foreign shard\(s\) 1/3"):
        merge_tables(_shards(items, ["0/2", "1/3", "1/2"]))
    with pytest.raises(ValueError, match="carry no shard spec"):  # plain lists: positions cannot be trusted
        merge_tables([[{"item": 0}], [{"item": 1}]])
    with pytest.raises(ValueError, match=r"table\(s\) \[1\] carry no shard spec"):
        merge_tables([_shards(items, ["0/2"])[0], [{"item": 1}]])


def test_merge_accepts_complete_shards_in_any_order_and_as_dicts():
    items = list(range(8))
    tables = _shards(items, ["2/3", "0/3", "1/3"])
    assert merge_tables(tables) == [{"item": i} for i in items]
    as_json = [t.to_dict() for t in tables]
    assert merge_tables(as_json, by="item", order=items) == [{"item": i} for i in items]


# --------------------------------------------------------------------------- item 6: atomic cache writes


def test_cache_entry_write_failing_midway_leaves_the_old_entry(tmp_path):
    cache = ResultCache(tmp_path)
    key = {"image": 1}
    cache.put(key, {"map": torch.zeros(10)})
    with file_size_limit(20_000), pytest.raises(OSError):
        cache.put(key, {"map": torch.rand(100_000)})  # 400 kB: the write stops at 20 kB
    assert torch.equal(cache.get(key)["map"], torch.zeros(10))
    with file_size_limit(20_000), pytest.raises(OSError):
        cache.put({"image": 2}, {"map": torch.rand(100_000)})
    assert cache.get({"image": 2}) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [cache.path(key).name]  # no temporary files left


# --------------------------------------------------------------------------- item 11: clear errors
def test_cache_entry_that_is_a_folder_is_a_clear_error(tmp_path):
    cache = ResultCache(tmp_path)
    key = {"image": 1}
    cache.path(key).mkdir()
    with pytest.raises(ValueError, match="is a folder, not a file.*Remove that folder"):
        cache.get(key)
    with pytest.raises(ValueError, match="is a folder, not a file"):
        cache.put(key, {"v": 1.0})
    assert len(cache) == 0


def test_equivalent_shard_specs_are_one_shard():
    assert format_shard("0/2") == format_shard("00/2") == format_shard(" 0/2") == format_shard("0 / 2 ") == "0/2"
    assert format_shard(None) is None


@pytest.mark.parametrize(
    "env, named",
    [
        ({"RANK": "one", "WORLD_SIZE": "4"}, "RANK='one'"),
        ({"RANK": "1", "WORLD_SIZE": "4.0"}, "WORLD_SIZE='4.0'"),
        ({"RANK": "4", "WORLD_SIZE": "4"}, "RANK='4', WORLD_SIZE='4'"),
        ({"SLURM_ARRAY_TASK_ID": "", "SLURM_ARRAY_TASK_COUNT": "4"}, "SLURM_ARRAY_TASK_ID=''"),
        (
            {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "x"},
            "SLURM_ARRAY_TASK_MIN='x'",
        ),
        (
            {"SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "1"},
            "SLURM_ARRAY_TASK_ID='9'",
        ),
        ({"SHARD_INDEX": "-1", "SHARD_COUNT": "2"}, "SHARD_INDEX='-1'"),
    ],
)
def test_malformed_shard_variables_are_named(env, named):
    with pytest.raises(ValueError) as err:
        shard_from_env(env)
    assert named in str(err.value)


@pytest.mark.slow
def test_gaze_explainer_without_settings_still_works_with_settings(tmp_path):
    """Plain functions keep working; their ``method_settings`` entry keeps keys apart."""
    data = load_osie(shared_data(), image_ids=["1001"], download=False)
    model = tiny_cnn(dtype=torch.float32)
    cache = ResultCache(tmp_path)

    def flat(images, target=None):
        return Explanation(torch.full((images.shape[0], 1, 32, 32), 0.5), torch.zeros(images.shape[0]).long())

    for settings, hits in [({"level": 0.5}, 0), ({"level": 0.5}, 1), ({"level": 0.7}, 1)]:
        evaluate_methods(
            model,
            data,
            {"flat": flat},
            model_name="tiny",
            size=32,
            cache=cache,
            method_settings={"flat": settings},
            progress=False,
        )
        assert cache.hits == hits
