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
  interrupted run or a full disk never leaves a half-written entry under the final name.
* Every entry carries a SHA-256 checksum of its payload and its own key; an entry that
  cannot be read, fails the checksum or belongs to another key is treated as missing
  (and recomputed by :func:`cached_map`), never returned.
* :func:`explainer_settings` describes an explainer for a key: its class and every
  setting that can change its maps (so two explainers with different settings never
  share entries). :func:`result_key` builds the key of one per-image result; every cached
  loop of the library (``metrics.evaluate_method``, ``gaze.evaluate_methods``,
  ``gaze.evaluate_references``) uses it, with ``fovex_lib.tools.results.RESULTS_VERSION``
  in every key.
* :func:`select_shard` implements the ``"i/n"`` rule; :func:`cached_map` is the batched
  resumable loop itself and returns a :class:`ShardTable` (its rows plus their shard
  spec), and :func:`merge_tables` puts the tables of all shards back together, refusing
  a missing, repeated or foreign shard.

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
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch
from tqdm.auto import tqdm

from .._checks import check_count
from .results import RESULTS_VERSION, atomic_write_bytes

__all__ = [
    "ResultCache",
    "ShardTable",
    "canonical_key",
    "key_digest",
    "explainer_settings",
    "IGNORED_SETTINGS",
    "result_key",
    "parse_shard",
    "format_shard",
    "select_shard",
    "shard_from_env",
    "cached_map",
    "merge_tables",
]

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
    raise TypeError(
        f"cache key entry {where} is a {type(value).__name__}; keys may hold only "
        "str, int, float, bool, None, lists/tuples and dicts of those (describe tensors "
        "by an id or a hash, not by their values)."
    )


def canonical_key(key: dict) -> str:
    """The canonical text of a key: JSON with sorted names and no spaces."""
    if not isinstance(key, dict):
        raise TypeError(f"a cache key must be a dict, got {type(key).__name__}.")
    return json.dumps(_plain(key, "key"), sort_keys=True, separators=(",", ":"), allow_nan=False)


def key_digest(key: dict) -> str:
    """SHA-256 (hex) of :func:`canonical_key`; the entry's file name."""
    return hashlib.sha256(canonical_key(key).encode("utf-8")).hexdigest()


#: Explainer attributes that never change a map, left out of :func:`explainer_settings`.
IGNORED_SETTINGS = frozenset({"progress"})

_SKIP = object()  # marks an attribute that holds the model itself (the key names the model separately)


def explainer_settings(explainer: Any) -> dict:
    """Everything about ``explainer`` that can change its maps, as a dict for a cache key.

    The result holds ``"class"`` (``module.QualName`` of the explainer's class, or of the
    function for a plain function) and the explainer's settings:

    * ``explainer.settings()``, when the explainer has such a method (it must return a
      dict of every setting that changes the maps);
    * else, for a :class:`fovex_lib.method.explainer.Explainer` (every explainer of this
      library), its public instance attributes: these explainers keep each constructor
      argument there (``FovEx(model, steps=5)`` -> ``steps: 5``). Left out: names starting
      with ``_``, :data:`IGNORED_SETTINGS` (e.g. ``progress``) and anything that holds the
      model itself (the key names the model separately);
    * else (a plain function, or an object whose attributes may be state such as call
      counters) nothing more: describe such an explainer with the ``method_settings`` of
      :func:`~fovex_lib.metrics.evaluate.evaluate_method` or
      :func:`~fovex_lib.gaze.evaluate.evaluate_methods`, which the keys hold as well
      (:func:`result_key`).

    Values are described so that keys stay small and stable: numbers, text, bools and
    None as they are (NaN and infinities as text); dtypes and devices as text; tensors and
    arrays of up to 64 values as lists, larger ones by shape, dtype and SHA-256; modules
    inside the model by their name in it (``"module:layer4.1"``); functions by their
    qualified name; lists, tuples and dicts element by element; any other object by its type.
    """
    from ..method.explainer import Explainer

    if callable(getattr(explainer, "settings", None)):
        settings = explainer.settings()
        if not isinstance(settings, dict):
            raise TypeError(
                f"{type(explainer).__name__}.settings() must return a dict of the explainer's settings, "
                f"got {type(settings).__name__}."
            )
    elif isinstance(explainer, Explainer):
        settings = {
            name: value
            for name, value in vars(explainer).items()
            if not name.startswith("_") and name not in IGNORED_SETTINGS
        }
    else:
        settings = {}
    model = getattr(explainer, "model", None)
    names = {id(m): name for name, m in model.named_modules()} if isinstance(model, torch.nn.Module) else {}
    described = {}
    for name, value in settings.items():
        value = _describe(value, model, names)
        if value is not _SKIP:
            described[str(name)] = value
    kind = explainer if (isinstance(explainer, type) or _is_function(explainer)) else type(explainer)
    return {"class": _qualified_name(kind), **described}


