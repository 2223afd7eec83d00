"""HTML checks every page must pass: well-nested, no duplicate ids, every image with alt text,
every form control with a label (``<label for>``, a wrapping ``<label>``, ``aria-label`` or
``aria-labelledby``), one ``<h1>``, a ``lang`` and a ``<title>``.

``html_problems(text)`` lists what is wrong (empty when the page passes), in words a person can
act on; ``start_tags(text)`` lists the start tags a parser reads, for a test's own checks.
"""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip
# Elements whose end tag HTML lets a page leave out.
OPTIONAL_END = {"p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option"}
CONTROLS = {"input", "select", "textarea"}
UNLABELLED_INPUT_TYPES = {"hidden", "submit", "button", "reset", "image"}


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: Counter[str] = Counter()
        self.label_for: set[str] = set()
        self.controls: list[tuple[str, dict[str, str | None], bool, int]] = []
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.h1 = 0
        self.title = False
        self.lang = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        line = self.getpos()[0]
        if attributes.get("id") is not None:
            self.ids[str(attributes["id"])] += 1
        if tag == "html" and attributes.get("lang"):
            self.lang = True
        if tag == "title":
            self.title = True
        if tag == "h1":
            self.h1 += 1
        if tag == "img" and attributes.get("alt") is None:
            self.problems.append(f"line {line}: <img src={attributes.get('src')!r}> has no alt")
        if tag == "label" and attributes.get("for"):
            self.label_for.add(str(attributes["for"]))
        if tag in CONTROLS:
            inside_label = "label" in self.stack
            self.controls.append((tag, attributes, inside_label, line))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        line = self.getpos()[0]
        while self.stack and self.stack[-1] != tag and self.stack[-1] in OPTIONAL_END:
            self.stack.pop()
        if not self.stack or self.stack[-1] != tag:
            open_ = self.stack[-1] if self.stack else "nothing"
            self.problems.append(f"line {line}: </{tag}> closes <{open_}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()

    def result(self) -> list[str]:
        problems = list(self.problems)
        for id_, count in sorted(self.ids.items()):
            if count > 1:
                problems.append(f"id {id_!r} is used {count} times")
        for tag, attributes, inside_label, line in self.controls:
            if tag == "input" and (attributes.get("type") or "text") in UNLABELLED_INPUT_TYPES:
                continue
            labelled = (
                inside_label
                or attributes.get("aria-label")
                or attributes.get("aria-labelledby")
                or (attributes.get("id") is not None and attributes["id"] in self.label_for)
            )
            if not labelled:
                problems.append(
                    f"line {line}: <{tag} name={attributes.get('name')!r}> has no label"
                )
        leftover = [t for t in self.stack if t not in OPTIONAL_END]
        if leftover:
            problems.append(f"unclosed elements at the end: {leftover}")
        if self.h1 != 1:
            problems.append(f"{self.h1} <h1> elements (a page has exactly one)")
        if not self.title:
            problems.append("no <title>")
        if not self.lang:
            problems.append('no <html lang="…">')
        return problems


def html_problems(text: str) -> list[str]:
    """What is wrong with the page ``text`` (empty if nothing)."""
    checker = _Checker()
    checker.feed(text)
    checker.close()
    return checker.result()


class _StartTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def start_tags(text: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag of ``text`` in order, with its attributes as a browser's parser reads
    them (character references resolved)."""
    collected = _StartTags()
    collected.feed(text)
    collected.close()
    return collected.tags
