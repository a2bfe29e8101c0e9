"""Write the book's staged ``_config.yml``: ``python .ci/book_config.py SOURCE TARGET``.

Without ``GITHUB_REPOSITORY`` in the environment, TARGET is a copy of SOURCE: a reader's own build
has no repository buttons, and ``_config.yml`` names no repository. With it (GitHub Actions sets it
to ``owner/name``), the copy also gets ``repository.url`` for that repository, the branch being built
(``GITHUB_HEAD_REF`` on a pull request, else ``GITHUB_REF_NAME``, else ``main``), the repository
and issue buttons on every page, and the clone address the landing page names (``clone_url``).

No launch buttons (Binder, Colab) and no edit button: the chapters import ``kdsrc``, which neither
service installs from this repository, and a chapter's source is its jupytext ``.py`` file, not the
``.ipynb`` page that an edit button would open.
"""
import os
import re
import sys
from pathlib import Path

import yaml

REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


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
    if out is not config:
        text = (f"# {source.name} staged by .ci/book_config.py, with GITHUB_REPOSITORY's repository\n"
                + yaml.safe_dump(out, sort_keys=False, allow_unicode=True))
    target.write_text(text, encoding="utf8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
