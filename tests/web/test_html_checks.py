"""The HTML checker the page tests rely on finds what it must (and passes good pages)."""

from __future__ import annotations

import pytest

from _services.html import html_problems

GOOD = """<!doctype html><html lang="en"><head><title>t</title></head><body>
<h1>Title</h1><img src="a.png" alt="a plot"><form><label for="q">Query</label>
<input id="q" name="q"><label>Sort <select name="sort"><option>x</select></label>
<input type="hidden" name="page" value="1"><input name="size" aria-label="Page size">
<button>Go</button></form><ul><li>one<li>two</ul><p>para<p>para</body></html>"""


def test_a_good_page_passes() -> None:
    assert html_problems(GOOD) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('<img src="a.png" alt="a plot">', '<img src="a.png">'), "has no alt"),
        (('<input id="q" name="q">', '<input id="x" name="q">'), "has no label"),
        (("<h1>Title</h1>", '<h1 id="q">Title</h1>'), "'q' is used 2 times"),
        (("<h1>Title</h1>", "<h1>Title</h1><h1>Again</h1>"), "2 <h1>"),
        (('<html lang="en">', "<html>"), "lang"),
        (("<h1>Title</h1>", "<h1><div>Title</h1></div>"), "closes"),
    ],
)
def test_each_problem_is_found(change: tuple[str, str], problem: str) -> None:
    old, new = change
    found = html_problems(GOOD.replace(old, new, 1))
    assert any(problem in p for p in found), found