def result_key(
    task: str,
    method: str,
    image: str,
    *,
    model: str | None = None,
    explainer: dict | None = None,
    method_settings: dict | None = None,
    **conditions: Any,
) -> dict:
    """The cache key of one per-image result: the one key builder of the library's cached loops.

    Args:
        task: what the value is (``"metrics"``, ``"gaze"``, ``"gaze-reference"``); values of
            different tasks never share an entry.
        method: the method's (display) name.
        image: the image id.
        model: the model's name; None where no model is involved (reference maps).
        explainer: the explainer's description, :func:`explainer_settings` ``(explainer)``
            (computed once per loop, not once per image); None where there is no explainer.
        method_settings: what the caller adds about the method (what :func:`explainer_settings`
            cannot see, e.g. the settings of a plain function); None means ``{}``.
        **conditions: everything else that determines the value (sizes, target, metric
            settings, view, data set, ...), as key entries (str, numbers, bools, None, lists, dicts).

    Returns:
        ``{"task", "version" (fovex_lib.tools.results.RESULTS_VERSION), "method", "image", "model", "explainer",
        "method_settings", **conditions}``. Condition names may not repeat these names.
    """
    key = {
        "task": task,
        "version": RESULTS_VERSION,
        "method": method,
        "image": image,
        "model": model,
        "explainer": explainer,
        "method_settings": dict(method_settings or {}),
    }
    clash = sorted(set(key) & set(conditions))
    if clash:
        raise ValueError(f"result_key: the condition name(s) {clash} are reserved for the key's own entries.")
    key.update(conditions)
    return key


def _is_function(value: Any) -> bool:
    return hasattr(value, "__qualname__") and hasattr(value, "__module__") and callable(value)


def _qualified_name(value: Any) -> str:
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__qualname__)}"


def _describe(value: Any, model, names: dict) -> Any:
    """A JSON-able description of one setting (see :func:`explainer_settings`)."""
    import functools

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (torch.dtype, torch.device, np.dtype)):
        return str(value)
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        value = value.float() if value.dtype == torch.bfloat16 else value
        return _describe_array(value.numpy(), str(value.dtype))
    if isinstance(value, np.ndarray):
        return _describe_array(value, str(value.dtype))
    if isinstance(value, torch.nn.Module):
        if model is not None and any(m is model for m in value.modules()):
            return _SKIP  # the model itself, or a wrapper around it (e.g. a precision wrapper)
        return f"module:{names[id(value)]}" if id(value) in names else f"module:{_qualified_name(type(value))}"
    if isinstance(value, (list, tuple)):
        return [v for v in (_describe(v, model, names) for v in value) if v is not _SKIP]
    if isinstance(value, dict):
        out = {str(k): _describe(v, model, names) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not _SKIP}
    if isinstance(value, functools.partial):
        return {
            "function": _describe(value.func, model, names),
            "args": _describe(value.args, model, names),
            "keywords": _describe(value.keywords, model, names),
        }
    if _is_function(value):
        return _qualified_name(value)
    return f"object:{_qualified_name(type(value))}"


