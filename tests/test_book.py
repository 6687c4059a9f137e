"""The book's MyST sources and their committed notebooks stay in step, and the toc lists them all."""

from pathlib import Path

import jupytext
import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted(REPO.glob("book/*/*.md"))


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_matches_its_myst_source(source):
    """Editing the .md without re-executing (make execute) leaves stale notebooks: caught here."""
    notebook = source.with_suffix(".ipynb")
    assert notebook.is_file(), f"{notebook.name} is missing: run `make execute CHAPTERS={source.relative_to(REPO)}`"
    md_cells = [(c.cell_type, c.source.strip()) for c in jupytext.read(source).cells]
    nb = nbformat.read(notebook, as_version=4)
    nb_cells = [(c.cell_type, c.source.strip()) for c in nb.cells]
    assert md_cells == nb_cells, (
        f"{notebook.name} differs from {source.name}: re-run `make execute CHAPTERS={source.relative_to(REPO)}`"
    )
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.get("execution_count") is not None, f"{notebook.name} has unexecuted code cells"
            assert not any(o.get("output_type") == "error" for o in cell.get("outputs", [])), (
                f"{notebook.name} stores an error output"
            )


def test_toc_lists_every_chapter():
    toc = (REPO / "_toc.yml").read_text(encoding="utf-8")
    for source in SOURCES:
        entry = f"file: {source.relative_to(REPO).with_suffix('').as_posix()}"
        assert entry in toc, f"{source.name} is not in _toc.yml"


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_widget_cells_are_tagged_for_batch_runs(source):
    """Live-widget cells carry the tag 'widget' so that `python -m fovex_lib run` leaves them out."""
    import re

    for cell in jupytext.read(source).cells:
        if cell.cell_type == "code" and re.search(r"\binteract(_manual)?\(", cell.source):
            assert "widget" in cell.metadata.get("tags", []), (
                f"{source.name}: a cell calling interact(...) lacks the tag 'widget'"
            )
