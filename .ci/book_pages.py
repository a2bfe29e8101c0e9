"""Hide what papermill adds to an executed page: ``python .ci/book_pages.py NOTEBOOK...``.

papermill injects the parameters it was given as a cell tagged ``injected-parameters`` below the
page's own (hidden) ``parameters`` cell. The page must not show it either, so it gets the
``remove-cell`` tag Jupyter Book hides cells by; the cell stays in the notebook, so the executed
page still records what it ran with.
"""
import sys

import nbformat

INJECTED = "injected-parameters"
HIDDEN = "remove-cell"


def hide_injected(notebook: nbformat.NotebookNode) -> int:
    """Tag the injected parameters cells of ``notebook`` ``remove-cell``; return how many there are."""
    cells = [cell for cell in notebook.cells if INJECTED in cell.metadata.get("tags", [])]
    for cell in cells:
        if HIDDEN not in cell.metadata.tags:
            cell.metadata.tags.append(HIDDEN)
    return len(cells)


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: python .ci/book_pages.py NOTEBOOK...", file=sys.stderr)
        return 2
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        hide_injected(notebook)
        nbformat.write(notebook, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
