"""Resumable, shardable per-image computations: an on-disk result cache and shards.

The protocol shared by the chapters' per-image loops (explanation maps, metric values):
a loop takes ``cache=None`` (an object with ``get(key) -> dict | None`` and
``put(key, value)``) and ``shard=None`` (``"i/n"``: process only items i, i+n, ...).

* :class:`ResultCache` stores one file per key in a directory. The key is a dict of
  everything that determines the result (method and settings, model, image id, size,
  target, library version); it is hashed canonically (JSON with sorted keys), so the
  order of the dict's entries does not matter. Values are dicts of floats, ints,
  strings, bools, None, (nested) lists of those, numpy arrays and torch tensors.
* Writes are atomic (temporary file in the same directory, then ``os.replace``): an
  interrupted run never leaves a half-written entry under the final name.
* Every entry carries a SHA-256 checksum of its payload and its own key; an entry that
  cannot be read, fails the checksum or belongs to another key is treated as missing
  (and recomputed by :func:`cached_map`), never returned.
* :func:`select_shard` implements the ``"i/n"`` rule, :func:`merge_tables` puts the
  result tables of several shards back together, and :func:`cached_map` is the batched
  resumable loop itself.

Example::

    cache = ResultCache("cache/fovex")
    rows = cached_map(image_ids, lambda ids: [...one dict per id...],
                      key=lambda i: {"method": "FovEx", "image": i, "version": "0.1.0"},
                      cache=cache, shard="0/4", batch_size=16)
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

__all__ = ["ResultCache", "canonical_key", "key_digest", "parse_shard", "select_shard", "shard_from_env",
           "cached_map", "merge_tables"]

_MAGIC = b"FOVEXCACHE1\n"


# --------------------------------------------------------------------------- keys
def _plain(value: Any, where: str) -> Any:
    """A JSON-able copy of a key value (tuples -> lists, numpy/torch scalars -> numbers)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"cache key entry {where} is {value}; keys must hold finite numbers.")
        return value
    if isinstance(value, torch.dtype):
        return str(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return _plain(value.item(), where)
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"cache key {where} has a non-string name {k!r}; use strings as names.")
            out[k] = _plain(v, f"{where}.{k}")
        return out
    raise TypeError(f"cache key entry {where} is a {type(value).__name__}; keys may hold only "
                    "str, int, float, bool, None, lists/tuples and dicts of those (describe tensors "
                    "by an id or a hash, not by their values).")


def canonical_key(key: dict) -> str:
    """The canonical text of a key: JSON with sorted names and no spaces."""
    if not isinstance(key, dict):
        raise TypeError(f"a cache key must be a dict, got {type(key).__name__}.")
    return json.dumps(_plain(key, "key"), sort_keys=True, separators=(",", ":"), allow_nan=False)


def key_digest(key: dict) -> str:
    """SHA-256 (hex) of :func:`canonical_key`; the entry's file name."""
    return hashlib.sha256(canonical_key(key).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- values
def _encode(value: dict) -> bytes:
    """Serialise a value dict: JSON header for plain entries, an ``.npz`` for arrays."""
    if not isinstance(value, dict):
        raise TypeError(f"a cache value must be a dict, got {type(value).__name__}.")
    plain, arrays, kinds = {}, {}, {}
    for name, item in value.items():
        if not isinstance(name, str):
            raise TypeError(f"cache value names must be strings, got {name!r}.")
        if isinstance(item, torch.Tensor):
            tensor = item.detach().cpu()
            kinds[name] = ["tensor", str(tensor.dtype).removeprefix("torch.")]
            if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16; float32 holds it exactly
                tensor = tensor.float()
            arrays[name] = tensor.numpy()
        elif isinstance(item, np.ndarray):
            if item.dtype == object:
                raise TypeError(f"cache value {name!r} is an object array; store numbers only.")
            kinds[name] = ["numpy"]
            arrays[name] = item
        elif isinstance(item, np.generic):
            kinds[name] = ["plain"]
            plain[name] = item.item()
        else:
            kinds[name] = ["plain"]
            plain[name] = _json_value(item, name)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    header = json.dumps({"plain": plain, "kinds": kinds}).encode("utf-8")
    return len(header).to_bytes(8, "little") + header + buffer.getvalue()


def _json_value(item: Any, name: str) -> Any:
    if item is None or isinstance(item, (bool, int, float, str)):
        return item
    if isinstance(item, (list, tuple)):
        return [_json_value(v, name) for v in item]
    if isinstance(item, np.generic):
        return item.item()
    raise TypeError(f"cache value {name!r} holds a {type(item).__name__}; values may be floats, ints, "
                    "strings, bools, None, lists of those, numpy arrays or torch tensors.")


def _decode(data: bytes) -> dict:
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size].decode("utf-8"))
    arrays = np.load(io.BytesIO(data[8 + size:]), allow_pickle=False)
    out = {}
    for name, kind in header["kinds"].items():
        if kind[0] == "plain":
            out[name] = header["plain"][name]
        elif kind[0] == "numpy":
            out[name] = arrays[name]
        else:
            out[name] = torch.from_numpy(arrays[name].copy()).to(getattr(torch, kind[1]))
    return out