def _describe_array(array: np.ndarray, dtype: str) -> Any:
    if array.dtype == object:
        return f"object array of shape {list(array.shape)}"
    if array.size <= 64:
        return {
            "dtype": dtype,
            "values": [_describe(v, None, {}) for v in array.reshape(-1).tolist()],
            "shape": list(array.shape),
        }
    return {
        "dtype": dtype,
        "shape": list(array.shape),
        "sha256": hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest(),
    }


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
    np.savez(buffer, allow_pickle=True, **arrays)  # numpy's default, named so no array can take its place
    header = json.dumps({"plain": plain, "kinds": kinds}).encode("utf-8")
    return len(header).to_bytes(8, "little") + header + buffer.getvalue()


def _json_value(item: Any, name: str) -> Any:
    if item is None or isinstance(item, (bool, int, float, str)):
        return item
    if isinstance(item, (list, tuple)):
        return [_json_value(v, name) for v in item]
    if isinstance(item, np.generic):
        return item.item()
    raise TypeError(
        f"cache value {name!r} holds a {type(item).__name__}; values may be floats, ints, "
        "strings, bools, None, lists of those, numpy arrays or torch tensors."
    )


def _decode(data: bytes) -> dict:
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size].decode("utf-8"))
    arrays = np.load(io.BytesIO(data[8 + size :]), allow_pickle=False)
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
            entry is written to a temporary file in the directory and moved into place
            atomically (``fovex_lib.tools.results.atomic_write_bytes``).

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
        return sum(1 for p in self.directory.glob("*" + self.suffix) if p.is_file())

    def _folder_error(self, path: Path) -> ValueError:
        return ValueError(
            f"cache entry {str(path)!r} is a folder, not a file, so it can be neither read nor "
            "replaced: something other than ResultCache created it. Remove that folder (or use "
            "another cache directory) and run again."
        )

    def get(self, key: dict, _count: bool = True) -> dict | None:
        """The stored value dict for ``key``, or None when missing or corrupt.

        Raises ValueError when the entry's path is a folder (see :meth:`put`).
        """
        canonical = canonical_key(key)
        path = self.directory / (hashlib.sha256(canonical.encode("utf-8")).hexdigest() + self.suffix)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self.misses += _count
            return None
        except IsADirectoryError:
            raise self._folder_error(path) from None
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
            rest = data[len(_MAGIC) :]
            checksum, stored_key, payload = rest.split(b"\n", 2)
            if stored_key.decode("utf-8") != canonical:
                return None
            if hashlib.sha256(payload).hexdigest() != checksum.decode("ascii"):
                return None
            return _decode(payload)
        except Exception:  # truncated, garbled, unreadable: treat as missing
            return None

    def put(self, key: dict, value: dict) -> None:
        """Store ``value`` under ``key`` atomically (replacing any earlier entry).

        The entry is written to a temporary file in the cache directory and renamed into
        place, so a failed write (full disk, interrupt) leaves the earlier entry or nothing.
        Raises ValueError when the entry's path is a folder.
        """
        canonical = canonical_key(key)
        payload = _encode(value)
        data = (
            _MAGIC
            + hashlib.sha256(payload).hexdigest().encode("ascii")
            + b"\n"
            + canonical.encode("utf-8")
            + b"\n"
            + payload
        )
        path = self.directory / (hashlib.sha256(canonical.encode("utf-8")).hexdigest() + self.suffix)
        if path.is_dir():
            raise self._folder_error(path)
        atomic_write_bytes(path, data)
        self.writes += 1


