"""The chapters and the notebook pages of book/: paired sources in sync, a parameters cell, and their
regression references (the exact nbval copy from the stored runs; the smoke runs of every chapter,
compared within measured bands by tests/test_smoke_chapters.py)."""
import json
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks").glob("[0-9]*.py"))
# pages of book/ that are notebooks (book/reproduce.py): executed by `make notebooks` like the chapters
BOOK_PAGES = sorted((ROOT / "book").glob("*.py"))


@pytest.mark.parametrize("source", SOURCES + BOOK_PAGES, ids=lambda p: p.stem)
def test_paired_ipynb_matches_its_py_source(source):
    from_py = jupytext.read(source)
    from_ipynb = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert [(c.cell_type, c.source) for c in from_ipynb.cells] == [(c.cell_type, c.source) for c in from_py.cells], \
        f"{source.name} and its .ipynb differ: run `make pair`"


@pytest.mark.parametrize("source", SOURCES + BOOK_PAGES, ids=lambda p: p.stem)
def test_chapter_has_one_parameters_cell_with_profile(source):
    cells = [c for c in jupytext.read(source).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1 and "profile = " in cells[0].source


@pytest.mark.parametrize("page", SOURCES + BOOK_PAGES, ids=lambda p: p.stem)
def test_an_exact_regression_copy_exists_for_every_page(page):
    assert (ROOT / "tests" / "notebooks" / "cpu" / f"{page.stem}.ipynb").exists(), \
        f"missing nbval reference for {page.name} (cpu): run `make regression-notebooks`"


def test_the_smoke_reference_covers_every_chapter():
    recorded = json.loads((ROOT / "tests" / "notebooks" / "smoke_runs.json").read_text())["chapters"]
    assert sorted(recorded) == [source.stem for source in SOURCES], "run `make regression-notebooks`"


@pytest.mark.parametrize("page", SOURCES + BOOK_PAGES, ids=lambda p: p.stem)
def test_the_regression_copy_runs_the_pages_current_cells(page):
    current = [(c.cell_type, c.source, sorted(c.metadata.get("tags", []))) for c in jupytext.read(page).cells]
    copy = nbformat.read(ROOT / "tests" / "notebooks" / "cpu" / f"{page.stem}.ipynb", as_version=4)
    recorded = [(c.cell_type, c.source, sorted(c.metadata.get("tags", []))) for c in copy.cells
                if "injected-parameters" not in c.metadata.get("tags", [])]
    assert recorded == current, f"{page.name} changed since its nbval copy was recorded: run `make regression-notebooks`"