# --------------------------------------------------------------------------- cache
class ResultCache:
    """A directory of results, one file per key (``<sha256 of the key>.fxc``).

    Args:
        directory: created if missing. Several processes (shards) may share it: each
            entry is written to a temporary file and moved into place atomically.

    File format: a magic line, the SHA-256 of the payload (hex), the canonical key
    (one line each), then the payload (a JSON header with the plain values followed by
    an ``.npz`` with the arrays, read with ``allow_pickle=False``). Anything that does
    not parse, fails the checksum or holds another key reads as missing.

    Attributes ``hits``, ``misses``, ``corrupt`` and ``writes`` count this object's calls.
    """

    suffix = ".fxc"

    def __init__(self, directory: str | os.PathLike):
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"directory must be a path, got {type(directory).__name__}.")
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise ValueError(f"cache directory {str(self.directory)!r} exists and is not a directory.")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.hits = self.misses = self.corrupt = self.writes = 0

    def __repr__(self) -> str:
        return f"ResultCache({str(self.directory)!r})"

    def path(self, key: dict) -> Path:
        """The file that holds (or would hold) ``key``'s entry."""
        return self.directory / (key_digest(key) + self.suffix)

    def __contains__(self, key: dict) -> bool:
        return self.get(key, _count=False) is not None

    def __len__(self) -> int:
        return sum(1 for _ in self.directory.glob("*" + self.suffix))

    def get(self, key: dict, _count: bool = True) -> dict | None:
        """The stored value dict for ``key``, or None when missing or corrupt."""
        canonical = canonical_key(key)
        path = self.directory / (hashlib.sha256(canonical.encode("utf-8")).hexdigest() + self.suffix)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self.misses += _count
            return None
        value = self._parse(data, canonical)
        if value is None:
            self.corrupt += _count
            self.misses += _count
            return None
        self.hits += _count
        return value

    @staticmethod
    def _parse(data: bytes, canonical: str) -> dict | None:
        try:
            if not data.startswith(_MAGIC):
                return None
            rest = data[len(_MAGIC):]
            checksum, stored_key, payload = rest.split(b"\n", 2)
            if stored_key.decode("utf-8") != canonical:
                return None
            if hashlib.sha256(payload).hexdigest() != checksum.decode("ascii"):
                return None
            return _decode(payload)
        except Exception:  # truncated, garbled, unreadable: treat as missing
            return None

    def put(self, key: dict, value: dict) -> None:
        """Store ``value`` under ``key`` atomically (replacing any earlier entry)."""
        canonical = canonical_key(key)
        payload = _encode(value)
        data = (_MAGIC + hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n"
                + canonical.encode("utf-8") + b"\n" + payload)
        path = self.directory / (hashlib.sha256(canonical.encode("utf-8")).hexdigest() + self.suffix)
        handle, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=self.suffix)
        try:
            with os.fdopen(handle, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self.writes += 1


# --------------------------------------------------------------------------- shards
def parse_shard(shard: str | None) -> tuple[int, int] | None:
    """``"i/n"`` (0-based ``i``, ``0 <= i < n``) -> ``(i, n)``; None -> None."""
    if shard is None:
        return None
    if not isinstance(shard, str):
        raise TypeError(f"shard must be None or a string 'i/n' (e.g. '0/4'), got {shard!r}.")
    parts = shard.strip().split("/")
    try:
        index, count = int(parts[0]), int(parts[1])
        if len(parts) != 2:
            raise ValueError
    except (ValueError, IndexError):
        raise ValueError(f"shard must look like 'i/n' with whole numbers, e.g. '0/4', got {shard!r}.") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {shard!r}: need n >= 1 and 0 <= i < n (shards are numbered from 0).")
    return index, count


def select_shard(items: Iterable, shard: str | None) -> list:
    """The items of shard ``"i/n"``: ``items[i], items[i + n], ...`` (all items for None).

    Every item belongs to exactly one of the n shards, and the shards together keep the
    original order when merged back by position (see :func:`merge_tables`).
    """
    items = list(items)
    parsed = parse_shard(shard)
    if parsed is None:
        return items
    index, count = parsed
    return items[index::count]


def shard_from_env(environ=None) -> str | None:
    """The shard of this process from ``torchrun`` (``RANK``/``WORLD_SIZE``) or a job array.

    Job arrays: Slurm (``SLURM_ARRAY_TASK_ID``/``SLURM_ARRAY_TASK_COUNT``, with
    ``SLURM_ARRAY_TASK_MIN`` subtracted) or ``SHARD_INDEX``/``SHARD_COUNT``. None when
    none of these is set.
    """
    env = os.environ if environ is None else environ
    if "RANK" in env and "WORLD_SIZE" in env:
        return f"{int(env['RANK'])}/{int(env['WORLD_SIZE'])}"
    if "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        first = int(env.get("SLURM_ARRAY_TASK_MIN", 0))
        return f"{int(env['SLURM_ARRAY_TASK_ID']) - first}/{int(env['SLURM_ARRAY_TASK_COUNT'])}"
    if "SHARD_INDEX" in env and "SHARD_COUNT" in env:
        return f"{int(env['SHARD_INDEX'])}/{int(env['SHARD_COUNT'])}"
    return None


# --------------------------------------------------------------------------- the loop
def cached_map(items: Sequence, compute: Callable[[list], Sequence[dict]], key: Callable[[Any], dict],
               cache=None, shard: str | None = None, batch_size: int = 16, progress: bool = False,
               desc: str = "items") -> list[dict]:
    """Compute one result dict per item, in batches, reusing and filling a cache.

    Args:
        items: the work list (e.g. image ids); only shard ``shard`` of it is processed.
        compute: ``compute(batch_of_items) -> list of value dicts`` (same length and order).
        key: ``key(item) -> dict`` with everything that determines the item's result.
        cache: None (nothing stored) or an object with ``get``/``put`` (:class:`ResultCache`).
        shard: None or ``"i/n"`` (see :func:`select_shard`).
        batch_size: items per ``compute`` call; only items missing from the cache are computed.
        progress: show a tqdm bar over the items still to compute.

    Returns:
        The value dicts of the shard's items, in the shard's order. Each batch is stored as
        soon as it is computed, so an interrupted run resumes with the missing items only.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}.")
    if cache is not None and not (callable(getattr(cache, "get", None)) and callable(getattr(cache, "put", None))):
        raise TypeError(f"cache must be None or have get(key) and put(key, value) methods, got {type(cache).__name__}.")
    selected = select_shard(items, shard)
    keys = [key(item) for item in selected]
    results: list[dict | None] = [None] * len(selected)
    if cache is not None:
        for i, k in enumerate(keys):
            results[i] = cache.get(k)
    todo = [i for i, r in enumerate(results) if r is None]
    with tqdm(total=len(todo), desc=desc, disable=not progress, leave=False) as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            values = list(compute([selected[i] for i in chunk]))
            if len(values) != len(chunk):
                raise ValueError(f"compute returned {len(values)} results for a batch of {len(chunk)} items; "
                                 "it must return one dict per item, in order.")
            for i, value in zip(chunk, values):
                if cache is not None:
                    cache.put(keys[i], value)
                results[i] = value
            bar.update(len(chunk))
    return results  # type: ignore[return-value]


# --------------------------------------------------------------------------- merging
def merge_tables(tables: Sequence[Sequence[dict]], by: str | None = None, order: Sequence | None = None) -> list[dict]:
    """Combine the result tables (lists of row dicts) of several shards into one.

    Args:
        tables: one list of row dicts per shard.
        by: the column that identifies a row (e.g. ``"image"``). Rows with the same ``by``
            value in two tables must be equal (a row computed twice), else ValueError.
            None: tables are the shards ``0/n .. n-1/n`` in that order, and rows are
            interleaved back by position (the inverse of :func:`select_shard`).
        order: with ``by``, the full list of ``by`` values in the wanted order; every value
            must be present exactly once. Without it, rows are sorted by ``by``.

    Returns:
        One list of row dicts: the table a single unsharded run would have produced.
    """
    tables = [list(t) for t in tables]
    for n, table in enumerate(tables):
        if not all(isinstance(row, dict) for row in table):
            raise TypeError(f"table {n} must be a list of row dicts.")
    if by is None:
        count = len(tables)
        total = sum(len(t) for t in tables)
        merged: list[dict] = []
        for position in range(total):
            shard_index, row = position % count, position // count
            if row >= len(tables[shard_index]):
                raise ValueError("the tables do not have the sizes of shards 0/n..n-1/n of one list "
                                 f"(table {shard_index} is too short); pass by=... to merge by an id column.")
            merged.append(tables[shard_index][row])
        return merged
    rows: dict[Any, dict] = {}
    for n, table in enumerate(tables):
        for row in table:
            if by not in row:
                raise ValueError(f"a row of table {n} has no column {by!r}: {sorted(row)}")
            ident = row[by]
            if ident in rows and not _rows_equal(rows[ident], row):
                raise ValueError(f"row {by}={ident!r} appears in two tables with different values.")
            rows[ident] = row
    if order is None:
        return [rows[k] for k in sorted(rows)]
    order = list(order)
    missing = [k for k in order if k not in rows]
    extra = set(rows) - set(order)
    if missing or extra or len(set(order)) != len(order):
        raise ValueError(f"order does not match the rows: missing {missing[:5]}, unexpected {sorted(extra)[:5]}, "
                         f"{len(order) - len(set(order))} repeated.")
    return [rows[k] for k in order]


def _rows_equal(a: dict, b: dict) -> bool:
    if set(a) != set(b):
        return False
    for name in a:
        x, y = a[name], b[name]
        if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor) or isinstance(x, np.ndarray) \
                or isinstance(y, np.ndarray):
            if not np.array_equal(np.asarray(torch.as_tensor(x).float()), np.asarray(torch.as_tensor(y).float())):
                return False
        elif x != y:
            return False
    return True
