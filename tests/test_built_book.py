"""The built book as a reader meets it (``make test`` builds it first): no local path, ``PosixPath``,
nbval marker, NaN cell or word of how the book was made (its tickets, sessions, pilots) on any page; a figure in every chapter; every internal link, anchor and
image resolves; the formulas render in a headless Chromium with no network (a few pages here,
every page with ``make test-browser``)."""
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "book" / "_build" / "html"
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9]*.py"))
# The pages whose formulas are rendered in the browser here; `make test-browser` sets "all".
BROWSER_PAGES = ["book/intro", "notebooks/02_vanilla_kd", "notebooks/09_dhkd"]
LOCAL_PATH = re.compile(r"(?<![\w.])(/tmp/|/work/|/home/|/root/|/Users/|/private/var/|[A-Z]:\\\\)")
MISSING_CELL = {"nan", "NaN", "<NA>", "None", "NaT"}
# How the book was made, not what it shows: the tickets its work came from, the working sessions,
# pilot studies, the articles its topics were drawn from. An issue the book cites is a public
# GitHub issue and is named with its number ("mdistiller issue #30") or as a "GitHub issue".
INTERNAL = re.compile(r"(?<!GitHub )\bissues?\b(?!\s*\\?#)|\bpilot (?:study|studies|runs?)\b|\bseed articles?\b"
                      r"|\b(?:earlier|previous|this|last|next|working) sessions?\b|\bacceptance (?:list|criteri)"
                      r"|\bfiled\b", re.IGNORECASE)

if not (HTML / "index.html").exists():
    pytest.skip(f"no built book at {HTML}: `make test` builds it (`make book`)", allow_module_level=True)


def _pages() -> list[Path]:
    """Every page a reader reads (not the search and index pages, nor index.html, which redirects)."""
    skipped = ("search.html", "genindex.html")
    return sorted(p for p in HTML.rglob("*.html")
                  if "_static" not in p.parts and p.name not in skipped and p != HTML / "index.html")


@cache
def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf8"), "html.parser")


def _article(path: Path):
    return _soup(path).select_one("article") or _soup(path).body


PAGES = _pages()
IDS = [str(p.relative_to(HTML).with_suffix("")) for p in PAGES]


def test_the_books_address_leads_to_the_landing_page():
    refresh = _soup(HTML / "index.html").find("meta", attrs={"http-equiv": "Refresh"})
    target = refresh["content"].split("url=", 1)[1]
    assert (HTML / target).exists() and _article(HTML / target).select("h1")


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_page_shows_no_local_path_marker_or_stray_object(page):
    text = _article(page).get_text(" ")
    assert not LOCAL_PATH.search(text), f"a local path: {LOCAL_PATH.search(text).group(0)!r}"
    for word in ("PosixPath", "WindowsPath", "NBVAL", "nbval-"):
        assert word not in text, f"{word} on the page"


def internal_references(text: str) -> list[str]:
    """The phrases of ``text`` that speak of how the book was made (:data:`INTERNAL`)."""
    return [match.group(0) for match in INTERNAL.finditer(text)]


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_page_speaks_to_the_reader_not_of_how_the_book_was_made(page):
    found = internal_references(_article(page).get_text(" "))
    assert not found, f"internal references: {found}"


@pytest.mark.parametrize("text", ["as the issue hoped for", "a pilot study proposed", "the book's seed article",
                                  "trained in an earlier session", "the acceptance list", "Issues 16 and 17"])
def test_the_internal_reference_check_flags(text):
    assert internal_references(text)


@pytest.mark.parametrize("text", ["mdistiller issue #30", "RepDistiller issue \\#16", "a GitHub issue",
                                  "the training sessions of a stored run", "seeds 0 to 4", "profiled"])
def test_the_internal_reference_check_passes(text):
    assert not internal_references(text)


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_no_table_cell_is_missing(page):
    cells = [cell.get_text(strip=True) for cell in _article(page).select("td, th")]
    missing = [text for text in cells if text in MISSING_CELL]
    assert not missing, f"{len(missing)} missing-value cells ({missing[0]})"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_has_a_figure(chapter):
    page = HTML / "notebooks" / f"{chapter}.html"
    assert _article(page).select("img"), f"{chapter} shows no figure"


def _internal_targets(page: Path):
    soup = _soup(page)
    for tag, attribute in (("a", "href"), ("img", "src"), ("script", "src"), ("link", "href")):
        for element in soup.find_all(tag):
            url = element.get(attribute)
            if not url or urlsplit(url).scheme or url.startswith("//"):
                continue
            yield url


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_every_internal_link_anchor_and_image_resolves(page):
    broken = []
    for url in _internal_targets(page):
        parts = urlsplit(url)
        target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            broken.append(url)
        elif parts.fragment and target.suffix == ".html" and not _soup(target).find(id=unquote(parts.fragment)):
            broken.append(url)
    assert not broken, f"{len(broken)} broken: {broken[:5]}"


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_formulas_load_the_books_own_mathjax(page):
    sources = [s.get("src", "") for s in _soup(page).find_all("script") if "mathjax" in s.get("src", "").lower()]
    if _article(page).select(".math"):
        assert sources and all(not urlsplit(src).scheme for src in sources), sources


def _browser() -> str | None:
    return next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None)


def _rendered(page: Path) -> BeautifulSoup:
    """``page`` after its scripts ran in a headless Chromium that can reach no network."""
    done = subprocess.run([_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
                           "--virtual-time-budget=20000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return BeautifulSoup(done.stdout, "html.parser")


def _browser_pages() -> list[str]:
    chosen = os.environ.get("KDSRC_BROWSER_PAGES", "")
    return IDS if chosen == "all" else BROWSER_PAGES


@pytest.mark.parametrize("page", _browser_pages())
def test_formulas_render_offline_in_a_browser(page):
    if _browser() is None:
        pytest.skip("no Chromium here (`make test` installs Debian's chromium where apt-get is usable)")
    path = HTML / f"{page}.html"
    formulas = len(_article(path).select(".math"))
    rendered = _rendered(path)
    article = rendered.select_one("article") or rendered.body
    assert not article.select("mjx-merror"), "a formula MathJax could not typeset"
    assert len(article.select("mjx-container")) >= formulas, f"{formulas} formulas, rendered: {len(article.select('mjx-container'))}"
