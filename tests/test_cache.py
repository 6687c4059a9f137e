"""ResultCache, shards and the resumable loop (fovex_lib.tools.cache)."""

import hashlib
import json
import os

import numpy as np
import pytest
import torch

from fovex_lib.tools.cache import (
    ResultCache,
    cached_map,
    canonical_key,
    key_digest,
    merge_tables,
    parse_shard,
    select_shard,
    shard_from_env,
)


def test_round_trip_keeps_values_and_types(tmp_path):
    cache = ResultCache(tmp_path / "c")
    value = {
        "score": 0.25,
        "count": 3,
        "name": "coffee",
        "flag": True,
        "nothing": None,
        "curve": [0.0, 0.5, [1, 2]],
        "array": np.arange(6, dtype=np.float64).reshape(2, 3),
        "ints": np.array([1, -2], dtype=np.int16),
        "map": torch.linspace(0, 1, 12).view(1, 3, 4),
        "half": torch.tensor([1.5, -2.25], dtype=torch.bfloat16),
        "labels": torch.tensor([7, 9]),
    }
    key = {"method": "FovEx", "image": "coffee", "size": [224, 224]}
    assert cache.get(key) is None
    cache.put(key, value)
    got = cache.get(key)
    assert set(got) == set(value)
    for name in ["score", "count", "name", "flag", "nothing", "curve"]:
        assert got[name] == value[name]
    assert got["array"].dtype == np.float64 and np.array_equal(got["array"], value["array"])
    assert got["ints"].dtype == np.int16 and np.array_equal(got["ints"], value["ints"])
    for name in ["map", "half", "labels"]:
        assert got[name].dtype == value[name].dtype and torch.equal(got[name], value[name])
    assert (cache.hits, cache.misses, cache.writes) == (1, 1, 1)


def test_key_is_canonical_sorted_json():
    a = {"model": "resnet50", "image": 3, "settings": {"lr": 0.1, "steps": 20}}
    b = {"settings": {"steps": 20, "lr": 0.1}, "image": 3, "model": "resnet50"}
    text = '{"image":3,"model":"resnet50","settings":{"lr":0.1,"steps":20}}'
    assert canonical_key(a) == canonical_key(b) == text
    assert key_digest(a) == hashlib.sha256(text.encode()).hexdigest()
    assert key_digest(a) != key_digest({**a, "image": 4})
    assert canonical_key({"size": (224, 224)}) == canonical_key({"size": [224, 224]})


def test_bad_keys_and_values_are_rejected(tmp_path):
    cache = ResultCache(tmp_path)
    with pytest.raises(TypeError, match="must be a dict"):
        cache.get(["image", 1])
    with pytest.raises(TypeError, match="Tensor"):
        cache.get({"image": torch.zeros(3)})
    with pytest.raises(ValueError, match="finite"):
        cache.get({"lr": float("nan")})
    with pytest.raises(TypeError, match="object"):
        cache.put({"a": 1}, {"v": object()})
    with pytest.raises(TypeError, match="must be a dict"):
        cache.put({"a": 1}, [1, 2])
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        ResultCache(tmp_path / "file")


def test_writes_leave_no_temporary_files_and_replace(tmp_path):
    cache = ResultCache(tmp_path)
    key = {"image": 1}
    cache.put(key, {"v": 1.0})
    cache.put(key, {"v": 2.0})
    assert cache.get(key) == {"v": 2.0}
    assert sorted(os.listdir(tmp_path)) == [key_digest(key) + ".fxc"]
    assert len(cache) == 1


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty", "other_key"])
def test_corrupt_entries_read_as_missing(tmp_path, damage):
    cache = ResultCache(tmp_path)
    key = {"image": 1}
    cache.put(key, {"map": torch.arange(100.0)})
    path = cache.path(key)
    data = path.read_bytes()
    if damage == "flip":  # one byte of the tensor data changed: only the checksum notices
        position = len(data) - 200
        data = data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1 :]
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = b"\x00\x01garbage" * 10
    elif damage == "empty":
        data = b""
    else:  # a valid entry of another key under this key's name
        cache.put({"image": 2}, {"map": torch.zeros(1)})
        data = cache.path({"image": 2}).read_bytes()
    path.write_bytes(data)
    assert cache.get(key) is None
    assert cache.corrupt == 1


def _square(log):
    def compute(batch):
        log.extend(batch)
        return [{"square": float(i * i), "vec": torch.full((2,), float(i))} for i in batch]

    return compute


def key_of(i):
    return {"task": "square", "item": i}