# --------------------------------------------------------------------------- shards
_SHARD = re.compile(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*")


@overload
def parse_shard(shard: str) -> tuple[int, int]: ...
@overload
def parse_shard(shard: None) -> None: ...
@overload
def parse_shard(shard: str | None) -> tuple[int, int] | None: ...
def parse_shard(shard: str | None) -> tuple[int, int] | None:
    """``"i/n"`` (0-based ``i``, ``0 <= i < n``) -> ``(i, n)``; None -> None.

    Spaces and leading zeros do not matter: ``"0/2"``, ``"00/2"`` and ``" 0 / 2"`` are
    the same shard (:func:`format_shard` gives its canonical text).
    """
    if shard is None:
        return None
    if not isinstance(shard, str):
        raise TypeError(f"shard must be None or a string 'i/n' (e.g. '0/4'), got {shard!r}.")
    match = _SHARD.fullmatch(shard)
    if match is None:
        raise ValueError(f"shard must look like 'i/n' with whole numbers, e.g. '0/4', got {shard!r}.")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {shard!r}: need n >= 1 and 0 <= i < n (shards are numbered from 0).")
    return index, count


@overload
def format_shard(shard: str) -> str: ...
@overload
def format_shard(shard: None) -> None: ...
@overload
def format_shard(shard: str | None) -> str | None: ...
def format_shard(shard: str | None) -> str | None:
    """The canonical text ``"i/n"`` of a shard (``" 01/4"`` -> ``"1/4"``); None stays None."""
    parsed = parse_shard(shard)
    return None if parsed is None else f"{parsed[0]}/{parsed[1]}"


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


#: Where :func:`shard_from_env` looks, in this order: (index, count, first index or None).
SHARD_VARIABLES = (
    ("RANK", "WORLD_SIZE", None),
    ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN"),
    ("SHARD_INDEX", "SHARD_COUNT", None),
)


def _env_int(env, name: str) -> int:
    text = env[name]
    try:
        return int(text.strip())
    except (ValueError, AttributeError):
        raise ValueError(
            f"environment variable {name}={text!r} is not a whole number, so the shard of this "
            f"process cannot be read from it. Fix or unset {name} (or pass --shard i/n)."
        ) from None


def shard_from_env(environ=None) -> str | None:
    """The shard of this process from ``torchrun`` (``RANK``/``WORLD_SIZE``) or a job array.

    Job arrays: Slurm (``SLURM_ARRAY_TASK_ID``/``SLURM_ARRAY_TASK_COUNT``, with
    ``SLURM_ARRAY_TASK_MIN`` subtracted) or ``SHARD_INDEX``/``SHARD_COUNT``. None when
    none of these is set. A variable that is not a whole number, or values that give no
    valid shard, raise a ValueError that names the variables.
    """
    env = os.environ if environ is None else environ
    for index_name, count_name, first_name in SHARD_VARIABLES:
        if index_name in env and count_name in env:
            index = _env_int(env, index_name)
            used = [f"{index_name}={env[index_name]!r}", f"{count_name}={env[count_name]!r}"]
            if first_name is not None and first_name in env:
                index -= _env_int(env, first_name)
                used.append(f"{first_name}={env[first_name]!r}")
            count = _env_int(env, count_name)
            if count < 1 or not 0 <= index < count:
                raise ValueError(
                    f"the environment ({', '.join(used)}) gives shard {index}/{count}, but a shard "
                    "needs n >= 1 and 0 <= i < n. Fix these variables (or pass --shard i/n)."
                )
            return f"{index}/{count}"
    return None


# --------------------------------------------------------------------------- the loop
def cached_map(
    items: Sequence,
    compute: Callable[[list], Sequence[dict]],
    key: Callable[[Any], dict],
    cache=None,
    shard: str | None = None,
    batch_size: int = 16,
    progress: bool = False,
    desc: str = "items",
    accept: Callable[[Any, dict], bool] | None = None,
) -> list[dict]:
    """Compute one result dict per item, in batches, reusing and filling a cache.

    Args:
        items: the work list (e.g. image ids); only shard ``shard`` of it is processed.
        compute: ``compute(batch_of_items) -> list of value dicts`` (same length and order).
        key: ``key(item) -> dict`` with everything that determines the item's result.
        cache: None (nothing stored) or an object with ``get``/``put`` (:class:`ResultCache`).
        shard: None or ``"i/n"`` (see :func:`select_shard`).
        batch_size: items per ``compute`` call; only items missing from the cache are computed.
        progress: show a tqdm bar over the items still to compute.
        desc: the progress bar's label.
        accept: None, or ``accept(item, cached_value) -> bool``: a cached value is used only
            where this is true (e.g. it holds a field this call needs); otherwise the item is
            computed again and its entry replaced.

    Returns:
        A :class:`ShardTable`: the value dicts of the shard's items, in the shard's order,
        with ``.shard`` set to the canonical spec (``"0/1"`` without ``shard``). Each batch
        is stored as soon as it is computed, so an interrupted run resumes with the missing
        items only.
    """
    check_count(batch_size, "batch_size")
    if cache is not None and not (callable(getattr(cache, "get", None)) and callable(getattr(cache, "put", None))):
        raise TypeError(f"cache must be None or have get(key) and put(key, value) methods, got {type(cache).__name__}.")
    selected = select_shard(items, shard)
    keys = [key(item) for item in selected]
    results: list[dict | None] = [None] * len(selected)
    if cache is not None:
        for i, k in enumerate(keys):
            hit = cache.get(k)
            if hit is not None and (accept is None or accept(selected[i], hit)):
                results[i] = hit
    todo = [i for i, r in enumerate(results) if r is None]
    with tqdm(total=len(todo), desc=desc, disable=not progress, leave=False) as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            values = list(compute([selected[i] for i in chunk]))
            if len(values) != len(chunk):
                raise ValueError(
                    f"compute returned {len(values)} results for a batch of {len(chunk)} items; "
                    "it must return one dict per item, in order."
                )
            for i, value in zip(chunk, values):
                if cache is not None:
                    cache.put(keys[i], value)
                results[i] = value
            bar.update(len(chunk))
    return ShardTable(results, format_shard(shard) or "0/1")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- merging
class ShardTable(list):
    """The rows (dicts) of one shard, with the shard they belong to in ``.shard`` (``"i/n"``).

    A plain list in every other respect. :func:`cached_map` returns one; for a table
    stored as JSON keep the spec with it, e.g. ``json.dump(table.to_dict(), f)`` (a dict
    ``{"shard": "i/n", "rows": [...]}``, which :func:`merge_tables` accepts as well).
    """

    def __init__(self, rows: Iterable[dict] = (), shard: str = "0/1"):
        super().__init__(rows)
        self.shard = format_shard(shard)
        if self.shard is None:
            raise ValueError("a ShardTable needs its shard spec 'i/n' ('0/1' for a whole, unsharded table).")

    def __repr__(self) -> str:
        return f"ShardTable(shard={self.shard!r}, rows={list.__repr__(self)})"

    def to_dict(self) -> dict:
        """``{"shard": "i/n", "rows": [...]}``: the table with its spec, e.g. for JSON."""
        return {"shard": self.shard, "rows": list(self)}


def _table_and_spec(table: Any, n: int) -> tuple[list, str | None]:
    """(rows, shard spec or None) of one table given to :func:`merge_tables`."""
    spec: str | None
    if isinstance(table, dict):
        if "rows" not in table or "shard" not in table:
            raise ValueError(f"table {n} is a dict but not {{'shard': 'i/n', 'rows': [...]}}: it has {sorted(table)}.")
        rows, spec = list(table["rows"]), format_shard(table["shard"])
    else:
        rows, spec = list(table), getattr(table, "shard", None)
        spec = None if spec is None else format_shard(spec)
    if not all(isinstance(row, dict) for row in rows):
        raise TypeError(f"table {n} must be a list of row dicts.")
    return rows, spec


def _check_shard_set(specs: list[str]) -> list[int]:
    """The tables' order by shard index; ValueError naming every missing, repeated or foreign shard."""
    parsed = [parse_shard(spec) for spec in specs]
    count = Counter(n for _, n in parsed).most_common(1)[0][0]  # the split most tables belong to
    problems = []
    foreign = [spec for spec, (_, n) in zip(specs, parsed) if n != count]
    if foreign:
        problems.append(f"foreign shard(s) {', '.join(foreign)} (the other tables are shards of {count})")
    indices = Counter(i for i, n in parsed if n == count)
    repeated = [f"{i}/{count}" for i, times in sorted(indices.items()) if times > 1]
    if repeated:
        problems.append(f"repeated shard(s) {', '.join(repeated)}")
    missing = [f"{i}/{count}" for i in range(count) if i not in indices]
    if missing:
        problems.append(f"missing shard(s) {', '.join(missing)}")
    if problems:
        raise ValueError(
            f"cannot merge shards {', '.join(specs)}: {'; '.join(problems)}. Merging needs the "
            f"tables of shards 0/{count} .. {count - 1}/{count}, each exactly once: run the missing "
            "shards (or leave out the extra tables) and merge again."
        )
    return sorted(range(len(specs)), key=lambda t: parsed[t][0])


def merge_tables(tables: Sequence, by: str | None = None, order: Sequence | None = None) -> list[dict]:
    """Combine the result tables (lists of row dicts) of several shards into one.

    Args:
        tables: one table per shard, in any order: a :class:`ShardTable` (what
            :func:`cached_map` returns), a dict ``{"shard": "i/n", "rows": [...]}``, or a
            plain list of row dicts (only with ``by``, see below). When the tables carry
            their shard specs, they must be the shards ``0/n .. n-1/n`` of one split, each
            exactly once; otherwise ValueError naming every missing, repeated or foreign
            shard.
        by: the column that identifies a row (e.g. ``"image"``). Rows with the same ``by``
            value in two tables must be equal (a row computed twice), else ValueError.
            None: rows are interleaved back by position (the inverse of
            :func:`select_shard`), which needs the tables' shard specs.
        order: with ``by``, the full list of ``by`` values in the wanted order; every value
            must be present exactly once. Without it, rows are sorted by ``by``. Plain
            lists without shard specs are checked for completeness only through ``order``.

    Returns:
        One list of row dicts: the table a single unsharded run would have produced.
    """
    rows_of, specs = [], []
    for n, table in enumerate(tables):
        table_rows, spec = _table_and_spec(table, n)
        rows_of.append(table_rows)
        specs.append(spec)
    if not rows_of:
        raise ValueError("no tables to merge.")
    unknown = [n for n, spec in enumerate(specs) if spec is None]
    if unknown and len(unknown) < len(specs):
        raise ValueError(
            f"table(s) {unknown} carry no shard spec but the others do ({[s for s in specs if s]}); "
            "give every table as a ShardTable or {'shard': 'i/n', 'rows': [...]}."
        )
    if not unknown:  # every spec is a string here; the comprehension only tells mypy so
        rows_of = [rows_of[t] for t in _check_shard_set([s for s in specs if s is not None])]
    elif by is None:
        raise ValueError(
            "these tables carry no shard spec, so merging them by position could silently drop or "
            "mix up shards. Merge the tables cached_map returned (they carry .shard), give each as "
            "{'shard': 'i/n', 'rows': [...]}, or pass by=<id column> (with order=<every id> to check "
            "that no row is missing)."
        )
    if by is None:
        count = len(rows_of)
        total = sum(len(t) for t in rows_of)
        merged: list[dict] = []
        for position in range(total):
            shard_index, row = position % count, position // count
            if row >= len(rows_of[shard_index]):
                raise ValueError(
                    f"the tables do not have the sizes of shards 0/{count}..{count - 1}/{count} of one "
                    f"list (shard {shard_index}/{count} is too short); pass by=... to merge by an id "
                    "column."
                )
            merged.append(rows_of[shard_index][row])
        return merged
    rows: dict[Any, dict] = {}
    for n, table in enumerate(rows_of):
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
        raise ValueError(
            f"order does not match the rows: missing {missing[:5]}, unexpected {sorted(extra)[:5]}, "
            f"{len(order) - len(set(order))} repeated."
        )
    return [rows[k] for k in order]


def _rows_equal(a: dict, b: dict) -> bool:
    if set(a) != set(b):
        return False
    for name in a:
        x, y = a[name], b[name]
        if (
            isinstance(x, torch.Tensor)
            or isinstance(y, torch.Tensor)
            or isinstance(x, np.ndarray)
            or isinstance(y, np.ndarray)
        ):
            if not np.array_equal(np.asarray(torch.as_tensor(x).float()), np.asarray(torch.as_tensor(y).float())):
                return False
        elif x != y:
            return False
    return True
