"""The chapter runner (fovex_lib.tools.runner, python -m fovex_lib) on a tiny fixture chapter."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from fovex_lib.__main__ import main
from fovex_lib.tools.runner import (
    Parameter,
    book_root,
    list_chapters,
    load_chapter,
    output_stem,
    parse_grid,
    parse_value,
    read_parameters,
    resolve_chapter,
    run_chapter,
)

CHAPTER = Path(__file__).parent / "fixtures" / "runner_chapter.md"


def outputs_text(path):
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_parameters_are_read_from_the_tagged_cell():
    params = read_parameters(load_chapter(CHAPTER))
    assert list(params) == ["n", "scale", "label", "verbose", "fail_at", "shard"]
    assert params["n"] == Parameter("n", 3, "how many squares to add up")
    assert params["label"].default == "demo # 1" and params["label"].comment == "printed as is"
    assert params["shard"].default is None and params["shard"].kind == "any"


def test_command_line_values_are_parsed_by_the_default_type():
    params = read_parameters(load_chapter(CHAPTER))
    assert parse_value(params["n"], "7") == 7
    assert parse_value(params["scale"], "2") == 2.0 and isinstance(parse_value(params["scale"], "2"), float)
    assert parse_value(params["label"], "0042") == "0042"  # strings stay text
    assert parse_value(params["verbose"], "yes") is True and parse_value(params["verbose"], "False") is False
    assert parse_value(params["shard"], "1/2") == "1/2"
    with pytest.raises(ValueError, match="expects int"):
        parse_value(params["n"], "2.5")
    with pytest.raises(ValueError, match="expects bool"):
        parse_value(params["verbose"], "maybe")


def test_validation_errors_list_the_parameters_and_run_nothing(tmp_path):
    with pytest.raises(ValueError) as err:
        run_chapter(CHAPTER, tmp_path, parameters={"steps": 5})
    text = str(err.value)
    assert "no parameter 'steps'" in text and "n = 3" in text and "scale = 1.5" in text and "fail_at = -1" in text
    with pytest.raises(ValueError, match="'n' expects int"):
        run_chapter(CHAPTER, tmp_path, parameters={"n": "three"})
    with pytest.raises(ValueError, match="'scale' expects float"):
        run_chapter(CHAPTER, tmp_path, grid={"scale": ["1", "x"]}, raw=True)  # bad value late in the grid
    with pytest.raises(ValueError, match="both"):
        run_chapter(CHAPTER, tmp_path, parameters={"n": 1}, grid={"n": [2]})
    assert list(tmp_path.iterdir()) == []


def test_chapters_resolve_by_number_name_and_path(tmp_path):
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    (book / "appendix").mkdir()
    for name in ["chapters/01_foveation.md", "chapters/04_attribution.md", "appendix/A_synthetic_evidence.md"]:
        (book / name).write_text("x")
    assert resolve_chapter("4", book).name == "04_attribution.md"
    assert resolve_chapter("04", book).name == "04_attribution.md"
    assert resolve_chapter("attribution", book).name == "04_attribution.md"
    assert resolve_chapter("a", book).name == "A_synthetic_evidence.md"
    assert resolve_chapter(str(CHAPTER)) == CHAPTER.resolve()
    with pytest.raises(ValueError, match="Available chapters: 01_foveation"):
        resolve_chapter("9", book)
    with pytest.raises(FileNotFoundError):
        resolve_chapter(str(tmp_path / "missing.md"))


def test_grid_parsing_and_names():
    assert parse_grid(["n=1,2", "label=a, b"]) == {"n": ["1", "2"], "label": ["a", "b"]}
    assert parse_grid(["size=[[1, 2], [3]]"]) == {"size": ["[1, 2]", "[3]"]}
    with pytest.raises(ValueError, match="name=v1"):
        parse_grid(["n"])
    assert output_stem(CHAPTER, {"n": 2, "model": "vit/b"}, "1/4") == "runner_chapter__n=2__model=vit_b__shard-1-of-4"


@pytest.mark.slow
def test_grid_runs_every_combination_and_survives_a_failure(tmp_path):
    results = run_chapter(
        CHAPTER, tmp_path, parameters={"fail_at": "3", "label": "grid"}, grid={"n": ["2", "3", "4"]}, raw=True, log=None
    )
    assert [r.ok for r in results] == [True, False, True]
    assert "asked to fail at n=3" in results[1].error
    for r, n in zip(results, [2, 3, 4]):
        assert r.notebook.name == f"runner_chapter__n={n}.ipynb"
        assert r.notebook.exists() and r.html.exists()
        assert r.parameters == {"fail_at": 3, "label": "grid", "n": n}
    total = 1.5 * (0 + 1 + 4 + 9)
    assert f"RESULT label=grid n=4 scale=1.5 total={total}" in outputs_text(results[2].notebook)
    assert "asked to fail" in results[1].html.read_text()


@pytest.mark.slow
def test_existing_outputs_are_not_overwritten(tmp_path):
    first = run_chapter(CHAPTER, tmp_path, parameters={"n": 2, "verbose": True}, log=None)
    assert first[0].ok
    assert "CWD fixtures" in outputs_text(first[0].notebook)  # the chapter's folder is the working directory
    stamp = first[0].notebook.stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="--overwrite"):
        run_chapter(CHAPTER, tmp_path, parameters={"n": 5}, log=None)
    assert first[0].notebook.stat().st_mtime_ns == stamp
    again = run_chapter(CHAPTER, tmp_path, parameters={"n": 5}, overwrite=True, log=None)
    assert again[0].ok and "n=5" in outputs_text(again[0].notebook)


@pytest.mark.slow
def test_command_line_run_with_shard(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "fovex_lib",
        "run",
        str(CHAPTER),
        "-o",
        str(tmp_path),
        "-p",
        "n",
        "4",
        "--shard",
        "1/2",
        "--no-html",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "runner_chapter__shard-1-of-2.ipynb"
    assert "RESULT label=demo # 1 n=4 scale=1.5 total=21.0 shard=1/2" in outputs_text(out)
    meta = nbformat.read(out, as_version=4).metadata.papermill.parameters
    assert json.loads(json.dumps(meta)) == {"n": 4, "shard": "1/2"}
    bad = subprocess.run(
        [sys.executable, "-m", "fovex_lib", "run", str(CHAPTER), "-o", str(tmp_path / "x"), "-p", "steps", "3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "no parameter 'steps'" in bad.stderr and "scale = 1.5" in bad.stderr
    assert not (tmp_path / "x").exists()


BOOK = Path(__file__).resolve().parent.parent / "book"


@pytest.mark.parametrize("chapter", sorted(p.stem for p in BOOK.glob("*/*.md")))
def test_every_book_chapter_can_be_run_with_parameters(chapter):
    """The runner can read every chapter's parameters cell (literal defaults only) and resolve it by name."""
    path = resolve_chapter(chapter, BOOK)
    params = read_parameters(load_chapter(path))
    assert "device" in params or chapter.startswith("B_"), f"{chapter} has no 'device' parameter"
    for param in params.values():  # every default survives a round trip through the command line
        if isinstance(param.default, str):
            assert parse_value(param, param.default) == param.default
        elif param.default is not None:
            assert parse_value(param, repr(param.default)) == param.default


