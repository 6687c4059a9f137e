"""Stored result tables with provenance, and the results version that ties them to the code.

A headline table of the book comes from a full run made with the chapter runner
(``python -m fovex_lib run ...``); the chapter then *loads* it instead of recomputing it.
Each table is stored as two small files in the book:

* ``NAME.csv``: one row per image and method (the per-image values, so that confidence
  intervals and paired differences can be computed from them);
* ``NAME.provenance.json``: how the numbers were made: the command line, the git commit,
  :data:`RESULTS_VERSION`, the date, the device, the wall time and the chapter's parameters.

:data:`RESULTS_VERSION` is part of every result-cache key and of every stored table.
**Bump it whenever a change can change a result** (a metric's convention, an explainer's
search, a data loader): cached entries then miss, and ``tests/test_results.py`` fails for
every stored table made with the old version until it is re-run.

Both files are written atomically (a temporary file in the same folder, then
``os.replace``), so an interrupted run never leaves half a table under the final name.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import json
import math
import os
import platform
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "RESULTS_VERSION",
    "StoredTable",
    "provenance",
    "save_table",
    "load_table",
    "check_results_version",
    "device_description",
    "atomic_write_text",
    "atomic_write_bytes",
]

#: Changes whenever results can change (see the module docstring). Format: date-counter.
RESULTS_VERSION = "2026-11-30.1"


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically (:func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def device_description(device="cpu") -> str:
    """A human-readable name of the device a run used (GPU name, or CPU model and core count)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"cpu: {model}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"


def _git_commit() -> str:
    """The commit of the checkout fovex_lib runs from (``+dirty`` with uncommitted changes), or ``unknown``."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def provenance(
    *, wall_seconds: float, device="cpu", parameters: dict | None = None, command: str | None = None, **extra
) -> dict:
    """The provenance record of a run.

    ``command`` defaults to the ``FOVEX_RUN_COMMAND`` environment variable, which
    ``python -m fovex_lib run`` sets for the chapter's kernel (else ``"interactive"``).
    """
    return {
        "command": command or os.environ.get("FOVEX_RUN_COMMAND", "interactive"),
        "commit": _git_commit(),
        "results_version": RESULTS_VERSION,
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "device": device_description(device),
        "wall_seconds": round(float(wall_seconds), 1),
        "parameters": dict(parameters or {}),
        **extra,
    }


@dataclass
class StoredTable:
    """Rows (list of dicts; numbers as floats, the rest as text) and their provenance."""

    rows: list[dict]
    provenance: dict
    path: Path

    @property
    def results_version(self) -> str:
        return self.provenance.get("results_version", "missing")


def _provenance_path(path: Path) -> Path:
    return path.with_name(path.stem + ".provenance.json")


def _cell(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(round(value, 6))
    return str(value)


def save_table(path: str | os.PathLike, rows: list[dict], provenance: dict) -> Path:
    """Write ``rows`` to ``path`` (CSV; floats rounded to 6 decimals) and the provenance beside it."""
    path = Path(path)
    if path.suffix != ".csv":
        raise ValueError(f"a stored table is a .csv file, got {str(path)!r}.")
    if not rows:
        raise ValueError("no rows to store: a stored table must hold the run's results.")
    if "results_version" not in provenance:
        raise ValueError("provenance lacks 'results_version'; build it with fovex_lib.tools.results.provenance().")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c, "")) for c in columns])
    atomic_write_text(path, buffer.getvalue())
    atomic_write_text(_provenance_path(path), json.dumps({**provenance, "rows": len(rows)}, indent=1) + "\n")
    return path


def _parse(text: str):
    try:
        return float(text)
    except ValueError:
        return text


#: Columns read back as text even when they look like numbers (image ids such as "1001").
TEXT_COLUMNS = ("image_id", "id", "method", "view", "model", "set")


def load_table(path: str | os.PathLike, check_version: bool = True, text_columns=TEXT_COLUMNS) -> StoredTable:
    """Read a table written by :func:`save_table`: numbers come back as floats, except the
    ``text_columns``; with ``check_version`` its results version must equal
    :data:`RESULTS_VERSION` (:func:`check_results_version`)."""
    path = Path(path)
    meta_path = _provenance_path(path)
    if not path.is_file() or not meta_path.is_file():
        raise FileNotFoundError(
            f"stored table {path} (with {meta_path.name}) not found; make it with the command "
            "line given in the chapter (python -m fovex_lib run ...)."
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    with open(path, encoding="utf-8", newline="") as handle:
        rows = [{k: v if k in text_columns else _parse(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    if meta.get("rows") != len(rows):
        raise ValueError(
            f"{path} holds {len(rows)} rows but its provenance says {meta.get('rows')}: "
            "the files do not belong together; re-run the command in the provenance."
        )
    table = StoredTable(rows, meta, path)
    if check_version:
        check_results_version(table)
    return table


def check_results_version(table: StoredTable) -> None:
    """Raise when a stored table was made by code whose results version differs from this one."""
    if table.results_version != RESULTS_VERSION:
        raise ValueError(
            f"{table.path} was made with results version {table.results_version}, but the code is at "
            f"{RESULTS_VERSION}: its numbers may no longer be what the code computes. Re-run: "
            f"{table.provenance.get('command', '(command unknown)')}"
        )
