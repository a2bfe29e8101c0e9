"""A table as a page shows it: no index, headers in words, no NaN, whole cells, a stable plain text."""
import numpy as np
import pandas as pd

from kdsrc.results import display


def test_missing_values_headers_and_index():
    frame = pd.DataFrame({"sec_per_epoch": [1.5, np.nan], "first stage s/epoch": [None, 2.0], "last_acc": [80.0, 81.0]})
    table = display.show(frame)
    assert list(table.frame.columns) == ["s / epoch", "first stage s/epoch", "last-epoch test acc. (%)"]
    html = table._repr_html_()
    assert "NaN" not in html and "None" not in html and html.count(display.MISSING) == 2
    assert "<th></th>" not in html and ">0<" not in html  # no index column
    assert "NaN" not in repr(table) and repr(table) == repr(display.show(frame))


def test_a_meaningful_index_becomes_columns():
    frame = pd.DataFrame({"acc": [1.0, 2.0]}, index=pd.Index(["kd", "fitnets"], name="method"))
    assert list(display.show(frame).frame.columns) == ["method", "acc"]
    wide = pd.DataFrame({"x": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["table", "pair"]))
    assert list(display.show(wide).frame.columns) == ["table", "pair", "x"]


def test_long_text_is_never_cut():
    source = "secondary: several independent notes agree (between them they cover every row of the table)" * 2
    table = display.show(pd.DataFrame({"source": [source]}))
    assert source in table._repr_html_() and source in repr(table)


def test_cited_numbers_keep_a_numbered_note_with_their_whole_source():
    frame = pd.DataFrame({"paper": ["P 2020", "P 2020", "Q 2021"], "table": ["Table 1", "Table 1", "Table 3"],
                          "teacher": ["t", "t", "u"], "student": ["s", "r", "s"], "kd gain": [1.0, 2.0, 0.5],
                          "verified": ["paper", "paper", "secondary"], "source": ["the PDF, p. 6", "the PDF, p. 6",
                                                                                 "a blog's screenshot of Table 3"]})
    table = display.show_cited(frame)
    assert list(table.frame.columns) == ["teacher", "student", "kd gain", "source"]
    assert list(table.frame.source) == ["[1]", "[1]", "[2]"]
    assert table.notes == ["P 2020, Table 1; verified against: paper; source: the PDF, p. 6",
                           "Q 2021, Table 3; verified against: secondary; source: a blog's screenshot of Table 3"]
    assert "<li>Q 2021, Table 3; verified against: secondary; source: a blog&#x27;s screenshot of Table 3</li>" in table._repr_html_()
    assert repr(table).endswith("[2] Q 2021, Table 3; verified against: secondary; source: a blog's screenshot of Table 3")