def test_none_is_accepted_where_the_comment_documents_it():
    step = Parameter("step", 3584, "pixels per step: 16 rows; None = one row, 224 (paper)")
    lr = Parameter("lr", 0.1, "step size")
    name = Parameter("image", "coffee", "None = the first image")
    assert step.accepts_none and step.kind == "int or None" and parse_value(step, "None") is None
    assert parse_value(step, "224") == 224
    assert parse_value(name, "None") is None and parse_value(name, "Nonesuch") == "Nonesuch"
    assert not lr.accepts_none
    with pytest.raises(ValueError, match="expects float"):
        parse_value(lr, "None")


@pytest.mark.slow
def test_a_real_chapter_becomes_an_html_report(tmp_path):
    """Chapter 2 of the book, by number, with a changed parameter, from the command line."""
    cmd = [sys.executable, "-m", "fovex_lib", "run", "2", "-o", str(tmp_path), "-p", "forgetting", "0.5"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    html = (tmp_path / "02_memory_state.html").read_text(encoding="utf-8")
    assert "Memory state" in html and "<img" in html
    nb = nbformat.read(tmp_path / "02_memory_state.ipynb", as_version=4)
    assert nb.metadata.papermill.parameters == {"forgetting": 0.5}
    assert not any(
        o.get("output_type") == "error" for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )


@pytest.mark.slow
def test_widget_cells_are_left_out_of_reports_unless_asked(tmp_path):
    kept = run_chapter(CHAPTER, tmp_path / "a", log=None)[0]
    assert kept.ok, kept.error
    text = "".join(c.source for c in nbformat.read(kept.notebook, as_version=4).cells)
    assert "left out of batch reports" in text and "the widget cell ran" not in text
    assert "left out of batch reports" in kept.html.read_text(encoding="utf-8")
    ran = run_chapter(CHAPTER, tmp_path / "b", keep_widgets=True, log=None)[0]
    assert not ran.ok and "the widget cell ran" in ran.error


def test_book_folder_comes_from_the_caller_not_from_where_the_library_lives(tmp_path, monkeypatch, capsys):
    repo_book = Path(__file__).resolve().parent.parent / "book"
    monkeypatch.chdir(repo_book / "appendix")  # inside the book: the nearest book/ upward
    assert book_root() == repo_book
    monkeypatch.chdir(tmp_path)  # outside any book: nothing, and the command line says what to do
    assert book_root() is None and list_chapters() == []
    assert main(["list"]) == 2
    assert "pass --book DIR" in capsys.readouterr().err
    assert main(["list", "--book", str(repo_book)]) == 0
    assert "07_gaze_alignment" in capsys.readouterr().out
