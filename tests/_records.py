"""Records built in code for the tests: the smallest valid record, and what to add to it."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def minimal(**extra: Any) -> dict[str, Any]:
    """The smallest valid record (a derived CMS dataset), with ``extra`` fields added."""
    record: dict[str, Any] = {
        "recid": "900001",
        "title": "A test record",
        "type": {"primary": "Dataset", "secondary": ["Derived"]},
        "experiment": ["CMS"],
        "date_published": "2024",
        "publisher": "CERN Open Data Portal",
    }
    record.update(extra)
    return record


def record(recid: str, title: str, **extra: Any) -> dict[str, Any]:
    """:func:`minimal` with its own ``recid`` and ``title``."""
    return minimal(recid=recid, title=title, **extra)


def any_json(integers: st.SearchStrategy[int] | None = None) -> st.SearchStrategy[Any]:
    """Small JSON values of any shape (garbage to put into a record); ``integers`` bounds the
    numbers where whatever stores them cannot hold any size."""
    return st.recursive(
        st.none()
        | st.booleans()
        | (integers if integers is not None else st.integers())
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=8),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=8), children, max_size=3)
        ),
        max_leaves=12,
    )
