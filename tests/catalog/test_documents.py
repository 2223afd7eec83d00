"""Documents in the catalogue (SQLite and PostgreSQL): CODP's 80 real docs pages read, loaded
all or nothing, idempotently, listed, filtered and searched; every broken front refused with
its path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openhep.catalog import Catalog, DocumentSourceError, read_documents
from openhep.model import DOCUMENT_SLUG, DocumentError, parse_document

CODP_DOCS = 80


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    with Catalog.open(url=catalog_url) as opened:
        yield opened


@pytest.fixture(scope="module")
def codp_documents(anchors: Path) -> list[Any]:
    return read_documents(anchors / "codp-docs")


def front(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": "my-guide",
        "title": "My guide",
        "type": {"primary": "Documentation", "secondary": ["Guide"]},
        "experiment": ["CMS"],
        "tags": ["Getting Started"],
        "short_description": {"content": "How to start."},
        "body": {"content": "my-guide.md", "format": "md"},
    }
    data.update(changes)
    return data


def write_document(folder: Path, data: Any, body: str = "Text.\n", name: str = "my-guide") -> Path:
    place = folder / name
    place.mkdir(parents=True, exist_ok=True)
    (place / f"{name}.json").write_text(json.dumps(data), "utf-8")
    (place / f"{name}.md").write_text(body, "utf-8")
    return place / f"{name}.json"


# -- reading -------------------------------------------------------------------------------


def test_every_real_codp_page_reads(codp_documents: list[Any], anchors: Path) -> None:
    assert len(codp_documents) == CODP_DOCS
    by_slug = {d.slug: d for d in codp_documents}
    about = by_slug["about-alice"]  # the folder is alice-about: the slug is the JSON's
    assert (about.title, about.type, about.experiment) == ("About ALICE", "doc", ("ALICE",))
    assert about.tags == ("Getting Started",)
    assert about.description.startswith("ALICE is the acronym")
    assert about.body == (anchors / "codp-docs/alice-about/alice-about.md").read_text("utf-8")
    news = by_slug["cms-releases-heavy-ion-data"]
    assert (news.type, news.date_published) == ("news", date(2020, 12, 21))
    assert sum(d.type == "news" for d in codp_documents) == 27


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (front(slug="Not A Slug"), "slug: expected"),
        (front(slug="x" * 81), "slug: expected"),
        (front(title=""), "title: must not be empty"),
        (front(title="t" * 301), "title: 301 characters, at most 300"),
        (front(title=["a list"]), "title: expected a string"),
        (front(type={"primary": "Dataset"}), "type.primary: expected 'Documentation' or 'News'"),
        (front(experiment=["CMS"] * 30), "experiment: 30 entries, at most 20"),
        (front(tags=[3]), r"tags\[0\]: expected a string"),
        (front(date_published="20 May"), "date_published: expected YYYY-MM-DD"),
        (front(body={"content": "../../etc/passwd.md"}), "body.content: expected the name"),
        (front(body={"content": "my-guide.md", "format": "html"}), "body.format: only 'md'"),
        (front(body={"content": "other.md"}), "body.content: other.md is not beside it"),
        ([front(), front()], "a list of one document, got 2"),
        ("a string", "expected a JSON object"),
    ],
)
def test_a_broken_front_is_refused_with_its_path(tmp_path: Path, data: Any, message: str) -> None:
    path = write_document(tmp_path / "docs", data)
    with pytest.raises(DocumentSourceError, match=message) as caught:
        read_documents(tmp_path / "docs")
    assert str(caught.value).startswith(str(path))


def test_unreadable_files_and_folders_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    path = write_document(folder, front())
    path.write_text("{not json", "utf-8")
    with pytest.raises(DocumentSourceError, match="not JSON"):
        read_documents(folder)
    path.write_text(json.dumps(front()), "utf-8")
    path.with_suffix(".md").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(DocumentSourceError, match="not UTF-8"):
        read_documents(folder)
    path.with_suffix(".md").write_bytes(b"x" * ((1 << 20) + 1))
    with pytest.raises(DocumentSourceError, match="larger than 1 MiB"):
        read_documents(folder)
    with pytest.raises(DocumentSourceError, match="not a folder"):
        read_documents(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DocumentSourceError, match="holds no document"):
        read_documents(tmp_path / "empty")


def test_two_files_with_one_slug_are_refused(tmp_path: Path) -> None:
    write_document(tmp_path / "docs", front(), name="my-guide")
    write_document(tmp_path / "docs", front(body={"content": "again.md"}), name="again")
    with pytest.raises(DocumentSourceError, match="slug 'my-guide' is also"):
        read_documents(tmp_path / "docs")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(["slug", "title", "type", "experiment", "tags", "short_description",
                         "date_published"]),
        st.none() | st.text(max_size=120) | st.lists(st.text(max_size=30), max_size=25)
        | st.integers(),
    )
)  # fmt: skip
def test_any_front_is_a_bounded_document_or_a_document_error(changes: dict[str, Any]) -> None:
    try:
        document = parse_document(front(**changes), "Body")
    except DocumentError:
        return
    assert DOCUMENT_SLUG.match(document.slug) and len(document.slug) <= 80
    assert 0 < len(document.title) <= 300 and len(document.description) <= 2000
    assert len(document.experiment) <= 20 and len(document.tags) <= 20
    assert document.type in ("doc", "news")


# -- the catalogue -----------------------------------------------------------------------


def test_loading_is_idempotent_and_bumps_the_generation_only_on_change(
    catalog: Catalog, codp_documents: list[Any]
) -> None:
    before = catalog.state()
    assert before.documents == 0
    first = catalog.documents.put(codp_documents)
    assert (len(first.created), first.updated) == (CODP_DOCS, [])
    after = catalog.state()
    assert after.documents == 1 and after.changes == before.changes
    again = catalog.documents.put(codp_documents)
    assert (again.created, again.updated, len(again.unchanged)) == ([], [], CODP_DOCS)
    assert catalog.state() == after
    changed = parse_document(front(slug="about-alice", title="About ALICE, again"), "New body")
    third = catalog.documents.put([changed])
    assert third.updated == ["about-alice"]
    assert catalog.state().documents == 2
    stored = catalog.documents.get("about-alice")
    assert stored is not None
    assert (stored.document.title, stored.document.body) == ("About ALICE, again", "New body")
    assert len(catalog.documents.slugs()) == CODP_DOCS


def test_a_document_reads_back_as_it_was_written(
    catalog: Catalog, codp_documents: list[Any]
) -> None:
    catalog.documents.put(codp_documents)
    for document in codp_documents:
        stored = catalog.documents.get(document.slug)
        assert stored is not None and stored.document == document
    assert catalog.documents.get("no-such-page") is None
    assert catalog.documents.get("../etc") is None


def test_a_batch_naming_one_slug_twice_writes_nothing(catalog: Catalog) -> None:
    one = parse_document(front(), "A")
    with pytest.raises(ValueError, match="one slug twice"):
        catalog.documents.put([one, one])
    assert catalog.documents.slugs() == frozenset()


def test_documents_are_listed_filtered_and_searched(
    catalog: Catalog, codp_documents: list[Any]
) -> None:
    catalog.documents.put(codp_documents)
    everything = catalog.documents.list()
    assert len(everything) == CODP_DOCS
    assert catalog.documents.experiments()["CMS"] == 41
    news = catalog.documents.list(type="news")
    assert len(news) == 27
    dates = [d.date_published for d in news]
    assert dates == sorted(dates, reverse=True)  # newest first
    assert {d.slug for d in catalog.documents.list(experiment="delphi")} == {
        d.slug for d in codp_documents if d.experiment == ("DELPHI",)
    }
    docker = catalog.documents.list(q="Docker")
    assert [d.slug for d in docker[:2]] == ["cms-guide-docker", "delphi-guide-docker"]
    # Every word must appear (title, description or body, any case); LIKE's wildcards are
    # plain characters.
    for q in ("docker cvmfs", "%", "_", "Trigger"):
        words = q.lower().split()
        expected = {
            d.slug
            for d in codp_documents
            if all(w in f"{d.title} {d.description} {d.body}".lower() for w in words)
        }
        assert {d.slug for d in catalog.documents.list(q=q)} == expected, q
        assert expected, q
    assert catalog.documents.list(q="zzzz-nothing-like-it") == []
    with pytest.raises(ValueError, match="q: 201 characters"):
        catalog.documents.list(q="x" * 201)
    with pytest.raises(ValueError, match="q: 11 words"):
        catalog.documents.list(q=" ".join("abcdefghijk"))
