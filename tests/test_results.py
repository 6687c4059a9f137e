"""Stored tables: round trip, provenance, atomic writes, and the results version of every table in the book."""

import json
from pathlib import Path

import pytest

import fovex_lib.tools.results as results
from fovex_lib.tools.results import RESULTS_VERSION, load_table, provenance, save_table

BOOK_DATA = Path(__file__).resolve().parent.parent / "book" / "data"


def test_round_trip_with_provenance(tmp_path, monkeypatch):
    monkeypatch.setenv("FOVEX_RUN_COMMAND", "python -m fovex_lib run 7 -p all_images True")
    meta = provenance(wall_seconds=12.34, parameters={"n_images": 3})
    rows = [
        {"image_id": "1001", "method": "FovEx", "nss": 1.23456789, "auc_judd": 0.7},
        {"image_id": "1002", "method": "FovEx", "nss": float("nan"), "auc_judd": 0.6},
    ]
    path = save_table(tmp_path / "t.csv", rows, meta)
    table = load_table(path)
    assert table.rows[0] == {"image_id": "1001", "method": "FovEx", "nss": 1.234568, "auc_judd": 0.7}
    assert table.provenance["command"] == "python -m fovex_lib run 7 -p all_images True"
    assert table.provenance["results_version"] == RESULTS_VERSION
    assert table.provenance["wall_seconds"] == 12.3 and table.provenance["rows"] == 2
    for key in ("commit", "date", "device", "parameters"):
        assert key in table.provenance
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.provenance.json"]  # no temporary left


def test_old_results_version_is_refused(tmp_path, monkeypatch):
    path = save_table(tmp_path / "t.csv", [{"a": 1.0}], provenance(wall_seconds=1))
    monkeypatch.setattr(results, "RESULTS_VERSION", "next")
    with pytest.raises(ValueError, match="results version"):
        load_table(path)
    assert load_table(path, check_version=False).rows == [{"a": 1.0}]


def test_mismatched_files_and_bad_input(tmp_path):
    path = save_table(tmp_path / "t.csv", [{"a": 1.0}, {"a": 2.0}], provenance(wall_seconds=1))
    meta = json.loads((tmp_path / "t.provenance.json").read_text())
    meta["rows"] = 5
    (tmp_path / "t.provenance.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="do not belong together"):
        load_table(path)
    with pytest.raises(FileNotFoundError, match="python -m fovex_lib run"):
        load_table(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="no rows"):
        save_table(tmp_path / "e.csv", [], provenance(wall_seconds=1))
    with pytest.raises(ValueError, match=".csv"):
        save_table(tmp_path / "e.json", [{"a": 1}], provenance(wall_seconds=1))


def test_failed_write_leaves_nothing_under_the_final_name(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(results.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        results.atomic_write_text(tmp_path / "x.csv", "data")
    assert list(tmp_path.iterdir()) == []


def test_every_stored_table_in_the_book_matches_the_code():
    """Fails when RESULTS_VERSION was bumped (results can change) but a stored table was not re-run."""
    stored = sorted(BOOK_DATA.glob("*.csv")) if BOOK_DATA.is_dir() else []
    for path in stored:
        table = load_table(path)  # raises on a version mismatch or mismatched files
        assert table.rows and table.provenance["wall_seconds"] > 0
