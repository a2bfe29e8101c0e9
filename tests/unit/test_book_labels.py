"""The book's method labels (kdsrc.book)."""
from kdsrc import book
from kdsrc.distillers import METHODS


def test_every_label_names_a_registered_method_once_and_method_names_inverts_them():
    names = book.method_names()
    assert set(names) <= set(METHODS) and len(names) == len(book.METHOD_LABELS)
    assert {label: method for method, label in names.items()} == book.METHOD_LABELS
    assert list(names) == list(book.METHOD_LABELS.values())  # the tables' order, the student alone first
