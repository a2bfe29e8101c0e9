"""Write the book's staged ``_config.yml``: ``python .ci/book_config.py SOURCE TARGET``.

Without ``GITHUB_REPOSITORY`` in the environment, TARGET is a copy of SOURCE: a reader's own build
has no repository buttons, and ``_config.yml`` names no repository. With it (GitHub Actions sets it
to ``owner/name``), the copy also gets ``repository.url`` for that repository, the branch being built
(``GITHUB_HEAD_REF`` on a pull request, else ``GITHUB_REF_NAME``, else ``main``), the repository
and issue buttons on every page, and the clone address the landing page names (``clone_url``).

The formulas render without a network: when the ``mathjax`` package (PyPI's
``django-static-mathjax``, MathJax 3 as Sphinx uses it; the ``book`` extra installs it) is
importable, the parts of the MathJax it ships that the pages load are copied into the staged
book as an extra path (``_mathjax/_static/mathjax/``, which Sphinx copies into the built
``_static/``; not a static path, since Jupyter Book would add every script there to every page)
and the book loads it from there. Without it, the book keeps Sphinx's default, MathJax from its CDN.

No launch buttons (Binder, Colab) and no edit button: the chapters import ``kdsrc``, which neither
service installs from this repository, and a chapter's source is its jupytext ``.py`` file, not the
``.ipynb`` page that an edit button would open.
"""
import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

import yaml

REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
# What the book's pages load of MathJax 3: the TeX+MathML to CommonHTML bundle, its fonts, and the
# parts it loads on demand (TeX extensions, the menu's accessibility and UI components).
MATHJAX_ENTRY = "tex-mml-chtml.js"
MATHJAX_PARTS = (MATHJAX_ENTRY, "output/chtml/fonts", "input/tex/extensions", "a11y", "ui")


def staged(config: dict, env) -> dict:
    """``config`` with the repository settings that ``env``'s ``GITHUB_REPOSITORY`` gives (unchanged without it)."""
    name = env.get("GITHUB_REPOSITORY")
    if not name:
        return config
    if not REPOSITORY.fullmatch(name):
        raise ValueError(f"GITHUB_REPOSITORY: expected owner/name, got {name!r}")
    branch = env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME") or "main"
    return {**config,
            "repository": {"url": f"https://github.com/{name}", "path_to_book": "", "branch": branch},
            "html": {**config.get("html", {}), "use_repository_button": True, "use_issues_button": True,
                     "use_edit_page_button": False},
            "parse": {**config.get("parse", {}), "myst_substitutions": {
                **config.get("parse", {}).get("myst_substitutions", {}),
                "clone_url": f"https://github.com/{name}.git"}}}


def mathjax_folder() -> Path | None:
    """The MathJax 3 ``es5`` folder of the installed ``mathjax`` package, or None."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    return folder if (folder / MATHJAX_ENTRY).is_file() else None


def served_mathjax(config: dict, stage: Path, source: Path | None) -> dict:
    """``config`` loading MathJax from the built book's ``_static/mathjax/``, where the parts of
    ``source`` (an ``es5`` folder) are copied (through ``stage``'s ``_mathjax/``); ``config``
    unchanged when ``source`` is None."""
    if source is None:
        return config
    shutil.rmtree(stage / "_mathjax", ignore_errors=True)
    target = stage / "_mathjax" / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)
    sphinx = config.get("sphinx", {})
    return {**config, "sphinx": {**sphinx, "config": {**sphinx.get("config", {}), "html_extra_path": ["_mathjax"],
                                                      "mathjax_path": f"mathjax/{MATHJAX_ENTRY}"}}}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python .ci/book_config.py SOURCE TARGET", file=sys.stderr)
        return 2
    source, target = map(Path, argv)
    text = source.read_text(encoding="utf8")
    config = yaml.safe_load(text)
    try:
        out = staged(config, os.environ)
    except ValueError as exc:
        print(f"book_config: error: {exc}", file=sys.stderr)
        return 2
    out = served_mathjax(out, target.parent, mathjax_folder())
    if out is not config:
        text = (f"# {source.name} staged by .ci/book_config.py (repository from GITHUB_REPOSITORY, "
                f"MathJax served by the book)\n" + yaml.safe_dump(out, sort_keys=False, allow_unicode=True))
    target.write_text(text, encoding="utf8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
