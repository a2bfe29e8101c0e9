"""The chapters and the notebook pages of book/: paired sources in sync, a parameters cell, regression
copies, and papermill at smoke scale."""
import subprocess
import sys
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


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_regression_copies_exist_for_every_chapter(source):
    for profile in ("smoke", "cpu"):
        assert (ROOT / "tests" / "notebooks" / profile / f"{source.stem}.ipynb").exists(), \
            f"missing nbval reference for {source.stem} ({profile}): run `make regression-notebooks`"


@pytest.mark.parametrize("page", BOOK_PAGES, ids=lambda p: p.stem)
def test_regression_copy_exists_for_every_book_page(page):
    assert (ROOT / "tests" / "notebooks" / "cpu" / f"{page.stem}.ipynb").exists(), \
        f"missing nbval reference for book/{page.name} (cpu): execute it with papermill " \
        "-p profile cpu -p stored_only True into tests/notebooks/cpu/"


def test_papermill_runs_vanilla_kd_chapter_at_smoke_scale(tmp_path):
    out = tmp_path / "out.ipynb"
    subprocess.run([sys.executable, "-m", "papermill", "--no-progress-bar", "-k", "python3",
                    str(ROOT / "notebooks" / "02_vanilla_kd.ipynb"), str(out),
                    "-p", "profile", "smoke", "-p", "seeds", "1", "-p", "fresh_results", "True"],
                   check=True, capture_output=True, cwd=tmp_path)
    outputs = [o for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
