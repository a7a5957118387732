"""A chapter's parameters given as papermill passes them: ``-p NAME VALUE`` makes VALUE a string unless it is a
number or a boolean, so a list-valued parameter arrives as its text (``-p seeds "[0, 1]"``)."""
from __future__ import annotations

import pytest

from vna.chapters.notebook import literal_value, method_chapter


@pytest.mark.parametrize("given, seeds", [
    ("[0, 1]", [0, 1]), ("[3]", [3]), ("12", [12]), (" [4, 5] ", [4, 5]), ("0, 1", [0, 1]), ([7], [7]), (2, [2]),
])
def test_seeds_as_papermill_passes_them(given, seeds):
    chapter = method_chapter("vna", {"seeds": given, "quick": True, "dataset": "simulated"}, show=False)
    assert chapter.seeds == seeds and [c.seed for c in chapter.configs] == seeds


def test_literal_value_keeps_text_that_is_no_literal():
    assert literal_value("cowley2023-v4") == "cowley2023-v4"
    assert literal_value("None") is None and literal_value("1e-3") == 1e-3
    with pytest.raises(ValueError, match=r"seeds must be a list of integers such as \[0, 1, 2\]; got the text 'abc'"):
        method_chapter("vna", {"seeds": "abc"}, show=False)
    with pytest.raises(ValueError, match="seeds is empty"):
        method_chapter("vna", {"seeds": "[]"}, show=False)
