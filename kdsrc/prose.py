"""What a chapter's text shows besides tables and figures: numbers glued into its prose, and the
source of the function it teaches.

Every number the prose reports is computed when the notebook runs and inserted by the book build
(myst-nb's ``glue``; the markdown writes ``{glue:text}`name:.2f```), so text and tables cannot
disagree. ``tests/test_prose.py`` fails on a result typed by hand into a chapter.
"""
import inspect

from IPython.display import Markdown


def glue(**values) -> None:
    """Store each named value for the chapter's prose, showing nothing in the cell's output.

    Values are plain Python numbers or strings (a NumPy or pandas scalar is converted), so the book
    formats them with the role's format spec (``{glue:text}`kd_gain:+.2f```)."""
    from myst_nb import glue as myst_glue

    for name, value in values.items():
        myst_glue(name, value.item() if hasattr(value, "item") else value, display=False)


def source(function) -> Markdown:
    """The source code of ``function`` as a highlighted block, for a chapter that teaches it."""
    return Markdown(f"```python\n{inspect.getsource(function).rstrip()}\n```")
