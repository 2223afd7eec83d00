"""Free words search every field of the real CODP records, as CODP's free text does, and a word
in a title ranks that record above the records holding it elsewhere only."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import tantivy

from openhep.model._record import Record as RecordModel
from openhep.search._query import build
from openhep.search._schema import FREE_TEXT, FREE_TEXT_SUMMARY

Record = dict[str, Any]

# The catch-all's fields before it covered every field: a word elsewhere was not found.
OLD_FREE_TEXT = (
    "recid", "title", "title_additional", "experiment", "type", "abstract", "methodology",
    "usage", "validation", "note", "keywords", "run_period", "doi", "collaboration",
    "collision_information", "distribution",
)  # fmt: skip


@pytest.fixture(scope="module")
def ranked(index: tantivy.Index, codp_records: list[Record]) -> Callable[[str], list[str]]:
    """The recids a query finds, best match first."""
    searcher = index.searcher()

    def run(text: str) -> list[str]:
        result = searcher.search(build(text, index), len(codp_records))
        return [str(searcher.doc(address).get_first("recid")) for _, address in result.hits]

    return run


def words(text: str) -> set[str]:
    """tantivy's default tokenizer: runs of letters and digits, lower-cased."""
    return set(re.findall(r"[^\W_]+", text.lower()))


def texts(value: Any, key: str = "") -> Iterator[str]:
    """The strings free words search: all but URIs, URLs and checksums; descriptions' text."""
    if isinstance(value, str):
        yield (
            html.unescape(re.sub(r"</?[A-Za-z][^<>]*>", " ", value))
            if key == "description"
            else value
        )
    elif isinstance(value, dict):
        for name, item in value.items():
            if name not in ("uri", "url", "checksum"):
                yield from texts(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item, key)


def holds(record: Record, word: str, fields: tuple[str, ...] | None = None) -> bool:
    chosen = record if fields is None else {k: v for k, v in record.items() if k in fields}
    return any(word in words(text) for text in texts(chosen))


def test_free_text_covers_every_field_of_the_record_model() -> None:
    # A field added to the model must be put in a tier (or this test changed on purpose).
    fields = {info.alias or name for name, info in RecordModel.model_fields.items()}
    assert len(FREE_TEXT) == len(set(FREE_TEXT))
    assert set(FREE_TEXT) == fields


@pytest.mark.parametrize(
    ("word", "field"),
    [
        ("sps", "accelerator"),  # CERN-SPS: the OPERA records
        ("rhic", "accelerator"),  # BNL-RHIC: the PHENIX record
        ("exotica", "categories"),  # categories.primary
        ("gravitons", "categories"),  # categories.secondary
        ("quarkonia", "categories"),  # "B physics and Quarkonia"
    ],
)
def test_a_word_only_in_the_accelerator_or_a_category_finds_the_record(
    word: str, field: str, ranked: Callable[[str], list[str]], codp_records: list[Record]
) -> None:
    having = [r for r in codp_records if holds(r, word, (field,))]
    only_there = [r for r in having if not holds(r, word, OLD_FREE_TEXT)]
    assert only_there, "a word the old catch-all found checks nothing new"
    found = set(ranked(word))
    assert {r["recid"] for r in having} <= found
    # Free words find exactly the records holding the word in a searched string.
    assert found == {r["recid"] for r in codp_records if holds(r, word)}


def _by_recid(records: list[Record]) -> dict[str, Record]:
    return {r["recid"]: r for r in records}


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("accelerator:SPS", lambda r: "sps" in words(r.get("accelerator", ""))),
        ("accelerator:RHIC", lambda r: "rhic" in words(r.get("accelerator", ""))),
        ("category:Exotica", lambda r: (r.get("categories") or {}).get("primary") == "Exotica"),
        (
            "subcategory:Gravitons",
            lambda r: "Gravitons" in ((r.get("categories") or {}).get("secondary") or []),
        ),
        (
            "keywords:masterclass",
            lambda r: "masterclass" in words(" ".join(r.get("keywords") or [])),
        ),
    ],
)
def test_fielded_queries_still_search_their_field_only(
    query: str,
    keep: Callable[[Record], bool],
    ranked: Callable[[str], list[str]],
    codp_records: list[Record],
) -> None:
    expected = {r["recid"] for r in codp_records if keep(r)}
    assert expected
    assert set(ranked(query)) == expected


@pytest.mark.parametrize(
    "word", ["muon", "higgs", "electron", "photon", "jet", "trigger", "masterclass", "opera"]
)
def test_a_word_in_the_title_ranks_above_the_records_holding_it_elsewhere(
    word: str, ranked: Callable[[str], list[str]], codp_records: list[Record]
) -> None:
    by_recid = _by_recid(codp_records)
    order = ranked(word)
    in_title = [word in words(by_recid[recid]["title"]) for recid in order]
    assert any(in_title) and not all(in_title), "both kinds of match are needed to check order"
    # Every title match first, then every other match.
    assert in_title == sorted(in_title, reverse=True)


def test_a_phrase_in_the_title_ranks_first(
    ranked: Callable[[str], list[str]], codp_records: list[Record]
) -> None:
    by_recid = _by_recid(codp_records)
    order = ranked('"Higgs boson"')
    in_title = [
        "higgs boson" in " ".join(re.findall(r"[^\W_]+", by_recid[r]["title"].lower()))
        for r in order
    ]
    assert any(in_title) and not all(in_title)
    assert in_title == sorted(in_title, reverse=True)


def test_the_abstract_and_keywords_weigh_more_than_the_rest(
    ranked: Callable[[str], list[str]], codp_records: list[Record]
) -> None:
    # Among records without the word in their title, those holding it in their abstract or
    # keywords come first more often than their share: the boost is felt, not a strict tier.
    by_recid = _by_recid(codp_records)
    for word in ("muon", "electron", "photon"):
        body = [r for r in ranked(word) if word not in words(by_recid[r]["title"])]
        summary = [holds(by_recid[r], word, FREE_TEXT_SUMMARY) for r in body]
        assert any(summary) and not all(summary)
        top = summary[: len(body) // 4]
        assert sum(top) / len(top) > sum(summary) / len(summary)


def test_urls_uris_and_checksums_are_left_to_fielded_queries(
    ranked: Callable[[str], list[str]], codp_records: list[Record]
) -> None:
    # "triboson" is only in a file name of record 28100; "adler32" in every checksum.
    for word, path in (("triboson", "files.uri"), ("adler32", "files.checksum")):
        top, leaf = path.split(".")
        expected = {
            r["recid"]
            for r in codp_records
            if any(word in words(str(f.get(leaf, ""))) for f in r.get(top) or [])
        }
        assert expected
        assert ranked(word) == []
        assert set(ranked(f"{path}:{word}")) == expected