def test_interrupted_run_resumes_with_the_missing_items_only(tmp_path):
    items = list(range(10))
    cache = ResultCache(tmp_path)
    log = []
    square = _square(log)

    def failing(batch):  # dies when it reaches item 6, as a killed job would
        if 6 in batch:
            raise KeyboardInterrupt("interrupted")
        return square(batch)

    with pytest.raises(KeyboardInterrupt):
        cached_map(items, failing, key_of, cache=cache, batch_size=3)
    assert log == [0, 1, 2, 3, 4, 5] and len(cache) == 6

    log.clear()
    rows = cached_map(items, square, key_of, cache=cache, batch_size=3)
    assert log == [6, 7, 8, 9]
    assert [r["square"] for r in rows] == [i * i for i in items]
    assert all(torch.equal(r["vec"], torch.full((2,), float(i))) for i, r in zip(items, rows))

    log.clear()
    again = cached_map(items, square, key_of, cache=cache, batch_size=3)
    assert log == [] and [r["square"] for r in again] == [i * i for i in items]


def test_corrupt_entry_is_recomputed(tmp_path):
    cache = ResultCache(tmp_path)
    log = []
    cached_map(range(4), _square(log), key_of, cache=cache)
    cache.path(key_of(2)).write_bytes(b"broken")
    log.clear()
    rows = cached_map(range(4), _square(log), key_of, cache=cache)
    assert log == [2] and rows[2]["square"] == 4.0
    assert cache.get(key_of(2))["square"] == 4.0


def test_no_cache_stores_nothing_and_checks_compute(tmp_path):
    log = []
    rows = cached_map([3, 4], _square(log), key_of, cache=None)
    assert [r["square"] for r in rows] == [9.0, 16.0] and os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="one dict per item"):
        cached_map([1, 2], lambda batch: [{}], key_of)
    with pytest.raises(TypeError, match="get"):
        cached_map([1], _square([]), key_of, cache=str(tmp_path))
    with pytest.raises(ValueError, match="batch_size"):
        cached_map([1], _square([]), key_of, batch_size=0)


def test_select_shard_rule():
    items = list("abcdefg")
    assert select_shard(items, None) == items
    assert select_shard(items, "0/3") == ["a", "d", "g"]
    assert select_shard(items, "1/3") == ["b", "e"]
    assert select_shard(items, "2/3") == ["c", "f"]
    assert select_shard(items, "0/1") == items
    shards = [select_shard(items, f"{i}/4") for i in range(4)]
    assert sorted(sum(shards, [])) == items  # a partition
    assert parse_shard(" 2/5 ") == (2, 5)
    for bad in ["3/3", "-1/2", "1/0", "a/b", "1", "1/2/3", ""]:
        with pytest.raises(ValueError, match="shard"):
            select_shard(items, bad)
    with pytest.raises(TypeError, match="shard"):
        select_shard(items, (0, 2))


def test_shard_from_environment():
    assert shard_from_env({}) is None
    assert shard_from_env({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == "1/4"
    assert (
        shard_from_env({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "3", "SLURM_ARRAY_TASK_COUNT": "4"})
        == "2/4"
    )
    assert shard_from_env({"SHARD_INDEX": "0", "SHARD_COUNT": "2"}) == "0/2"


def test_two_shards_merge_to_the_single_run_table(tmp_path):
    items = [f"img{i:02d}" for i in range(9)]

    def compute(batch):
        return [{"image": i, "value": float(sum(map(ord, i))), "map": torch.tensor([len(i)])} for i in batch]

    def key(i):
        return {"image": i}

    single = cached_map(items, compute, key)
    shards = [
        cached_map(items, compute, key, cache=ResultCache(tmp_path / f"s{s}"), shard=f"{s}/2", batch_size=2)
        for s in range(2)
    ]
    assert [len(s) for s in shards] == [5, 4]
    for merged in [
        merge_tables(shards),
        merge_tables(shards[::-1], by="image", order=items),
        merge_tables(shards, by="image"),
    ]:
        assert [r["image"] for r in merged] == items
        assert [r["value"] for r in merged] == [r["value"] for r in single]
    # the table round-trips through JSON files with its shard spec, as separate jobs would write it
    for s, rows in enumerate(shards):
        table = {"shard": rows.shard, "rows": [{"image": r["image"], "value": r["value"]} for r in rows]}
        (tmp_path / f"t{s}.json").write_text(json.dumps(table))
    loaded = [json.loads((tmp_path / f"t{s}.json").read_text()) for s in range(2)]
    assert [r["value"] for r in merge_tables(loaded)] == [r["value"] for r in single]


def test_merge_detects_inconsistent_tables():
    a = [{"image": 1, "v": 1.0}, {"image": 2, "v": 2.0}]
    assert merge_tables([a, [{"image": 2, "v": 2.0}]], by="image") == a  # duplicates that agree are fine
    with pytest.raises(ValueError, match="different values"):
        merge_tables([a, [{"image": 2, "v": 3.0}]], by="image")
    with pytest.raises(ValueError, match="missing"):
        merge_tables([a], by="image", order=[1, 2, 3])
    with pytest.raises(ValueError, match="no column"):
        merge_tables([[{"v": 1}]], by="image")
    with pytest.raises(ValueError, match="shards"):
        merge_tables([[{"v": 1}], [{"v": 2}, {"v": 3}]])
