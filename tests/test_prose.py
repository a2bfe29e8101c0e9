"""No result typed by hand: every number the prose reports is glued from data when the notebook runs
(:mod:`kdsrc.prose`).

The check reads every chapter's markdown (notebooks' markdown cells and the pages under book/),
drops what is not prose (code, glue and citation roles, directive options, link targets) and
flags a number followed by a unit of a result (%, ±, points, ×, a time or a memory size) written
in digits or as a word ("five points", "half a point"), and any decimal in running text. A setting
is written as math or code ($T = 4$, `lr=0.05`) and passes, as do sizes and counts (5,000 images,
10 epochs).
"""
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "notebooks").glob("[0-9]*.py")) + sorted((ROOT / "book").glob("*.md")) + sorted((ROOT / "book").glob("*.py"))

_NUMBER = r"[+\-−–]?\d[\d,  ]*(?:\.\d+)?"
_WORD = r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|a half|half an?|an?|a quarter|a tenth)"
_UNIT = (r"(?:%|\\%|percent\b|points?\b|pp\b|×(?!\s*\d)|x\b|\\times|s\b|sec\b|seconds?\b|minutes?\b|min\b|"
         r"hours?\b|h\b|ms\b|MB\b|GB\b|MiB\b|GiB\b|img/s\b|images/s\b)")
RESULT = re.compile(
    rf"(?:{_NUMBER})\s*(?:\\,)?\s*(?:{_UNIT})"      # 87.9 %, 2.6 points, 1.63×, 35 minutes
    rf"|(?:±|\\pm)\s*\$?\s*{_NUMBER}"             # ± 0.4, \pm 0.12
    rf"|{_NUMBER}\s*\$?\s*(?:±|\\pm)"             # 0.4 ±
    rf"|{_WORD}\s+(?:points?|percentage points?)\b",  # five points, half a point
    re.IGNORECASE)
# a decimal in running text (a setting is written as math or code: $\\gamma = 0.1$, `lr=0.05`)
DECIMAL = re.compile(r"(?<![\w.])[+\-−–]?\d+\.\d+(?![\w.])")
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$", re.DOTALL)
# what is not prose: glue and citation roles, inline code, fenced code, link targets, directive options
_NOT_PROSE = [re.compile(p, re.DOTALL | re.MULTILINE) for p in (
    r"```.*?```", r"\{glue(?::\w+)?\}`[^`]*`", r"\{(?:cite|doc|ref|numref|eq)(?::\w+)?\}`[^`]*`",
    r"`[^`]*`", r"\]\([^)]*\)", r"^:[\w-]+:[^\n]*$")]


def hand_typed_results(markdown: str) -> list[str]:
    """The result-like numbers in ``markdown`` that are typed rather than glued."""
    for pattern in _NOT_PROSE:
        markdown = pattern.sub(" ", markdown)
    found = [m.group(0).strip() for m in RESULT.finditer(markdown)]
    return found + DECIMAL.findall(_MATH.sub(" ", markdown))


def _markdown(page: Path) -> str:
    if page.suffix == ".md":
        return page.read_text()
    return "\n\n".join(c.source for c in jupytext.read(page).cells if c.cell_type == "markdown")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_prose_reports_no_hand_typed_result(page):
    found = hand_typed_results(_markdown(page))
    assert not found, f"{page.name}: results typed by hand (glue them with kdsrc.prose.glue): {found}"


@pytest.mark.parametrize("typed", [
    "the student reaches 87.9 % here", "a gain of 2.6 points", "between −0.4 and +1.1 points",
    "$+0.03 \\pm 0.12$", "79.4 ± 0.3", "five points above", "half a point above its members",
    "1.63× faster", "a cosine near 0.25 by the end", "about 35 minutes of training", "5286 h on this CPU", "988 MB at peak",
    "a point above $T = 2$"])
def test_the_check_flags_typed_results(typed):
    assert hand_typed_results(typed)


@pytest.mark.parametrize("glued", [
    "the student reaches {glue:text}`kd_acc:.2f` %", "a gain of {glue:text}`gain:+.2f` points",
    "$T = 4$ and $\\gamma = 0.1$", "5,000 images, batch 128, 10 epochs", "28×28 grey-scale photos",
    "the `--set temperature=8` option", "see {cite}`hinton2015distilling`", "mean ± std over seeds",
    "[RepDistiller](https://github.com/HobbitLong/RepDistiller#2-points)"])
def test_the_check_passes_glued_numbers_and_settings(glued):
    assert not hand_typed_results(glued)


_GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`]*)`")
EXECUTED = sorted((ROOT / "tests" / "notebooks" / "cpu").glob("*.ipynb"))


def _glued_names(notebook) -> set[str]:
    return {output.metadata["scrapbook"]["name"] for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.get("outputs", []) if "scrapbook" in output.get("metadata", {})}


@pytest.mark.parametrize("executed", EXECUTED, ids=lambda p: p.stem)
def test_every_glued_name_in_the_prose_is_stored_by_the_executed_chapter(executed):
    """The executed cpu copy (tests/notebooks/cpu, from the stored runs) defines every name its
    markdown pastes, so the book's `-W` build cannot meet an undefined one."""
    notebook = nbformat.read(executed, as_version=4)
    wanted = {role.split("::")[-1].rsplit(":", 1)[0] for cell in notebook.cells if cell.cell_type == "markdown"
              for role in _GLUE_ROLE.findall(cell.source)}
    missing = wanted - _glued_names(notebook)
    assert not missing, f"{executed.name} pastes names it never glues: {sorted(missing)}"
